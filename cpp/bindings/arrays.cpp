#include "arrays.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

namespace fastfer {
namespace bindings {

std::string shape_string(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  if (a.ndim() == 1) s += ",";
  return s + ")";
}

ImageView image_view(const py::handle& obj, const char* what, int min_channels, int max_channels,
                     py::object& holder) {
  const std::string name(what);
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(name + ": expected a numpy array, got " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  }
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().equal(py::dtype::of<uint8_t>())) {
    throw py::type_error(name + ": expected dtype uint8, got " + std::string(py::str(a.dtype())));
  }
  if (a.ndim() != 2 && a.ndim() != 3) {
    throw py::value_error(name + ": expected an H×W or H×W×C array, got shape " + shape_string(a));
  }
  const py::ssize_t h = a.shape(0), w = a.shape(1), c = a.ndim() == 3 ? a.shape(2) : 1;
  if (h <= 0 || w <= 0 || c <= 0) {
    throw py::value_error(name + ": image must be non-empty, got shape " + shape_string(a));
  }
  if (c < min_channels || c > max_channels) {
    throw py::value_error(name + ": expected " + std::to_string(min_channels) +
                          (min_channels == max_channels ? "" : " to " + std::to_string(max_channels)) +
                          " channels, got shape " + shape_string(a));
  }
  if (h > (1 << 30) || w > (1 << 30)) throw py::value_error(name + ": image too large");
  // The stride of an axis of length 1 means nothing (numpy ignores it too, and will not copy an
  // array just to change it), so such axes never force a copy and get the packed stride.
  const bool packed_pixels =
      a.ndim() == 2 ? (w == 1 || a.strides(1) == 1)
                    : (c == 1 || a.strides(2) == 1) && (w == 1 || a.strides(1) == c);
  const bool rows_ok = h == 1 || a.strides(0) >= w * c;
  if (!(packed_pixels && rows_ok)) {
    holder = py::module_::import("numpy").attr("ascontiguousarray")(a);
    a = py::reinterpret_borrow<py::array>(holder);
  } else {
    holder = a;
  }
  ImageView v;
  v.data = static_cast<const uint8_t*>(a.data());
  v.height = static_cast<int>(h);
  v.width = static_cast<int>(w);
  v.channels = static_cast<int>(c);
  v.row_stride = h == 1 ? w * c : a.strides(0);
  return v;
}

int64_t int64_arg(const py::handle& obj, const std::string& what, int64_t lo, int64_t hi) {
  PyObject* index = PyNumber_Index(obj.ptr());
  if (index == nullptr) {
    PyErr_Clear();
    throw py::type_error(what + ": expected an integer, got " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  }
  const py::object value = py::reinterpret_steal<py::object>(index);
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  if (overflow == 0 && v == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow != 0 || v < lo || v > hi) {
    throw py::value_error(what + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          "], got " + std::string(py::str(value)));
  }
  return static_cast<int64_t>(v);
}

template <typename T>
py::array_t<T, py::array::c_style> numeric_array(const py::handle& obj, const char* what,
                                                 std::initializer_list<py::ssize_t> shape,
                                                 bool finite) {
  const std::string name(what);
  py::array a = py::module_::import("numpy").attr("asarray")(obj);
  const char kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u') {
    throw py::type_error(name + ": expected a numeric array, got dtype " +
                         std::string(py::str(a.dtype())));
  }
  bool shape_ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  py::ssize_t i = 0;
  for (py::ssize_t want : shape) {
    if (!shape_ok) break;
    if (want >= 0 && a.shape(i) != want) shape_ok = false;
    ++i;
  }
  if (!shape_ok) {
    std::string want = "(";
    i = 0;
    for (py::ssize_t s : shape) {
      if (i++) want += ", ";
      want += s < 0 ? std::string("N") : std::to_string(s);
    }
    if (shape.size() == 1) want += ",";
    throw py::value_error(name + ": expected shape " + want + ")" + ", got " + shape_string(a));
  }
  // Numeric inputs of another dtype go through float64 (exact for every numeric dtype but int64
  // extremes), which lets a float32 target reject out-of-range values instead of turning them into
  // infinities with a numpy warning.
  using Double = py::array_t<double, py::array::c_style | py::array::forcecast>;
  py::array_t<T, py::array::c_style> f;
  if (a.dtype().equal(py::dtype::of<T>()) && (a.flags() & py::array::c_style)) {
    f = py::reinterpret_borrow<py::array_t<T, py::array::c_style>>(a);
  } else if (a.dtype().equal(py::dtype::of<T>())) {
    // A strided or broadcast view: one packed copy, as the twin makes (numpy raises MemoryError
    // for a view too large to copy).
    f = py::module_::import("numpy").attr("ascontiguousarray")(a);
  } else {
    // numpy's own conversion, so a failure keeps its real cause (a MemoryError for a huge
    // broadcast view, as in the twin) instead of a vague TypeError.
    Double d = py::module_::import("numpy").attr("ascontiguousarray")(a, "float64");
    std::vector<py::ssize_t> dims(d.shape(), d.shape() + d.ndim());
    f = py::array_t<T, py::array::c_style>(dims);
    const double* src = d.data();
    T* dst = f.mutable_data();
    for (py::ssize_t k = 0; k < d.size(); ++k) {
      if (std::isfinite(src[k]) && std::fabs(src[k]) > std::numeric_limits<T>::max()) {
        char value[32];
        std::snprintf(value, sizeof value, "%g", src[k]);
        throw py::value_error(name + ": value " + value + " is outside the float32 range");
      }
      dst[k] = static_cast<T>(src[k]);
    }
  }
  if (finite) {
    const T* p = f.data();
    for (py::ssize_t k = 0; k < f.size(); ++k) {
      if (!std::isfinite(p[k])) throw py::value_error(name + ": contains NaN or infinity");
    }
  }
  return f;
}

template py::array_t<float, py::array::c_style> numeric_array<float>(
    const py::handle&, const char*, std::initializer_list<py::ssize_t>, bool);
template py::array_t<double, py::array::c_style> numeric_array<double>(
    const py::handle&, const char*, std::initializer_list<py::ssize_t>, bool);

}  // namespace bindings
}  // namespace fastfer
