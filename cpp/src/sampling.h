// Shared by the resampling kernels: where each output pixel samples its source. Private.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "simd/rowops.h"

namespace fastfer {
namespace detail {

// Output positions 0..out_size-1 sample source position (i + 0.5) * inv_scale - 0.5 (pixel
// centres aligned, as OpenCV's INTER_LINEAR). index[i] gets the left/top source pixel, w1[i] the
// weight of the next one in 1/2048ths. Positions before the first pixel or after the last clamp to
// it with weight 0, so index[i] + 1 may be one past the end: callers keep a slack element there.
inline void map_axis(int in_size, int out_size, double inv_scale, int32_t* index, int32_t* w1) {
  for (int i = 0; i < out_size; ++i) {
    const double src = (i + 0.5) * inv_scale - 0.5;
    double f = 0.0;
    int32_t i0 = static_cast<int32_t>(std::floor(src));
    if (i0 < 0) {
      i0 = 0;
    } else if (i0 >= in_size - 1) {
      i0 = in_size - 1;
    } else {
      f = src - i0;
    }
    index[i] = i0;
    w1[i] = static_cast<int32_t>(std::nearbyint(f * simd::kWeightOne));
  }
}

// Two horizontally resampled source rows, for separable kernels that run the horizontal pass first:
// consecutive output rows often need the same source rows, and each is computed once.
class TwoRowCache {
 public:
  explicit TwoRowCache(ptrdiff_t row_elems) : data_(2 * row_elems), elems_(row_elems) {}

  // The row for src_row, computed by fill(src_row, int32_t* dest) unless cached. Never evicts
  // `keep` (the other row the current output row needs); otherwise the upper row goes, since
  // source rows only move down.
  template <typename Fill>
  const int32_t* get(int src_row, int keep, Fill&& fill) {
    for (int slot = 0; slot < 2; ++slot) {
      if (rows_[slot] == src_row) return data_.data() + slot * elems_;
    }
    const int slot = rows_[0] == keep ? 1 : rows_[1] == keep ? 0 : (rows_[0] < rows_[1] ? 0 : 1);
    int32_t* dest = data_.data() + slot * elems_;
    fill(src_row, dest);
    rows_[slot] = src_row;
    return dest;
  }

 private:
  std::vector<int32_t> data_;
  ptrdiff_t elems_;
  int rows_[2] = {-1, -1};
};

// The last output position whose SIMD load of `bytes` bytes at offset[i] stays inside a row of
// row_bytes (offsets never decrease along a row).
inline int simd_safe_end(const int32_t* offset, int n, ptrdiff_t row_bytes, int bytes) {
  int end = n;
  while (end > 0 && offset[end - 1] + bytes > row_bytes) --end;
  return end;
}

}  // namespace detail
}  // namespace fastfer
