"""Inference off the event loop: a fixed number of worker threads and a bounded queue.

The native pipeline runs an image without the GIL, so threads over one shared ``FER`` use every
core. Admission is decided on the event loop: at most ``workers + queue_size`` tasks are in the
pool at once, and the next is refused at once (:class:`PoolFull`, answered 503 with
Retry-After) instead of queueing without end. A task still waiting when its request's deadline
passes is cancelled before it runs; one already running finishes and keeps its slot until then,
so the bound counts the work really in the pool.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable


class PoolFull(Exception):
    """Every worker is busy and the queue is full."""


class AnalysisTimeout(Exception):
    """The request's deadline passed before its analysis finished."""


class Deadline:
    """The moment a request must be answered by, on the monotonic clock."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())


class InferencePool:
    """``workers`` threads and at most ``queue_size`` tasks waiting for one of them."""

    def __init__(self, workers: int, queue_size: int, metrics):
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="fastfer-serve")
        self.workers, self.capacity = workers, workers + queue_size
        self._admitted = 0  # read and written on the event loop's thread only
        self._metrics = metrics

    @property
    def admitted(self) -> int:
        """Tasks running or waiting."""
        return self._admitted

    async def run(self, fn: Callable, *args, deadline: Deadline) -> Any:
        """``fn(*args)`` in a worker thread; PoolFull when the pool is full, AnalysisTimeout when
        ``deadline`` passes first."""
        if self._admitted >= self.capacity:
            raise PoolFull()
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._admitted += 1
        self._metrics.queue_depth.inc()
        future = self._executor.submit(self._running, fn, args)
        future.add_done_callback(lambda done: _call_on_loop(loop, self._finished, done, waiter))
        try:
            return await asyncio.wait_for(waiter, deadline.remaining())
        except asyncio.TimeoutError:
            future.cancel()  # only succeeds while it waits: a running analysis cannot be stopped
            raise AnalysisTimeout() from None

    def _running(self, fn: Callable, args: tuple) -> Any:
        self._metrics.queue_depth.dec()
        self._metrics.running.inc()
        try:
            return fn(*args)
        finally:
            self._metrics.running.dec()

    def _finished(self, done: Future, waiter: asyncio.Future) -> None:
        self._admitted -= 1
        if done.cancelled():
            self._metrics.queue_depth.dec()  # it never started
            return
        if waiter.done():  # the request timed out meanwhile
            return
        error = done.exception()
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(done.result())

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _call_on_loop(loop: asyncio.AbstractEventLoop, fn: Callable, *args) -> None:
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:  # the loop closed while the task ran (server shutting down)
        pass
