// RetinaFace: per anchor, box deltas (4), landmark deltas (10) and softmax scores (2, column 1 =
// face), decoded against SSD-style priors.
#include <vector>

#include "detectors/family.h"

namespace fastfer {
namespace detectors {
namespace {

size_t output_count(const DetectorConfig&) { return 3; }

void validate(const DetectorConfig& det) { check_variances(det); }

OutputBindings bind_outputs(const DetectorConfig& det, const DetectorInputGeometry&,
                            int64_t anchors, OutputBuffers& buffers) {
  return bind_per_anchor_outputs(det, anchors, {4, 10, 2}, buffers);
}

void scores(const OutputBuffers& buffers, int64_t anchors, float* out) {
  const float* softmax = buffers[2].data();
  for (int64_t a = 0; a < anchors; ++a) out[a] = softmax[2 * a + 1];
}

void decode(const DetectorConfig& det, const OutputBuffers& buffers, float width, float height,
            Candidates& c) {
  decode_prior_deltas(det, buffers[0].data(), buffers[1].data(), width, height, c);
}

}  // namespace

const DetectorFamily& retinaface_family() {
  static const DetectorFamily family{
      "RetinaFace", "boxes, landmarks, scores", output_count, validate, bind_outputs, scores,
      decode};
  return family;
}

}  // namespace detectors
}  // namespace fastfer
