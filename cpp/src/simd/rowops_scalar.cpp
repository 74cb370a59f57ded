// The row kernels compiled for scalar (flags in CMakeLists.txt).
#define FASTFER_ISA_SCALAR 1
#include "simd/rowops.h"
#include "simd/intrinsics.h"

namespace fastfer {
namespace simd {
namespace isa_scalar {
#include "simd/rowops_impl.inl"
}  // namespace isa_scalar

const RowOps& rowops_scalar() {
  static const RowOps table = {isa_scalar::vblend_u8, isa_scalar::hblend_u8,
                               isa_scalar::hpass_quad, isa_scalar::vpass_quad_u8,
                               isa_scalar::hpass_planar3, isa_scalar::vpass_norm,
                               isa_scalar::affine_taps, isa_scalar::warp_sample3,
                               isa_scalar::gray_row, isa_scalar::gray_norm,
                               isa_scalar::nms_suppress};
  return table;
}

}  // namespace simd
}  // namespace fastfer
