"""Expression classification: face crops -> probabilities in ``fastfer.LABELS`` order.

The classifier's manifest entry says what its input is (size, grey or colour, normalisation)
and how a detected face is framed for it (``crop``: square box, margin); fastfer's kernels do the
resizing and normalisation, ONNX Runtime's Python API the inference.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..backend import kernels
from ..backend.runtime import ProviderRequest, create_session
from ..errors import ModelError, ModelSpecError
from ..io.image import load_image
from ..labels import LABELS
from ..models import DEFAULT_CLASSIFIER, CropSpec, ModelSpec, spec as model_spec
from ..models.defaults import PROBABILITY_SLACK as _SLACK

#: A model's probabilities may stray this far outside [0, 1] (rounding in a quantised softmax);
#: further is a ModelError (kProbabilitySlack in cpp/include/fastfer/pipeline.h).
PROBABILITY_SLACK = np.float32(_SLACK)


def _checked_probs(spec: ModelSpec, out: np.ndarray, faces: int, logits: bool) -> np.ndarray:
    """The classifier's raw output, after the checks cpp/src/pipeline.cpp makes too: (N, 7) for N
    faces, finite (never a label from NaN), and in [0, 1] unless the spec says it gives logits."""
    expected = (faces, len(LABELS))
    if out.shape != expected:
        raise ModelError(
            f"model {spec.name!r}: classifier output {spec.outputs['probs']!r} has shape "
            f"{out.shape} for {faces} faces; expected {expected}, one row per face and one "
            "column per label"
        )
    if not np.all(np.isfinite(out)):
        raise ModelError(f"model {spec.name!r}: its output holds NaN or infinity")
    if not logits and not np.all((out >= -PROBABILITY_SLACK) & (out <= 1 + PROBABILITY_SLACK)):
        raise ModelError(
            f"model {spec.name!r}: its output is not probabilities: values outside [0, 1] "
            '(a model that gives logits needs the decoder {"activation": "logits"} in its spec)'
        )
    return out


class Classifier:
    """An expression classifier built from a shipped or registered model. Thread-safe."""

    def __init__(
        self, model: str = DEFAULT_CLASSIFIER, *, threads: int = 1, providers: Sequence[ProviderRequest] = ("cpu",)
    ):
        self.spec: ModelSpec = model_spec(model)
        if self.spec.labels is None or self.spec.crop is None or self.spec.input.size == "dynamic":
            raise ModelSpecError(f"model {model!r} is a {self.spec.task}, not a classifier")
        # Column j of fastfer's output is column _order[j] of the model's (the spec's labels are
        # fastfer.LABELS in some order, and its input square: models.spec checked both).
        self._order = [self.spec.labels.index(label) for label in LABELS]
        self.crop: CropSpec = self.spec.crop
        self.size = self.spec.input.size[0]
        self._gray = self.spec.input.color == "gray"
        self._logits = self.spec.activation == "logits"
        self._session = create_session(model, threads=threads, providers=providers)

    def _normalise(self, faces: np.ndarray) -> np.ndarray:
        """(N, S, S) grey or (N, S, S, 3) BGR uint8 -> the model's float32 input batch."""
        inp = self.spec.input
        mean = np.asarray(inp.mean, np.float32).reshape(-1)
        scale = np.asarray(inp.scale, np.float32).reshape(-1)
        if not self._gray:
            faces = faces[..., ::-1] if inp.color == "rgb" else faces
            batch = (faces.astype(np.float32) - mean) * scale
            return np.ascontiguousarray(batch.transpose(0, 3, 1, 2) if inp.layout == "nchw" else batch)
        batch = (faces.astype(np.float32) - mean[0]) * scale[0]
        return np.ascontiguousarray(batch[:, None] if inp.layout == "nchw" else batch[..., None])

    def _prepare_crop(self, face: np.ndarray) -> np.ndarray:
        if not isinstance(face, np.ndarray) or face.dtype != np.uint8:
            raise TypeError(f"face crops must be uint8 numpy arrays, got {getattr(face, 'dtype', type(face).__name__)}")
        if face.ndim == 3 and face.shape[2] == 3:
            face = kernels.to_gray(face) if self._gray else face
        elif face.ndim != 2:
            raise ValueError(f"a face crop must be H×W grey or H×W×3 BGR, got shape {face.shape}")
        elif not self._gray:
            face = np.repeat(face[:, :, None], 3, axis=2)
        return kernels.resize(face, self.size, self.size)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities (N, 7) in fastfer.LABELS order for a batch already in the model's input
        format (from crop_batch)."""
        if len(batch) == 0:
            return np.zeros((0, len(LABELS)), np.float32)
        output = self.spec.outputs["probs"]
        try:
            (out,) = self._session.run([output], {self.spec.input.name: batch})
        except Exception as exc:  # ONNX Runtime's own error types: the model's fault
            raise ModelError(
                f"model {self.spec.name!r}: ONNX Runtime cannot run it on {len(batch)} faces ({exc})"
            ) from exc
        probs = _checked_probs(self.spec, np.asarray(out, np.float32), len(batch), self._logits)[:, self._order]
        if self._logits:
            probs = np.exp(probs - probs.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
        return probs

    def classify(self, faces) -> np.ndarray:
        """Probabilities (N, 7) in fastfer.LABELS order for a batch of face crops: an N×H×W grey or
        N×H×W×3 BGR uint8 array, or a sequence of such crops (sizes may differ); one H×W grey or
        H×W×3 BGR crop gives (1, 7). Each crop is
        resized to the model's input as a whole: pass faces framed as the model expects."""
        if isinstance(faces, np.ndarray):
            if faces.ndim == 2 or (faces.ndim == 3 and faces.shape[2] == 3):
                # One crop (H×W grey or H×W×3 BGR) is one face, never a stack of H crops; a stack
                # of grey crops 3 pixels wide is no face, so H×W×3 is not ambiguous.
                crops = [faces]
            elif faces.ndim == 3 and faces.shape[2] == 4:
                raise ValueError(
                    f"faces of shape {faces.shape}: an H×W×4 (BGRA?) crop; pass H×W×3 BGR "
                    "(cv2.cvtColor(crop, cv2.COLOR_BGRA2BGR)) or a batch N×H×W / N×H×W×3"
                )
            elif faces.ndim not in (3, 4) or (faces.ndim == 4 and faces.shape[3] != 3):
                raise ValueError(
                    f"faces must be one H×W grey or H×W×3 BGR crop, or a batch N×H×W grey "
                    f"or N×H×W×3 BGR, got shape {faces.shape}"
                )
            else:
                crops = list(faces)
        elif isinstance(faces, (list, tuple)):
            crops = list(faces)
        else:
            raise TypeError(f"faces must be a numpy array or a sequence of arrays, got {type(faces).__name__}")
        prepared = [self._prepare_crop(face) for face in crops]
        return self.infer(self._normalise(np.stack(prepared)) if prepared else np.zeros((0,)))

    def crop_batch(self, image: np.ndarray, boxes) -> np.ndarray:
        """The model's input batch for the faces at ``boxes`` (N, 4) x1, y1, x2, y2 of a loaded
        BGR image, each framed by the model's crop rule (square box, margin): one face_input call."""
        inp = self.spec.input
        return kernels.face_input(
            image,
            np.asarray(boxes, np.float64).reshape(-1, 4),
            size=self.size,
            margin=self.crop.margin,
            square=self.crop.square,
            gray=self._gray,
            channel_order="bgr" if inp.color == "bgr" else "rgb",
            mean=inp.mean,
            scale=inp.scale,
            layout=inp.layout,
        )

    def classify_boxes(self, image, boxes) -> np.ndarray:
        """Probabilities (N, 7) for the faces at ``boxes`` of an image (anything load_image reads)."""
        return self.infer(self.crop_batch(load_image(image), boxes))
