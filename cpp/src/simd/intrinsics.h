// The intrinsics header for the ISA this translation unit is compiled for (set by rowops_<isa>.cpp).
#pragma once
#if defined(FASTFER_ISA_AVX2) || defined(FASTFER_ISA_SSE41)
#include <immintrin.h>
#elif defined(FASTFER_ISA_NEON)
#include <arm_neon.h>
#endif
