#include "fastfer/cpu.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace fastfer {
namespace {

bool cpu_supports(SimdLevel level) {
  switch (level) {
    case SimdLevel::Scalar:
      return true;
#if defined(FASTFER_HAVE_X86_SIMD)
    // __builtin_cpu_supports also checks that the OS saves the AVX registers (XCR0).
    case SimdLevel::SSE41:
      return __builtin_cpu_supports("sse4.1");
    case SimdLevel::AVX2:
      return __builtin_cpu_supports("avx2");
#endif
#if defined(FASTFER_HAVE_NEON)
    case SimdLevel::NEON:
      return true;  // part of the AArch64 base ISA
#endif
    default:
      return false;
  }
}

SimdLevel best_level() {
  auto levels = available_simd_levels();
  return levels.back();
}

SimdLevel initial_level() {
  const char* env = std::getenv("FASTFER_SIMD");
  if (env == nullptr || *env == '\0') return best_level();
  SimdLevel wanted;
  try {
    wanted = parse_simd_level(env);
  } catch (const std::invalid_argument&) {
    return best_level();  // an unknown name must not make the import fail; capabilities() shows it
  }
  if (cpu_supports(wanted)) return wanted;
  return best_level();
}

std::atomic<int>& level_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_level())};
  return slot;
}

}  // namespace

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::Scalar: return "scalar";
    case SimdLevel::SSE41: return "sse4.1";
    case SimdLevel::AVX2: return "avx2";
    case SimdLevel::NEON: return "neon";
  }
  return "unknown";
}

SimdLevel parse_simd_level(const std::string& name) {
  if (name == "scalar") return SimdLevel::Scalar;
  if (name == "sse4.1" || name == "sse41") return SimdLevel::SSE41;
  if (name == "avx2") return SimdLevel::AVX2;
  if (name == "neon") return SimdLevel::NEON;
  throw std::invalid_argument("unknown SIMD level '" + name +
                              "'; expected one of scalar, sse4.1, avx2, neon");
}

std::vector<SimdLevel> available_simd_levels() {
  std::vector<SimdLevel> out;
  for (SimdLevel level : {SimdLevel::Scalar, SimdLevel::SSE41, SimdLevel::AVX2, SimdLevel::NEON}) {
    if (cpu_supports(level)) out.push_back(level);
  }
  return out;
}

SimdLevel active_simd_level() { return static_cast<SimdLevel>(level_slot().load()); }

void set_simd_level(SimdLevel level) {
  if (!cpu_supports(level)) {
    throw std::invalid_argument(std::string("SIMD level '") + simd_level_name(level) +
                                "' is not available in this build on this CPU");
  }
  level_slot().store(static_cast<int>(level));
}

}  // namespace fastfer
