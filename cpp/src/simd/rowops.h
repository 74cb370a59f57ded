// The row kernels that exist once per instruction set. Private to the library.
//
// rowops_scalar.inl holds the scalar kernels, the reference. rowops_scalar.cpp makes them the
// scalar level; each rowops_<isa>.cpp (compiled with that ISA's flags) has intrinsics for the
// kernels where they pay and includes the scalar kernels in its own namespace for the rest and for
// its tails; rowops_dispatch.cpp picks the table of the active level. The kernels use nothing but
// raw pointers and intrinsics, because an inline function from a shared header, instantiated in
// an AVX2 file, could be picked by the linker for every caller.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastfer {
namespace simd {

// Fixed-point bilinear weights: 11 fractional bits per axis, as OpenCV's INTER_LINEAR for uint8.
constexpr int kWeightBits = 11;
constexpr int32_t kWeightOne = 1 << kWeightBits;
constexpr int kBlendShift = 2 * kWeightBits;
constexpr int32_t kBlendRound = 1 << (kBlendShift - 1);

struct RowOps {
  // out[i] = w0 * r0[i] + w1 * r1[i] for i < n (w0 + w1 == kWeightOne).
  void (*vblend_u8)(const uint8_t* r0, const uint8_t* r1, int32_t w0, int32_t w1, int32_t* out,
                    ptrdiff_t n);

  // Horizontal pass of a resize, channel-interleaved output:
  // out[x*C + c] = (w0*V[xofs[x] + c] + w1*V[xofs[x] + c + C] + round) >> kBlendShift,
  // with w1 = wx1[x], w0 = kWeightOne - w1. V must hold C readable elements past its last pixel.
  void (*hblend_u8)(const int32_t* V, const int32_t* xofs, const int32_t* wx1, int channels,
                    uint8_t* out, int out_width);

  // Resize of 3- and 4-channel images, horizontal pass of one row into 4 int32 per pixel:
  // out[4x + c] = w0*row[xofs[x] + c] + w1*row[xofs[x] + c + C] for c < C, out[4x + 3] = 0 when
  // C = 3. SIMD paths read 16 bytes at row + xofs[x] for x < simd_end.
  void (*hpass_quad)(const uint8_t* row, int channels, const int32_t* xofs, const int32_t* wx1,
                     int32_t* out, int simd_end, int n);

  // Resize of 3- and 4-channel images, vertical pass of one output row:
  // out[x*C + c] = (w0*a[4x + c] + w1*b[4x + c] + round) >> kBlendShift.
  void (*vpass_quad_u8)(const int32_t* a, const int32_t* b, int32_t w0, int32_t w1, int channels,
                        uint8_t* out, int n);

  // Detector input, horizontal pass of one BGR row into three int32 planes (B, G, R):
  // plane_c[x] = w0*row[xofs[x] + c] + w1*row[xofs[x] + c + 3]. SIMD paths read 16 bytes at
  // row + xofs[x] for x < simd_end, which the caller keeps inside the row.
  void (*hpass_planar3)(const uint8_t* row, const int32_t* xofs, const int32_t* wx1,
                        int32_t* b_plane, int32_t* g_plane, int32_t* r_plane, int simd_end, int n);

  // Detector input, vertical pass of one plane with normalisation:
  // out[x] = (float((w0*a[x] + w1*b[x] + round) >> kBlendShift) - mean) * scale.
  void (*vpass_norm)(const int32_t* a, const int32_t* b, int32_t w0, int32_t w1, float mean,
                     float scale, float* out, int n);

  // Sampling taps along one output row of an affine warp: for u < n, coord = (a*u + b) + c
  // (double, the order of the numpy twin), clamped to [-1, size], split into the two neighbouring
  // pixels i0, i1 (clamped to the image: replicate border) and the 11-bit weight w1 of i1.
  void (*affine_taps)(double a, double b, double c, int size, int n, int32_t* i0, int32_t* i1,
                      int32_t* w1);

  // Bilinear samples of a BGR image along one output row of a warp, from affine_taps' taps:
  // the 0..255 value of each channel (exact integers, one rounding) into b[u], g[u], r[u].
  // Pixel (x, y) is at base + y*row_stride + 3x. SIMD paths gather 4 bytes per tap and use
  // them only when every offset is <= gather_limit (pass -1 to forbid: offsets beyond int32).
  void (*warp_sample3)(const uint8_t* base, ptrdiff_t row_stride, ptrdiff_t gather_limit,
                       const int32_t* x0, const int32_t* x1, const int32_t* wx, const int32_t* y0,
                       const int32_t* y1, const int32_t* wy, int n, int32_t* b, int32_t* g,
                       int32_t* r);

  // dst[x] = (c0*src[x*C] + c1*src[x*C+1] + c2*src[x*C+2] + (1 << 13)) >> 14 (OpenCV's weights).
  void (*gray_row)(const uint8_t* src, int channels, int32_t c0, int32_t c1, int32_t c2,
                   uint8_t* dst, int width);

  // Grey from three planes of 0..255 values, normalised: out[x] = (float((cb*b[x] + cg*g[x] +
  // cr*r[x] + (1 << 13)) >> 14) - mean) * scale.
  void (*gray_norm)(const int32_t* b, const int32_t* g, const int32_t* r, int32_t cb, int32_t cg,
                    int32_t cr, float mean, float scale, float* out, int n);

  // Three planes into one channel-interleaved row: out[3x + k] = plane_k[x] for x < n (the NHWC
  // detector input; an exact copy on every path).
  void (*interleave3_f32)(const float* p0, const float* p1, const float* p2, float* out, int n);

  // Greedy-NMS inner loop: suppressed[j] |= IoU(i, j) > threshold for i < j < n, in the form
  // inter > threshold * union, on boxes stored as separate coordinate arrays.
  void (*nms_suppress)(const float* x1, const float* y1, const float* x2, const float* y2,
                       const float* area, ptrdiff_t i, ptrdiff_t n, float threshold,
                       uint8_t* suppressed);
};

// The table of the active level (see cpu.h).
const RowOps& rowops();

const RowOps& rowops_scalar();
#if defined(FASTFER_HAVE_X86_SIMD)
const RowOps& rowops_sse41();
const RowOps& rowops_avx2();
#endif
#if defined(FASTFER_HAVE_NEON)
const RowOps& rowops_neon();
#endif

}  // namespace simd
}  // namespace fastfer
