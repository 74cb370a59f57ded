"""tools/measure_degradation.py: each degradation keeps a face a 48 px uint8 face and changes it the
way its name says, and the tool's clean row is the classifier's own score on those faces."""

import importlib.util
from pathlib import Path

import numpy as np
from _paths import SHARED_DATA, needs_shared

from fastfer.core.classifier import Classifier
from fastfer.eval import fer2013

NPZ = SHARED_DATA / "fer2013.npz"
TOOL = Path(__file__).resolve().parents[1] / "tools" / "measure_degradation.py"
spec = importlib.util.spec_from_file_location("measure_degradation", TOOL)
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def detail(face):  # mean absolute difference of neighbouring pixels
    return np.abs(np.diff(face.astype(np.float32), axis=1)).mean()


def test_each_degradation_does_what_its_name_says():
    face = np.random.default_rng(0).integers(40, 216, (48, 48)).astype(np.uint8)
    face[:, :24] //= 2  # a darker half, so that blur and resolution have an edge to soften
    out = {name: f(face) for name, f in tool.conditions().items()}
    for name, degraded in out.items():
        assert degraded.dtype == np.uint8 and degraded.shape == (48, 48), name
    assert np.array_equal(out["clean"], face)
    assert detail(out["blur sigma 2.0"]) < detail(out["blur sigma 1.0"]) < 0.5 * detail(face)
    assert out["darker (gamma 2)"].mean() < face.mean() < out["brighter (gamma 0.5)"].mean()
    assert (
        np.abs(out["noise std 20"].astype(int) - face).std() > np.abs(out["noise std 10"].astype(int) - face).std() > 5
    )
    assert detail(out["24 px, upscaled"]) < detail(face)
    assert 0 < np.abs(out["JPEG quality 20"].astype(int) - face).mean() < 40


@needs_shared(NPZ)
def test_the_clean_row_is_the_classifiers_own_score(capsys):
    assert tool.main([str(NPZ), "--limit", "300"]) == 0
    clean = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("clean"))
    faces, labels, usage = fer2013.read(NPZ)
    rows = np.flatnonzero(usage == "PublicTest")[:300]
    result = fer2013.evaluate(Classifier(tool.DEFAULT_CLASSIFIER, threads=1).classify(faces[rows]), labels[rows])
    assert clean.split()[1] == f"{100 * result['accuracy']:5.2f}%".strip()
