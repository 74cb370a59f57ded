// Decoding of detector regression outputs against their anchors (SSD / RetinaFace convention).
//
// Both functions compute in double and round each result once to float32, so they agree with the
// numpy twins (python/fastfer/_reference/detect.py) up to the last bit of exp().
#pragma once

#include <cstddef>

namespace fastfer {

// Boxes from deltas (dx, dy, dw, dh) and priors (cx, cy, w, h), `count` rows each:
//   centre = p_c + d_xy * variance_xy * p_wh,  size = p_wh * exp(d_wh * variance_wh),
//   out row = (x1, y1, x2, y2) = centre -/+ size / 2, in the priors' units.
// Throws std::invalid_argument when count < 0, a variance is not finite and > 0, or a decoded value
// is not finite in float32 (exp overflow); rows before the bad one are already written.
void decode_boxes(const float* deltas, const float* priors, ptrdiff_t count, double variance_xy,
                  double variance_wh, float* out);

// Landmarks from deltas (count rows of 2 * points values, x then y per point) and priors:
//   point k = (p_cx + d_2k * variance * p_w, p_cy + d_2k+1 * variance * p_h).
// Throws std::invalid_argument when count < 0, points < 1, variance is not finite and > 0, or a
// decoded value is not finite in float32.
void decode_landmarks(const float* deltas, const float* priors, ptrdiff_t count, ptrdiff_t points,
                      double variance, float* out);

}  // namespace fastfer
