// Python bindings of the pipeline's configuration (fastfer/pipeline.h, detector_input.h,
// face_input.h): DetectorKind and Layout (enum.Enum), DetectorInputSpec, FaceInputSpec,
// DetectorConfig and ClassifierConfig (read-write fields; validate() raises ValueError naming the
// field), and the defaults as module constants (python/fastfer/models/defaults.py has the same).
//
// python/fastfer/core/native_config.py builds the two configurations from a model's typed spec and
// the Detector's options. List fields are copies: assign a whole list (config.steps = [8, 16]);
// config.steps.append(...) changes a copy only. The nested input specs are the config's own
// (config.input.max_side = 800 sets it).
#include <pybind11/native_enum.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>

#include "fastfer/detector_input.h"
#include "fastfer/face_input.h"
#include "fastfer/pipeline.h"

namespace fastfer {
namespace bindings {
namespace {

namespace py = pybind11;

// A float[3] field (mean, scale) as a property: read as a list of 3, set from any 3 numbers.
template <typename T>
void def_triple(py::class_<T>& cls, const char* name, float (T::*field)[3], const char* doc) {
  cls.def_property(
      name,
      [field](const T& t) {
        return std::array<float, 3>{(t.*field)[0], (t.*field)[1], (t.*field)[2]};
      },
      [field](T& t, const std::array<float, 3>& v) { std::copy(v.begin(), v.end(), t.*field); },
      doc);
}

void bind_enums(py::module_& m) {
  py::native_enum<DetectorKind>(m, "DetectorKind", "enum.Enum",
                                "The detector families (fastfer.models.families).")
      .value("RetinaFace", DetectorKind::RetinaFace)
      .value("BlazeFace", DetectorKind::BlazeFace)
      .value("YuNet", DetectorKind::YuNet)
      .finalize();
  py::native_enum<Layout>(m, "Layout", "enum.Enum", "A tensor's layout: NCHW or NHWC.")
      .value("NCHW", Layout::NCHW)
      .value("NHWC", Layout::NHWC)
      .finalize();
}

void bind_input_specs(py::module_& m) {
  py::class_<DetectorInputSpec> det(m, "DetectorInputSpec",
                                    "The detector's input tensor (fastfer/detector_input.h).");
  det.def(py::init<>())
      .def_readwrite("max_side", &DetectorInputSpec::max_side,
                     "Dynamic size: the long side at most this (0: the image's own size).")
      .def_readwrite("pad_multiple", &DetectorInputSpec::pad_multiple,
                     "Dynamic size: padded right and bottom to a multiple of this.")
      .def_readwrite("fixed_width", &DetectorInputSpec::fixed_width, "Fixed size (0: dynamic).")
      .def_readwrite("fixed_height", &DetectorInputSpec::fixed_height, "Fixed size (0: dynamic).")
      .def_readwrite("rgb", &DetectorInputSpec::rgb, "RGB channel order (else BGR).")
      .def_readwrite("layout", &DetectorInputSpec::layout);
  def_triple(det, "mean", &DetectorInputSpec::mean, "(pixel - mean) * scale, per channel.");
  def_triple(det, "scale", &DetectorInputSpec::scale, "(pixel - mean) * scale, per channel.");

  py::class_<FaceInputSpec> face(m, "FaceInputSpec",
                                 "The classifier's input: S×S face crops (fastfer/face_input.h).");
  face.def(py::init<>())
      .def_readwrite("size", &FaceInputSpec::size, "S.")
      .def_readwrite("gray", &FaceInputSpec::gray, "One grey channel (else three).")
      .def_readwrite("rgb", &FaceInputSpec::rgb, "RGB channel order (else BGR); colour only.")
      .def_readwrite("layout", &FaceInputSpec::layout);
  def_triple(face, "mean", &FaceInputSpec::mean, "(value - mean) * scale, per channel.");
  def_triple(face, "scale", &FaceInputSpec::scale, "(value - mean) * scale, per channel.");
}

void bind_detector_config(py::module_& m) {
  using C = DetectorConfig;
  py::class_<C>(m, "DetectorConfig",
                "How the native pipeline feeds the detector and reads its outputs "
                "(fastfer/pipeline.h). validate() raises ValueError naming the first rule broken.")
      .def(py::init<>())
      .def_readwrite("name", &C::name, "The model's name, for messages.")
      .def_readwrite("kind", &C::kind)
      .def_readwrite("input", &C::input)
      .def_readwrite("input_name", &C::input_name)
      .def_readwrite("output_names", &C::output_names, "In the order of the family's roles.")
      .def_readwrite("steps", &C::steps)
      .def_readwrite("min_sizes", &C::min_sizes)
      .def_readwrite("anchor_offset", &C::anchor_offset)
      .def_readwrite("variance_xy", &C::variance_xy)
      .def_readwrite("variance_wh", &C::variance_wh)
      .def_readwrite("score_threshold", &C::score_threshold)
      .def_readwrite("nms_iou", &C::nms_iou)
      .def_readwrite("max_faces", &C::max_faces)
      .def_readwrite("pre_nms_top_k", &C::pre_nms_top_k)
      .def_readwrite("min_face", &C::min_face)
      .def_readwrite("min_face_px", &C::min_face_px)
      .def("validate", &C::validate,
           "ValueError (std::invalid_argument) naming the first rule broken.");
}

void bind_classifier_config(py::module_& m) {
  using C = ClassifierConfig;
  py::class_<C>(m, "ClassifierConfig",
                "How the native pipeline crops faces for the classifier and reads its output "
                "(fastfer/pipeline.h). validate() raises ValueError naming the first rule broken.")
      .def(py::init<>())
      .def_readwrite("name", &C::name, "The model's name, for messages.")
      .def_readwrite("input", &C::input)
      .def_readwrite("input_name", &C::input_name)
      .def_readwrite("output_name", &C::output_name)
      .def_readwrite("margin", &C::margin)
      .def_readwrite("square", &C::square)
      .def_readwrite("label_columns", &C::label_columns,
                     "label_columns[j]: the output column of fastfer.LABELS[j].")
      .def_readwrite("softmax", &C::softmax, "True when the model gives logits.")
      .def("validate", &C::validate,
           "ValueError (std::invalid_argument) naming the first rule broken.");
}

void bind_defaults(py::module_& m) {
  m.attr("DEFAULT_MAX_SIDE") = kDefaultMaxSide;
  m.attr("DEFAULT_NMS_IOU") = kDefaultNmsIou;
  m.attr("MAX_FACES") = kMaxFaces;
  m.attr("PRE_NMS_TOP_K") = kDefaultPreNmsTopK;
  m.attr("DEFAULT_SCORE_THRESHOLD") = kDefaultScoreThreshold;
  m.attr("DEFAULT_PAD_MULTIPLE") = kDefaultPadMultiple;
  m.attr("DEFAULT_CROP_MARGIN") = kDefaultCropMargin;
  m.attr("DEFAULT_CROP_SQUARE") = kDefaultCropSquare;
  m.attr("PROBABILITY_SLACK") = kProbabilitySlack;
}

}  // namespace

void register_config(py::module_& m) {
  bind_enums(m);
  bind_input_specs(m);
  bind_detector_config(m);
  bind_classifier_config(m);
  bind_defaults(m);
}

}  // namespace bindings
}  // namespace fastfer
