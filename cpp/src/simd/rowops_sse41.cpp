// The row kernels compiled for sse41 (flags in CMakeLists.txt).
#define FASTFER_ISA_SSE41 1
#include "simd/rowops.h"
#include "simd/intrinsics.h"

namespace fastfer {
namespace simd {
namespace isa_sse41 {
#include "simd/rowops_impl.inl"
}  // namespace isa_sse41

const RowOps& rowops_sse41() {
  static const RowOps table = {isa_sse41::vblend_u8, isa_sse41::hblend_u8,
                               isa_sse41::hpass_quad, isa_sse41::vpass_quad_u8,
                               isa_sse41::hpass_planar3, isa_sse41::vpass_norm,
                               isa_sse41::affine_taps, isa_sse41::warp_sample3,
                               isa_sse41::gray_row, isa_sse41::gray_norm,
                               isa_sse41::nms_suppress};
  return table;
}

}  // namespace simd
}  // namespace fastfer
