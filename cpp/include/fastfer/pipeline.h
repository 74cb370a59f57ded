// fastfer::Pipeline: the whole analysis of one image in C++, one call per image:
// detector input -> detector session -> anchors, decode, NMS -> face input (crop) -> classifier
// session -> faces with expression probabilities. Buffers are reused across calls.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastfer/detector_input.h"
#include "fastfer/face_input.h"
#include "fastfer/image.h"
#include "fastfer/session.h"

namespace fastfer {

// Expression classes, in the order of FaceResult::probs (the FER2013 order).
inline constexpr const char* kLabels[7] = {"angry", "disgust", "fear", "happy",
                                           "sad",   "surprise", "neutral"};

// A model's output cannot be used: a shape other than the batch and spec give, NaN or infinity,
// probabilities outside [0, 1], or a run ONNX Runtime refuses. No face or label is made from it.
// Python sees fastfer._core.ModelOutputError, a fastfer.ModelError.
class ModelOutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The detector families (cpp/src/detectors/, one file each; python/fastfer/models/families/ has
// the Python side of each).
enum class DetectorKind { RetinaFace, BlazeFace, YuNet };

// The defaults of the configurations below, and the Detector options' (python/fastfer/models/
// defaults.py has the same values; the native module exposes these, and a test compares them):
// dynamic-size models shrink images whose long side exceeds kDefaultMaxSide; NMS drops the
// lower-scored of two boxes overlapping by more than kDefaultNmsIou; at most kMaxFaces faces (also
// the most max_faces may be), chosen among the kDefaultPreNmsTopK best candidates; faces scoring
// under kDefaultScoreThreshold are dropped unless a spec says otherwise; a classifier's crop is the
// box made square, grown by kDefaultCropMargin unless its spec says otherwise.
inline constexpr int kDefaultMaxSide = 1600;
inline constexpr float kDefaultNmsIou = 0.4f;
inline constexpr int kMaxFaces = 1000;
inline constexpr int kDefaultPreNmsTopK = 5000;
inline constexpr float kDefaultScoreThreshold = 0.5f;
inline constexpr double kDefaultCropMargin = 0.0;
inline constexpr bool kDefaultCropSquare = true;
// The largest max_side, min_face and min_face_px (pixels).
inline constexpr int kMaxSizePolicySide = 1 << 16;

// How to feed the detector and read its outputs (python/fastfer/models/manifest.json has the
// values of the shipped models; python/fastfer/core/native_config.py builds one from a model's
// spec and the Detector's options).
struct DetectorConfig {
  std::string name;  // the model's name, for messages (may be empty)
  DetectorKind kind = DetectorKind::RetinaFace;
  DetectorInputSpec input;  // max_side + pad_multiple, or a fixed size; colour, mean/scale, layout
  std::string input_name = "image";
  // RetinaFace: box deltas, landmark deltas, softmax scores (column 1 = face).
  // BlazeFace: regressors (16 per anchor), score logits.
  // YuNet: cls, obj, bbox, kps heads, each once per step in `steps` order (cls_8, cls_16, cls_32,
  // obj_8, ...); decoded like RetinaFace with one anchor per cell of size = step, offset 0.
  std::vector<std::string> output_names{"boxes", "landmarks", "scores"};
  std::vector<int64_t> steps{8, 16, 32};
  std::vector<std::vector<double>> min_sizes{{16, 32}, {64, 128}, {256, 512}};
  double anchor_offset = 0.5;
  double variance_xy = 0.1;
  double variance_wh = 0.2;
  float score_threshold = kDefaultScoreThreshold;
  float nms_iou = kDefaultNmsIou;
  int max_faces = kMaxFaces;
  int pre_nms_top_k = kDefaultPreNmsTopK;
  // The input-size policy (dynamic-size models): with min_face > 0, an image is shrunk (never
  // enlarged) so that a face min_face image pixels long becomes min_face_px tensor pixels, the
  // smallest this detector finds reliably: max side = min(max_side, long side * min_face_px /
  // min_face), in integers. With any model, candidates whose long side is under min_face image
  // pixels are dropped before NMS. 0 = off (every face, the image up to max_side). min_face_px 0:
  // not measured (then min_face needs a fixed-size model).
  int min_face = 0;
  int min_face_px = 0;

  // Throws std::invalid_argument naming the first rule this configuration breaks (the Pipeline
  // constructor calls it; so may whoever builds one).
  void validate() const;
};

// How to crop faces for the classifier and read its output.
struct ClassifierConfig {
  std::string name;     // the model's name, for messages (may be empty)
  FaceInputSpec input;  // size, grey or colour, mean/scale, layout
  std::string input_name = "image";
  std::string output_name = "probs";
  double margin = kDefaultCropMargin;  // grown by this × the box side on each side
  bool square = kDefaultCropSquare;
  // label_columns[j]: the model output column holding kLabels[j].
  std::array<int, 7> label_columns{0, 1, 2, 3, 4, 5, 6};
  bool softmax = false;  // true when the model outputs logits

  // Throws std::invalid_argument naming the first rule this configuration breaks.
  void validate() const;
};

struct FaceResult {
  float box[4];         // x1, y1, x2, y2 in image pixels
  float score;          // detector score
  float landmarks[10];  // left eye, right eye, nose, left and right mouth corner: (x, y) each
  float probs[7];       // in kLabels order, sums to 1; all 0 from detect()
};

// A model's probabilities may stray this far outside [0, 1] (rounding in a quantised softmax);
// further is a ModelOutputError (PROBABILITY_SLACK in python/fastfer/models/defaults.py).
inline constexpr float kProbabilitySlack = 1e-3f;

class Pipeline {
 public:
  // The sessions are shared (several pipelines, or threads, may use one). The classifier may be
  // null: then analyze() is detect().
  Pipeline(std::shared_ptr<const Session> detector, DetectorConfig detector_config,
           std::shared_ptr<const Session> classifier, ClassifierConfig classifier_config);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Every face of a BGR image (3 channels), best score first, with expression probabilities
  // (one classifier run for all faces). An image without faces gives an empty vector.
  // Thread-safe: concurrent calls use separate work buffers from an internal pool.
  std::vector<FaceResult> analyze(const ImageView& bgr) const;

  // Faces only (probs all 0).
  std::vector<FaceResult> detect(const ImageView& bgr) const;

  // analyze() for several images in one call (one entry per image, in order); the images run one
  // after the other through the same work buffers (on the CPU, padding images to one batch
  // tensor was measured slower than this).
  std::vector<std::vector<FaceResult>> analyze_batch(const std::vector<ImageView>& images) const;

  // Seconds spent in the last analyze()/detect() of the calling thread: in total, and inside
  // Session::run (so the share outside ONNX Runtime can be measured), split by stage (the stages
  // add up to the total but for the image check and buffer bookkeeping).
  struct Timing {
    double total_seconds = 0.0;
    double inference_seconds = 0.0;       // detector + classifier
    double preprocess_seconds = 0.0;      // detector input: resize, pad, normalise; anchors
    double detector_seconds = 0.0;        // the detector's Session::run
    double postprocess_seconds = 0.0;     // scores, top-k, decode, NMS, back to image pixels
    double crops_seconds = 0.0;           // face crops for the classifier
    double classifier_seconds = 0.0;      // the classifier's Session::run, labels, softmax
  };
  static Timing last_timing();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastfer
