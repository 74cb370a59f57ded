// Run-time choice of the SIMD code path.
//
// The library is built with portable flags; the few row kernels that profit from SIMD are compiled
// once per instruction set (cpp/src/simd/rowops_<isa>.cpp) and the best one the CPU supports is
// chosen when the library is first used. The scalar path is always present and is the reference.
#pragma once

#include <string>
#include <vector>

namespace fastfer {

enum class SimdLevel { Scalar = 0, SSE41 = 1, AVX2 = 2, NEON = 3 };

// "scalar", "sse4.1", "avx2" or "neon".
const char* simd_level_name(SimdLevel level);

// Parses a name as given by simd_level_name (also accepts "sse41"); throws std::invalid_argument.
SimdLevel parse_simd_level(const std::string& name);

// Every level this build contains and this CPU can run, scalar first.
std::vector<SimdLevel> available_simd_levels();

// The level in use. It starts as the best available one, or the one named by the environment
// variable FASTFER_SIMD (lowered to the best available one when the CPU lacks it).
SimdLevel active_simd_level();

// Switches the level for the whole process (tests and benchmarks use it to compare paths).
// Throws std::invalid_argument when the level is not available here.
void set_simd_level(SimdLevel level);

}  // namespace fastfer
