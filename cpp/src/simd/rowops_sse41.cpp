// The SSE4.1 level (compiled with -msse4.1, CMakeLists.txt): intrinsics for the kernels where they
// pay, the scalar reference for the rest and for the tail of each vector loop.
#include <immintrin.h>

#include "simd/rowops.h"

namespace fastfer {
namespace simd {
namespace isa_sse41 {
namespace scalar {
#include "simd/rowops_scalar.inl"
}  // namespace scalar

void vblend_u8(const uint8_t* r0, const uint8_t* r1, int32_t w0, int32_t w1, int32_t* out,
               ptrdiff_t n) {
  // Interleave the two rows as int16 pairs and let pmaddwd do w0*a + w1*b in one step.
  const __m128i w = _mm_set1_epi32((w1 << 16) | (w0 & 0xFFFF));
  ptrdiff_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i a = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(r0 + i)));
    __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(r1 + i)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm_madd_epi16(_mm_unpacklo_epi16(a, b), w));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i + 4),
                     _mm_madd_epi16(_mm_unpackhi_epi16(a, b), w));
  }
  scalar::vblend_u8(r0 + i, r1 + i, w0, w1, out + i, n - i);
}

void hpass_quad(const uint8_t* row, int channels, const int32_t* xofs, const int32_t* wx1,
                int32_t* out, int simd_end, int n) {
  // One pixel per vector: its two taps as int16 pairs (c of tap 0, c of tap 1) for each channel,
  // so one pmaddwd against (w0, w1) pairs gives its 4 channel sums.
  const __m128i taps =
      channels == 4 ? _mm_setr_epi8(0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1)
                    : _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const int limit = simd_end < n ? simd_end : n;
  int x = 0;
  for (; x < limit; ++x) {
    const __m128i px =
        _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + xofs[x])), taps);
    const int32_t w1 = wx1[x];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4 * x),
                     _mm_madd_epi16(px, _mm_set1_epi32((kWeightOne - w1) | (w1 << 16))));
  }
  scalar::hpass_quad(row, channels, xofs + x, wx1 + x, out + 4 * x, 0, n - x);
}

void vpass_quad_u8(const int32_t* a, const int32_t* b, int32_t w0, int32_t w1, int channels,
                   uint8_t* out, int n) {
  const __m128i vw0 = _mm_set1_epi32(w0), vw1 = _mm_set1_epi32(w1);
  const __m128i round = _mm_set1_epi32(kBlendRound);
  const __m128i drop4th = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  auto blend = [&](int at) {
    const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + at));
    const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + at));
    const __m128i s = _mm_add_epi32(_mm_mullo_epi32(va, vw0), _mm_mullo_epi32(vb, vw1));
    return _mm_srai_epi32(_mm_add_epi32(s, round), kBlendShift);
  };
  int x = 0;
  for (; x + 4 <= n; x += 4) {  // 4 pixels: 16 sums -> 16 bytes
    const __m128i bytes = _mm_packus_epi16(_mm_packus_epi32(blend(4 * x), blend(4 * x + 4)),
                                           _mm_packus_epi32(blend(4 * x + 8), blend(4 * x + 12)));
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
  // Each pixel's two taps become int16 pairs (B0,B1)(G0,G1)(R0,R1)(0,0), so that one pmaddwd
  // against (w0,w1) pairs gives [B, G, R, 0]; a 4x4 transpose of four pixels fills the planes.
  const __m128i taps = _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const int limit = simd_end < n ? simd_end : n;
  int x = 0;
  for (; x + 4 <= limit; x += 4) {
    __m128i m[4];
    for (int j = 0; j < 4; ++j) {
      const __m128i px = _mm_shuffle_epi8(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + xofs[x + j])), taps);
      const int32_t w1 = wx1[x + j];
      m[j] = _mm_madd_epi16(px, _mm_set1_epi32((kWeightOne - w1) | (w1 << 16)));
    }
    const __m128i t0 = _mm_unpacklo_epi32(m[0], m[1]);  // B0 B1 G0 G1
    const __m128i t1 = _mm_unpacklo_epi32(m[2], m[3]);  // B2 B3 G2 G3
    const __m128i t2 = _mm_unpackhi_epi32(m[0], m[1]);  // R0 R1 0 0
    const __m128i t3 = _mm_unpackhi_epi32(m[2], m[3]);  // R2 R3 0 0
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b_plane + x), _mm_unpacklo_epi64(t0, t1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(g_plane + x), _mm_unpackhi_epi64(t0, t1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(r_plane + x), _mm_unpacklo_epi64(t2, t3));
  }
  scalar::hpass_planar3(row, xofs + x, wx1 + x, b_plane + x, g_plane + x, r_plane + x, 0, n - x);
}

void vpass_norm(const int32_t* a, const int32_t* b, int32_t w0, int32_t w1, float mean, float scale,
                float* out, int n) {
  const __m128i vw0 = _mm_set1_epi32(w0), vw1 = _mm_set1_epi32(w1);
  const __m128i round = _mm_set1_epi32(kBlendRound);
  const __m128 vmean = _mm_set1_ps(mean), vscale = _mm_set1_ps(scale);
  int x = 0;
  for (; x + 4 <= n; x += 4) {
    const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + x));
    const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + x));
    __m128i s = _mm_add_epi32(_mm_mullo_epi32(va, vw0), _mm_mullo_epi32(vb, vw1));
    s = _mm_srai_epi32(_mm_add_epi32(s, round), kBlendShift);
    _mm_storeu_ps(out + x, _mm_mul_ps(_mm_sub_ps(_mm_cvtepi32_ps(s), vmean), vscale));
  }
  scalar::vpass_norm(a + x, b + x, w0, w1, mean, scale, out + x, n - x);
}

void gray_row(const uint8_t* src, int channels, int32_t c0, int32_t c1, int32_t c2, uint8_t* dst,
              int width) {
  // Four pixels per vector: one shuffle makes (c0, c1) int16 pairs, another (c2, 1) pairs (the 1
  // comes from an OR), so two pmaddwd and an add give c0*p0 + c1*p1 + c2*p2 + round.
  const __m128i first_two =
      channels == 4 ? _mm_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1)
                    : _mm_setr_epi8(0, -1, 1, -1, 3, -1, 4, -1, 6, -1, 7, -1, 9, -1, 10, -1);
  const __m128i third =
      channels == 4 ? _mm_setr_epi8(2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1, -1, -1)
                    : _mm_setr_epi8(2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11, -1, -1, -1);
  const ptrdiff_t row_bytes = static_cast<ptrdiff_t>(width) * channels;
  const __m128i ones = _mm_set1_epi32(1 << 16);
  const __m128i w01 = _mm_set1_epi32((c1 << 16) | c0), w2 = _mm_set1_epi32((1 << 29) | c2);
  auto four = [&](const uint8_t* p) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i sum =
        _mm_add_epi32(_mm_madd_epi16(_mm_shuffle_epi8(v, first_two), w01),
                      _mm_madd_epi16(_mm_or_si128(_mm_shuffle_epi8(v, third), ones), w2));
    return _mm_srli_epi32(sum, 14);
  };
  int x = 0;
  for (; static_cast<ptrdiff_t>(x + 12) * channels + 16 <= row_bytes; x += 16) {
    const uint8_t* p = src + static_cast<ptrdiff_t>(x) * channels;
    const __m128i lo = _mm_packus_epi32(four(p), four(p + 4 * channels));
    const __m128i hi = _mm_packus_epi32(four(p + 8 * channels), four(p + 12 * channels));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + x), _mm_packus_epi16(lo, hi));
  }
  scalar::gray_row(src + static_cast<ptrdiff_t>(x) * channels, channels, c0, c1, c2, dst + x,
                   width - x);
}

// In the member order of RowOps; scalar:: marks the kernels without SSE4.1 intrinsics.
const RowOps kTable = {vblend_u8,           scalar::hblend_u8,       hpass_quad,
                       vpass_quad_u8,       hpass_planar3,           vpass_norm,
                       scalar::affine_taps, scalar::warp_sample3,    gray_row,
                       scalar::gray_norm,   scalar::interleave3_f32, scalar::nms_suppress};

}  // namespace isa_sse41

const RowOps& rowops_sse41() { return isa_sse41::kTable; }

}  // namespace simd
}  // namespace fastfer
