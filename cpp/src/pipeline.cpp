// fastfer::Pipeline: detector input -> detector session -> score filter, top-k, decode, NMS ->
// face crops -> classifier session, in one call. The arithmetic follows the Python reference
// (python/fastfer/detector.py, classifier.py) step by step, in float32 where it works in float32,
// so both give the same faces.
#include "fastfer/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "detectors/family.h"
#include "fastfer/anchors.h"
#include "fastfer/nms.h"

namespace fastfer {

namespace {

using Clock = std::chrono::steady_clock;

thread_local Pipeline::Timing tl_timing;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// "model 'name'" in messages, or the role ("detector", "classifier") when the spec gave no name.
std::string model_label(const std::string& name, const char* role) {
  return name.empty() ? std::string(role) : "model '" + name + "'";
}

// A shape as Python prints a tuple: (3, 9), (7,).
std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

bool all_finite(const float* values, size_t count) {
  bool ok = true;
  for (size_t i = 0; i < count; ++i) ok &= std::isfinite(values[i]);
  return ok;
}

bool is_probability(float v) { return v >= -kProbabilitySlack && v <= 1.0f + kProbabilitySlack; }

// Anchor caches are keyed by tensor size; frame sizes of a video repeat, photos vary.
constexpr size_t kMaxCachedAnchorSizes = 16;
// Work buffers kept for reuse (more concurrent calls than this allocate and free their own).
constexpr size_t kMaxPooledWorkspaces = 16;

}  // namespace

// Every buffer one analyze() call needs; reused across calls.
struct Workspace {
  std::vector<float> det_input;
  std::vector<std::vector<float>> det_outputs;
  std::vector<float> scores;       // one per anchor
  std::vector<int64_t> picked;     // candidate anchor indices
  std::vector<float> cand_priors;  // K × 4
  std::vector<float> decode_scratch;
  std::vector<float> cand_boxes;   // K × 4, tensor pixels
  std::vector<float> cand_scores;  // K
  std::vector<float> cand_marks;   // K × 10, tensor pixels
  std::vector<int64_t> keep;
  std::vector<Affine> maps;
  std::vector<float> face_batch;
};

struct Pipeline::Impl {
  std::shared_ptr<const Session> detector;
  DetectorConfig det;
  const detectors::DetectorFamily* family = nullptr;
  std::shared_ptr<const Session> classifier;
  ClassifierConfig cls;
  std::vector<ptrdiff_t> sizes_per_level;
  std::vector<double> flat_min_sizes;

  // Anchors of one tensor size: A × 4 (centre x, centre y, width, height), tensor fractions.
  using AnchorsPtr = std::shared_ptr<const std::vector<float>>;
  mutable std::mutex anchor_mutex;
  mutable std::map<std::pair<int, int>, AnchorsPtr> anchors;

  mutable std::mutex pool_mutex;
  mutable std::vector<std::unique_ptr<Workspace>> pool;

  std::unique_ptr<Workspace> acquire() const {
    {
      std::lock_guard<std::mutex> lock(pool_mutex);
      if (!pool.empty()) {
        auto ws = std::move(pool.back());
        pool.pop_back();
        return ws;
      }
    }
    return std::make_unique<Workspace>();
  }

  void release(std::unique_ptr<Workspace> ws) const {
    std::lock_guard<std::mutex> lock(pool_mutex);
    if (pool.size() < kMaxPooledWorkspaces) pool.push_back(std::move(ws));
  }

  AnchorsPtr anchors_for(int height, int width) const {
    const auto key = std::make_pair(height, width);
    {
      std::lock_guard<std::mutex> lock(anchor_mutex);
      auto it = anchors.find(key);
      if (it != anchors.end()) return it->second;
    }
    const int64_t count = anchor_count(height, width, det.steps.data(), sizes_per_level.data(),
                                       flat_min_sizes.data(),
                                       static_cast<ptrdiff_t>(det.steps.size()));
    auto made = std::make_shared<std::vector<float>>(static_cast<size_t>(count) * 4);
    make_anchors(height, width, det.steps.data(), sizes_per_level.data(), flat_min_sizes.data(),
                 static_cast<ptrdiff_t>(det.steps.size()), det.anchor_offset, made->data());
    std::lock_guard<std::mutex> lock(anchor_mutex);
    if (anchors.size() >= kMaxCachedAnchorSizes) anchors.clear();
    anchors[key] = made;
    return made;
  }

  void validate() const;
  DetectorInputSpec input_spec_for(int height, int width) const;
  std::vector<FaceResult> run(const ImageView& bgr, bool classify) const;
  size_t detect_into(const ImageView& bgr, Workspace& ws, std::vector<FaceResult>& out,
                     double& inference) const;
  DetectorInputGeometry run_detector(const ImageView& bgr, Workspace& ws, AnchorsPtr& anchors,
                                     double& inference) const;
  ptrdiff_t pick_candidates(Workspace& ws, int64_t anchors) const;
  void decode_candidates(Workspace& ws, ptrdiff_t count, const float* anchors,
                         const DetectorInputGeometry& g) const;
  ptrdiff_t drop_small_faces(Workspace& ws, ptrdiff_t count, const DetectorInputGeometry& g) const;
  size_t suppress_into(const ImageView& bgr, Workspace& ws, ptrdiff_t count,
                       const DetectorInputGeometry& g, std::vector<FaceResult>& out) const;
  void classify_into(const ImageView& bgr, Workspace& ws, std::vector<FaceResult>& faces,
                     double& inference) const;
  void read_probs(const Tensor& out, std::vector<FaceResult>& faces) const;
};

void Pipeline::Impl::validate() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument("Pipeline: " + what); };
  if (!detector) fail("a detector session is required");
  try {
    det.validate();
    if (classifier) cls.validate();
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  for (const auto& name : det.output_names) {
    if (!contains(detector->output_names(), name))
      fail("the detector has no output '" + name + "' (it has: " + joined(detector->output_names()) + ")");
  }
  if (!contains(detector->input_names(), det.input_name))
    fail("the detector has no input '" + det.input_name + "' (it has: " + joined(detector->input_names()) + ")");
  if (!classifier) return;
  if (!contains(classifier->input_names(), cls.input_name))
    fail("the classifier has no input '" + cls.input_name + "' (it has: " +
         joined(classifier->input_names()) + ")");
  if (!contains(classifier->output_names(), cls.output_name))
    fail("the classifier has no output '" + cls.output_name + "' (it has: " +
         joined(classifier->output_names()) + ")");
}

DetectorInputSpec Pipeline::Impl::input_spec_for(int height, int width) const {
  DetectorInputSpec spec = det.input;
  if (det.min_face > 0 && spec.fixed_width == 0) {
    // A face min_face pixels long becomes min_face_px tensor pixels (integers: the Python twin,
    // Detector._max_side, computes the same).
    const int64_t side = std::max<int64_t>(
        1, static_cast<int64_t>(std::max(height, width)) * det.min_face_px / det.min_face);
    if (spec.max_side == 0 || side < spec.max_side) spec.max_side = static_cast<int>(side);
  }
  return spec;
}

// Detector input, anchors, the detector run into the workspace's output buffers.
DetectorInputGeometry Pipeline::Impl::run_detector(const ImageView& bgr, Workspace& ws,
                                                   AnchorsPtr& anchors, double& inference) const {
  const auto stage_start = Clock::now();
  const DetectorInputSpec spec = input_spec_for(bgr.height, bgr.width);
  const DetectorInputGeometry g = detector_input_geometry(bgr.height, bgr.width, spec);
  ws.det_input.resize(static_cast<size_t>(g.width) * g.height * 3);
  detector_input(bgr, spec, ws.det_input.data());
  anchors = anchors_for(g.height, g.width);
  // Output buffers, written in place by ONNX Runtime.
  const detectors::OutputBindings outputs =
      family->bind_outputs(det, g, static_cast<int64_t>(anchors->size() / 4), ws.det_outputs);
  TensorView input;
  input.shape = det.input.layout == Layout::NHWC ? std::vector<int64_t>{1, g.height, g.width, 3}
                                                 : std::vector<int64_t>{1, 3, g.height, g.width};
  input.data = ws.det_input.data();
  const auto t0 = Clock::now();
  tl_timing.preprocess_seconds = std::chrono::duration<double>(t0 - stage_start).count();
  const std::string label = model_label(det.name, "detector");
  try {  // outputs of other shapes than the spec gives (or an input the model refuses) fail here
    detector->run_into({{det.input_name, input}}, outputs);
  } catch (const OrtError& e) {
    throw ModelOutputError(label + ": detector outputs differ from the shapes its " + family->name +
                           " spec gives for a " + std::to_string(g.width) + "x" +
                           std::to_string(g.height) +
                           " input, or ONNX Runtime cannot run it (" + e.what() + ")");
  } catch (const std::invalid_argument& e) {
    throw ModelOutputError(label + ": " + e.what());
  }
  tl_timing.detector_seconds = seconds_since(t0);
  inference += tl_timing.detector_seconds;
  for (const auto& buffer : ws.det_outputs) {  // never a face from NaN (timed as post-processing)
    if (!all_finite(buffer.data(), buffer.size()))
      throw ModelOutputError(label + ": a detector output holds NaN or infinity");
  }
  return g;
}

// The anchors scoring at least the threshold, best first when more than pre_nms_top_k (a stable
// sort: ties keep anchor order); returns how many.
ptrdiff_t Pipeline::Impl::pick_candidates(Workspace& ws, int64_t anchors) const {
  ws.scores.resize(static_cast<size_t>(anchors));
  family->scores(ws.det_outputs, anchors, ws.scores.data());
  ws.picked.clear();
  for (int64_t a = 0; a < anchors; ++a) {
    if (!is_probability(ws.scores[a]))
      throw ModelOutputError(model_label(det.name, "detector") + ": detector score " +
                             std::to_string(ws.scores[a]) + " is outside [0, 1]");
    if (ws.scores[a] >= det.score_threshold) ws.picked.push_back(a);
  }
  if (static_cast<int64_t>(ws.picked.size()) > det.pre_nms_top_k) {
    const float* sc = ws.scores.data();
    std::stable_sort(ws.picked.begin(), ws.picked.end(),
                     [sc](int64_t i, int64_t j) { return sc[i] > sc[j]; });
    ws.picked.resize(static_cast<size_t>(det.pre_nms_top_k));
  }
  return static_cast<ptrdiff_t>(ws.picked.size());
}

// Priors, scores, boxes and landmarks of the picked anchors, in tensor pixels.
void Pipeline::Impl::decode_candidates(Workspace& ws, ptrdiff_t count, const float* anchors,
                                       const DetectorInputGeometry& g) const {
  ws.cand_priors.resize(static_cast<size_t>(count) * 4);
  ws.cand_scores.resize(static_cast<size_t>(count));
  ws.cand_boxes.resize(static_cast<size_t>(count) * 4);
  ws.cand_marks.resize(static_cast<size_t>(count) * 10);
  for (ptrdiff_t i = 0; i < count; ++i) {
    const int64_t a = ws.picked[i];
    std::memcpy(&ws.cand_priors[4 * i], anchors + 4 * a, 4 * sizeof(float));
    ws.cand_scores[i] = ws.scores[a];
  }
  detectors::Candidates c;
  c.anchors = ws.picked.data();
  c.priors = ws.cand_priors.data();
  c.count = count;
  c.boxes = ws.cand_boxes.data();
  c.landmarks = ws.cand_marks.data();
  c.scratch = &ws.decode_scratch;
  const std::string label = model_label(det.name, "detector");
  const float width = static_cast<float>(g.width), height = static_cast<float>(g.height);
  try {
    family->decode(det, ws.det_outputs, width, height, c);
  } catch (const std::invalid_argument& e) {  // the kernels refuse deltas that overflow float32
    throw ModelOutputError(label + ": its box or landmark outputs are out of range (" + e.what() +
                           ")");
  }
  const size_t k = static_cast<size_t>(count);
  if (!all_finite(c.boxes, k * 4) || !all_finite(c.landmarks, k * 10))
    throw ModelOutputError(label +
                           ": its box or landmark outputs are out of range (they decode to NaN or "
                           "infinity)");
}

// The input-size policy drops faces shorter than min_face image pixels before NMS (so max_faces
// counts the faces that matter); returns how many candidates are left, packed at the front.
ptrdiff_t Pipeline::Impl::drop_small_faces(Workspace& ws, ptrdiff_t count,
                                           const DetectorInputGeometry& g) const {
  if (det.min_face <= 0) return count;
  const float min_side = static_cast<float>(det.min_face * g.scale);
  ptrdiff_t n = 0;
  for (ptrdiff_t i = 0; i < count; ++i) {
    const float* b = &ws.cand_boxes[4 * i];
    if (std::max(b[2] - b[0], b[3] - b[1]) < min_side) continue;
    if (n != i) {
      std::memcpy(&ws.cand_boxes[4 * n], b, 4 * sizeof(float));
      std::memcpy(&ws.cand_marks[10 * n], &ws.cand_marks[10 * i], 10 * sizeof(float));
      ws.cand_scores[n] = ws.cand_scores[i];
    }
    ++n;
  }
  return n;
}

// NMS, then the kept faces back in image pixels (boxes clipped to the image); a box left with no
// width or height (one wholly in the padding or outside the image) is dropped.
size_t Pipeline::Impl::suppress_into(const ImageView& bgr, Workspace& ws, ptrdiff_t count,
                                     const DetectorInputGeometry& g,
                                     std::vector<FaceResult>& out) const {
  NmsParams params;
  params.iou_threshold = det.nms_iou;
  params.max_output = det.max_faces;
  ws.keep.resize(static_cast<size_t>(std::max<ptrdiff_t>(nms_max_kept(count, params), 1)));
  const ptrdiff_t kept = nms(ws.cand_boxes.data(), ws.cand_scores.data(), count, params, ws.keep.data());
  const float scale = static_cast<float>(g.scale);
  const float iw = static_cast<float>(bgr.width), ih = static_cast<float>(bgr.height);
  const float lim[4] = {iw, ih, iw, ih};
  out.resize(static_cast<size_t>(kept));
  size_t n = 0;
  for (ptrdiff_t i = 0; i < kept; ++i) {
    const int64_t c = ws.keep[i];
    FaceResult& f = out[n];
    const float* b = &ws.cand_boxes[4 * c];
    for (int k = 0; k < 4; ++k) f.box[k] = std::min(std::max(b[k] / scale, 0.0f), lim[k]);
    if (!(f.box[2] > f.box[0] && f.box[3] > f.box[1])) continue;
    f.score = ws.cand_scores[c];
    const float* m = &ws.cand_marks[10 * c];
    for (int k = 0; k < 10; ++k) f.landmarks[k] = m[k] / scale;
    std::fill(f.probs, f.probs + 7, 0.0f);
    ++n;
  }
  out.resize(n);
  return n;
}

size_t Pipeline::Impl::detect_into(const ImageView& bgr, Workspace& ws, std::vector<FaceResult>& out,
                                   double& inference) const {
  AnchorsPtr anchors;
  const DetectorInputGeometry g = run_detector(bgr, ws, anchors, inference);
  // Everything from here to the return is post-processing (timed by the caller, run()).
  ptrdiff_t count = pick_candidates(ws, static_cast<int64_t>(anchors->size() / 4));
  if (count == 0) return 0;
  decode_candidates(ws, count, anchors->data(), g);
  count = drop_small_faces(ws, count, g);
  if (count == 0) return 0;
  return suppress_into(bgr, ws, count, g, out);
}

void Pipeline::Impl::classify_into(const ImageView& bgr, Workspace& ws, std::vector<FaceResult>& faces,
                                   double& inference) const {
  const ptrdiff_t n = static_cast<ptrdiff_t>(faces.size());
  if (n == 0) return;
  const auto crops_start = Clock::now();
  const int S = cls.input.size;
  const int C = cls.input.gray ? 1 : 3;
  ws.maps.resize(static_cast<size_t>(n));
  for (ptrdiff_t i = 0; i < n; ++i) {
    const double box[4] = {faces[i].box[0], faces[i].box[1], faces[i].box[2], faces[i].box[3]};
    ws.maps[i] = box_crop_affine(box, cls.margin, cls.square, S);
  }
  ws.face_batch.resize(static_cast<size_t>(n) * C * S * S);
  face_input(bgr, ws.maps.data(), n, cls.input, ws.face_batch.data());
  TensorView input;
  input.shape = cls.input.layout == Layout::NHWC ? std::vector<int64_t>{n, S, S, C}
                                                 : std::vector<int64_t>{n, C, S, S};
  input.data = ws.face_batch.data();
  const auto t0 = Clock::now();
  tl_timing.crops_seconds = std::chrono::duration<double>(t0 - crops_start).count();
  std::vector<Tensor> out;
  try {  // run(), not run_into(): the output's own shape is checked against the batch below
    out = classifier->run({{cls.input_name, input}}, {cls.output_name});
  } catch (const OrtError& e) {
    throw ModelOutputError(model_label(cls.name, "classifier") +
                           ": ONNX Runtime cannot run it on " + std::to_string(n) + " faces (" +
                           e.what() + ")");
  }
  inference += seconds_since(t0);
  read_probs(out[0], faces);
}

// The classifier's output as probabilities in kLabels order, after the checks classifier.py
// makes too: (N, 7) for N faces, finite, and in [0, 1] unless the spec says it gives logits.
void Pipeline::Impl::read_probs(const Tensor& out, std::vector<FaceResult>& faces) const {
  const int64_t n = static_cast<int64_t>(faces.size());
  const std::string label = model_label(cls.name, "classifier");
  if (out.shape != std::vector<int64_t>{n, 7})
    throw ModelOutputError(label + ": classifier output '" + cls.output_name + "' has shape " +
                           shape_text(out.shape) + " for " + std::to_string(n) +
                           " faces; expected " + shape_text({n, 7}) +
                           ", one row per face and one column per label");
  if (!all_finite(out.data.data(), out.data.size()))  // never a label from NaN probabilities
    throw ModelOutputError(label + ": its output holds NaN or infinity");
  if (!cls.softmax && !std::all_of(out.data.begin(), out.data.end(), is_probability))
    throw ModelOutputError(label +
                           ": its output is not probabilities: values outside [0, 1] (a model that "
                           "gives logits needs the decoder {\"activation\": \"logits\"} in its "
                           "spec)");
  for (int64_t i = 0; i < n; ++i) {
    const float* row = &out.data[7 * i];
    float* p = faces[i].probs;
    for (int j = 0; j < 7; ++j) p[j] = row[cls.label_columns[j]];
    if (cls.softmax) {
      float m = p[0];
      for (int j = 1; j < 7; ++j) m = std::max(m, p[j]);
      float sum = 0.0f;
      for (int j = 0; j < 7; ++j) sum += (p[j] = std::exp(p[j] - m));
      for (int j = 0; j < 7; ++j) p[j] /= sum;
    }
  }
}

std::vector<FaceResult> Pipeline::Impl::run(const ImageView& bgr, bool classify) const {
  const auto start = Clock::now();
  check_image(bgr, "Pipeline image", 3, 3);
  double inference = 0.0;
  std::vector<FaceResult> faces;
  std::unique_ptr<Workspace> ws = acquire();
  tl_timing = Timing{};  // detect_into/classify_into fill in their stages
  // On an exception the workspace is simply freed (its buffers may be half written: no matter).
  const auto detect_start = Clock::now();
  detect_into(bgr, *ws, faces, inference);
  tl_timing.postprocess_seconds = seconds_since(detect_start) - tl_timing.preprocess_seconds -
                                  tl_timing.detector_seconds;
  if (classify && classifier) {
    const auto classify_start = Clock::now();
    classify_into(bgr, *ws, faces, inference);
    tl_timing.classifier_seconds = seconds_since(classify_start) - tl_timing.crops_seconds;
  }
  release(std::move(ws));
  tl_timing.total_seconds = seconds_since(start);
  tl_timing.inference_seconds = inference;
  return faces;
}

Pipeline::Pipeline(std::shared_ptr<const Session> detector, DetectorConfig detector_config,
                   std::shared_ptr<const Session> classifier, ClassifierConfig classifier_config)
    : impl_(std::make_unique<Impl>()) {
  impl_->detector = std::move(detector);
  impl_->det = std::move(detector_config);
  impl_->classifier = std::move(classifier);
  impl_->cls = std::move(classifier_config);
  impl_->family = &detectors::detector_family(impl_->det.kind);
  impl_->validate();
  for (const auto& level : impl_->det.min_sizes) {
    impl_->sizes_per_level.push_back(static_cast<ptrdiff_t>(level.size()));
    impl_->flat_min_sizes.insert(impl_->flat_min_sizes.end(), level.begin(), level.end());
  }
  if (impl_->det.input.fixed_width > 0) {
    // Fixed-size models: the anchors are known now (and anchor_count validates the layout).
    impl_->anchors_for(impl_->det.input.fixed_height, impl_->det.input.fixed_width);
  } else {
    anchor_count(64, 64, impl_->det.steps.data(), impl_->sizes_per_level.data(),
                 impl_->flat_min_sizes.data(), static_cast<ptrdiff_t>(impl_->det.steps.size()));
  }
}

Pipeline::~Pipeline() = default;

std::vector<FaceResult> Pipeline::analyze(const ImageView& bgr) const { return impl_->run(bgr, true); }

std::vector<FaceResult> Pipeline::detect(const ImageView& bgr) const { return impl_->run(bgr, false); }

std::vector<std::vector<FaceResult>> Pipeline::analyze_batch(const std::vector<ImageView>& images) const {
  std::vector<std::vector<FaceResult>> out;
  out.reserve(images.size());
  for (const ImageView& image : images) out.push_back(impl_->run(image, true));
  return out;
}

Pipeline::Timing Pipeline::last_timing() { return tl_timing; }

}  // namespace fastfer
