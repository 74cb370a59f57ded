#include "fastfer/face_input.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastfer/limits.h"
#include "simd/rowops.h"

namespace fastfer {

using simd::kBlendRound;
using simd::kBlendShift;
using simd::kWeightOne;

void check_face_input_spec(const FaceInputSpec& spec) {
  if (spec.size < 1 || spec.size > 4096) {
    throw std::invalid_argument("face_input: size must be in [1, 4096], got " +
                                std::to_string(spec.size));
  }
  for (int k = 0; k < 3; ++k) {
    if (!std::isfinite(spec.mean[k]) || !std::isfinite(spec.scale[k])) {
      throw std::invalid_argument("face_input: mean and scale must be finite");
    }
  }
  check_normalisation(spec.mean, spec.scale, "face_input");
}

Affine box_crop_affine(const double box[4], double margin, bool square, int size) {
  for (int k = 0; k < 4; ++k) {
    if (!std::isfinite(box[k])) throw std::invalid_argument("face_input: box has NaN or infinity");
  }
  if (!(box[2] > box[0]) || !(box[3] > box[1])) {
    throw std::invalid_argument("face_input: box must have x2 > x1 and y2 > y1");
  }
  if (!std::isfinite(margin) || margin < 0.0 || margin > 10.0) {
    throw std::invalid_argument("face_input: margin must be in [0, 10]");
  }
  if (size < 1) throw std::invalid_argument("face_input: size must be >= 1");
  const double cx = (box[0] + box[2]) * 0.5, cy = (box[1] + box[3]) * 0.5;
  double w = box[2] - box[0], h = box[3] - box[1];
  if (square) w = h = std::max(w, h);
  w *= 1.0 + 2.0 * margin;
  h *= 1.0 + 2.0 * margin;
  // Output pixel centre u + 0.5 covers crop position (u + 0.5) * w / S from the crop's left edge;
  // source pixel centres sit at integer + 0.5 in edge coordinates, hence the final - 0.5.
  const double sx = w / size, sy = h / size;
  Affine a;
  a.m[0] = sx;
  a.m[1] = 0.0;
  a.m[2] = (cx - w * 0.5) + 0.5 * sx - 0.5;
  a.m[3] = 0.0;
  a.m[4] = sy;
  a.m[5] = (cy - h * 0.5) + 0.5 * sy - 0.5;
  return a;
}

Affine similarity_transform(const double* src, const double* dst, int n) {
  if (n < 2) throw std::invalid_argument("similarity_transform: needs at least 2 points");
  for (int i = 0; i < 2 * n; ++i) {
    if (!std::isfinite(src[i]) || !std::isfinite(dst[i])) {
      throw std::invalid_argument("similarity_transform: points have NaN or infinity");
    }
  }
  // Summed in index order, as the numpy twin does, so both give the same bits.
  double sx = 0, sy = 0, dx = 0, dy = 0;
  for (int i = 0; i < n; ++i) {
    sx += src[2 * i];
    sy += src[2 * i + 1];
    dx += dst[2 * i];
    dy += dst[2 * i + 1];
  }
  sx /= n;
  sy /= n;
  dx /= n;
  dy /= n;
  double dot = 0, cross = 0, var = 0;
  for (int i = 0; i < n; ++i) {
    const double ax = src[2 * i] - sx, ay = src[2 * i + 1] - sy;
    const double bx = dst[2 * i] - dx, by = dst[2 * i + 1] - dy;
    dot += ax * bx + ay * by;
    cross += ax * by - ay * bx;
    var += ax * ax + ay * ay;
  }
  if (!(var > 0.0)) {
    throw std::invalid_argument("similarity_transform: the source points all coincide");
  }
  // The least-squares rotation+scale in 2-D: [c -s; s c] with c = dot/var, s = cross/var.
  const double c = dot / var, s = cross / var;
  Affine a;
  a.m[0] = c;
  a.m[1] = -s;
  a.m[2] = dx - (c * sx - s * sy);
  a.m[3] = s;
  a.m[4] = c;
  a.m[5] = dy - (s * sx + c * sy);
  return a;
}

Affine invert_affine(const Affine& a) {
  const double* m = a.m;
  const double det = m[0] * m[4] - m[1] * m[3];
  if (!std::isfinite(det) || std::fabs(det) < 1e-12) {
    throw std::invalid_argument("face_input: the transform is singular");
  }
  Affine r;
  r.m[0] = m[4] / det;
  r.m[1] = -m[1] / det;
  r.m[3] = -m[3] / det;
  r.m[4] = m[0] / det;
  r.m[2] = -(r.m[0] * m[2] + r.m[1] * m[5]);
  r.m[5] = -(r.m[3] * m[2] + r.m[4] * m[5]);
  return r;
}

void face_input(const ImageView& bgr, const Affine* maps, ptrdiff_t n, const FaceInputSpec& spec,
                float* out) {
  check_image(bgr, "face_input image", 3, 3);
  check_face_input_spec(spec);
  if (n < 0) throw std::invalid_argument("face_input: negative face count");
  if (n > 0 && (maps == nullptr || out == nullptr)) {
    throw std::invalid_argument("face_input: null maps or output");
  }
  for (ptrdiff_t f = 0; f < n; ++f) {
    for (double v : maps[f].m) {
      if (!std::isfinite(v)) throw std::invalid_argument("face_input: transform has NaN or infinity");
    }
  }
  const ptrdiff_t S = spec.size;
  const int C = spec.gray ? 1 : 3;
  const int src_channel[3] = {spec.rgb ? 2 : 0, 1, spec.rgb ? 0 : 2};
  const bool nchw = spec.layout == Layout::NCHW;
  constexpr int32_t kB = 1868, kG = 9617, kR = 4899;  // see color.cpp

  // Per output row: the taps of every pixel along x and y, the bilinear BGR samples (exact
  // integers, one rounding), then grey or channel order, normalisation and layout.
  const simd::RowOps& ops = simd::rowops();
  // SIMD gathers read 4 bytes at a pixel: allowed where that stays inside the image and every
  // offset fits in int32.
  const ptrdiff_t last_pixel = (bgr.height - 1) * bgr.row_stride + 3 * (bgr.width - 1);
  const ptrdiff_t gather_limit =
      last_pixel + 3 < (ptrdiff_t{1} << 31) - 4 ? last_pixel + 3 - 4 : ptrdiff_t{-1};
  std::vector<int32_t> scratch(9 * S);
  int32_t *x0 = scratch.data(), *x1 = x0 + S, *wx = x1 + S, *y0 = wx + S, *y1 = y0 + S,
          *wy = y1 + S, *px = wy + S;  // px: three planes B, G, R
  for (ptrdiff_t f = 0; f < n; ++f) {
    const double* m = maps[f].m;
    float* face = out + f * C * S * S;
    // Without rotation (box crops) the x taps are the same on every row: 0 * v adds exactly 0.
    const bool x_taps_per_row = m[1] != 0.0;
    if (!x_taps_per_row) ops.affine_taps(m[0], 0.0, m[2], bgr.width, static_cast<int>(S), x0, x1, wx);
    for (ptrdiff_t v = 0; v < S; ++v) {
      const double dv = static_cast<double>(v);
      if (x_taps_per_row) {
        ops.affine_taps(m[0], m[1] * dv, m[2], bgr.width, static_cast<int>(S), x0, x1, wx);
      }
      ops.affine_taps(m[3], m[4] * dv, m[5], bgr.height, static_cast<int>(S), y0, y1, wy);
      ops.warp_sample3(bgr.data, bgr.row_stride, gather_limit, x0, x1, wx, y0, y1, wy,
                       static_cast<int>(S), px, px + S, px + 2 * S);
      if (spec.gray) {
        ops.gray_norm(px, px + S, px + 2 * S, kB, kG, kR, spec.mean[0], spec.scale[0], face + v * S,
                      static_cast<int>(S));
        continue;
      }
      for (int k = 0; k < 3; ++k) {
        const int32_t* channel = px + src_channel[k] * S;
        for (ptrdiff_t u = 0; u < S; ++u) {
          const float value = (static_cast<float>(channel[u]) - spec.mean[k]) * spec.scale[k];
          if (nchw) {
            face[k * S * S + v * S + u] = value;
          } else {
            face[(v * S + u) * 3 + k] = value;
          }
        }
      }
    }
  }
}

}  // namespace fastfer
