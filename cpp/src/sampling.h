// Shared by the resampling kernels: where each output pixel samples its source. Private.
#pragma once

#include <cmath>
#include <cstdint>

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

}  // namespace detail
}  // namespace fastfer
