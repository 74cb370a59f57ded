// YuNet (libfacedetection): cls, obj, bbox and kps heads once per step, decoded like RetinaFace
// with one prior per cell (size = step, offset 0) and its own score (fastfer/yunet.h).
#include "fastfer/yunet.h"

#include <string>
#include <vector>

#include "detectors/family.h"

namespace fastfer {
namespace detectors {
namespace {

constexpr int kHeads = 4;  // cls, obj, bbox, kps
constexpr int64_t kHeadWidths[kHeads] = {1, 1, 4, 10};

size_t output_count(const DetectorConfig& det) { return kHeads * det.steps.size(); }

void validate(const DetectorConfig& det) {
  // One prior per cell, and head sizes that match the anchors: (H / step) x (W / step) exactly.
  for (const auto& level : det.min_sizes)
    if (level.size() != 1)
      throw std::invalid_argument("a YuNet detector has one anchor size per step");
  if (det.input.fixed_width > 0)
    throw std::invalid_argument("a YuNet detector needs a dynamic input size");
  for (int64_t s : det.steps) {
    if (det.input.pad_multiple % s != 0)
      throw std::invalid_argument(
          "a YuNet detector needs pad_multiple to be a multiple of every step, got " +
          std::to_string(det.input.pad_multiple) + " and step " + std::to_string(s));
  }
  check_variances(det);
}

// Four buffers (cls, obj, bbox, kps), each the concatenation of its per-step heads in anchor
// order (step, row, column): ONNX Runtime writes every head straight into its slice, no copy.
OutputBindings bind_outputs(const DetectorConfig& det, const DetectorInputGeometry& g,
                            int64_t anchors, OutputBuffers& buffers) {
  const size_t levels = det.steps.size();
  buffers.resize(kHeads);
  for (int k = 0; k < kHeads; ++k) buffers[k].resize(static_cast<size_t>(anchors * kHeadWidths[k]));
  OutputBindings outputs;
  int64_t first = 0;
  for (size_t l = 0; l < levels; ++l) {
    const int64_t cells = (g.height / det.steps[l]) * (g.width / det.steps[l]);
    for (int k = 0; k < kHeads; ++k) {
      outputs.emplace_back(det.output_names[k * levels + l],
                           MutableTensorView{{1, cells, kHeadWidths[k]},
                                             buffers[k].data() + first * kHeadWidths[k]});
    }
    first += cells;
  }
  return outputs;
}

void scores(const OutputBuffers& buffers, int64_t anchors, float* out) {
  yunet_scores(buffers[0].data(), buffers[1].data(), anchors, out);
}

void decode(const DetectorConfig& det, const OutputBuffers& buffers, float width, float height,
            Candidates& c) {
  decode_prior_deltas(det, buffers[2].data(), buffers[3].data(), width, height, c);
}

}  // namespace

const DetectorFamily& yunet_family() {
  static const DetectorFamily family{
      "YuNet", "cls, obj, bbox, kps per step", output_count, validate, bind_outputs, scores,
      decode};
  return family;
}

}  // namespace detectors
}  // namespace fastfer
