// The row kernels compiled for avx2 (flags in CMakeLists.txt).
#define FASTFER_ISA_AVX2 1
#include "simd/rowops.h"
#include "simd/intrinsics.h"

namespace fastfer {
namespace simd {
namespace isa_avx2 {
#include "simd/rowops_impl.inl"
}  // namespace isa_avx2

const RowOps& rowops_avx2() { return isa_avx2::kTable; }

}  // namespace simd
}  // namespace fastfer
