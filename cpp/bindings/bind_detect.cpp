// Python bindings of the detection kernels: anchors, decoding, NMS.
//
// Every function converts and checks its arguments (TypeError for a wrong type or dtype,
// ValueError for a wrong shape or value), allocates its result array once, and runs the core
// kernel with the GIL released. The docstrings live in the numpy twins
// (fastfer._reference.detect), which have the same signatures.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "arrays.h"
#include "fastfer/anchors.h"
#include "fastfer/decode.h"
#include "fastfer/nms.h"

namespace fastfer {
namespace bindings {
namespace {

using FloatArray = py::array_t<float, py::array::c_style>;

// An empty list or 1-D array of size 0 stands for "no rows": give it the (0, columns) shape the
// checks expect, so nms([], [], 0.5) works like an empty (0, 4) array.
py::object rows_or_empty(const py::handle& obj, py::ssize_t columns) {
  py::array a = py::module_::import("numpy").attr("asarray")(obj);
  if (a.ndim() == 1 && a.shape(0) == 0) return a.attr("reshape")(0, columns);
  return std::move(a);
}

// A short numeric vector (such as the variances) kept in double precision: float_array would
// round 0.1 to float32 and the decoded values would drift from the twin's. The core checks the
// values themselves (finite, > 0) with messages that name them.
std::vector<double> double_values(const py::handle& obj, const char* what, py::ssize_t size) {
  const auto d = numeric_array<double>(obj, what, {size}, /*finite=*/false);
  return std::vector<double>(d.data(), d.data() + size);
}

void check_same_rows(const py::array& a, const char* a_name, const py::array& b,
                     const char* b_name) {
  if (a.shape(0) != b.shape(0)) {
    throw py::value_error(std::string(a_name) + " and " + b_name + " must have the same number of "
                          "rows, got " + shape_string(a) + " and " + shape_string(b));
  }
}

// A sequence argument (not a string), as the twin iterates it: TypeError otherwise.
py::sequence sequence_arg(const py::object& obj, const char* what, const char* expected) {
  if (py::isinstance<py::str>(obj) || py::isinstance<py::bytes>(obj) ||
      !py::isinstance<py::sequence>(obj)) {
    throw py::type_error(std::string(what) + ": expected " + expected);
  }
  return py::reinterpret_borrow<py::sequence>(obj);
}

FloatArray make_anchors_py(const py::object& height_obj, const py::object& width_obj,
                           const py::object& steps_obj,
                           const std::vector<std::vector<double>>& min_sizes, double offset) {
  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
  constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
  const int64_t height = int64_arg(height_obj, "height", kInt64Min, kInt64Max);
  const int64_t width = int64_arg(width_obj, "width", kInt64Min, kInt64Max);
  std::vector<int64_t> steps;
  for (const py::handle step : sequence_arg(steps_obj, "steps", "a sequence of integers")) {
    steps.push_back(int64_arg(step, "steps", kInt64Min, kInt64Max));
  }
  if (steps.size() != min_sizes.size()) {
    throw py::value_error("steps and min_sizes must have the same length, got " +
                          std::to_string(steps.size()) + " and " +
                          std::to_string(min_sizes.size()));
  }
  std::vector<ptrdiff_t> per_level;
  std::vector<double> flat;
  for (const auto& level : min_sizes) {
    per_level.push_back(static_cast<ptrdiff_t>(level.size()));
    flat.insert(flat.end(), level.begin(), level.end());
  }
  const ptrdiff_t levels = static_cast<ptrdiff_t>(steps.size());
  if (!std::isfinite(offset)) throw py::value_error("offset must be finite");
  const int64_t count =
      anchor_count(height, width, steps.data(), per_level.data(), flat.data(), levels);
  // Before allocating: values that would not fit float32 are refused here, not half written.
  check_anchor_values(height, width, steps.data(), per_level.data(), flat.data(), levels, offset);
  FloatArray out({static_cast<py::ssize_t>(count), static_cast<py::ssize_t>(4)});
  float* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    make_anchors(height, width, steps.data(), per_level.data(), flat.data(), levels, offset, dst);
  }
  return out;
}

FloatArray decode_boxes_py(const py::object& deltas_obj, const py::object& priors_obj,
                           const py::object& variances_obj) {
  FloatArray deltas = float_array(rows_or_empty(deltas_obj, 4), "deltas", {-1, 4});
  FloatArray priors = float_array(rows_or_empty(priors_obj, 4), "priors", {-1, 4});
  check_same_rows(deltas, "deltas", priors, "priors");
  const std::vector<double> v = double_values(variances_obj, "variances", 2);
  const ptrdiff_t count = deltas.shape(0);
  FloatArray out({static_cast<py::ssize_t>(count), static_cast<py::ssize_t>(4)});
  float* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    decode_boxes(deltas.data(), priors.data(), count, v[0], v[1], dst);
  }
  return out;
}

FloatArray decode_landmarks_py(const py::object& deltas_obj, const py::object& priors_obj,
                               double variance) {
  FloatArray deltas = float_array(deltas_obj, "deltas", {-1, -1});
  FloatArray priors = float_array(rows_or_empty(priors_obj, 4), "priors", {-1, 4});
  const py::ssize_t columns = deltas.shape(1);
  if (columns < 2 || columns % 2 != 0) {
    throw py::value_error("deltas: expected an even number (>= 2) of columns, x and y per point, "
                          "got shape " + shape_string(deltas));
  }
  check_same_rows(deltas, "deltas", priors, "priors");
  const ptrdiff_t count = deltas.shape(0);
  FloatArray out({static_cast<py::ssize_t>(count), columns});
  float* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    decode_landmarks(deltas.data(), priors.data(), count, columns / 2, variance, dst);
  }
  return out;
}

py::array_t<int64_t> nms_py(const py::object& boxes_obj, const py::object& scores_obj,
                            double iou_threshold, std::optional<double> score_threshold,
                            const py::object& top_k, const py::object& max_output) {
  NmsParams params;
  params.iou_threshold = iou_threshold;
  params.use_score_threshold = score_threshold.has_value();
  params.score_threshold = score_threshold.value_or(0.0);
  // Negative values keep check_nms_params's messages; only values beyond int64 are refused here.
  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
  constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
  params.top_k = int64_arg(top_k, "top_k", kInt64Min, kInt64Max);
  params.max_output = int64_arg(max_output, "max_output", kInt64Min, kInt64Max);
  check_nms_params(params);  // before converting arrays: cheap errors first
  FloatArray boxes = float_array(rows_or_empty(boxes_obj, 4), "boxes", {-1, 4});
  FloatArray scores = float_array(scores_obj, "scores", {-1});
  check_same_rows(boxes, "boxes", scores, "scores");
  const ptrdiff_t count = boxes.shape(0);
  // Allocated at its largest size and shrunk in place afterwards: no second buffer, no copy.
  py::array_t<int64_t> keep(static_cast<py::ssize_t>(nms_max_kept(count, params)));
  int64_t* dst = keep.mutable_data();
  ptrdiff_t kept = 0;
  {
    py::gil_scoped_release release;
    kept = nms(boxes.data(), scores.data(), count, params, dst);
  }
  if (kept != keep.shape(0)) keep.resize({static_cast<py::ssize_t>(kept)}, false);
  return keep;
}

}  // namespace

void register_detect(py::module_& m) {
  m.def("make_anchors", &make_anchors_py, py::arg("height"), py::arg("width"), py::arg("steps"),
        py::arg("min_sizes"), py::arg("offset") = 0.5,
        "Anchors (cx, cy, w, h) normalised to the input size, float32 (A, 4). "
        "See fastfer._reference.make_anchors.");
  m.def("decode_boxes", &decode_boxes_py, py::arg("deltas"), py::arg("priors"),
        py::arg("variances") = py::make_tuple(0.1, 0.2),
        "Boxes (x1, y1, x2, y2) from regression deltas and priors, float32 (A, 4). "
        "See fastfer._reference.decode_boxes.");
  m.def("decode_landmarks", &decode_landmarks_py, py::arg("deltas"), py::arg("priors"),
        py::arg("variance") = 0.1,
        "Landmark points from regression deltas and priors, float32 (A, 2K). "
        "See fastfer._reference.decode_landmarks.");
  m.def("nms", &nms_py, py::arg("boxes"), py::arg("scores"), py::arg("iou_threshold"),
        py::arg("score_threshold") = py::none(), py::arg("top_k") = 0, py::arg("max_output") = 0,
        "Greedy non-maximum suppression; int64 indices of the kept boxes, best first. "
        "See fastfer._reference.nms.");
  m.attr("MAX_ANCHORS") = kMaxAnchors;
  m.attr("MAX_NMS_CANDIDATES") = kMaxNmsCandidates;
  m.attr("MAX_NMS_BOX_AREA") = static_cast<double>(kMaxNmsBoxArea);
}

}  // namespace bindings
}  // namespace fastfer
