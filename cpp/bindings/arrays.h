// Conversions between numpy arrays and the core's views, with the checks every entry point needs.
// Errors: TypeError for a wrong dtype or type, ValueError for a wrong shape, size or value.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "fastfer/image.h"

namespace fastfer {
namespace bindings {

namespace py = pybind11;

// A uint8 image (H×W or H×W×C) as a view. Arrays whose rows are packed are read in place, whatever
// their row stride; any other layout (negative or non-unit pixel strides) is copied once into
// `holder`, which must outlive the view.
ImageView image_view(const py::handle& obj, const char* what, int min_channels, int max_channels,
                     py::object& holder);

// A C-contiguous array of T (float or double), a view where the input already is one, else a
// converted copy, of a numeric array whose shape must match `shape` (-1 = any size). Rejects
// non-numeric dtypes (TypeError) and, when `finite` is set, NaN or infinity (ValueError).
template <typename T>
py::array_t<T, py::array::c_style> numeric_array(const py::handle& obj, const char* what,
                                                 std::initializer_list<py::ssize_t> shape,
                                                 bool finite = true);

inline py::array_t<float, py::array::c_style> float_array(const py::handle& obj, const char* what,
                                                          std::initializer_list<py::ssize_t> shape,
                                                          bool finite = true) {
  return numeric_array<float>(obj, what, shape, finite);
}

// An integer argument as int64, the way the numpy twins read it (operator.index): TypeError for
// a non-integer (a float, a string), ValueError naming `what` outside [lo, hi] (Python ints of any
// size included, so 2**64 is a ValueError, as in the twin, not pybind's TypeError).
int64_t int64_arg(const py::handle& obj, const std::string& what, int64_t lo, int64_t hi);

// "(3, 4)": for messages.
std::string shape_string(const py::array& a);

}  // namespace bindings
}  // namespace fastfer
