// The scalar level: every kernel of rowops_scalar.inl, built without auto-vectorisation
// (CMakeLists.txt), the reference the SIMD levels are tested against.
#include "simd/rowops.h"

namespace fastfer {
namespace simd {
namespace isa_scalar {

#include "simd/rowops_scalar.inl"

// In the member order of RowOps.
const RowOps kTable = {vblend_u8,     hblend_u8,  hpass_quad,      vpass_quad_u8,
                       hpass_planar3, vpass_norm, affine_taps,     warp_sample3,
                       gray_row,      gray_norm,  interleave3_f32, nms_suppress};

}  // namespace isa_scalar

const RowOps& rowops_scalar() { return isa_scalar::kTable; }

}  // namespace simd
}  // namespace fastfer
