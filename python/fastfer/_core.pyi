"""Types of fastfer's native module (cpp/bindings/*.cpp). Checked against the built module by
tests/test_typing.py (mypy's stubtest); the numpy twins in fastfer.backend.reference take the same
arguments."""

import enum
from typing import Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from fastfer.errors import ModelError

__version__: str

MAX_ANCHORS: int
MAX_NMS_BOX_AREA: float
MAX_NMS_CANDIDATES: int

# The defaults of the pipeline's configuration (fastfer.models.defaults has the same values).
DEFAULT_MAX_SIDE: int
DEFAULT_NMS_IOU: float
MAX_FACES: int
PRE_NMS_TOP_K: int
DEFAULT_SCORE_THRESHOLD: float
DEFAULT_PAD_MULTIPLE: int
DEFAULT_CROP_MARGIN: float
DEFAULT_CROP_SQUARE: bool
PROBABILITY_SLACK: float

_Array = npt.ArrayLike
_Float32 = npt.NDArray[np.float32]
_Scalars = Union[float, Sequence[float]]

class ModelLoadError(RuntimeError): ...
class ModelOutputError(ModelError): ...

class Session:
    """An ONNX Runtime session run by the C++ core (ORT's C API, loaded from library_path)."""

    def __init__(
        self,
        model_bytes: bytes,
        library_path: str,
        threads: int = 1,
        providers: Sequence[str] = ("cpu",),
        allow_fallback: bool = False,
        graph_optimization: str = "all",
    ) -> None: ...
    def run(self, inputs: dict[str, _Array], output_names: Sequence[str] = []) -> list[_Float32]: ...
    @property
    def input_names(self) -> list[str]: ...
    @property
    def input_shapes(self) -> list[list[int]]: ...
    @property
    def onnxruntime_version(self) -> str: ...
    @property
    def output_names(self) -> list[str]: ...
    @property
    def providers(self) -> list[str]: ...

class DetectorKind(enum.Enum):
    """The detector families (fastfer.models.families)."""

    RetinaFace = 0
    BlazeFace = 1
    YuNet = 2

class Layout(enum.Enum):
    """A tensor's layout."""

    NCHW = 0
    NHWC = 1

class DetectorInputSpec:
    """The detector's input tensor (fastfer/detector_input.h)."""

    max_side: int
    pad_multiple: int
    fixed_width: int
    fixed_height: int
    rgb: bool
    layout: Layout
    def __init__(self) -> None: ...
    @property
    def mean(self) -> list[float]: ...
    @mean.setter
    def mean(self, value: Sequence[float]) -> None: ...
    @property
    def scale(self) -> list[float]: ...
    @scale.setter
    def scale(self, value: Sequence[float]) -> None: ...

class FaceInputSpec:
    """The classifier's input: S×S face crops (fastfer/face_input.h)."""

    size: int
    gray: bool
    rgb: bool
    layout: Layout
    def __init__(self) -> None: ...
    @property
    def mean(self) -> list[float]: ...
    @mean.setter
    def mean(self, value: Sequence[float]) -> None: ...
    @property
    def scale(self) -> list[float]: ...
    @scale.setter
    def scale(self, value: Sequence[float]) -> None: ...

class DetectorConfig:
    """How the native pipeline feeds the detector and reads its outputs (fastfer/pipeline.h).
    List fields are copies: assign whole lists."""

    name: str
    kind: DetectorKind
    input: DetectorInputSpec
    input_name: str
    output_names: list[str]
    steps: list[int]
    min_sizes: list[list[float]]
    anchor_offset: float
    variance_xy: float
    variance_wh: float
    score_threshold: float
    nms_iou: float
    max_faces: int
    pre_nms_top_k: int
    min_face: int
    min_face_px: int
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

class ClassifierConfig:
    """How the native pipeline crops faces for the classifier and reads its output."""

    name: str
    input: FaceInputSpec
    input_name: str
    output_name: str
    margin: float
    square: bool
    label_columns: list[int]
    softmax: bool
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

class Pipeline:
    """The whole analysis of one image in C++ (fastfer/pipeline.h). Thread-safe."""

    def __init__(
        self,
        detector_session: Session,
        detector_config: DetectorConfig,
        classifier_session: Optional[Session] = None,
        classifier_config: Optional[ClassifierConfig] = None,
    ) -> None: ...
    def analyze(self, image: npt.NDArray[np.uint8]) -> dict[str, _Float32]: ...
    def analyze_batch(self, images: list[npt.NDArray[np.uint8]]) -> list[dict[str, _Float32]]: ...
    def detect(self, image: npt.NDArray[np.uint8]) -> dict[str, _Float32]: ...
    @staticmethod
    def last_stages() -> dict[str, float]: ...
    @staticmethod
    def last_timing() -> tuple[float, float]: ...

def available_simd_levels() -> list[str]: ...
def simd_level() -> str: ...
def set_simd_level(name: str) -> None: ...
def has_onnxruntime() -> bool: ...
def onnxruntime_available_providers(library_path: str) -> list[str]: ...
def resize(image: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.uint8]: ...
def to_gray(image: npt.NDArray[np.uint8], channel_order: str = "bgr") -> npt.NDArray[np.uint8]: ...
def detector_input(
    image: npt.NDArray[np.uint8],
    max_side: int = 0,
    *,
    fixed_size: Optional[Sequence[int]] = None,
    pad_multiple: int = 32,
    channel_order: str = "rgb",
    mean: _Scalars = 0.0,
    scale: _Scalars = 1.0,
    layout: str = "nchw",
) -> tuple[_Float32, float]: ...
def face_input(
    image: npt.NDArray[np.uint8],
    boxes: Optional[_Array] = None,
    landmarks: Optional[_Array] = None,
    *,
    size: Union[int, Sequence[int]],
    margin: float = 0.0,
    square: bool = True,
    template: Optional[_Array] = None,
    gray: bool = False,
    channel_order: str = "rgb",
    mean: _Scalars = 0.0,
    scale: _Scalars = 1.0,
    layout: str = "nchw",
) -> _Float32: ...
def similarity_transform(src: _Array, dst: _Array) -> npt.NDArray[np.float64]: ...
def make_anchors(
    height: int, width: int, steps: Sequence[int], min_sizes: Sequence[Sequence[float]], offset: float = 0.5
) -> _Float32: ...
def decode_boxes(deltas: _Array, priors: _Array, variances: Sequence[float] = (0.1, 0.2)) -> _Float32: ...
def decode_landmarks(deltas: _Array, priors: _Array, variance: float = 0.1) -> _Float32: ...
def nms(
    boxes: _Array,
    scores: _Array,
    iou_threshold: float,
    score_threshold: Optional[float] = None,
    top_k: int = 0,
    max_output: int = 0,
) -> npt.NDArray[np.int64]: ...
def yunet_scores(cls: _Array, obj: _Array) -> _Float32: ...
