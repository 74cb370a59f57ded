"""fastfer._core.Session: ONNX Runtime driven from the C++ core through ORT's C API (dlopen'ed from
the installed onnxruntime package), compared with the Python onnxruntime session of
fastfer.backend.runtime on the shipped models."""

from __future__ import annotations

import glob
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _paths import SHIPPED_PHOTO

from fastfer import backend, models
from fastfer.backend import runtime


def _load():
    """The native module, or why the native session cannot be used (fastfer.backend.runtime decides)."""
    reason = runtime.native_inference_unavailable()
    return (None, f"native inference unavailable: {reason}") if reason else (backend.native, None)


core, _skip_reason = _load()
pytestmark = pytest.mark.skipif(core is None, reason=_skip_reason or "")

PHOTO = str(SHIPPED_PHOTO)  # a photo of a face is all these tests need


def _ort_library():
    return runtime.onnxruntime_library()


@pytest.fixture(scope="module")
def lib():
    return _ort_library()


_sessions: dict = {}


def native(name, lib):
    if name not in _sessions:
        _sessions[name] = core.Session(models.load_bytes(name), lib)
    return _sessions[name]


def python_run(name, inputs):
    session = runtime.create_session(name)
    return session.run(None, inputs)


def assert_same(name, lib, inputs):
    got = native(name, lib).run(inputs, [])
    want = python_run(name, inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == np.float32 and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-5)
    return got


def test_has_onnxruntime_is_bool():
    assert core.has_onnxruntime() is True


@pytest.mark.parametrize("batch", [1, 5])
def test_mini_xception_matches_python(lib, batch):
    rng = np.random.default_rng(batch)
    x = rng.uniform(-1, 1, size=(batch, 1, 64, 64)).astype(np.float32)
    (probs,) = assert_same("mini_xception", lib, {"image": x})
    assert probs.shape == (batch, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_retinaface_matches_python_on_a_photo(lib):
    from fastfer.backend import kernels
    from fastfer.io.image import load_image

    image = load_image(PHOTO)
    tensor, _ = kernels.detector_input(image, 640, layout="nhwc", mean=0.0, scale=1.0, channel_order="rgb")
    out = assert_same("retinaface_mbv2", lib, {"image": tensor})
    session = native("retinaface_mbv2", lib)
    assert session.output_names == ["boxes", "landmarks", "scores"] or set(session.output_names) == {
        "boxes",
        "landmarks",
        "scores",
    }
    assert all(o.shape[0] == 1 for o in out)


def test_blazeface_matches_python(lib):
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, size=(1, 128, 128, 3)).astype(np.float32)
    assert_same("blazeface_short", lib, {"image": x})


def test_names_providers_and_shapes(lib):
    s = native("mini_xception", lib)
    assert s.providers == ["cpu"]
    assert s.input_names == ["image"] and s.output_names == ["probs"]
    assert s.input_shapes == [[-1, 1, 64, 64]]
    assert "CPUExecutionProvider" in core.onnxruntime_available_providers(lib)


def test_outputs_own_their_buffer_and_named_outputs(lib):
    s = native("retinaface_mbv2", lib)
    x = np.zeros((1, 64, 96, 3), np.float32)
    scores, boxes = s.run({"image": x}, ["scores", "boxes"])
    for a in (scores, boxes):
        assert a.flags.c_contiguous and a.flags.writeable and a.base is not None  # a capsule owns it
    assert scores.shape[:2] == boxes.shape[:2]


def test_non_contiguous_input_is_copied_once(lib):
    rng = np.random.default_rng(3)
    big = rng.uniform(-1, 1, size=(2, 1, 64, 128)).astype(np.float32)
    view = big[:, :, :, ::2]
    assert not view.flags.c_contiguous
    s = native("mini_xception", lib)
    (a,) = s.run({"image": view}, ["probs"])
    (b,) = s.run({"image": np.ascontiguousarray(view)}, ["probs"])
    np.testing.assert_array_equal(a, b)


def test_cuda_on_a_cpu_only_install_is_refused(lib):
    if "CUDAExecutionProvider" in core.onnxruntime_available_providers(lib):
        pytest.skip("this onnxruntime offers CUDA")
    data = models.load_bytes("mini_xception")
    for providers in (("cuda",), (("cuda", 0), "cpu")):
        with pytest.raises(RuntimeError, match="(?i)cuda.*not available"):
            core.Session(data, lib, providers=providers)
    fallback = core.Session(data, lib, providers=("cuda", "cpu"), allow_fallback=True)
    assert fallback.providers == ["cpu"]


def test_bad_options(lib):
    data = models.load_bytes("mini_xception")
    with pytest.raises(ValueError, match="unknown provider"):
        core.Session(data, lib, providers=("tpu",))
    with pytest.raises(ValueError, match="last"):
        core.Session(data, lib, providers=("cpu", "cuda"))
    with pytest.raises(ValueError, match="string"):
        core.Session(data, lib, providers="cpu")
    with pytest.raises(ValueError, match="threads"):
        core.Session(data, lib, threads=0)
    with pytest.raises(ValueError, match="graph_optimization"):
        core.Session(data, lib, graph_optimization="max")
    for level in ("disable_all", "basic", "extended", "all"):
        assert core.Session(data, lib, graph_optimization=level).providers == ["cpu"]


def test_bad_inputs_raise_clear_errors(lib):
    s = native("mini_xception", lib)
    good = np.zeros((1, 1, 64, 64), np.float32)
    with pytest.raises(ValueError, match="unknown input name 'img'.*image"):
        s.run({"img": good}, ["probs"])
    with pytest.raises(ValueError, match="missing input 'image'"):
        s.run({}, ["probs"])
    with pytest.raises(ValueError, match="unknown output name 'logits'.*probs"):
        s.run({"image": good}, ["logits"])
    with pytest.raises(TypeError, match="float32, got float64"):
        s.run({"image": good.astype(np.float64)}, ["probs"])
    with pytest.raises(TypeError, match="float32, got uint8"):
        s.run({"image": good.astype(np.uint8)}, ["probs"])
    with pytest.raises(TypeError, match="numpy float32 array"):
        s.run({"image": [[0.0]]}, ["probs"])
    with pytest.raises(ValueError, match=r"shape \(1, 64, 64\).*\(-1, 1, 64, 64\)"):
        s.run({"image": good[0]}, ["probs"])
    with pytest.raises(ValueError, match=r"shape \(1, 1, 32, 64\)"):
        s.run({"image": good[:, :, :32]}, ["probs"])
    # the session still works after all that
    (probs,) = s.run({"image": good}, ["probs"])
    assert probs.shape == (1, 7)


def test_ort_runtime_errors_carry_ort_message(lib):
    s = native("retinaface_mbv2", lib)
    with pytest.raises(RuntimeError, match="ONNX Runtime: Run: .*Invalid input shape"):
        s.run({"image": np.zeros((1, 8, 8, 3), np.float32)}, [])  # too small for the strides
    (scores,) = s.run({"image": np.zeros((1, 64, 64, 3), np.float32)}, ["scores"])  # still works
    assert scores.shape[0] == 1


def test_garbage_model_bytes(lib):
    with pytest.raises(RuntimeError, match="ONNX Runtime: cannot load the model"):
        core.Session(b"this is not an onnx model", lib)
    with pytest.raises(ValueError, match="empty"):
        core.Session(b"", lib)


def test_wrong_library_path():
    data = models.load_bytes("mini_xception")
    with pytest.raises(RuntimeError, match="cannot load the ONNX Runtime library /nonexistent/libonnxruntime.so"):
        core.Session(data, "/nonexistent/libonnxruntime.so")
    libm = glob.glob("/lib/x86_64-linux-gnu/libm.so.6") + glob.glob("/usr/lib/*/libm.so.6")
    if libm:
        with pytest.raises(RuntimeError, match="not ONNX Runtime"):
            core.Session(data, libm[0])


def test_library_from_environment(lib, monkeypatch):
    data = models.load_bytes("mini_xception")
    monkeypatch.delenv("FASTFER_ONNXRUNTIME_LIBRARY", raising=False)
    with pytest.raises(RuntimeError, match="FASTFER_ONNXRUNTIME_LIBRARY"):
        core.Session(data, "")
    monkeypatch.setenv("FASTFER_ONNXRUNTIME_LIBRARY", lib)
    assert core.Session(data, "").providers == ["cpu"]


def test_concurrent_runs_give_serial_results(lib):
    s = native("mini_xception", lib)
    rng = np.random.default_rng(11)
    inputs = [rng.uniform(-1, 1, size=(3, 1, 64, 64)).astype(np.float32) for _ in range(4)]
    serial = [s.run({"image": x}, ["probs"])[0] for x in inputs]
    barrier = threading.Barrier(4)

    def work(i):
        barrier.wait()  # all four run at once: the pool has a thread per task
        for _ in range(20):
            (out,) = s.run({"image": inputs[i]}, ["probs"])
            np.testing.assert_array_equal(out, serial[i])
        return out

    with ThreadPoolExecutor(4) as pool:  # result() re-raises a worker's exception
        results = [f.result() for f in [pool.submit(work, i) for i in range(4)]]
    for r, w in zip(results, serial):
        np.testing.assert_array_equal(r, w)
