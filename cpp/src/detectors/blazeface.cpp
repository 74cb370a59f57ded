// BlazeFace (MediaPipe's short-range detector): per anchor, 16 regressors in input pixels (box
// centre offset, box size, then 6 keypoints: eyes, nose tip, mouth centre, ears) and one score
// logit; fixed input size.
#include <algorithm>
#include <cmath>
#include <vector>

#include "detectors/family.h"

namespace fastfer {
namespace detectors {
namespace {

// The mouth corners are not among BlazeFace's keypoints: they are placed on the line through the
// mouth centre parallel to the eyes, this fraction of the eye distance to either side.
constexpr float kMouthHalfWidth = 0.415f;

size_t output_count(const DetectorConfig&) { return 2; }

void validate(const DetectorConfig& det) {
  if (det.input.fixed_width <= 0 || det.input.fixed_height <= 0)
    throw std::invalid_argument("a BlazeFace detector needs a fixed input size");
}

OutputBindings bind_outputs(const DetectorConfig& det, const DetectorInputGeometry&,
                            int64_t anchors, OutputBuffers& buffers) {
  return bind_per_anchor_outputs(det, anchors, {16, 1}, buffers);
}

void scores(const OutputBuffers& buffers, int64_t anchors, float* out) {
  const float* logits = buffers[1].data();
  for (int64_t a = 0; a < anchors; ++a) {
    const float x = std::min(std::max(logits[a], -80.0f), 80.0f);
    out[a] = 1.0f / (1.0f + std::exp(-x));
  }
}

// One candidate from its 16 regressors q (already divided by the input size) and prior p.
void decode_one(const float q[16], const float* p, float width, float height, float* box,
                float* marks) {
  const float cx = p[0] + q[0], cy = p[1] + q[1];
  const float hx = std::max(q[2] / 2.0f, 0.0f), hy = std::max(q[3] / 2.0f, 0.0f);
  box[0] = (cx - hx) * width, box[1] = (cy - hy) * height;
  box[2] = (cx + hx) * width, box[3] = (cy + hy) * height;
  float pts[4][2];
  for (int k = 0; k < 4; ++k) pts[k][0] = p[0] + q[4 + 2 * k], pts[k][1] = p[1] + q[5 + 2 * k];
  const bool left_first = pts[0][0] <= pts[1][0];
  const float* left = left_first ? pts[0] : pts[1];
  const float* right = left_first ? pts[1] : pts[0];
  const float hmx = kMouthHalfWidth * (right[0] - left[0]);
  const float hmy = kMouthHalfWidth * (right[1] - left[1]);
  marks[0] = left[0] * width, marks[1] = left[1] * height;
  marks[2] = right[0] * width, marks[3] = right[1] * height;
  marks[4] = pts[2][0] * width, marks[5] = pts[2][1] * height;
  marks[6] = (pts[3][0] - hmx) * width, marks[7] = (pts[3][1] - hmy) * height;
  marks[8] = (pts[3][0] + hmx) * width, marks[9] = (pts[3][1] + hmy) * height;
}

void decode(const DetectorConfig& det, const OutputBuffers& buffers, float width, float height,
            Candidates& c) {
  const float* reg = buffers[0].data();
  const float sx = static_cast<float>(det.input.fixed_width);
  const float sy = static_cast<float>(det.input.fixed_height);
  for (ptrdiff_t i = 0; i < c.count; ++i) {
    const float* r = reg + 16 * c.anchors[i];
    float q[16];
    for (int j = 0; j < 16; j += 2) q[j] = r[j] / sx, q[j + 1] = r[j + 1] / sy;
    decode_one(q, c.priors + 4 * i, width, height, c.boxes + 4 * i, c.landmarks + 10 * i);
  }
}

}  // namespace

const DetectorFamily& blazeface_family() {
  static const DetectorFamily family{
      "BlazeFace", "regressors, scores", output_count, validate, bind_outputs, scores, decode};
  return family;
}

}  // namespace detectors
}  // namespace fastfer
