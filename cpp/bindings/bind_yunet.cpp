// Python binding of the YuNet score kernel. Converts and checks its arguments like the numpy twin
// (fastfer._reference.yunet_scores, which holds the docstring) and runs with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "arrays.h"
#include "fastfer/yunet.h"

namespace fastfer {
namespace bindings {
namespace {

using FloatArray = py::array_t<float, py::array::c_style>;

// (A,) or (A, 1): the head's shape without its batch axis.
FloatArray column(const py::handle& obj, const char* what) {
  py::array a = py::module_::import("numpy").attr("asarray")(obj);
  if (a.ndim() == 2 && a.shape(1) == 1) a = a.attr("reshape")(-1);
  return float_array(a, what, {-1});
}

FloatArray yunet_scores_py(const py::object& cls_obj, const py::object& obj_obj) {
  FloatArray cls = column(cls_obj, "cls");
  FloatArray obj = column(obj_obj, "obj");
  if (cls.shape(0) != obj.shape(0)) {
    throw py::value_error("cls and obj must have the same length, got " +
                          std::to_string(cls.shape(0)) + " and " + std::to_string(obj.shape(0)));
  }
  const ptrdiff_t count = cls.shape(0);
  FloatArray out(static_cast<py::ssize_t>(count));
  float* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    yunet_scores(cls.data(), obj.data(), count, dst);
  }
  return out;
}

}  // namespace

void register_yunet(py::module_& m) {
  m.def("yunet_scores", &yunet_scores_py, py::arg("cls"), py::arg("obj"),
        "YuNet face scores sqrt(clamp(cls) * clamp(obj)), float32 (A,). "
        "See fastfer._reference.yunet_scores.");
}

}  // namespace bindings
}  // namespace fastfer
