// The row kernels compiled for scalar (flags in CMakeLists.txt).
#define FASTFER_ISA_SCALAR 1
#include "simd/rowops.h"
#include "simd/intrinsics.h"

namespace fastfer {
namespace simd {
namespace isa_scalar {
#include "simd/rowops_impl.inl"
}  // namespace isa_scalar

const RowOps& rowops_scalar() { return isa_scalar::kTable; }

}  // namespace simd
}  // namespace fastfer
