"""Every core of one machine: many images analysed by several workers, results in input order.

:func:`analyze_many` (and ``FER.analyze_many``) spreads images over ``workers`` workers, each with
its own ``FER`` (its own ONNX Runtime sessions, one intra-op thread by default), and yields one
entry per input in input order: the image's list of faces, or the exception (an OSError or a
fastfer.Error naming the file) that says why it could not be read, exactly like
``FER.analyze_batch``. Inputs are consumed lazily and at most a few images per worker are in flight,
so an iterator over millions of paths runs in constant memory.

Two kinds of worker:

- ``"thread"`` (the default): threads of this process. The C++ pipeline and onnxruntime run an
  image without holding the GIL, so threads start in a fraction of a process's time, share
  memory and need no ``if __name__ == "__main__":`` guard; in benchmarks/bench_scale.py they
  matched processes or beat them (they start faster).
- ``"process"``: processes started with ``spawn`` (safe beside ONNX Runtime's own threads), for
  code that holds the GIL longer (the pure-Python inference path runs its numpy pre- and
  post-processing under it). Inputs and results are pickled across, so give paths rather than
  decoded arrays; a script that uses it needs the ``__main__`` guard.
"""

from __future__ import annotations

import collections
import os
import queue
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator, Optional

import numpy as np

from .._args import positive_int
from ..core.result import Face
from ..errors import Error
from ..io.image import get_max_pixels, set_max_pixels

MODES = ("thread", "process")
# Images submitted ahead of the one being yielded, per worker: enough to keep every worker busy
# while the caller handles a slow result, few enough that memory stays flat on huge inputs.
_AHEAD_PER_WORKER = 4


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity mask, which containers and ``taskset``
    narrow), else ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def check_workers(workers: Optional[int]) -> int:
    """``workers`` as a positive int; None means :func:`usable_cores`."""
    if workers is None:
        return usable_cores()
    return positive_int(workers, "workers")


def analyze_one(fer, image) -> Any:
    """``fer.analyze(image)``, or the exception that says why the image cannot be read (the
    errors ``analyze_batch`` puts in a slot); any other exception propagates."""
    try:
        return fer.analyze(image)
    except (OSError, Error) as exc:
        return exc


def analyze_many(
    images: Iterable, *, workers: Optional[int] = None, mode: str = "thread", fer=None, **fer_options
) -> Iterator:
    """Analyse ``images`` on ``workers`` workers; yields, in input order, each image's faces or the
    exception that says why it could not be read.

    Args:
        images: an iterable of anything ``load_image`` reads (paths are best with processes);
            consumed lazily.
        workers: how many workers (default: :func:`usable_cores`); each loads its own models.
        mode: ``"thread"`` or ``"process"`` (see the module docstring).
        fer: in thread mode, a FER built from ``fer_options`` that serves as one of the workers
            (with ``workers=1``, the only one: no models are loaded).
        fer_options: ``fastfer.FER``'s arguments for every worker's FER (detector, classifier,
            threads, score_threshold, ...).
    Bad arguments raise here, before the first image; a worker's FER that cannot be built
    (an unknown model, say) raises from the first ``next()``.
    """
    workers = check_workers(workers)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if isinstance(images, (str, bytes, bytearray, os.PathLike, np.ndarray)):  # one image, as analyze_batch
        raise TypeError(f"analyze_many takes an iterable of images, got one {type(images).__name__}: pass [image]")
    if mode == "process":
        return _process_results(images, workers, fer_options)
    return _thread_results(images, workers, fer, fer_options)


def _in_order(executor: Executor, task: Callable, items: Iterable, ahead: int) -> Iterator:
    """``task(item)`` for each item on ``executor``, yielded in input order with at most ``ahead``
    items in flight. Closing the generator early cancels what has not started. When ``items``
    raises, the results of the items it gave before are yielded first, then its error is raised
    (as ``FER.stream`` yields its good frames before a decoding error)."""
    pending: collections.deque = collections.deque()
    iterator = iter(items)
    try:
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                break
            except Exception:  # the input failed: what it gave before is still owed
                while pending:
                    yield pending.popleft().result()
                raise
            pending.append(executor.submit(task, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def _thread_results(images: Iterable, workers: int, fer, fer_options: dict) -> Iterator:
    from ..core.fer import FER

    if workers == 1 and fer is not None:
        for image in images:
            yield analyze_one(fer, image)
        return
    # The caller's FER is one of the workers' (it was built from the same options).
    fers = [] if fer is None else [fer]
    with ThreadPoolExecutor(workers, thread_name_prefix="fastfer-load") as loader:
        fers += loader.map(lambda _: FER(**fer_options), range(workers - len(fers)))  # raises the first failure
    # Any thread takes any idle FER: there are as many FERs as threads, so one is always free.
    idle: queue.SimpleQueue = queue.SimpleQueue()
    for each in fers:
        idle.put(each)

    def task(image):
        mine = idle.get()
        try:
            return analyze_one(mine, image)
        finally:
            idle.put(mine)

    with ThreadPoolExecutor(workers, thread_name_prefix="fastfer-worker") as pool:
        yield from _in_order(pool, task, images, workers * _AHEAD_PER_WORKER)


# --- processes -------------------------------------------------------------------------------

_process_fer: Any = None  # this worker process's FER, or the exception that prevented it


def _start_process(fer_options: dict, max_pixels: int) -> None:
    global _process_fer
    set_max_pixels(max_pixels)  # the parent's cap, which a spawned process would not inherit
    try:
        from ..core.fer import FER

        _process_fer = FER(**fer_options)
    except Exception as exc:  # noqa: BLE001 - reported by every task: a failed initializer only says "broken pool"
        _process_fer = exc


def _process_task(image) -> Any:
    if isinstance(_process_fer, Exception):
        raise _process_fer
    result = analyze_one(_process_fer, image)
    if isinstance(result, Exception):
        return result
    # Plain arrays cross the process boundary; the parent rebuilds read-only Faces from them.
    return [(face.box, face.score, face.landmarks, face.probs) for face in result]


def _process_results(images: Iterable, workers: int, fer_options: dict) -> Iterator:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_process, initargs=(fer_options, get_max_pixels())
    ) as pool:
        for result in _in_order(pool, _process_task, images, workers * _AHEAD_PER_WORKER):
            yield result if isinstance(result, Exception) else [Face.build(*face) for face in result]


__all__ = ["MODES", "analyze_many", "analyze_one", "check_workers", "usable_cores"]
