// Python binding of fastfer::Pipeline (built only with the ONNX Runtime C API header).
//
//   _core.Pipeline(detector_session, detector_spec, classifier_session=None, classifier_spec=None)
//
// The specs are manifest entries, as ``fastfer.models.spec(name).to_dict()`` gives them ("input",
// "outputs", "decoder", and for the classifier "labels" and "crop"). The detector spec may also
// carry the Detector options as top-level keys: "score_threshold" (default: the decoder's own, else
// 0.5), "nms_iou" (kDefaultNmsIou), "max_faces" (1000), "max_side" (kDefaultMaxSide, dynamic-size
// models only), "min_face" (0 = off; the input-size policy, with the decoder's "min_face_px") and
// "pre_nms_top_k" (5000). The classifier's decoder {"activation": "logits"} turns on the softmax.
//
// analyze(image) / detect(image): image is an H×W×3 BGR uint8 array (read in place when its rows
// are packed); the GIL is released for the whole C++ call. Returns {"boxes": (N, 4), "scores":
// (N,), "landmarks": (N, 5, 2), "probs": (N, 7)}, float32, best score first.
// Errors: TypeError (wrong type or dtype), ValueError (bad spec, bad image shape), RuntimeError
// (what ONNX Runtime reports).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "arrays.h"
#include "fastfer/nms.h"
#include "fastfer/pipeline.h"

namespace fastfer {
namespace bindings {
namespace {

namespace py = pybind11;

[[noreturn]] void bad(const std::string& what) { throw py::value_error("Pipeline: " + what); }

py::dict as_dict(const py::handle& obj, const std::string& what) {
  if (!py::isinstance<py::dict>(obj)) {
    throw py::type_error("Pipeline: " + what + " must be a dict, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
  return py::reinterpret_borrow<py::dict>(obj);
}

py::object get(const py::dict& d, const char* key, const std::string& what, bool required = true) {
  if (!d.contains(key)) {
    if (required) bad(what + ": missing key '" + key + "'");
    return py::none();
  }
  return d[key];
}

double number(const py::handle& v, const std::string& what) {
  if (py::isinstance<py::bool_>(v) || !(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)))
    bad(what + " must be a number, got " + py::repr(v).cast<std::string>());
  const double x = v.cast<double>();
  if (!std::isfinite(x)) bad(what + " must be finite, got " + py::repr(v).cast<std::string>());
  return x;
}

long long integer(const py::handle& v, const std::string& what) {
  if (py::isinstance<py::bool_>(v) || !py::isinstance<py::int_>(v))
    bad(what + " must be an int, got " + py::repr(v).cast<std::string>());
  return v.cast<long long>();
}

std::string text(const py::handle& v, const std::string& what) {
  if (!py::isinstance<py::str>(v)) bad(what + " must be a str, got " + py::repr(v).cast<std::string>());
  return v.cast<std::string>();
}

std::vector<double> numbers(const py::handle& v, const std::string& what) {
  if (py::isinstance<py::str>(v) || !py::isinstance<py::sequence>(v))
    bad(what + " must be a list of numbers, got " + py::repr(v).cast<std::string>());
  std::vector<double> out;
  for (const auto& item : v) out.push_back(number(item, what));
  return out;
}

// mean / scale: a number or one value per channel (as the kernels accept them).
void per_channel(const py::handle& v, const std::string& what, int channels, float out[3]) {
  std::vector<double> values;
  if (py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)) {
    values.push_back(number(v, what));
  } else {
    values = numbers(v, what);
  }
  if (values.size() != 1 && values.size() != static_cast<size_t>(channels))
    bad(what + ": expected 1 or " + std::to_string(channels) + " values, got " + std::to_string(values.size()));
  for (int k = 0; k < 3; ++k)
    out[k] = static_cast<float>(values[values.size() == 1 ? 0 : std::min(k, channels - 1)]);
}

Layout layout(const py::handle& v, const std::string& what) {
  const std::string s = text(v, what);
  if (s == "nchw") return Layout::NCHW;
  if (s == "nhwc") return Layout::NHWC;
  bad(what + " must be 'nchw' or 'nhwc', got '" + s + "'");
}

// The decoder kind, and the output names in the order of its roles.
void read_detector_outputs(const py::dict& decoder, const py::dict& outputs, DetectorConfig& c) {
  const std::string kind = text(get(decoder, "kind", "detector decoder"), "detector decoder kind");
  std::vector<const char*> roles;
  if (kind == "retinaface") {
    c.kind = DetectorKind::RetinaFace;
    roles = {"boxes", "landmarks", "scores"};
  } else if (kind == "blazeface") {
    c.kind = DetectorKind::BlazeFace;
    roles = {"regressors", "scores"};
  } else if (kind == "yunet") {
    c.kind = DetectorKind::YuNet;
  } else {
    bad("unknown detector decoder kind '" + kind + "' (retinaface, blazeface or yunet)");
  }
  std::vector<std::string> role_names(roles.begin(), roles.end());
  if (c.kind == DetectorKind::YuNet) {  // one head of each kind per step: cls_8, cls_16, ..., kps_32
    const std::vector<double> steps = numbers(get(decoder, "steps", "detector decoder"), "detector steps");
    for (const char* head : {"cls", "obj", "bbox", "kps"})
      for (double s : steps) role_names.push_back(std::string(head) + "_" + std::to_string(static_cast<long long>(s)));
  }
  c.output_names.clear();
  for (const auto& role : role_names)
    c.output_names.push_back(text(get(outputs, role.c_str(), "detector outputs"), "detector output '" + role + "'"));
}

// The input name, size (fixed, or dynamic up to max_side), colour, mean/scale and layout.
void read_detector_input(const py::dict& d, const py::dict& input, DetectorConfig& c) {
  c.input_name = input.contains("name") ? text(input["name"], "detector input name") : "image";
  const py::object size = get(input, "size", "detector input");
  const long long max_side = d.contains("max_side") ? integer(d["max_side"], "max_side") : kDefaultMaxSide;
  if (max_side < 1 || max_side > (1 << 16)) bad("max_side must be in [1, 65536], got " + std::to_string(max_side));
  if (py::isinstance<py::str>(size)) {
    if (size.cast<std::string>() != "dynamic") bad("detector input size must be 'dynamic' or [width, height]");
    c.input.max_side = static_cast<int>(max_side);
    const long long pad = input.contains("pad_multiple") ? integer(input["pad_multiple"], "detector pad_multiple") : 32;
    if (pad < 1 || pad > 4096) bad("detector pad_multiple must be in [1, 4096], got " + std::to_string(pad));
    c.input.pad_multiple = static_cast<int>(pad);
  } else {
    const std::vector<double> wh = numbers(size, "detector input size");
    if (wh.size() != 2 || wh[0] < 1 || wh[1] < 1 || wh[0] > 65536 || wh[1] > 65536 ||
        wh[0] != std::floor(wh[0]) || wh[1] != std::floor(wh[1]))
      bad("detector input size must be 'dynamic' or two positive integers [width, height]");
    c.input.fixed_width = static_cast<int>(wh[0]);
    c.input.fixed_height = static_cast<int>(wh[1]);
  }
  const std::string color = input.contains("color") ? text(input["color"], "detector input color") : "rgb";
  if (color != "rgb" && color != "bgr") bad("detector input color must be 'rgb' or 'bgr', got '" + color + "'");
  c.input.rgb = color == "rgb";
  if (input.contains("mean")) per_channel(input["mean"], "detector input mean", 3, c.input.mean);
  if (input.contains("scale")) per_channel(input["scale"], "detector input scale", 3, c.input.scale);
  if (input.contains("layout")) c.input.layout = layout(input["layout"], "detector input layout");
}

// Steps, anchor sizes and offset, variances.
void read_detector_decoder(const py::dict& decoder, DetectorConfig& c) {
  const py::object steps = get(decoder, "steps", "detector decoder");
  c.steps.clear();
  for (double s : numbers(steps, "detector steps")) {
    if (s != std::floor(s) || s < 1 || s > 4096) bad("detector steps must be integers in [1, 4096]");
    c.steps.push_back(static_cast<int64_t>(s));
  }
  const py::object min_sizes = get(decoder, "min_sizes", "detector decoder");
  if (py::isinstance<py::str>(min_sizes) || !py::isinstance<py::sequence>(min_sizes))
    bad("detector min_sizes must be a list of lists of numbers");
  c.min_sizes.clear();
  for (const auto& level : min_sizes) c.min_sizes.push_back(numbers(level, "detector min_sizes"));
  if (decoder.contains("offset")) c.anchor_offset = number(decoder["offset"], "detector offset");
  if (c.kind != DetectorKind::BlazeFace) {
    const std::vector<double> v = numbers(get(decoder, "variances", "detector decoder"), "detector variances");
    if (v.size() != 2) bad("detector variances must be two numbers [xy, wh]");
    c.variance_xy = v[0];
    c.variance_wh = v[1];
  }
}

// The Detector options given as top-level keys, and the decoder's own threshold and min_face_px.
void read_detector_options(const py::dict& d, const py::dict& decoder, DetectorConfig& c) {
  if (d.contains("score_threshold") && !d["score_threshold"].is_none()) {
    c.score_threshold = static_cast<float>(number(d["score_threshold"], "score_threshold"));
  } else if (decoder.contains("score_threshold")) {
    c.score_threshold = static_cast<float>(number(decoder["score_threshold"], "decoder score_threshold"));
  }
  if (d.contains("nms_iou")) c.nms_iou = static_cast<float>(number(d["nms_iou"], "nms_iou"));
  if (d.contains("max_faces")) {
    const long long m = integer(d["max_faces"], "max_faces");
    if (m < 1 || m > 1000) bad("max_faces must be in [1, 1000], got " + std::to_string(m));
    c.max_faces = static_cast<int>(m);
  }
  if (d.contains("min_face") && !d["min_face"].is_none()) {
    const long long m = integer(d["min_face"], "min_face");
    if (m < 0 || m > 65536) bad("min_face must be in [0, 65536], got " + std::to_string(m));
    c.min_face = static_cast<int>(m);
  }
  if (decoder.contains("min_face_px")) {
    const long long m = integer(decoder["min_face_px"], "decoder min_face_px");
    if (m < 1 || m > 65536) bad("decoder min_face_px must be in [1, 65536], got " + std::to_string(m));
    c.min_face_px = static_cast<int>(m);
  }
  if (d.contains("pre_nms_top_k")) {
    const long long k = integer(d["pre_nms_top_k"], "pre_nms_top_k");
    if (k < 1 || k > kMaxNmsCandidates) {  // NMS takes at most this many candidates
      bad("pre_nms_top_k must be in [1, " + std::to_string(kMaxNmsCandidates) + "], got " +
          std::to_string(k));
    }
    c.pre_nms_top_k = static_cast<int>(k);
  }
}

// The spec's "name" (as fastfer.models.spec(name).to_dict() gives it), for messages; else "".
std::string model_name(const py::dict& d) {
  if (!d.contains("name") || !py::isinstance<py::str>(d["name"])) return "";
  return d["name"].cast<std::string>();
}

DetectorConfig detector_config(const py::dict& d) {
  DetectorConfig c;
  c.name = model_name(d);
  const py::dict input = as_dict(get(d, "input", "detector spec"), "detector spec 'input'");
  const py::dict decoder = as_dict(get(d, "decoder", "detector spec"), "detector spec 'decoder'");
  const py::dict outputs = as_dict(get(d, "outputs", "detector spec"), "detector spec 'outputs'");
  read_detector_outputs(decoder, outputs, c);
  read_detector_input(d, input, c);
  read_detector_decoder(decoder, c);
  read_detector_options(d, decoder, c);
  return c;
}

ClassifierConfig classifier_config(const py::dict& d) {
  ClassifierConfig c;
  c.name = model_name(d);
  const py::dict input = as_dict(get(d, "input", "classifier spec"), "classifier spec 'input'");
  const py::dict outputs = as_dict(get(d, "outputs", "classifier spec"), "classifier spec 'outputs'");
  c.input_name = input.contains("name") ? text(input["name"], "classifier input name") : "image";
  c.output_name = text(get(outputs, "probs", "classifier outputs"), "classifier output 'probs'");
  const std::vector<double> size = numbers(get(input, "size", "classifier input"), "classifier input size");
  if (size.size() != 2 || size[0] != size[1] || size[0] != std::floor(size[0]) || size[0] < 1 || size[0] > 4096)
    bad("classifier input size must be a square [S, S] with S in [1, 4096]");
  c.input.size = static_cast<int>(size[0]);
  const std::string color = input.contains("color") ? text(input["color"], "classifier input color") : "rgb";
  if (color != "rgb" && color != "bgr" && color != "gray")
    bad("classifier input color must be 'gray', 'rgb' or 'bgr', got '" + color + "'");
  c.input.gray = color == "gray";
  c.input.rgb = color != "bgr";
  const int C = c.input.gray ? 1 : 3;
  if (input.contains("mean")) per_channel(input["mean"], "classifier input mean", C, c.input.mean);
  if (input.contains("scale")) per_channel(input["scale"], "classifier input scale", C, c.input.scale);
  if (input.contains("layout")) c.input.layout = layout(input["layout"], "classifier input layout");

  const py::object labels = get(d, "labels", "classifier spec");
  std::vector<std::string> names;
  if (py::isinstance<py::str>(labels) || !py::isinstance<py::sequence>(labels)) bad("classifier labels must be a list of 7 names");
  for (const auto& l : labels) names.push_back(text(l, "classifier label"));
  if (names.size() != 7) bad("classifier labels must be the 7 names of fastfer.LABELS, got " + std::to_string(names.size()));
  for (int j = 0; j < 7; ++j) {
    const auto it = std::find(names.begin(), names.end(), kLabels[j]);
    if (it == names.end()) bad(std::string("classifier labels lack '") + kLabels[j] + "'");
    c.label_columns[j] = static_cast<int>(it - names.begin());
  }
  const py::object crop = get(d, "crop", "classifier spec", false);
  if (!crop.is_none()) {
    const py::dict cd = as_dict(crop, "classifier spec 'crop'");
    if (cd.contains("margin")) c.margin = number(cd["margin"], "classifier crop margin");
    if (cd.contains("square")) {
      if (!py::isinstance<py::bool_>(cd["square"])) bad("classifier crop square must be a bool");
      c.square = cd["square"].cast<bool>();
    }
  }
  const py::object decoder = get(d, "decoder", "classifier spec", false);
  c.softmax = false;
  if (!decoder.is_none()) {
    const py::dict dd = as_dict(decoder, "classifier spec 'decoder'");
    c.softmax = dd.contains("activation") && py::str(dd["activation"]).cast<std::string>() == "logits";
  }
  return c;
}

py::dict to_dict(const std::vector<FaceResult>& faces) {
  const py::ssize_t n = static_cast<py::ssize_t>(faces.size());
  py::array_t<float> boxes({n, py::ssize_t{4}}), scores({n}), marks({n, py::ssize_t{5}, py::ssize_t{2}}),
      probs({n, py::ssize_t{7}});
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
  if (py::array(holder).ndim() != 3) throw py::value_error("Pipeline image: expected an H×W×3 BGR uint8 array");
  std::vector<FaceResult> faces;
  {
    py::gil_scoped_release release;
    faces = classify ? p.analyze(view) : p.detect(view);
  }
  return to_dict(faces);
}

std::shared_ptr<Pipeline> make_pipeline(std::shared_ptr<Session> detector,
                                        const py::object& detector_spec,
                                        std::shared_ptr<Session> classifier,
                                        const py::object& classifier_spec) {
  if (!detector) throw py::type_error("Pipeline: detector_session must be a fastfer._core.Session");
  DetectorConfig dc = detector_config(as_dict(detector_spec, "detector_spec"));
  ClassifierConfig cc;
  if (classifier) {
    if (classifier_spec.is_none()) throw py::value_error("Pipeline: a classifier session needs its classifier_spec");
    cc = classifier_config(as_dict(classifier_spec, "classifier_spec"));
  }
  try {
    return std::make_shared<Pipeline>(std::move(detector), std::move(dc), std::move(classifier),
                                      std::move(cc));
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

py::list run_batch(const Pipeline& p, const py::list& images) {
  std::vector<py::object> holders(images.size());
  std::vector<ImageView> views;
  for (size_t i = 0; i < images.size(); ++i) {
    views.push_back(image_view(images[i], "Pipeline image", 3, 3, holders[i]));
    if (py::array(holders[i]).ndim() != 3) {
      throw py::value_error("Pipeline image " + std::to_string(i) + ": expected an H×W×3 BGR uint8 array");
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
      "session, decode + NMS, face crops, classifier session. Specs are manifest entries "
      "(fastfer.models.spec(name).to_dict()); the detector spec may add score_threshold, nms_iou, "
      "max_faces, max_side, pre_nms_top_k. Thread-safe.")
      .def(py::init(&make_pipeline),
           py::arg("detector_session"), py::arg("detector_spec"), py::arg("classifier_session") = nullptr,
           py::arg("classifier_spec") = py::none())
      .def("analyze", [](const Pipeline& p, const py::object& image) { return run(p, image, true); },
           py::arg("image"),
           "Faces of an H×W×3 BGR uint8 image with expression probabilities, best score first: "
           "{'boxes': (N, 4), 'scores': (N,), 'landmarks': (N, 5, 2), 'probs': (N, 7)} float32.")
      .def("detect", [](const Pipeline& p, const py::object& image) { return run(p, image, false); },
           py::arg("image"), "Like analyze, without the classifier (probs all 0).")
      .def("analyze_batch", &run_batch,
           py::arg("images"), "analyze() for a list of images in one GIL-free call: a list of dicts.")
      .def_static("last_timing",
                  [] {
                    const Pipeline::Timing t = Pipeline::last_timing();
                    return py::make_tuple(t.total_seconds, t.inference_seconds);
                  },
                  "(total_s, inference_s) of the calling thread's last analyze()/detect().")
      .def_static("last_stages",
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
