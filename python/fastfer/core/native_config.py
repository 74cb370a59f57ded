"""The native pipeline's configuration, built from typed model specs and the Detector's options.

:func:`native_configs` is the one place where a :class:`~fastfer.models.schema.ModelSpec` becomes
``fastfer._core.DetectorConfig`` and ``ClassifierConfig`` (cpp/include/fastfer/pipeline.h): every
field is set here, none left to the C++ defaults, and the C++ side validates the result
(``validate()``, called by the Pipeline's constructor).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

from ..errors import BackendError
from ..labels import LABELS
from ..models import ModelSpec
from ..models.defaults import PRE_NMS_TOP_K
from ..models.schema import InputSpec
from .detector import DetectorOptions

if TYPE_CHECKING:
    from .. import _core


def native_configs(
    detector: ModelSpec, options: DetectorOptions, classifier: Optional[ModelSpec] = None
) -> tuple[_core.DetectorConfig, Optional[_core.ClassifierConfig]]:
    """``(DetectorConfig, ClassifierConfig or None)`` for the native pipeline: the detector's
    spec with the Detector's options, and the classifier's spec when given."""
    from .. import backend

    core = backend.native
    if core is None or not hasattr(core, "DetectorConfig"):
        reason = backend.native_error or "built without the ONNX Runtime header"
        raise BackendError(f"the native pipeline needs fastfer._core with its ONNX Runtime session ({reason})")
    decoder = detector.decoder
    if decoder is None:
        raise ValueError(f"model {detector.name!r} is a {detector.task}, not a detector")
    det = core.DetectorConfig()
    det.name = detector.name
    det.kind = core.DetectorKind[decoder.family]
    det.input = _detector_input(core, detector.input, options)
    det.input_name = detector.input.name
    det.output_names = [detector.outputs[role] for role in decoder.roles()]
    det.steps = list(decoder.steps)
    det.min_sizes = [list(level) for level in decoder.min_sizes]
    det.anchor_offset = decoder.offset
    for field, value in decoder.native_fields().items():
        setattr(det, field, value)
    det.score_threshold = options.score_threshold
    det.nms_iou = options.nms_iou
    det.max_faces = options.max_faces
    det.pre_nms_top_k = PRE_NMS_TOP_K
    det.min_face = options.min_face
    det.min_face_px = decoder.min_face_px or 0
    return det, None if classifier is None else _classifier_config(core, classifier)


def _classifier_config(core: Any, spec: ModelSpec) -> _core.ClassifierConfig:
    if spec.labels is None or spec.crop is None or spec.input.size == "dynamic":
        raise ValueError(f"model {spec.name!r} is a {spec.task}, not a classifier")
    inp = spec.input
    face = core.FaceInputSpec()
    face.size = inp.size[0]
    face.gray = inp.color == "gray"
    face.rgb = inp.color != "bgr"
    face.mean = _per_channel(inp.mean, inp.channels)
    face.scale = _per_channel(inp.scale, inp.channels)
    face.layout = core.Layout[inp.layout.upper()]
    cls = core.ClassifierConfig()
    cls.name = spec.name
    cls.input = face
    cls.input_name = inp.name
    cls.output_name = spec.outputs["probs"]
    cls.margin = spec.crop.margin
    cls.square = spec.crop.square
    cls.label_columns = [spec.labels.index(label) for label in LABELS]
    cls.softmax = spec.activation == "logits"
    return cls


def _detector_input(core: Any, inp: InputSpec, options: DetectorOptions) -> _core.DetectorInputSpec:
    """A dynamic size up to options.max_side, or the fixed size (max_side 0); colour, normalisation
    and layout."""
    spec = core.DetectorInputSpec()
    if inp.size == "dynamic":
        spec.max_side = options.max_side
    else:
        spec.fixed_width, spec.fixed_height = inp.size
    spec.pad_multiple = inp.pad_multiple
    spec.rgb = inp.color == "rgb"
    spec.mean = _per_channel(inp.mean, 3)
    spec.scale = _per_channel(inp.scale, 3)
    spec.layout = core.Layout[inp.layout.upper()]
    return spec


def _per_channel(values: Sequence[float], channels: int) -> list[float]:
    """Three values from one for every channel or one per channel (only the first is read for a
    grey input), as the kernels take mean and scale."""
    return [float(values[0 if len(values) == 1 else min(k, channels - 1)]) for k in range(3)]
