// The detector families by kind, the output binding of the families with one row per anchor, and
// the decoding shared by the families with SSD-style priors.
#include "detectors/family.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "fastfer/decode.h"

namespace fastfer {
namespace detectors {

const DetectorFamily& detector_family(DetectorKind kind) {
  switch (kind) {
    case DetectorKind::RetinaFace:
      return retinaface_family();
    case DetectorKind::YuNet:
      return yunet_family();
    case DetectorKind::BlazeFace:
      return blazeface_family();
  }
  throw std::invalid_argument("unknown detector kind");
}

OutputBindings bind_per_anchor_outputs(const DetectorConfig& det, int64_t anchors,
                                       std::initializer_list<int64_t> widths,
                                       OutputBuffers& buffers) {
  buffers.resize(widths.size());
  OutputBindings outputs;
  size_t k = 0;
  for (int64_t width : widths) {
    buffers[k].resize(static_cast<size_t>(anchors * width));
    outputs.emplace_back(det.output_names[k],
                         MutableTensorView{{1, anchors, width}, buffers[k].data()});
    ++k;
  }
  return outputs;
}

void check_variances(const DetectorConfig& det) {
  if (!(std::isfinite(det.variance_xy) && det.variance_xy > 0 && std::isfinite(det.variance_wh) &&
        det.variance_wh > 0))
    throw std::invalid_argument("detector variances must be finite and > 0");
}

void decode_prior_deltas(const DetectorConfig& det, const float* box_deltas,
                         const float* landmark_deltas, float width, float height, Candidates& c) {
  const ptrdiff_t K = c.count;
  // The deltas of the candidates side by side: K × 4 box deltas, then K × 10 landmark deltas.
  std::vector<float>& gathered = *c.scratch;
  gathered.resize(static_cast<size_t>(K) * 14);
  float* boxes_in = gathered.data();
  float* marks_in = gathered.data() + 4 * K;
  for (ptrdiff_t i = 0; i < K; ++i) {
    const int64_t a = c.anchors[i];
    std::memcpy(boxes_in + 4 * i, box_deltas + 4 * a, 4 * sizeof(float));
    std::memcpy(marks_in + 10 * i, landmark_deltas + 10 * a, 10 * sizeof(float));
  }
  decode_boxes(boxes_in, c.priors, K, det.variance_xy, det.variance_wh, c.boxes);
  decode_landmarks(marks_in, c.priors, K, 5, det.variance_xy, c.landmarks);
  for (ptrdiff_t i = 0; i < K; ++i) {
    float* b = c.boxes + 4 * i;
    b[0] *= width, b[1] *= height, b[2] *= width, b[3] *= height;
    float* m = c.landmarks + 10 * i;
    for (int p = 0; p < 5; ++p) m[2 * p] *= width, m[2 * p + 1] *= height;
  }
}

}  // namespace detectors
}  // namespace fastfer
