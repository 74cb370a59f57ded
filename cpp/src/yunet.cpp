#include "fastfer/yunet.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace fastfer {

void yunet_scores(const float* cls, const float* obj, ptrdiff_t count, float* out) {
  if (count < 0) throw std::invalid_argument("row count must be >= 0, got " + std::to_string(count));
  for (ptrdiff_t a = 0; a < count; ++a) {
    const double c = std::min(std::max(cls[a], 0.0f), 1.0f);
    const double o = std::min(std::max(obj[a], 0.0f), 1.0f);
    out[a] = static_cast<float>(std::sqrt(c * o));
  }
}

}  // namespace fastfer
