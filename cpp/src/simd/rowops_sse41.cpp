// The row kernels compiled for sse41 (flags in CMakeLists.txt).
#define FASTFER_ISA_SSE41 1
#include "simd/rowops.h"
#include "simd/intrinsics.h"

namespace fastfer {
namespace simd {
namespace isa_sse41 {
#include "simd/rowops_impl.inl"
}  // namespace isa_sse41

const RowOps& rowops_sse41() { return isa_sse41::kTable; }

}  // namespace simd
}  // namespace fastfer
