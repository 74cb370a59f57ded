// The row kernels compiled for avx2 (flags in CMakeLists.txt).
#define FASTFER_ISA_AVX2 1
#include "simd/rowops.h"
#include "simd/intrinsics.h"

namespace fastfer {
namespace simd {
namespace isa_avx2 {
#include "simd/rowops_impl.inl"
}  // namespace isa_avx2

const RowOps& rowops_avx2() {
  static const RowOps table = {isa_avx2::vblend_u8, isa_avx2::hblend_u8,
                               isa_avx2::hpass_quad, isa_avx2::vpass_quad_u8,
                               isa_avx2::hpass_planar3, isa_avx2::vpass_norm,
                               isa_avx2::affine_taps, isa_avx2::warp_sample3,
                               isa_avx2::gray_row, isa_avx2::gray_norm,
                               isa_avx2::nms_suppress};
  return table;
}

}  // namespace simd
}  // namespace fastfer
