// Python binding of fastfer::Pipeline (built only with the ONNX Runtime C API header).
//
//   _core.Pipeline(detector_session, detector_config,
//                  classifier_session=None, classifier_config=None)
//
// The configurations are the bound fastfer::DetectorConfig and ClassifierConfig (bind_config.cpp;
// python/fastfer/core/native_config.py builds them from a model's spec and the Detector's
// options), copied into the pipeline and validated by its constructor.
//
// analyze(image) / detect(image): image is an H×W×3 BGR uint8 array (read in place when its rows
// are packed); the GIL is released for the whole C++ call. Returns {"boxes": (N, 4), "scores":
// (N,), "landmarks": (N, 5, 2), "probs": (N, 7)}, float32, best score first.
// Errors: TypeError (wrong type or dtype), ValueError (a configuration validate() refuses, a
// session without the configured input or outputs, bad image shape), RuntimeError (what ONNX
// Runtime reports).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arrays.h"
#include "fastfer/pipeline.h"

namespace fastfer {
namespace bindings {
namespace {

namespace py = pybind11;

py::dict to_dict(const std::vector<FaceResult>& faces) {
  const py::ssize_t n = static_cast<py::ssize_t>(faces.size());
  py::array_t<float> boxes({n, py::ssize_t{4}}), scores({n}),
      marks({n, py::ssize_t{5}, py::ssize_t{2}}), probs({n, py::ssize_t{7}});
  float* b = boxes.mutable_data();
  float* s = scores.mutable_data();
  float* m = marks.mutable_data();
  float* p = probs.mutable_data();
  for (py::ssize_t i = 0; i < n; ++i) {
    std::copy(faces[i].box, faces[i].box + 4, b + 4 * i);
    s[i] = faces[i].score;
    std::copy(faces[i].landmarks, faces[i].landmarks + 10, m + 10 * i);
    std::copy(faces[i].probs, faces[i].probs + 7, p + 7 * i);
  }
  py::dict out;
  out["boxes"] = boxes;
  out["scores"] = scores;
  out["landmarks"] = marks;
  out["probs"] = probs;
  return out;
}

py::dict run(const Pipeline& p, const py::object& image, bool classify) {
  py::object holder;
  const ImageView view = image_view(image, "Pipeline image", 3, 3, holder);
  if (py::array(holder).ndim() != 3)
    throw py::value_error("Pipeline image: expected an H×W×3 BGR uint8 array");
  std::vector<FaceResult> faces;
  {
    py::gil_scoped_release release;
    faces = classify ? p.analyze(view) : p.detect(view);
  }
  return to_dict(faces);
}

std::shared_ptr<Pipeline> make_pipeline(std::shared_ptr<Session> detector,
                                        const DetectorConfig& detector_config,
                                        std::shared_ptr<Session> classifier,
                                        const std::optional<ClassifierConfig>& classifier_config) {
  if (!detector) throw py::type_error("Pipeline: detector_session must be a fastfer._core.Session");
  if (classifier && !classifier_config)
    throw py::value_error("Pipeline: a classifier session needs its classifier_config");
  // The constructor validates both configurations: std::invalid_argument, a ValueError.
  return std::make_shared<Pipeline>(std::move(detector), detector_config, std::move(classifier),
                                    classifier_config.value_or(ClassifierConfig{}));
}

py::list run_batch(const Pipeline& p, const py::list& images) {
  std::vector<py::object> holders(images.size());
  std::vector<ImageView> views;
  for (size_t i = 0; i < images.size(); ++i) {
    views.push_back(image_view(images[i], "Pipeline image", 3, 3, holders[i]));
    if (py::array(holders[i]).ndim() != 3) {
      throw py::value_error("Pipeline image " + std::to_string(i) +
                            ": expected an H×W×3 BGR uint8 array");
    }
  }
  std::vector<std::vector<FaceResult>> faces;
  {
    py::gil_scoped_release release;
    faces = p.analyze_batch(views);
  }
  py::list out;
  for (const auto& f : faces) out.append(to_dict(f));
  return out;
}

}  // namespace

void register_pipeline(py::module_& m) {
  // A fastfer.ModelError, so `except fastfer.ModelError` catches it on both inference paths.
  py::register_exception<ModelOutputError>(
      m, "ModelOutputError", py::module_::import("fastfer.errors").attr("ModelError"));
  py::class_<Pipeline, std::shared_ptr<Pipeline>>(
      m, "Pipeline",
      "The whole analysis of one image in C++ (fastfer/pipeline.h): detector input, detector "
      "session, decode + NMS, face crops, classifier session, configured by a DetectorConfig and "
      "a ClassifierConfig (fastfer.core.native_config builds them). Thread-safe.")
      .def(py::init(&make_pipeline), py::arg("detector_session"), py::arg("detector_config"),
           py::arg("classifier_session") = nullptr, py::arg("classifier_config") = py::none())
      .def(
          "analyze", [](const Pipeline& p, const py::object& image) { return run(p, image, true); },
          py::arg("image"),
          "Faces of an H×W×3 BGR uint8 image with expression probabilities, best score first: "
          "{'boxes': (N, 4), 'scores': (N,), 'landmarks': (N, 5, 2), 'probs': (N, 7)} float32.")
      .def(
          "detect", [](const Pipeline& p, const py::object& image) { return run(p, image, false); },
          py::arg("image"), "Like analyze, without the classifier (probs all 0).")
      .def("analyze_batch", &run_batch, py::arg("images"),
           "analyze() for a list of images in one GIL-free call: a list of dicts.")
      .def_static(
          "last_timing",
          [] {
            const Pipeline::Timing t = Pipeline::last_timing();
            return py::make_tuple(t.total_seconds, t.inference_seconds);
          },
          "(total_s, inference_s) of the calling thread's last analyze()/detect().")
      .def_static(
          "last_stages",
          [] {
            const Pipeline::Timing t = Pipeline::last_timing();
            py::dict d;
            d["pre"] = t.preprocess_seconds;
            d["detector"] = t.detector_seconds;
            d["post"] = t.postprocess_seconds;
            d["crops"] = t.crops_seconds;
            d["classifier"] = t.classifier_seconds;
            d["total"] = t.total_seconds;
            return d;
          },
          "Seconds per stage of the calling thread's last analyze()/detect(): {'pre', "
          "'detector', 'post', 'crops', 'classifier', 'total'} (fastfer.timing wraps it).");
}

}  // namespace bindings
}  // namespace fastfer
