// One detector family (RetinaFace, YuNet, BlazeFace): how its outputs are bound, scored and decoded
// by fastfer::Pipeline. Private to the library.
//
// A new family is one file defining its DetectorFamily, one DetectorKind (fastfer/pipeline.h) and
// one case in detector_family() (family.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "fastfer/pipeline.h"

namespace fastfer {
namespace detectors {

// The detector's outputs as ONNX Runtime writes them: buffers the pipeline keeps across calls,
// and the views of each named output into them.
using OutputBuffers = std::vector<std::vector<float>>;
using OutputBindings = std::vector<std::pair<std::string, MutableTensorView>>;

// The anchors left after the score threshold and top-k, and where their boxes and landmarks go,
// both in tensor pixels.
struct Candidates {
  const int64_t* anchors = nullptr;  // K anchor indices
  const float* priors = nullptr;     // K × 4: centre x, centre y, width, height (tensor fractions)
  ptrdiff_t count = 0;               // K
  float* boxes = nullptr;            // K × 4: x1, y1, x2, y2
  float* landmarks = nullptr;        // K × 10: eyes, nose, mouth corners, (x, y) each
  std::vector<float>* scratch = nullptr;  // work memory, reused across calls
};

struct DetectorFamily {
  const char* name;          // in messages: "RetinaFace"
  const char* output_roles;  // what its output names stand for, in order
  // How many output names a config of this family gives.
  size_t (*output_count)(const DetectorConfig& det);
  // Throws std::invalid_argument when the config breaks a rule of this family.
  void (*validate)(const DetectorConfig& det);
  // Sizes the buffers for `anchors` anchors of a tensor of geometry g and returns the views ONNX
  // Runtime writes each output into.
  OutputBindings (*bind_outputs)(const DetectorConfig& det, const DetectorInputGeometry& g,
                                 int64_t anchors, OutputBuffers& buffers);
  // The face score of every anchor, into scores[0, anchors).
  void (*scores)(const OutputBuffers& buffers, int64_t anchors, float* scores);
  // The candidates' boxes and landmarks in pixels of a tensor `width` × `height`.
  void (*decode)(const DetectorConfig& det, const OutputBuffers& buffers, float width, float height,
                 Candidates& c);
};

const DetectorFamily& detector_family(DetectorKind kind);

const DetectorFamily& retinaface_family();
const DetectorFamily& yunet_family();
const DetectorFamily& blazeface_family();

// Shared by the families with one output row per anchor (RetinaFace, BlazeFace): sizes one buffer
// per output, anchors × widths[k] floats, and binds output k (det.output_names[k]) to buffer k as
// a {1, anchors, widths[k]} tensor.
OutputBindings bind_per_anchor_outputs(const DetectorConfig& det, int64_t anchors,
                                       std::initializer_list<int64_t> widths,
                                       OutputBuffers& buffers);

// Shared by the families with SSD-style priors (RetinaFace, YuNet).

// Throws std::invalid_argument unless both variances are finite and > 0.
void check_variances(const DetectorConfig& det);

// Boxes and 5 landmarks from per-anchor deltas (4 and 10 values per anchor) against the
// candidates' priors (decode.h), scaled to tensor pixels.
void decode_prior_deltas(const DetectorConfig& det, const float* box_deltas,
                         const float* landmark_deltas, float width, float height, Candidates& c);

}  // namespace detectors
}  // namespace fastfer
