// The row kernels compiled for neon (flags in CMakeLists.txt).
#define FASTFER_ISA_NEON 1
#include "simd/rowops.h"
#include "simd/intrinsics.h"

namespace fastfer {
namespace simd {
namespace isa_neon {
#include "simd/rowops_impl.inl"
}  // namespace isa_neon

const RowOps& rowops_neon() { return isa_neon::kTable; }

}  // namespace simd
}  // namespace fastfer
