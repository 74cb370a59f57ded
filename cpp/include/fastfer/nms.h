// Greedy non-maximum suppression of axis-aligned boxes.
//
// The inner loop (one kept box against every later candidate) is the SIMD row kernel
// simd::RowOps::nms_suppress; this file does the validation, the candidate selection and the
// bookkeeping. The numpy twin is python/fastfer/_reference/detect.py (nms): same float32
// arithmetic in the same order, so both keep exactly the same indices.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastfer {

// The most candidates (boxes left after score_threshold and top_k) one nms() call takes: the work
// is quadratic in them (disjoint boxes: about 0.3 s native at the limit, 10^6 took 340 s).
constexpr int64_t kMaxNmsCandidates = int64_t{1} << 15;

// Boxes must have a float32 area (x2 - x1) * (y2 - y1) below this (2^127, half the float32
// range), so that sums of two areas, and so every IoU test, stay finite.
constexpr float kMaxNmsBoxArea = 1.7014118e38f;

struct NmsParams {
  // A candidate is dropped when its IoU with a kept box is strictly greater than this, tested as
  // inter > float(iou_threshold) * union in float32. Must lie in [0, 1].
  double iou_threshold = 0.5;
  // When set, scores below score_threshold (compared in double) are dropped first. Not NaN.
  bool use_score_threshold = false;
  double score_threshold = 0.0;
  // Keep only the top_k best scores as candidates (0 = all). >= 0.
  int64_t top_k = 0;
  // Stop after this many boxes are kept (0 = no limit). >= 0.
  int64_t max_output = 0;
};

// Throws std::invalid_argument when a parameter is out of range (see NmsParams).
void check_nms_params(const NmsParams& params);

// The most indices nms() can write for `count` boxes: the size to allocate for `keep`.
ptrdiff_t nms_max_kept(ptrdiff_t count, const NmsParams& params);

// boxes: count rows (x1, y1, x2, y2); scores: count values. Writes the indices of the kept boxes,
// best score first (equal scores: lower index first), to keep and returns how many there are.
// Throws std::invalid_argument for bad parameters, a negative count, non-finite values, a box
// with x2 < x1 or y2 < y1 or an area not below kMaxNmsBoxArea, or more than kMaxNmsCandidates
// candidates. count == 0 is valid and keeps nothing.
ptrdiff_t nms(const float* boxes, const float* scores, ptrdiff_t count, const NmsParams& params,
              int64_t* keep);

}  // namespace fastfer
