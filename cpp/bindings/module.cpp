// fastfer._core: the native kernels. Every function has a numpy twin of the same name and
// signature in fastfer._reference; the docstrings live there.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>

#include "fastfer/cpu.h"

namespace py = pybind11;

namespace fastfer {
namespace bindings {
void register_preprocess(py::module_& m);
void register_detect(py::module_& m);
void register_yunet(py::module_& m);
#ifdef FASTFER_HAVE_ORT
void register_session(py::module_& m);
void register_config(py::module_& m);
void register_pipeline(py::module_& m);
#endif
}  // namespace bindings
}  // namespace fastfer

PYBIND11_MODULE(_core, m) {
  using namespace fastfer;
  m.doc() = "fastfer native kernels (see fastfer._reference for the numpy twins and docs)";
  m.attr("__version__") = FASTFER_VERSION;

  m.def("simd_level", [] { return std::string(simd_level_name(active_simd_level())); },
        "The SIMD path in use: scalar, sse4.1, avx2 or neon.");
  m.def("available_simd_levels", [] {
    std::vector<std::string> names;
    for (SimdLevel l : available_simd_levels()) names.emplace_back(simd_level_name(l));
    return names;
  }, "Every SIMD path this build contains and this CPU runs, scalar first.");
  m.def("set_simd_level", [](const std::string& name) { set_simd_level(parse_simd_level(name)); },
        py::arg("name"),
        "Switch the SIMD path for the whole process (for tests and benchmarks; not thread-safe "
        "with respect to calls already running).");

  bindings::register_preprocess(m);
  bindings::register_detect(m);
  bindings::register_yunet(m);

#ifdef FASTFER_HAVE_ORT
  m.def("has_onnxruntime", [] { return true; },
        "Whether this build contains the native ONNX Runtime session (fastfer._core.Session).");
  bindings::register_session(m);
  bindings::register_config(m);
  bindings::register_pipeline(m);
#else
  m.def("has_onnxruntime", [] { return false; },
        "Whether this build contains the native ONNX Runtime session (fastfer._core.Session).");
#endif
}
