// Python binding of fastfer::Session (built only with the ONNX Runtime C API header, see
// tools/fetch_onnxruntime_headers.sh).
//
// Inputs: float32 C-contiguous arrays are read in place; a float32 array with any other layout is
// copied once into a C-contiguous array; any other dtype is a TypeError (no silent conversion).
// Outputs: numpy arrays that take over the std::vector the session filled (no further copy).
// Errors: TypeError (wrong type or dtype), ValueError (unknown name, wrong rank or shape, bad
// option), ModelLoadError (a RuntimeError: ONNX Runtime cannot load the model bytes), RuntimeError
// (what else ONNX Runtime reports, or a library that cannot be loaded).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fastfer/session.h"

namespace fastfer {
namespace bindings {
namespace {

namespace py = pybind11;

std::vector<ProviderRequest> parse_providers(const py::handle& obj) {
  if (py::isinstance<py::str>(obj))
    throw py::value_error("providers must be a sequence such as ('cpu',), not a string");
  std::vector<ProviderRequest> out;
  for (const py::handle& item : py::iter(obj)) {
    if (py::isinstance<py::str>(item)) {
      out.push_back({item.cast<std::string>(), 0});
    } else if (py::isinstance<py::tuple>(item) && py::len(item) == 2) {
      auto t = item.cast<py::tuple>();
      out.push_back({t[0].cast<std::string>(), t[1].cast<int>()});
    } else {
      throw py::value_error("each provider must be 'cpu', 'cuda' or ('cuda', device_id), got " +
                            py::repr(item).cast<std::string>());
    }
  }
  if (out.empty()) throw py::value_error("providers must not be empty");
  return out;
}

GraphOptimization parse_optimization(const std::string& name) {
  if (name == "disable_all") return GraphOptimization::disable_all;
  if (name == "basic") return GraphOptimization::basic;
  if (name == "extended") return GraphOptimization::extended;
  if (name == "all") return GraphOptimization::all;
  throw py::value_error("graph_optimization must be one of disable_all, basic, extended, all; got '" +
                        name + "'");
}

using FloatArray = py::array_t<float, py::array::c_style>;

// A float32 C-contiguous view of `obj` (a copy only when its layout is not C-contiguous).
FloatArray float32_input(const std::string& name, const py::handle& obj) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error("input '" + name + "' must be a numpy float32 array, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().equal(py::dtype::of<float>()))
    throw py::type_error("input '" + name + "' must be float32, got " +
                         std::string(py::str(arr.dtype())));
  return FloatArray::ensure(arr);  // no copy when already C-contiguous float32
}

py::array to_numpy(Tensor&& t) {
  auto* owner = new std::vector<float>(std::move(t.data));
  py::capsule free_when_done(owner, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  return py::array_t<float>(shape, owner->data(), free_when_done);
}

}  // namespace

void register_session(py::module_& m) {
  // A model ONNX Runtime cannot load; fastfer.runtime turns it into fastfer.ModelError.
  py::register_exception<ModelLoadError>(m, "ModelLoadError", PyExc_RuntimeError);
  py::class_<Session, std::shared_ptr<Session>>(m, "Session",
                      "An ONNX Runtime session run by the C++ core (ORT's C API, loaded from "
                      "library_path). See fastfer/session.h.")
      .def(py::init([](const py::bytes& model, const std::string& library_path, int threads,
                       const py::object& providers, bool allow_fallback,
                       const std::string& graph_optimization) {
             SessionOptions opts;
             if (threads < 1) throw py::value_error("threads must be >= 1, got " + std::to_string(threads));
             opts.intra_op_threads = threads;
             opts.providers = parse_providers(providers);
             opts.allow_fallback = allow_fallback;
             opts.graph_optimization = parse_optimization(graph_optimization);
             std::string_view bytes = model;  // a view of the bytes object, no copy
             py::gil_scoped_release release;
             return std::make_shared<Session>(bytes.data(), bytes.size(), library_path, opts);
           }),
           py::arg("model_bytes"), py::arg("library_path"), py::arg("threads") = 1,
           py::arg("providers") = py::make_tuple("cpu"), py::arg("allow_fallback") = false,
           py::arg("graph_optimization") = "all")
      .def("run",
           [](const Session& s, const py::dict& inputs, const std::vector<std::string>& output_names) {
             std::vector<FloatArray> keep;  // alive until run returns
             std::vector<std::pair<std::string, TensorView>> views;
             keep.reserve(inputs.size());
             for (const auto& item : inputs) {
               if (!py::isinstance<py::str>(item.first))
                 throw py::type_error("input names must be str");
               std::string name = item.first.cast<std::string>();
               keep.push_back(float32_input(name, item.second));
               const FloatArray& a = keep.back();
               TensorView v;
               v.shape.assign(a.shape(), a.shape() + a.ndim());
               v.data = a.data();
               views.emplace_back(std::move(name), std::move(v));
             }
             std::vector<Tensor> outs;
             {
               py::gil_scoped_release release;
               outs = s.run(views, output_names);
             }
             py::list result;
             for (auto& t : outs) result.append(to_numpy(std::move(t)));
             return result;
           },
           py::arg("inputs"), py::arg("output_names") = std::vector<std::string>{},
           "Runs the model; inputs: {name: float32 array}; returns the named outputs (all when "
           "output_names is empty) as float32 arrays. The GIL is released during the run.")
      .def_property_readonly("providers", &Session::providers,
                             "The providers really in use, by short name ('cuda', 'cpu').")
      .def_property_readonly("input_names", &Session::input_names)
      .def_property_readonly("output_names", &Session::output_names)
      .def_property_readonly("input_shapes", &Session::input_shapes)
      .def_property_readonly("onnxruntime_version", &Session::onnxruntime_version);

  m.def("onnxruntime_available_providers", &onnxruntime_available_providers, py::arg("library_path"),
        "The execution providers the ONNX Runtime library at library_path offers (ORT names).");
}

}  // namespace bindings
}  // namespace fastfer
