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

#include "fastfer/anchors.h"
#include "fastfer/decode.h"
#include "fastfer/nms.h"
#include "fastfer/yunet.h"

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

bool in_unit_interval(double v) { return std::isfinite(v) && v >= 0.0 && v <= 1.0; }

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
  std::vector<float> cand_deltas;  // K × 4 (boxes) or K × 16 (BlazeFace regressors)
  std::vector<float> cand_lm_deltas;
  std::vector<float> cand_boxes;   // K × 4, tensor pixels
  std::vector<float> cand_scores;  // K
  std::vector<float> cand_marks;   // K × 10, tensor pixels
  std::vector<int64_t> keep;
  std::vector<Affine> maps;
  std::vector<float> face_batch;
  std::vector<float> cls_out;
};

struct Pipeline::Impl {
  std::shared_ptr<const Session> detector;
  DetectorConfig det;
  std::shared_ptr<const Session> classifier;
  ClassifierConfig cls;
  std::vector<ptrdiff_t> sizes_per_level;
  std::vector<double> flat_min_sizes;

  mutable std::mutex anchor_mutex;
  mutable std::map<std::pair<int, int>, std::shared_ptr<const std::vector<float>>> anchors;

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

  std::shared_ptr<const std::vector<float>> anchors_for(int height, int width) const {
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
  void classify_into(const ImageView& bgr, Workspace& ws, std::vector<FaceResult>& faces,
                     double& inference) const;
};

void Pipeline::Impl::validate() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument("Pipeline: " + what); };
  if (!detector) fail("a detector session is required");
  // Detector.
  const bool yunet = det.kind == DetectorKind::YuNet;
  const size_t n_outputs = yunet ? 4 * det.steps.size() : det.kind == DetectorKind::RetinaFace ? 3 : 2;
  if (det.output_names.size() != n_outputs) {
    const char* name = yunet ? "YuNet" : det.kind == DetectorKind::RetinaFace ? "RetinaFace" : "BlazeFace";
    const char* roles = yunet ? "cls, obj, bbox, kps per step"
                        : det.kind == DetectorKind::RetinaFace ? "boxes, landmarks, scores"
                                                               : "regressors, scores";
    fail(std::string("the ") + name + " decoder needs " + std::to_string(n_outputs) +
         " output names (" + roles + "), got " + std::to_string(det.output_names.size()));
  }
  for (const auto& name : det.output_names) {
    if (!contains(detector->output_names(), name))
      fail("the detector has no output '" + name + "' (it has: " + joined(detector->output_names()) + ")");
  }
  if (!contains(detector->input_names(), det.input_name))
    fail("the detector has no input '" + det.input_name + "' (it has: " + joined(detector->input_names()) + ")");
  if (det.steps.empty()) fail("detector steps must not be empty");
  for (int64_t s : det.steps)
    if (s < 1 || s > 4096) fail("detector steps must be in [1, 4096], got " + std::to_string(s));
  if (det.min_sizes.size() != det.steps.size())
    fail("detector min_sizes needs one list per step: " + std::to_string(det.steps.size()) +
         " steps, " + std::to_string(det.min_sizes.size()) + " lists");
  for (const auto& level : det.min_sizes) {
    if (level.empty()) fail("detector min_sizes: a level has no sizes");
    for (double v : level)
      if (!std::isfinite(v) || v <= 0) fail("detector min_sizes must be finite and > 0, got " + std::to_string(v));
  }
  if (!std::isfinite(det.anchor_offset)) fail("detector anchor offset must be finite");
  if (yunet) {
    // One prior per cell, and head sizes that match the anchors: (H / step) x (W / step) exactly.
    for (const auto& level : det.min_sizes)
      if (level.size() != 1) fail("a YuNet detector has one anchor size per step");
    if (det.input.fixed_width > 0) fail("a YuNet detector needs a dynamic input size");
    for (int64_t s : det.steps)
      if (det.input.pad_multiple % s != 0)
        fail("a YuNet detector needs pad_multiple to be a multiple of every step, got " +
             std::to_string(det.input.pad_multiple) + " and step " + std::to_string(s));
  }
  if (det.min_face < 0 || det.min_face > 65536)
    fail("min_face must be in [0, 65536], got " + std::to_string(det.min_face));
  if (det.min_face > 0 && det.input.fixed_width == 0 && (det.min_face_px < 1 || det.min_face_px > 65536))
    fail("min_face needs the detector's smallest reliable face (decoder min_face_px) in [1, 65536], got " +
         std::to_string(det.min_face_px));
  if (det.kind != DetectorKind::BlazeFace &&
      !(std::isfinite(det.variance_xy) && det.variance_xy > 0 && std::isfinite(det.variance_wh) &&
        det.variance_wh > 0))
    fail("detector variances must be finite and > 0");
  if (!in_unit_interval(det.score_threshold))
    fail("score_threshold must be in [0, 1], got " + std::to_string(det.score_threshold));
  if (!in_unit_interval(det.nms_iou)) fail("nms_iou must be in [0, 1], got " + std::to_string(det.nms_iou));
  if (det.max_faces < 1 || det.max_faces > 1000)
    fail("max_faces must be in [1, 1000], got " + std::to_string(det.max_faces));
  if (det.pre_nms_top_k < 1 || det.pre_nms_top_k > kMaxNmsCandidates) {
    fail("pre_nms_top_k must be in [1, " + std::to_string(kMaxNmsCandidates) + "], got " +
         std::to_string(det.pre_nms_top_k));
  }
  if (det.kind == DetectorKind::BlazeFace && (det.input.fixed_width <= 0 || det.input.fixed_height <= 0))
    fail("a BlazeFace detector needs a fixed input size");
  try {
    detector_input_geometry(64, 64, det.input);  // validates the input spec
  } catch (const std::invalid_argument& e) {
    fail(std::string("detector input: ") + e.what());
  }
  // Classifier.
  if (!classifier) return;
  if (!contains(classifier->input_names(), cls.input_name))
    fail("the classifier has no input '" + cls.input_name + "' (it has: " +
         joined(classifier->input_names()) + ")");
  if (!contains(classifier->output_names(), cls.output_name))
    fail("the classifier has no output '" + cls.output_name + "' (it has: " +
         joined(classifier->output_names()) + ")");
  try {
    check_face_input_spec(cls.input);
  } catch (const std::invalid_argument& e) {
    fail(std::string("classifier input: ") + e.what());
  }
  if (!std::isfinite(cls.margin) || cls.margin < 0 || cls.margin > 10)
    fail("classifier crop margin must be in [0, 10], got " + std::to_string(cls.margin));
  std::array<bool, 7> seen{};
  for (int c : cls.label_columns) {
    if (c < 0 || c > 6 || seen[c]) fail("classifier label_columns must be a permutation of 0..6");
    seen[c] = true;
  }
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

size_t Pipeline::Impl::detect_into(const ImageView& bgr, Workspace& ws, std::vector<FaceResult>& out,
                                   double& inference) const {
  const bool retina = det.kind == DetectorKind::RetinaFace;
  const bool yunet = det.kind == DetectorKind::YuNet;
  const auto stage_start = Clock::now();
  const DetectorInputSpec spec = input_spec_for(bgr.height, bgr.width);
  const DetectorInputGeometry g = detector_input_geometry(bgr.height, bgr.width, spec);
  ws.det_input.resize(static_cast<size_t>(g.width) * g.height * 3);
  detector_input(bgr, spec, ws.det_input.data());

  const auto anchors_ptr = anchors_for(g.height, g.width);
  const float* anchors = anchors_ptr->data();
  const int64_t A = static_cast<int64_t>(anchors_ptr->size() / 4);

  // Output buffers, written in place by ONNX Runtime.
  std::vector<std::pair<std::string, MutableTensorView>> outputs;
  if (yunet) {
    // Four buffers (cls, obj, bbox, kps), each the concatenation of its per-step heads in anchor
    // order (step, row, column): ORT writes every head straight into its slice, no copy.
    const int64_t widths[4] = {1, 1, 4, 10};
    const size_t levels = det.steps.size();
    ws.det_outputs.resize(4);
    for (int k = 0; k < 4; ++k) ws.det_outputs[k].resize(static_cast<size_t>(A * widths[k]));
    int64_t first = 0;
    for (size_t l = 0; l < levels; ++l) {
      const int64_t cells = (g.height / det.steps[l]) * (g.width / det.steps[l]);
      for (int k = 0; k < 4; ++k)
        outputs.emplace_back(det.output_names[k * levels + l],
                             MutableTensorView{{1, cells, widths[k]}, ws.det_outputs[k].data() + first * widths[k]});
      first += cells;
    }
  } else {
    const std::vector<int64_t> widths = retina ? std::vector<int64_t>{4, 10, 2} : std::vector<int64_t>{16, 1};
    ws.det_outputs.resize(widths.size());
    outputs.reserve(widths.size());
    for (size_t k = 0; k < widths.size(); ++k) {
      ws.det_outputs[k].resize(static_cast<size_t>(A * widths[k]));
      outputs.emplace_back(det.output_names[k],
                           MutableTensorView{{1, A, widths[k]}, ws.det_outputs[k].data()});
    }
  }
  TensorView input;
  input.shape = det.input.layout == Layout::NHWC ? std::vector<int64_t>{1, g.height, g.width, 3}
                                                 : std::vector<int64_t>{1, 3, g.height, g.width};
  input.data = ws.det_input.data();
  const auto t0 = Clock::now();
  tl_timing.preprocess_seconds = std::chrono::duration<double>(t0 - stage_start).count();
  detector->run_into({{det.input_name, input}}, outputs);
  tl_timing.detector_seconds = seconds_since(t0);
  inference += tl_timing.detector_seconds;
  // Everything from here to the return is post-processing (timed by the caller, run()).

  // Scores, threshold, top-k.
  const float* raw_scores = ws.det_outputs.back().data();
  ws.scores.resize(static_cast<size_t>(A));
  ws.picked.clear();
  const float threshold = det.score_threshold;
  if (yunet) yunet_scores(ws.det_outputs[0].data(), ws.det_outputs[1].data(), A, ws.scores.data());
  for (int64_t a = 0; a < A; ++a) {
    float s;
    if (yunet) {
      s = ws.scores[a];
    } else if (retina) {
      s = raw_scores[2 * a + 1];
    } else {
      const float x = std::min(std::max(raw_scores[a], -80.0f), 80.0f);
      s = 1.0f / (1.0f + std::exp(-x));
    }
    ws.scores[a] = s;
    if (s >= threshold) ws.picked.push_back(a);
  }
  if (static_cast<int64_t>(ws.picked.size()) > det.pre_nms_top_k) {
    const float* sc = ws.scores.data();
    std::stable_sort(ws.picked.begin(), ws.picked.end(),
                     [sc](int64_t i, int64_t j) { return sc[i] > sc[j]; });
    ws.picked.resize(static_cast<size_t>(det.pre_nms_top_k));
  }
  ptrdiff_t K = static_cast<ptrdiff_t>(ws.picked.size());
  if (K == 0) return 0;

  // Decode the candidates only, in tensor pixels.
  const float W = static_cast<float>(g.width), H = static_cast<float>(g.height);
  ws.cand_priors.resize(static_cast<size_t>(K) * 4);
  ws.cand_scores.resize(static_cast<size_t>(K));
  ws.cand_boxes.resize(static_cast<size_t>(K) * 4);
  ws.cand_marks.resize(static_cast<size_t>(K) * 10);
  for (ptrdiff_t i = 0; i < K; ++i) {
    const int64_t a = ws.picked[i];
    std::memcpy(&ws.cand_priors[4 * i], anchors + 4 * a, 4 * sizeof(float));
    ws.cand_scores[i] = ws.scores[a];
  }
  if (retina || yunet) {
    const float* box_deltas = ws.det_outputs[retina ? 0 : 2].data();
    const float* lm_deltas = ws.det_outputs[retina ? 1 : 3].data();
    ws.cand_deltas.resize(static_cast<size_t>(K) * 4);
    ws.cand_lm_deltas.resize(static_cast<size_t>(K) * 10);
    for (ptrdiff_t i = 0; i < K; ++i) {
      const int64_t a = ws.picked[i];
      std::memcpy(&ws.cand_deltas[4 * i], box_deltas + 4 * a, 4 * sizeof(float));
      std::memcpy(&ws.cand_lm_deltas[10 * i], lm_deltas + 10 * a, 10 * sizeof(float));
    }
    decode_boxes(ws.cand_deltas.data(), ws.cand_priors.data(), K, det.variance_xy, det.variance_wh,
                 ws.cand_boxes.data());
    decode_landmarks(ws.cand_lm_deltas.data(), ws.cand_priors.data(), K, 5, det.variance_xy,
                     ws.cand_marks.data());
    for (ptrdiff_t i = 0; i < K; ++i) {
      float* b = &ws.cand_boxes[4 * i];
      b[0] *= W, b[1] *= H, b[2] *= W, b[3] *= H;
      float* m = &ws.cand_marks[10 * i];
      for (int p = 0; p < 5; ++p) m[2 * p] *= W, m[2 * p + 1] *= H;
    }
  } else {
    // 16 values per anchor, in input pixels: box centre offset, box size, then 6 keypoints
    // (eyes, nose tip, mouth centre, ears) as offsets from the anchor centre.
    const float* reg = ws.det_outputs[0].data();
    const float sx = static_cast<float>(det.input.fixed_width);
    const float sy = static_cast<float>(det.input.fixed_height);
    const float k_mouth = 0.415f;
    for (ptrdiff_t i = 0; i < K; ++i) {
      const float* r = reg + 16 * ws.picked[i];
      const float* p = &ws.cand_priors[4 * i];
      float q[16];
      for (int j = 0; j < 16; j += 2) q[j] = r[j] / sx, q[j + 1] = r[j + 1] / sy;
      const float cx = p[0] + q[0], cy = p[1] + q[1];
      const float hx = std::max(q[2] / 2.0f, 0.0f), hy = std::max(q[3] / 2.0f, 0.0f);
      float* b = &ws.cand_boxes[4 * i];
      b[0] = (cx - hx) * W, b[1] = (cy - hy) * H, b[2] = (cx + hx) * W, b[3] = (cy + hy) * H;
      float pts[4][2];
      for (int k = 0; k < 4; ++k) pts[k][0] = p[0] + q[4 + 2 * k], pts[k][1] = p[1] + q[5 + 2 * k];
      const bool left_first = pts[0][0] <= pts[1][0];
      const float* left = left_first ? pts[0] : pts[1];
      const float* right = left_first ? pts[1] : pts[0];
      const float hmx = k_mouth * (right[0] - left[0]), hmy = k_mouth * (right[1] - left[1]);
      float* m = &ws.cand_marks[10 * i];
      m[0] = left[0] * W, m[1] = left[1] * H;
      m[2] = right[0] * W, m[3] = right[1] * H;
      m[4] = pts[2][0] * W, m[5] = pts[2][1] * H;
      m[6] = (pts[3][0] - hmx) * W, m[7] = (pts[3][1] - hmy) * H;
      m[8] = (pts[3][0] + hmx) * W, m[9] = (pts[3][1] + hmy) * H;
    }
  }

  // The input-size policy drops faces shorter than min_face image pixels before NMS (so max_faces
  // counts the faces that matter).
  if (det.min_face > 0) {
    const float min_side = static_cast<float>(det.min_face * g.scale);
    ptrdiff_t n = 0;
    for (ptrdiff_t i = 0; i < K; ++i) {
      const float* b = &ws.cand_boxes[4 * i];
      if (std::max(b[2] - b[0], b[3] - b[1]) < min_side) continue;
      if (n != i) {
        std::memcpy(&ws.cand_boxes[4 * n], b, 4 * sizeof(float));
        std::memcpy(&ws.cand_marks[10 * n], &ws.cand_marks[10 * i], 10 * sizeof(float));
        ws.cand_scores[n] = ws.cand_scores[i];
      }
      ++n;
    }
    K = n;
    if (K == 0) return 0;
  }

  // NMS, then back to image pixels.
  NmsParams params;
  params.iou_threshold = det.nms_iou;
  params.max_output = det.max_faces;
  ws.keep.resize(static_cast<size_t>(std::max<ptrdiff_t>(nms_max_kept(K, params), 1)));
  const ptrdiff_t kept = nms(ws.cand_boxes.data(), ws.cand_scores.data(), K, params, ws.keep.data());
  const float scale = static_cast<float>(g.scale);
  const float iw = static_cast<float>(bgr.width), ih = static_cast<float>(bgr.height);
  out.resize(static_cast<size_t>(kept));
  for (ptrdiff_t i = 0; i < kept; ++i) {
    const int64_t c = ws.keep[i];
    FaceResult& f = out[i];
    const float* b = &ws.cand_boxes[4 * c];
    const float lim[4] = {iw, ih, iw, ih};
    for (int k = 0; k < 4; ++k) f.box[k] = std::min(std::max(b[k] / scale, 0.0f), lim[k]);
    f.score = ws.cand_scores[c];
    const float* m = &ws.cand_marks[10 * c];
    for (int k = 0; k < 10; ++k) f.landmarks[k] = m[k] / scale;
    std::fill(f.probs, f.probs + 7, 0.0f);
  }
  return static_cast<size_t>(kept);
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
  ws.cls_out.resize(static_cast<size_t>(n) * 7);
  const auto t0 = Clock::now();
  tl_timing.crops_seconds = std::chrono::duration<double>(t0 - crops_start).count();
  classifier->run_into({{cls.input_name, input}},
                       {{cls.output_name, MutableTensorView{{n, 7}, ws.cls_out.data()}}});
  inference += seconds_since(t0);
  for (ptrdiff_t i = 0; i < n; ++i) {
    const float* row = &ws.cls_out[7 * i];
    for (int j = 0; j < 7; ++j) {
      if (!std::isfinite(row[j])) {  // as classifier.py: never a label from NaN probabilities
        throw ModelOutputError("classifier: its output holds NaN or infinity");
      }
    }
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
