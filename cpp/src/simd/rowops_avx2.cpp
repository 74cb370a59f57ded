// The AVX2 level (compiled with -mavx2, CMakeLists.txt): intrinsics for the kernels where they
// pay, the scalar reference for the rest and for the tail of each vector loop.
#include <immintrin.h>

#include "simd/rowops.h"

namespace fastfer {
namespace simd {
namespace isa_avx2 {
namespace scalar {
#include "simd/rowops_scalar.inl"
}  // namespace scalar

void vblend_u8(const uint8_t* r0, const uint8_t* r1, int32_t w0, int32_t w1, int32_t* out,
               ptrdiff_t n) {
  // Interleave the two rows as int16 pairs and let pmaddwd do w0*a + w1*b in one step.
  const __m256i w = _mm256_set1_epi32((w1 << 16) | (w0 & 0xFFFF));
  ptrdiff_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i a = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + i)));
    __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r1 + i)));
    __m256i lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w);  // 0-3, 8-11
    __m256i hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w);  // 4-7, 12-15
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm256_permute2x128_si256(lo, hi, 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 8),
                        _mm256_permute2x128_si256(lo, hi, 0x31));
  }
  scalar::vblend_u8(r0 + i, r1 + i, w0, w1, out + i, n - i);
}

void hblend_u8(const int32_t* V, const int32_t* eofs, const int32_t* ew1, int channels,
               uint8_t* out, int n) {
  const __m256i one = _mm256_set1_epi32(kWeightOne);
  const __m256i round = _mm256_set1_epi32(kBlendRound);
  const __m256i step = _mm256_set1_epi32(channels);
  auto blend8 = [&](int at) {
    __m256i off = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(eofs + at));
    __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ew1 + at));
    __m256i a = _mm256_i32gather_epi32(reinterpret_cast<const int*>(V), off, 4);
    __m256i b =
        _mm256_i32gather_epi32(reinterpret_cast<const int*>(V), _mm256_add_epi32(off, step), 4);
    __m256i s = _mm256_add_epi32(_mm256_mullo_epi32(a, _mm256_sub_epi32(one, w1)),
                                 _mm256_mullo_epi32(b, w1));
    return _mm256_srai_epi32(_mm256_add_epi32(s, round), kBlendShift);
  };
  int e = 0;
  for (; e + 16 <= n; e += 16) {
    __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(blend8(e), blend8(e + 8)), 0xD8);
    __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + e), bytes);
  }
  scalar::hblend_u8(V, eofs + e, ew1 + e, channels, out + e, n - e);
}

void hpass_quad(const uint8_t* row, int channels, const int32_t* xofs, const int32_t* wx1,
                int32_t* out, int simd_end, int n) {
  // One pixel per 128-bit lane: its two taps as int16 pairs (c of tap 0, c of tap 1) for each
  // channel, so one pmaddwd against (w0, w1) pairs gives its 4 channel sums.
  const __m128i taps =
      channels == 4 ? _mm_setr_epi8(0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1)
                    : _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const __m256i taps2 = _mm256_set_m128i(taps, taps);
  const int limit = simd_end < n ? simd_end : n;
  int x = 0;
  for (; x + 2 <= limit; x += 2) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + xofs[x]));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + xofs[x + 1]));
    const int32_t w1a = wx1[x], w1b = wx1[x + 1];
    const __m256i w = _mm256_set_m128i(_mm_set1_epi32((kWeightOne - w1b) | (w1b << 16)),
                                       _mm_set1_epi32((kWeightOne - w1a) | (w1a << 16)));
    const __m256i px = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), taps2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 4 * x), _mm256_madd_epi16(px, w));
  }
  scalar::hpass_quad(row, channels, xofs + x, wx1 + x, out + 4 * x, 0, n - x);
}

void vpass_quad_u8(const int32_t* a, const int32_t* b, int32_t w0, int32_t w1, int channels,
                   uint8_t* out, int n) {
  const __m256i vw0 = _mm256_set1_epi32(w0), vw1 = _mm256_set1_epi32(w1);
  const __m256i round = _mm256_set1_epi32(kBlendRound);
  const __m128i drop4th = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  auto blend = [&](int at) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + at));
    const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + at));
    const __m256i s = _mm256_add_epi32(_mm256_mullo_epi32(va, vw0), _mm256_mullo_epi32(vb, vw1));
    return _mm256_srai_epi32(_mm256_add_epi32(s, round), kBlendShift);
  };
  int x = 0;
  for (; x + 4 <= n; x += 4) {  // 4 pixels: 16 sums -> 16 bytes
    const __m256i words =
        _mm256_permute4x64_epi64(_mm256_packus_epi32(blend(4 * x), blend(4 * x + 8)), 0xD8);
    const __m128i bytes =
        _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
    if (channels == 4) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * x), bytes);
    } else {  // 12 bytes, stored as 8 + 4 so nothing past the row is touched
      const __m128i packed = _mm_shuffle_epi8(bytes, drop4th);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 3 * x), packed);
      _mm_storeu_si32(out + 3 * x + 8, _mm_srli_si128(packed, 8));
    }
  }
  scalar::vpass_quad_u8(a + 4 * x, b + 4 * x, w0, w1, channels, out + x * channels, n - x);
}

void hpass_planar3(const uint8_t* row, const int32_t* xofs, const int32_t* wx1, int32_t* b_plane,
                   int32_t* g_plane, int32_t* r_plane, int simd_end, int n) {
  // Per 128-bit lane, one pixel's two taps become int16 pairs (B0,B1)(G0,G1)(R0,R1)(0,0) so that a
  // single pmaddwd against (w0,w1) pairs gives [B, G, R, 0]; lanes hold pixels x+j and x+j+4,
  // so a 4×4 transpose per lane leaves eight pixels of one channel in order.
  const __m256i taps = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, 0,
                                        -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const __m256i one = _mm256_set1_epi32(kWeightOne);
  const int limit = simd_end < n ? simd_end : n;
  int x = 0;
  for (; x + 8 <= limit; x += 8) {
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wx1 + x));
    const __m256i pairs = _mm256_or_si256(_mm256_sub_epi32(one, w1), _mm256_slli_epi32(w1, 16));
    __m256i m[4];
    for (int j = 0; j < 4; ++j) {
      const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + xofs[x + j]));
      const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + xofs[x + j + 4]));
      const __m256i px = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), taps);
      const __m256i w = _mm256_permutevar8x32_epi32(
          pairs, _mm256_setr_epi32(j, j, j, j, j + 4, j + 4, j + 4, j + 4));
      m[j] = _mm256_madd_epi16(px, w);
    }
    const __m256i t0 = _mm256_unpacklo_epi32(m[0], m[1]);  // B0 B1 G0 G1
    const __m256i t1 = _mm256_unpacklo_epi32(m[2], m[3]);  // B2 B3 G2 G3
    const __m256i t2 = _mm256_unpackhi_epi32(m[0], m[1]);  // R0 R1 0 0
    const __m256i t3 = _mm256_unpackhi_epi32(m[2], m[3]);  // R2 R3 0 0
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(b_plane + x), _mm256_unpacklo_epi64(t0, t1));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(g_plane + x), _mm256_unpackhi_epi64(t0, t1));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(r_plane + x), _mm256_unpacklo_epi64(t2, t3));
  }
  scalar::hpass_planar3(row, xofs + x, wx1 + x, b_plane + x, g_plane + x, r_plane + x, 0, n - x);
}

void vpass_norm(const int32_t* a, const int32_t* b, int32_t w0, int32_t w1, float mean, float scale,
                float* out, int n) {
  const __m256i vw0 = _mm256_set1_epi32(w0), vw1 = _mm256_set1_epi32(w1);
  const __m256i round = _mm256_set1_epi32(kBlendRound);
  const __m256 vmean = _mm256_set1_ps(mean), vscale = _mm256_set1_ps(scale);
  int x = 0;
  for (; x + 8 <= n; x += 8) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + x));
    const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + x));
    __m256i s = _mm256_add_epi32(_mm256_mullo_epi32(va, vw0), _mm256_mullo_epi32(vb, vw1));
    s = _mm256_srai_epi32(_mm256_add_epi32(s, round), kBlendShift);
    _mm256_storeu_ps(out + x, _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(s), vmean), vscale));
  }
  scalar::vpass_norm(a + x, b + x, w0, w1, mean, scale, out + x, n - x);
}

void affine_taps(double a, double b, double c, int size, int n, int32_t* i0, int32_t* i1,
                 int32_t* w1) {
  // Four positions at a time; cvtpd_epi32 rounds to nearest even like __builtin_nearbyint.
  const __m256d va = _mm256_set1_pd(a), vb = _mm256_set1_pd(b), vc = _mm256_set1_pd(c);
  const __m256d lo = _mm256_set1_pd(-1.0), vhi = _mm256_set1_pd(static_cast<double>(size));
  const __m256d weight_one = _mm256_set1_pd(kWeightOne);
  const __m128i zero = _mm_setzero_si128(), last = _mm_set1_epi32(size - 1),
                step = _mm_set1_epi32(1);
  int u = 0;
  for (; u + 4 <= n; u += 4) {
    const __m256d pos = _mm256_setr_pd(u, u + 1, u + 2, u + 3);
    __m256d coord = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(va, pos), vb), vc);
    coord = _mm256_min_pd(_mm256_max_pd(coord, lo), vhi);
    const __m256d first = _mm256_floor_pd(coord);
    const __m128i i = _mm256_cvttpd_epi32(first);
    const __m128i weight =
        _mm256_cvtpd_epi32(_mm256_mul_pd(_mm256_sub_pd(coord, first), weight_one));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w1 + u), weight);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(i0 + u),
                     _mm_min_epi32(_mm_max_epi32(i, zero), last));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(i1 + u),
                     _mm_min_epi32(_mm_max_epi32(_mm_add_epi32(i, step), zero), last));
  }
  scalar::affine_taps_from(u, a, b, c, size, n, i0, i1, w1);
}

// Eight output pixels at a time, each of their four taps gathered as 4 bytes (B, G, R and one
// more); returns how many pixels it did, stopping before a group with an offset past gather_limit.
int warp_sample3_gathered(const uint8_t* base, ptrdiff_t row_stride, ptrdiff_t gather_limit,
                          const int32_t* x0, const int32_t* x1, const int32_t* wx,
                          const int32_t* y0, const int32_t* y1, const int32_t* wy, int n,
                          int32_t* b, int32_t* g, int32_t* r) {
  const __m256i stride = _mm256_set1_epi32(static_cast<int32_t>(row_stride));
  const __m256i limit = _mm256_set1_epi32(static_cast<int32_t>(gather_limit));
  const __m256i one = _mm256_set1_epi32(kWeightOne), round = _mm256_set1_epi32(kBlendRound);
  const __m256i low_byte = _mm256_set1_epi32(0xFF);
  const int* pixels = reinterpret_cast<const int*>(base);
  auto load = [](const int32_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  };
  auto times3 = [](__m256i v) { return _mm256_add_epi32(v, _mm256_add_epi32(v, v)); };
  int32_t* planes[3] = {b, g, r};
  int u = 0;
  for (; u + 8 <= n; u += 8) {
    const __m256i top_row = _mm256_mullo_epi32(load(y0 + u), stride);
    const __m256i bottom_row = _mm256_mullo_epi32(load(y1 + u), stride);
    const __m256i left = times3(load(x0 + u)), right = times3(load(x1 + u));
    const __m256i o00 = _mm256_add_epi32(top_row, left), o01 = _mm256_add_epi32(top_row, right);
    const __m256i o10 = _mm256_add_epi32(bottom_row, left);
    const __m256i o11 = _mm256_add_epi32(bottom_row, right);
    // Offsets only grow with the taps, so o11 is the largest of each pixel's four.
    if (!_mm256_testz_si256(_mm256_cmpgt_epi32(o11, limit), _mm256_cmpgt_epi32(o11, limit))) break;
    const __m256i p00 = _mm256_i32gather_epi32(pixels, o00, 1);
    const __m256i p01 = _mm256_i32gather_epi32(pixels, o01, 1);
    const __m256i p10 = _mm256_i32gather_epi32(pixels, o10, 1);
    const __m256i p11 = _mm256_i32gather_epi32(pixels, o11, 1);
    const __m256i w1x = load(wx + u), w1y = load(wy + u);
    const __m256i w0x = _mm256_sub_epi32(one, w1x), w0y = _mm256_sub_epi32(one, w1y);
    for (int c = 0; c < 3; ++c) {
      const __m128i shift = _mm_cvtsi32_si128(8 * c);
      auto channel = [&](__m256i p) {
        return _mm256_and_si256(_mm256_srl_epi32(p, shift), low_byte);
      };
      const __m256i top = _mm256_add_epi32(_mm256_mullo_epi32(w0x, channel(p00)),
                                           _mm256_mullo_epi32(w1x, channel(p01)));
      const __m256i bottom = _mm256_add_epi32(_mm256_mullo_epi32(w0x, channel(p10)),
                                              _mm256_mullo_epi32(w1x, channel(p11)));
      const __m256i sum =
          _mm256_add_epi32(_mm256_mullo_epi32(w0y, top), _mm256_mullo_epi32(w1y, bottom));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(planes[c] + u),
                          _mm256_srai_epi32(_mm256_add_epi32(sum, round), kBlendShift));
    }
  }
  return u;
}

void warp_sample3(const uint8_t* base, ptrdiff_t row_stride, ptrdiff_t gather_limit,
                  const int32_t* x0, const int32_t* x1, const int32_t* wx, const int32_t* y0,
                  const int32_t* y1, const int32_t* wy, int n, int32_t* b, int32_t* g, int32_t* r) {
  const int u = gather_limit < 0 ? 0
                                 : warp_sample3_gathered(base, row_stride, gather_limit, x0, x1, wx,
                                                         y0, y1, wy, n, b, g, r);
  scalar::warp_sample3(base, row_stride, gather_limit, x0 + u, x1 + u, wx + u, y0 + u, y1 + u,
                       wy + u, n - u, b + u, g + u, r + u);
}

void gray_row(const uint8_t* src, int channels, int32_t c0, int32_t c1, int32_t c2, uint8_t* dst,
              int width) {
  // Four pixels per 128-bit lane: one shuffle makes (c0, c1) int16 pairs, another (c2, 1) pairs
  // (the 1 comes from an OR), so two pmaddwd and an add give c0*p0 + c1*p1 + c2*p2 + round.
  const __m128i first_two =
      channels == 4 ? _mm_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1)
                    : _mm_setr_epi8(0, -1, 1, -1, 3, -1, 4, -1, 6, -1, 7, -1, 9, -1, 10, -1);
  const __m128i third =
      channels == 4 ? _mm_setr_epi8(2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1, -1, -1)
                    : _mm_setr_epi8(2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11, -1, -1, -1);
  const ptrdiff_t row_bytes = static_cast<ptrdiff_t>(width) * channels;
  const __m256i mask01 = _mm256_set_m128i(first_two, first_two),
                mask2 = _mm256_set_m128i(third, third);
  const __m256i ones = _mm256_set1_epi32(1 << 16);
  const __m256i w01 = _mm256_set1_epi32((c1 << 16) | c0), w2 = _mm256_set1_epi32((1 << 29) | c2);
  auto eight = [&](const uint8_t* p) {  // pixels 0-3 in the low lane, 4-7 in the high one
    const __m256i v =
        _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 4 * channels)),
                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i sum = _mm256_add_epi32(
        _mm256_madd_epi16(_mm256_shuffle_epi8(v, mask01), w01),
        _mm256_madd_epi16(_mm256_or_si256(_mm256_shuffle_epi8(v, mask2), ones), w2));
    return _mm256_srli_epi32(sum, 14);
  };
  int x = 0;
  for (; static_cast<ptrdiff_t>(x + 12) * channels + 16 <= row_bytes; x += 16) {
    const uint8_t* p = src + static_cast<ptrdiff_t>(x) * channels;
    const __m256i words =
        _mm256_permute4x64_epi64(_mm256_packus_epi32(eight(p), eight(p + 8 * channels)), 0xD8);
    _mm_storeu_si128(
        reinterpret_cast<__m128i*>(dst + x),
        _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1)));
  }
  scalar::gray_row(src + static_cast<ptrdiff_t>(x) * channels, channels, c0, c1, c2, dst + x,
                   width - x);
}

// Planar to interleaved, three floats per pixel: each group of 8 pixels is 3 vectors of the
// output; every output vector takes its a, b and c elements by one permute of each plane and two
// blends (the classic 3-way interleave).
void interleave3_f32(const float* p0, const float* p1, const float* p2, float* out, int n) {
  // Lane l of output vector v is element 8v + l of the interleaved row: plane (8v + l) % 3,
  // pixel (8v + l) / 3. The index vectors pick that pixel; lanes of other planes read 0, unused.
  const __m256i ia0 = _mm256_setr_epi32(0, 0, 0, 1, 0, 0, 2, 0);
  const __m256i ib0 = _mm256_setr_epi32(0, 0, 0, 0, 1, 0, 0, 2);
  const __m256i ic0 = _mm256_setr_epi32(0, 0, 0, 0, 0, 1, 0, 0);
  const __m256i ia1 = _mm256_setr_epi32(0, 3, 0, 0, 4, 0, 0, 5);
  const __m256i ib1 = _mm256_setr_epi32(0, 0, 3, 0, 0, 4, 0, 0);
  const __m256i ic1 = _mm256_setr_epi32(2, 0, 0, 3, 0, 0, 4, 0);
  const __m256i ia2 = _mm256_setr_epi32(0, 0, 6, 0, 0, 7, 0, 0);
  const __m256i ib2 = _mm256_setr_epi32(5, 0, 0, 6, 0, 0, 7, 0);
  const __m256i ic2 = _mm256_setr_epi32(0, 5, 0, 0, 6, 0, 0, 7);
  int x = 0;
  for (; x + 8 <= n; x += 8) {
    const __m256 a = _mm256_loadu_ps(p0 + x), b = _mm256_loadu_ps(p1 + x),
                 c = _mm256_loadu_ps(p2 + x);
    float* o = out + 3 * x;
    // blend imm: bit l set takes lane l from the second operand.
    __m256 v0 =
        _mm256_blend_ps(_mm256_permutevar8x32_ps(a, ia0), _mm256_permutevar8x32_ps(b, ib0), 0x92);
    v0 = _mm256_blend_ps(v0, _mm256_permutevar8x32_ps(c, ic0), 0x24);
    __m256 v1 =
        _mm256_blend_ps(_mm256_permutevar8x32_ps(a, ia1), _mm256_permutevar8x32_ps(b, ib1), 0x24);
    v1 = _mm256_blend_ps(v1, _mm256_permutevar8x32_ps(c, ic1), 0x49);
    __m256 v2 =
        _mm256_blend_ps(_mm256_permutevar8x32_ps(a, ia2), _mm256_permutevar8x32_ps(b, ib2), 0x49);
    v2 = _mm256_blend_ps(v2, _mm256_permutevar8x32_ps(c, ic2), 0x92);
    _mm256_storeu_ps(o, v0);
    _mm256_storeu_ps(o + 8, v1);
    _mm256_storeu_ps(o + 16, v2);
  }
  scalar::interleave3_f32(p0 + x, p1 + x, p2 + x, out + 3 * x, n - x);
}

// In the member order of RowOps; scalar:: marks the kernels without AVX2 intrinsics.
const RowOps kTable = {vblend_u8,     hblend_u8,         hpass_quad,      vpass_quad_u8,
                       hpass_planar3, vpass_norm,        affine_taps,     warp_sample3,
                       gray_row,      scalar::gray_norm, interleave3_f32, scalar::nms_suppress};

}  // namespace isa_avx2

const RowOps& rowops_avx2() { return isa_avx2::kTable; }

}  // namespace simd
}  // namespace fastfer
