// The dispatch table: the row kernels of the active SIMD level (cpu.cpp chooses the level).
// A new instruction set is one rowops_<isa>.cpp, one case here and one SimdLevel in cpu.h/cpu.cpp.
#include "fastfer/cpu.h"
#include "simd/rowops.h"

namespace fastfer {
namespace simd {

const RowOps& rowops() {
  switch (active_simd_level()) {
#if defined(FASTFER_HAVE_X86_SIMD)
    case SimdLevel::AVX2:
      return rowops_avx2();
    case SimdLevel::SSE41:
      return rowops_sse41();
#endif
#if defined(FASTFER_HAVE_NEON)
    case SimdLevel::NEON:
      return rowops_neon();
#endif
    default:
      return rowops_scalar();
  }
}

}  // namespace simd
}  // namespace fastfer
