#include "fastfer/nms.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "simd/rowops.h"

namespace fastfer {
namespace {

void check_boxes(const float* boxes, const float* scores, ptrdiff_t count) {
  for (ptrdiff_t i = 0; i < count; ++i) {
    const float* b = boxes + 4 * i;
    if (!(std::isfinite(b[0]) && std::isfinite(b[1]) && std::isfinite(b[2]) &&
          std::isfinite(b[3]))) {
      throw std::invalid_argument("boxes: row " + std::to_string(i) + " contains NaN or infinity");
    }
    if (b[2] < b[0] || b[3] < b[1]) {
      throw std::invalid_argument("boxes: row " + std::to_string(i) +
                                  " has x2 < x1 or y2 < y1 (expected x1, y1, x2, y2)");
    }
    if (!std::isfinite(scores[i])) {
      throw std::invalid_argument("scores: element " + std::to_string(i) +
                                  " is NaN or infinity");
    }
    // The area as the suppression kernel computes it (float32). Below 2^127, the sum of two
    // areas stays finite, so no union and no IoU test is ever inf - inf = NaN (which would
    // silently keep overlapping boxes).
    const float area = (b[2] - b[0]) * (b[3] - b[1]);
    if (!(area < kMaxNmsBoxArea)) {
      throw std::invalid_argument("boxes: row " + std::to_string(i) +
                                  " is too large: its area overflows float32 (IoU would be NaN)");
    }
  }
}

// Indices of the candidates, best first: scores >= the threshold, the top_k best of them. The
// order is a total one (score descending, then index ascending), so a partial sort gives the same
// answer as the stable sort of the numpy twin while only ordering the top_k it keeps.
std::vector<int64_t> candidates(const float* scores, ptrdiff_t count, const NmsParams& params) {
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(count));
  for (ptrdiff_t i = 0; i < count; ++i) {
    if (!params.use_score_threshold ||
        static_cast<double>(scores[i]) >= params.score_threshold) {
      order.push_back(i);
    }
  }
  auto better = [scores](int64_t a, int64_t b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  };
  const size_t n = order.size();
  const size_t k = params.top_k > 0 ? std::min(n, static_cast<size_t>(params.top_k)) : n;
  if (k < n) {
    std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(k), order.end(),
                      better);
    order.resize(k);
  } else {
    std::sort(order.begin(), order.end(), better);
  }
  return order;
}

}  // namespace

void check_nms_params(const NmsParams& params) {
  if (!(params.iou_threshold >= 0.0 && params.iou_threshold <= 1.0)) {
    throw std::invalid_argument("iou_threshold must be in [0, 1], got " +
                                std::to_string(params.iou_threshold));
  }
  if (params.use_score_threshold && std::isnan(params.score_threshold)) {
    throw std::invalid_argument("score_threshold must not be NaN");
  }
  if (params.top_k < 0) {
    throw std::invalid_argument("top_k must be >= 0, got " + std::to_string(params.top_k));
  }
  if (params.max_output < 0) {
    throw std::invalid_argument("max_output must be >= 0, got " +
                                std::to_string(params.max_output));
  }
}

ptrdiff_t nms_max_kept(ptrdiff_t count, const NmsParams& params) {
  int64_t n = count > 0 ? count : 0;
  if (params.top_k > 0) n = std::min<int64_t>(n, params.top_k);
  if (params.max_output > 0) n = std::min<int64_t>(n, params.max_output);
  return static_cast<ptrdiff_t>(n);
}

ptrdiff_t nms(const float* boxes, const float* scores, ptrdiff_t count, const NmsParams& params,
              int64_t* keep) {
  check_nms_params(params);
  if (count < 0) throw std::invalid_argument("box count must be >= 0, got " + std::to_string(count));
  check_boxes(boxes, scores, count);

  const std::vector<int64_t> order = candidates(scores, count, params);
  const ptrdiff_t m = static_cast<ptrdiff_t>(order.size());
  if (m == 0) return 0;
  // Greedy NMS compares each kept box with every later candidate: quadratic when the boxes are
  // disjoint. The cap keeps one call under about a second.
  if (m > kMaxNmsCandidates) {
    throw std::invalid_argument("nms: " + std::to_string(m) + " candidates, above the limit of " +
                                std::to_string(kMaxNmsCandidates) +
                                "; pass top_k or a score_threshold");
  }

  // Structure of arrays in candidate order: the row kernel reads each coordinate as a contiguous
  // run, which is what lets it compare one kept box with 4 or 8 candidates per instruction.
  std::vector<float> soa(static_cast<size_t>(5 * m));
  float* x1 = soa.data();
  float* y1 = x1 + m;
  float* x2 = y1 + m;
  float* y2 = x2 + m;
  float* area = y2 + m;
  for (ptrdiff_t c = 0; c < m; ++c) {
    const float* b = boxes + 4 * order[static_cast<size_t>(c)];
    x1[c] = b[0];
    y1[c] = b[1];
    x2[c] = b[2];
    y2[c] = b[3];
    area[c] = (b[2] - b[0]) * (b[3] - b[1]);
  }

  std::vector<uint8_t> suppressed(static_cast<size_t>(m), 0);
  const float threshold = static_cast<float>(params.iou_threshold);
  const int64_t limit = params.max_output > 0 ? params.max_output : m;
  const auto suppress = simd::rowops().nms_suppress;  // looked up once: the level is per process
  ptrdiff_t kept = 0;
  for (ptrdiff_t i = 0; i < m && kept < limit; ++i) {
    if (suppressed[static_cast<size_t>(i)]) continue;
    keep[kept++] = order[static_cast<size_t>(i)];
    // Nothing after the last box to keep needs marking.
    if (kept < limit) suppress(x1, y1, x2, y2, area, i, m, threshold, suppressed.data());
  }
  return kept;
}

}  // namespace fastfer
