// The NEON level (part of the AArch64 base ISA, so no extra flags): intrinsics for the kernels
// where they pay, the scalar reference for the rest (which the compiler vectorises for NEON) and
// for the tail of each vector loop.
#include <arm_neon.h>

#include "simd/rowops.h"

namespace fastfer {
namespace simd {
namespace isa_neon {
namespace scalar {
#include "simd/rowops_scalar.inl"
}  // namespace scalar

void vblend_u8(const uint8_t* r0, const uint8_t* r1, int32_t w0, int32_t w1, int32_t* out,
               ptrdiff_t n) {
  const uint16_t u0 = static_cast<uint16_t>(w0), u1 = static_cast<uint16_t>(w1);
  ptrdiff_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint16x8_t a = vmovl_u8(vld1_u8(r0 + i)), b = vmovl_u8(vld1_u8(r1 + i));
    const uint32x4_t lo = vmlal_n_u16(vmull_n_u16(vget_low_u16(a), u0), vget_low_u16(b), u1);
    const uint32x4_t hi = vmlal_n_u16(vmull_n_u16(vget_high_u16(a), u0), vget_high_u16(b), u1);
    vst1q_s32(out + i, vreinterpretq_s32_u32(lo));
    vst1q_s32(out + i + 4, vreinterpretq_s32_u32(hi));
  }
  scalar::vblend_u8(r0 + i, r1 + i, w0, w1, out + i, n - i);
}

void hpass_quad(const uint8_t* row, int channels, const int32_t* xofs, const int32_t* wx1,
                int32_t* out, int simd_end, int n) {
  // One pixel per vector: its 8 bytes widened, and the same shifted by one pixel, so that a
  // multiply and a multiply-add give [c0, c1, c2, c3] of w0*tap0 + w1*tap1 for the pixel.
  const int limit = simd_end < n ? simd_end : n;
  const uint32x4_t keep =
      channels == 4 ? vdupq_n_u32(0xFFFFFFFFu) : vsetq_lane_u32(0, vdupq_n_u32(0xFFFFFFFFu), 3);
  int x = 0;
  for (; x < limit; ++x) {
    const uint16x8_t px = vmovl_u8(vld1_u8(row + xofs[x]));
    const uint16x8_t next = channels == 4 ? vextq_u16(px, px, 4) : vextq_u16(px, px, 3);
    const uint16_t w1 = static_cast<uint16_t>(wx1[x]), w0 = static_cast<uint16_t>(kWeightOne - w1);
    const uint32x4_t sum = vmlal_n_u16(vmull_n_u16(vget_low_u16(px), w0), vget_low_u16(next), w1);
    vst1q_s32(out + 4 * x, vreinterpretq_s32_u32(vandq_u32(sum, keep)));
  }
  scalar::hpass_quad(row, channels, xofs + x, wx1 + x, out + 4 * x, 0, n - x);
}

void vpass_quad_u8(const int32_t* a, const int32_t* b, int32_t w0, int32_t w1, int channels,
                   uint8_t* out, int n) {
  const int32x4_t round = vdupq_n_s32(kBlendRound);
  auto blend = [&](int at) {
    const int32x4_t sum =
        vmlaq_n_s32(vmlaq_n_s32(round, vld1q_s32(a + at), w0), vld1q_s32(b + at), w1);
    return vshrq_n_s32(sum, kBlendShift);
  };
  static const uint8_t kDrop4th[16] = {0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 16, 16, 16};
  const uint8x16_t drop4th = vld1q_u8(kDrop4th);
  int x = 0;
  for (; x + 4 <= n; x += 4) {  // 4 pixels: 16 sums -> 16 bytes
    const uint16x8_t lo = vcombine_u16(vqmovun_s32(blend(4 * x)), vqmovun_s32(blend(4 * x + 4)));
    const uint16x8_t hi =
        vcombine_u16(vqmovun_s32(blend(4 * x + 8)), vqmovun_s32(blend(4 * x + 12)));
    const uint8x16_t bytes = vcombine_u8(vqmovn_u16(lo), vqmovn_u16(hi));
    if (channels == 4) {
      vst1q_u8(out + 4 * x, bytes);
    } else {  // 12 bytes, stored as 8 + 4 so nothing past the row is touched
      const uint8x16_t packed = vqtbl1q_u8(bytes, drop4th);
      vst1_u8(out + 3 * x, vget_low_u8(packed));
      vst1q_lane_u32(reinterpret_cast<uint32_t*>(out + 3 * x + 8), vreinterpretq_u32_u8(packed), 2);
    }
  }
  scalar::vpass_quad_u8(a + 4 * x, b + 4 * x, w0, w1, channels, out + x * channels, n - x);
}

void hpass_planar3(const uint8_t* row, const int32_t* xofs, const int32_t* wx1, int32_t* b_plane,
                   int32_t* g_plane, int32_t* r_plane, int simd_end, int n) {
  // As hpass_quad, four pixels at a time, then a 4×4 transpose into the planes.
  const int limit = simd_end < n ? simd_end : n;
  int x = 0;
  for (; x + 4 <= limit; x += 4) {
    uint32x4_t q[4];
    for (int j = 0; j < 4; ++j) {
      const uint16x8_t px = vmovl_u8(vld1_u8(row + xofs[x + j]));
      const uint16x8_t next = vextq_u16(px, px, 3);
      const uint16_t w1 = static_cast<uint16_t>(wx1[x + j]),
                     w0 = static_cast<uint16_t>(kWeightOne - w1);
      q[j] = vmlal_n_u16(vmull_n_u16(vget_low_u16(px), w0), vget_low_u16(next), w1);
    }
    const uint32x4x2_t t01 = vtrnq_u32(q[0], q[1]);  // [B0 B1 R0 R1], [G0 G1 x x]
    const uint32x4x2_t t23 = vtrnq_u32(q[2], q[3]);
    vst1q_s32(b_plane + x, vreinterpretq_s32_u32(
                               vcombine_u32(vget_low_u32(t01.val[0]), vget_low_u32(t23.val[0]))));
    vst1q_s32(g_plane + x, vreinterpretq_s32_u32(
                               vcombine_u32(vget_low_u32(t01.val[1]), vget_low_u32(t23.val[1]))));
    vst1q_s32(r_plane + x, vreinterpretq_s32_u32(
                               vcombine_u32(vget_high_u32(t01.val[0]), vget_high_u32(t23.val[0]))));
  }
  scalar::hpass_planar3(row, xofs + x, wx1 + x, b_plane + x, g_plane + x, r_plane + x, 0, n - x);
}

void vpass_norm(const int32_t* a, const int32_t* b, int32_t w0, int32_t w1, float mean, float scale,
                float* out, int n) {
  const int32x4_t round = vdupq_n_s32(kBlendRound);
  const float32x4_t vmean = vdupq_n_f32(mean);
  int x = 0;
  for (; x + 4 <= n; x += 4) {
    const int32x4_t sum =
        vmlaq_n_s32(vmlaq_n_s32(round, vld1q_s32(a + x), w0), vld1q_s32(b + x), w1);
    const float32x4_t v = vsubq_f32(vcvtq_f32_s32(vshrq_n_s32(sum, kBlendShift)), vmean);
    vst1q_f32(out + x, vmulq_n_f32(v, scale));
  }
  scalar::vpass_norm(a + x, b + x, w0, w1, mean, scale, out + x, n - x);
}

void gray_row(const uint8_t* src, int channels, int32_t c0, int32_t c1, int32_t c2, uint8_t* dst,
              int width) {
  // 16 pixels per step, de-interleaved by vld3/vld4; u16 × u16 -> u32 multiply-adds.
  const uint32x4_t round = vdupq_n_u32(1 << 13);
  const uint16_t k0 = static_cast<uint16_t>(c0), k1 = static_cast<uint16_t>(c1),
                 k2 = static_cast<uint16_t>(c2);
  auto weigh = [&](uint16x4_t p0, uint16x4_t p1, uint16x4_t p2) {
    return vshrn_n_u32(vmlal_n_u16(vmlal_n_u16(vmlal_n_u16(round, p0, k0), p1, k1), p2, k2), 14);
  };
  auto half = [&](uint8x8_t p0, uint8x8_t p1, uint8x8_t p2) {
    const uint16x8_t a = vmovl_u8(p0), b = vmovl_u8(p1), c = vmovl_u8(p2);
    return vmovn_u16(vcombine_u16(weigh(vget_low_u16(a), vget_low_u16(b), vget_low_u16(c)),
                                  weigh(vget_high_u16(a), vget_high_u16(b), vget_high_u16(c))));
  };
  int x = 0;
  for (; x + 16 <= width; x += 16) {
    const uint8_t* p = src + static_cast<ptrdiff_t>(x) * channels;
    uint8x16_t ch0, ch1, ch2;
    if (channels == 4) {
      const uint8x16x4_t v = vld4q_u8(p);
      ch0 = v.val[0], ch1 = v.val[1], ch2 = v.val[2];
    } else {
      const uint8x16x3_t v = vld3q_u8(p);
      ch0 = v.val[0], ch1 = v.val[1], ch2 = v.val[2];
    }
    vst1q_u8(dst + x, vcombine_u8(half(vget_low_u8(ch0), vget_low_u8(ch1), vget_low_u8(ch2)),
                                  half(vget_high_u8(ch0), vget_high_u8(ch1), vget_high_u8(ch2))));
  }
  scalar::gray_row(src + static_cast<ptrdiff_t>(x) * channels, channels, c0, c1, c2, dst + x,
                   width - x);
}

// In the member order of RowOps; scalar:: marks the kernels without NEON intrinsics.
const RowOps kTable = {vblend_u8,           scalar::hblend_u8,       hpass_quad,
                       vpass_quad_u8,       hpass_planar3,           vpass_norm,
                       scalar::affine_taps, scalar::warp_sample3,    gray_row,
                       scalar::gray_norm,   scalar::interleave3_f32, scalar::nms_suppress};

}  // namespace isa_neon

const RowOps& rowops_neon() { return isa_neon::kTable; }

}  // namespace simd
}  // namespace fastfer
