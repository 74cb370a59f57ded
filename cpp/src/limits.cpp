#include "fastfer/limits.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace fastfer {

void check_normalisation(const float mean[3], const float scale[3], const char* what) {
  for (int k = 0; k < 3; ++k) {
    // (p - mean) * scale is monotonic in p, so its extremes are at p = 0 and p = 255; computed
    // in float32 exactly as the kernels do (no FMA: -ffp-contract=off).
    for (float p : {0.0f, 255.0f}) {
      const float v = (p - mean[k]) * scale[k];
      if (!std::isfinite(v)) {
        throw std::invalid_argument(std::string(what) + ": mean and scale overflow float32: (" +
                                    std::to_string(static_cast<int>(p)) + " - mean[" +
                                    std::to_string(k) + "]) * scale[" + std::to_string(k) +
                                    "] is not finite");
      }
    }
  }
}

}  // namespace fastfer
