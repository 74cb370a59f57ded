// The scalar row kernels: the reference every SIMD file must match exactly.
//
// Included inside a namespace by every rowops_<isa>.cpp, so each ISA gets its own copy compiled
// with its own flags: rowops_scalar.cpp turns it into the scalar level (built without
// auto-vectorisation), and each SIMD file calls it for the kernels it has no intrinsics for (where
// the compiler may vectorise the loop for that ISA) and for the tail after its vector loop. A tail
// is a call on pointers advanced past the elements already done; every kernel computes each
// element from its own inputs alone, so the split changes no result. affine_taps is the exception
// (its coordinate depends on the absolute position u), hence affine_taps_from.
//
// All arithmetic is integer or unfused float, so every level gives bit-identical results.
// Rules for this file: no STL, no inline helpers from shared headers (see rowops.h).

void vblend_u8(const uint8_t* r0, const uint8_t* r1, int32_t w0, int32_t w1, int32_t* out,
               ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; ++i) out[i] = w0 * r0[i] + w1 * r1[i];
}

void hblend_u8(const int32_t* V, const int32_t* eofs, const int32_t* ew1, int channels,
               uint8_t* out, int n) {
  for (int e = 0; e < n; ++e) {
    const int32_t off = eofs[e], w1 = ew1[e];
    out[e] = static_cast<uint8_t>(
        ((kWeightOne - w1) * V[off] + w1 * V[off + channels] + kBlendRound) >> kBlendShift);
  }
}

void hpass_quad(const uint8_t* row, int channels, const int32_t* xofs, const int32_t* wx1,
                int32_t* out, int simd_end, int n) {
  (void)simd_end;  // the bound of the 16-byte reads of the SIMD paths; this loop reads per byte
  for (int x = 0; x < n; ++x) {
    const uint8_t* p = row + xofs[x];
    const int32_t w1 = wx1[x], w0 = kWeightOne - w1;
    const int step = w1 == 0 ? 0 : channels;  // a clamped last pixel: do not step past the row
    for (int c = 0; c < 4; ++c) out[4 * x + c] = c < channels ? w0 * p[c] + w1 * p[step + c] : 0;
  }
}

void vpass_quad_u8(const int32_t* a, const int32_t* b, int32_t w0, int32_t w1, int channels,
                   uint8_t* out, int n) {
  for (int x = 0; x < n; ++x) {
    for (int c = 0; c < channels; ++c) {
      out[x * channels + c] = static_cast<uint8_t>(
          (w0 * a[4 * x + c] + w1 * b[4 * x + c] + kBlendRound) >> kBlendShift);
    }
  }
}

// Horizontal pass of the detector input for one BGR source row, into three int32 planes:
// plane c gets (w0*row[xofs[x] + c] + w1*row[xofs[x] + c + 3]) for x < n, w1 = wx1[x].
// Reads only the 6 bytes each pixel needs.
void hpass_planar3(const uint8_t* row, const int32_t* xofs, const int32_t* wx1, int32_t* b_plane,
                   int32_t* g_plane, int32_t* r_plane, int simd_end, int n) {
  (void)simd_end;  // the bound of the 16-byte reads of the SIMD paths; this loop reads per byte
  for (int x = 0; x < n; ++x) {
    const uint8_t* p = row + xofs[x];
    const int32_t w1 = wx1[x], w0 = kWeightOne - w1;
    // The second tap of a clamped last pixel has weight 0: read the first one again instead of
    // stepping past the end of the row.
    const int step = w1 == 0 ? 0 : 3;
    b_plane[x] = w0 * p[0] + w1 * p[step];
    g_plane[x] = w0 * p[1] + w1 * p[step + 1];
    r_plane[x] = w0 * p[2] + w1 * p[step + 2];
  }
}

// Vertical pass of the detector input for one plane, normalised on the way:
// out[x] = (float((w0*a[x] + w1*b[x] + round) >> kBlendShift) - mean) * scale.
void vpass_norm(const int32_t* a, const int32_t* b, int32_t w0, int32_t w1, float mean, float scale,
                float* out, int n) {
  for (int x = 0; x < n; ++x) {
    const int32_t v = (w0 * a[x] + w1 * b[x] + kBlendRound) >> kBlendShift;
    out[x] = (static_cast<float>(v) - mean) * scale;
  }
}

// affine_taps for u in [first, n): the tail of a SIMD path, which must use the absolute u.
void affine_taps_from(int first, double a, double b, double c, int size, int n, int32_t* i0,
                      int32_t* i1, int32_t* w1) {
  // __builtin_floor / __builtin_nearbyint: single instructions in the SSE4.1 and AVX2 builds
  // (libm calls in the scalar one); the shared <cmath> inlines are avoided on purpose (rowops.h).
  const double hi = static_cast<double>(size);
  for (int u = first; u < n; ++u) {
    double coord = (a * static_cast<double>(u) + b) + c;
    coord = coord < -1.0 ? -1.0 : (coord > hi ? hi : coord);
    const double first_tap = __builtin_floor(coord);
    const int i = static_cast<int>(first_tap);
    w1[u] = static_cast<int32_t>(__builtin_nearbyint((coord - first_tap) * kWeightOne));
    i0[u] = i < 0 ? 0 : (i > size - 1 ? size - 1 : i);
    i1[u] = i + 1 < 0 ? 0 : (i + 1 > size - 1 ? size - 1 : i + 1);
  }
}

void affine_taps(double a, double b, double c, int size, int n, int32_t* i0, int32_t* i1,
                 int32_t* w1) {
  affine_taps_from(0, a, b, c, size, n, i0, i1, w1);
}

void warp_sample3(const uint8_t* base, ptrdiff_t row_stride, ptrdiff_t gather_limit,
                  const int32_t* x0, const int32_t* x1, const int32_t* wx, const int32_t* y0,
                  const int32_t* y1, const int32_t* wy, int n, int32_t* b, int32_t* g, int32_t* r) {
  (void)gather_limit;  // the bound of the SIMD gathers; this loop reads per byte
  int32_t* planes[3] = {b, g, r};
  for (int u = 0; u < n; ++u) {
    const uint8_t* r0 = base + y0[u] * row_stride;
    const uint8_t* r1 = base + y1[u] * row_stride;
    const ptrdiff_t left = 3 * static_cast<ptrdiff_t>(x0[u]);
    const ptrdiff_t right = 3 * static_cast<ptrdiff_t>(x1[u]);
    const int32_t w1x = wx[u], w0x = kWeightOne - w1x, w1y = wy[u], w0y = kWeightOne - w1y;
    for (int c = 0; c < 3; ++c) {
      const int32_t top = w0x * r0[left + c] + w1x * r0[right + c];
      const int32_t bottom = w0x * r1[left + c] + w1x * r1[right + c];
      planes[c][u] = (w0y * top + w1y * bottom + kBlendRound) >> kBlendShift;
    }
  }
}

void gray_row(const uint8_t* src, int channels, int32_t c0, int32_t c1, int32_t c2, uint8_t* dst,
              int width) {
  for (int x = 0; x < width; ++x) {
    const uint8_t* p = src + static_cast<ptrdiff_t>(x) * channels;
    dst[x] = static_cast<uint8_t>((c0 * p[0] + c1 * p[1] + c2 * p[2] + (1 << 13)) >> 14);
  }
}

void gray_norm(const int32_t* b, const int32_t* g, const int32_t* r, int32_t cb, int32_t cg,
               int32_t cr, float mean, float scale, float* out, int n) {
  for (int x = 0; x < n; ++x) {
    const int32_t v = (cb * b[x] + cg * g[x] + cr * r[x] + (1 << 13)) >> 14;
    out[x] = (static_cast<float>(v) - mean) * scale;
  }
}

void interleave3_f32(const float* p0, const float* p1, const float* p2, float* out, int n) {
  for (int x = 0; x < n; ++x) {
    out[3 * x] = p0[x];
    out[3 * x + 1] = p1[x];
    out[3 * x + 2] = p2[x];
  }
}

void nms_suppress(const float* x1, const float* y1, const float* x2, const float* y2,
                  const float* area, ptrdiff_t i, ptrdiff_t n, float threshold,
                  uint8_t* suppressed) {
  // Branch-free on purpose: the compiler vectorises this loop in the SSE4.1/AVX2/NEON builds.
  const float ax1 = x1[i], ay1 = y1[i], ax2 = x2[i], ay2 = y2[i], aarea = area[i];
  for (ptrdiff_t j = i + 1; j < n; ++j) {
    const float ix1 = ax1 > x1[j] ? ax1 : x1[j];
    const float iy1 = ay1 > y1[j] ? ay1 : y1[j];
    const float ix2 = ax2 < x2[j] ? ax2 : x2[j];
    const float iy2 = ay2 < y2[j] ? ay2 : y2[j];
    const float w = ix2 - ix1 > 0.0f ? ix2 - ix1 : 0.0f;
    const float h = iy2 - iy1 > 0.0f ? iy2 - iy1 : 0.0f;
    const float inter = w * h;
    const float uni = (aarea + area[j]) - inter;
    suppressed[j] |= static_cast<uint8_t>(inter > threshold * uni);
  }
}
