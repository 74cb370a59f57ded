// The row kernels compiled for neon (flags in CMakeLists.txt).
#define FASTFER_ISA_NEON 1
#include "simd/rowops.h"
#include "simd/intrinsics.h"

namespace fastfer {
namespace simd {
namespace isa_neon {
#include "simd/rowops_impl.inl"
}  // namespace isa_neon

const RowOps& rowops_neon() {
  static const RowOps table = {isa_neon::vblend_u8, isa_neon::hblend_u8,
                               isa_neon::hpass_quad, isa_neon::vpass_quad_u8,
                               isa_neon::hpass_planar3, isa_neon::vpass_norm,
                               isa_neon::affine_taps, isa_neon::warp_sample3,
                               isa_neon::gray_row, isa_neon::gray_norm,
                               isa_neon::nms_suppress};
  return table;
}

}  // namespace simd
}  // namespace fastfer
