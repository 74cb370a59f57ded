// Bindings of the image kernels: resize, to_gray, detector_input, face_input, similarity_transform.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "arrays.h"
#include "fastfer/color.h"
#include "fastfer/detector_input.h"
#include "fastfer/face_input.h"
#include "fastfer/limits.h"
#include "fastfer/resize.h"

namespace py = pybind11;

namespace fastfer {
namespace bindings {
namespace {

bool parse_rgb(const std::string& order, const char* what) {
  if (order == "rgb") return true;
  if (order == "bgr") return false;
  throw py::value_error(std::string(what) + ": channel_order must be 'rgb' or 'bgr', got '" +
                        order + "'");
}

Layout parse_layout(const std::string& layout, const char* what) {
  if (layout == "nchw") return Layout::NCHW;
  if (layout == "nhwc") return Layout::NHWC;
  throw py::value_error(std::string(what) + ": layout must be 'nchw' or 'nhwc', got '" + layout +
                        "'");
}

// mean / scale: a number, or a sequence of one value per output channel.
void per_channel(const py::handle& obj, const char* what, int channels, float out[3]) {
  const py::object flat = py::module_::import("numpy").attr("atleast_1d")(obj);
  auto a = numeric_array<float>(flat, what, {-1}, true);
  if (a.size() != 1 && a.size() != channels) {
    throw py::value_error(std::string(what) + ": expected a number or " + std::to_string(channels) +
                          " values, got " + std::to_string(a.size()));
  }
  for (int k = 0; k < 3; ++k) out[k] = a.data()[a.size() == 1 ? 0 : std::min(k, channels - 1)];
}

// An integer argument in [lo, hi], read as the twin's checked_int does: bool and non-integers are
// a TypeError, any integer outside the range (Python ints of any size) a ValueError.
int checked_int(const py::object& v, const char* what, long long lo, long long hi) {
  if (py::isinstance<py::bool_>(v)) {
    throw py::type_error(std::string(what) + " must be an integer, got bool");
  }
  return static_cast<int>(int64_arg(v, what, lo, hi));
}

// One side of fixed_size, given as a number: range-checked in double before any conversion (a
// double beyond the int range has no defined conversion).
int fixed_side(double v, const char* what) {
  if (!(v >= 1.0 && v <= 65536.0)) {
    throw py::value_error(std::string(what) + " must be in [1, 65536], got " + std::to_string(v));
  }
  return static_cast<int>(v);
}

// The output of one call: at most kMaxOutputElements values, checked before allocating.
void check_output_size(const char* what, std::initializer_list<int64_t> dims) {
  // Each factor is at most 2^20 or the number of faces; checked one product at a time in
  // double, which cannot overflow, so no int64 product ever wraps.
  double values = 1.0;
  for (int64_t d : dims) values *= static_cast<double>(d);
  if (values > static_cast<double>(kMaxOutputElements)) {
    throw py::value_error(std::string(what) + ": the output would hold " +
                          std::to_string(static_cast<unsigned long long>(values)) +
                          " values, above the limit of " + std::to_string(kMaxOutputElements));
  }
}

py::array resize_py(const py::object& image, const py::object& width, const py::object& height) {
  py::object holder;
  const ImageView src = image_view(image, "resize image", 1, 4, holder);
  const int w = checked_int(width, "resize width", 1, 1 << 20);
  const int h = checked_int(height, "resize height", 1, 1 << 20);
  check_output_size("resize", {w, h, src.channels});
  const bool has_channel_axis = py::array(holder).ndim() == 3;
  std::vector<py::ssize_t> shape = {h, w};
  if (has_channel_axis) shape.push_back(src.channels);
  py::array_t<uint8_t> out(shape);
  MutableImageView dst{out.mutable_data(), h, w, src.channels,
                       static_cast<ptrdiff_t>(w) * src.channels};
  {
    py::gil_scoped_release release;
    resize_bilinear(src, dst);
  }
  return out;
}

py::array to_gray_py(const py::object& image, const std::string& channel_order) {
  const bool bgr = !parse_rgb(channel_order, "to_gray");
  py::object holder;
  const ImageView src = image_view(image, "to_gray image", 3, 4, holder);
  if (py::array(holder).ndim() != 3) throw py::value_error("to_gray image: expected H×W×3 or H×W×4");
  py::array_t<uint8_t> out({src.height, src.width});
  MutableImageView dst{out.mutable_data(), src.height, src.width, 1, src.width};
  {
    py::gil_scoped_release release;
    to_gray(src, bgr, dst);
  }
  return out;
}

py::tuple detector_input_py(const py::object& image, const py::object& max_side,
                            const py::object& fixed_size, const py::object& pad_multiple,
                            const std::string& channel_order, const py::object& mean,
                            const py::object& scale, const std::string& layout) {
  DetectorInputSpec spec;
  spec.max_side = checked_int(max_side, "detector_input max_side", 0, 1 << 20);
  spec.pad_multiple = checked_int(pad_multiple, "detector_input pad_multiple", 1, 4096);
  if (!fixed_size.is_none()) {
    auto wh = numeric_array<double>(fixed_size, "detector_input fixed_size", {2}, true);
    spec.fixed_width = fixed_side(wh.at(0), "fixed_size width");
    spec.fixed_height = fixed_side(wh.at(1), "fixed_size height");
    if (wh.at(0) != spec.fixed_width || wh.at(1) != spec.fixed_height) {
      throw py::value_error("detector_input fixed_size: expected two integers (width, height)");
    }
  }
  spec.rgb = parse_rgb(channel_order, "detector_input");
  spec.layout = parse_layout(layout, "detector_input");
  per_channel(mean, "detector_input mean", 3, spec.mean);
  per_channel(scale, "detector_input scale", 3, spec.scale);

  py::object holder;
  const ImageView src = image_view(image, "detector_input image", 3, 3, holder);
  if (py::array(holder).ndim() != 3) throw py::value_error("detector_input image: expected H×W×3 BGR");
  DetectorInputGeometry g;
  try {
    g = detector_input_geometry(src.height, src.width, spec);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
  std::vector<py::ssize_t> shape = spec.layout == Layout::NCHW
                                       ? std::vector<py::ssize_t>{1, 3, g.height, g.width}
                                       : std::vector<py::ssize_t>{1, g.height, g.width, 3};
  py::array_t<float> out(shape);
  float* data = out.mutable_data();
  {
    py::gil_scoped_release release;
    detector_input(src, spec, data);
  }
  return py::make_tuple(out, g.scale);
}

py::array face_input_py(const py::object& image, const py::object& boxes,
                        const py::object& landmarks, const py::object& size, double margin,
                        bool square,
                        const py::object& template_points, bool gray,
                        const std::string& channel_order, const py::object& mean,
                        const py::object& scale, const std::string& layout) {
  FaceInputSpec spec;
  spec.size = checked_int(size, "face_input size", 1, 4096);
  spec.gray = gray;
  spec.rgb = parse_rgb(channel_order, "face_input");
  spec.layout = parse_layout(layout, "face_input");
  const int C = gray ? 1 : 3;
  per_channel(mean, "face_input mean", C, spec.mean);
  per_channel(scale, "face_input scale", C, spec.scale);
  if (boxes.is_none() == landmarks.is_none()) {
    throw py::value_error("face_input: give exactly one of boxes or landmarks");
  }
  std::vector<Affine> maps;
  if (!boxes.is_none()) {
    auto b = numeric_array<double>(boxes, "face_input boxes", {-1, 4}, true);
    maps.resize(b.shape(0));
    for (py::ssize_t i = 0; i < b.shape(0); ++i) {
      maps[i] = box_crop_affine(b.data() + 4 * i, margin, square, spec.size);
    }
  } else {
    auto pts = numeric_array<double>(landmarks, "face_input landmarks", {-1, -1, 2}, true);
    const py::ssize_t k = pts.shape(1);
    std::vector<double> target;
    if (template_points.is_none()) {
      if (k != 5) {
        throw py::value_error("face_input: the default template has 5 points; pass template= for " +
                              std::to_string(k));
      }
      for (double v : kFivePointTemplate112) target.push_back(v * spec.size / 112.0);
    } else {
      auto t = numeric_array<double>(template_points, "face_input template", {k, 2}, true);
      target.assign(t.data(), t.data() + 2 * k);
    }
    if (k < 2) throw py::value_error("face_input landmarks: need at least 2 points per face");
    maps.resize(pts.shape(0));
    for (py::ssize_t i = 0; i < pts.shape(0); ++i) {
      maps[i] = invert_affine(similarity_transform(pts.data() + 2 * k * i, target.data(),
                                                   static_cast<int>(k)));
    }
  }
  py::object holder;
  const ImageView src = image_view(image, "face_input image", 3, 3, holder);
  if (py::array(holder).ndim() != 3) throw py::value_error("face_input image: expected H×W×3 BGR");
  const py::ssize_t n = static_cast<py::ssize_t>(maps.size()), S = spec.size;
  check_output_size("face_input", {n, C, S, S});
  std::vector<py::ssize_t> shape = spec.layout == Layout::NCHW
                                       ? std::vector<py::ssize_t>{n, C, S, S}
                                       : std::vector<py::ssize_t>{n, S, S, C};
  py::array_t<float> out(shape);
  float* data = out.mutable_data();
  {
    py::gil_scoped_release release;
    face_input(src, maps.data(), n, spec, data);
  }
  return out;
}

py::array similarity_transform_py(const py::object& src, const py::object& dst) {
  auto s = numeric_array<double>(src, "similarity_transform src", {-1, 2}, true);
  auto d = numeric_array<double>(dst, "similarity_transform dst", {s.shape(0), 2}, true);
  const Affine a = similarity_transform(s.data(), d.data(), static_cast<int>(s.shape(0)));
  py::array_t<double> out({2, 3});
  std::copy(a.m, a.m + 6, out.mutable_data());
  return out;
}

}  // namespace

void register_preprocess(py::module_& m) {
  m.def("resize", &resize_py, py::arg("image"), py::arg("width"), py::arg("height"));
  m.def("to_gray", &to_gray_py, py::arg("image"), py::arg("channel_order") = "bgr");
  m.def("detector_input", &detector_input_py, py::arg("image"), py::arg("max_side") = 0,
        py::kw_only(), py::arg("fixed_size") = py::none(), py::arg("pad_multiple") = 32,
        py::arg("channel_order") = "rgb", py::arg("mean") = 0.0, py::arg("scale") = 1.0,
        py::arg("layout") = "nchw");
  m.def("face_input", &face_input_py, py::arg("image"), py::arg("boxes") = py::none(),
        py::arg("landmarks") = py::none(), py::kw_only(), py::arg("size"),
        py::arg("margin") = 0.0, py::arg("square") = true, py::arg("template") = py::none(),
        py::arg("gray") = false, py::arg("channel_order") = "rgb", py::arg("mean") = 0.0,
        py::arg("scale") = 1.0, py::arg("layout") = "nchw");
  m.def("similarity_transform", &similarity_transform_py, py::arg("src"), py::arg("dst"));
}

}  // namespace bindings
}  // namespace fastfer
