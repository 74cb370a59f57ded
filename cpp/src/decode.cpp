#include "fastfer/decode.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace fastfer {
namespace {

void check_variance(double v, const char* what) {
  if (!(std::isfinite(v) && v > 0.0)) {
    throw std::invalid_argument(std::string(what) + " must be finite and > 0, got " +
                                std::to_string(v));
  }
}

void check_count(ptrdiff_t count) {
  if (count < 0) throw std::invalid_argument("row count must be >= 0, got " + std::to_string(count));
}

}  // namespace

void decode_boxes(const float* deltas, const float* priors, ptrdiff_t count, double variance_xy,
                  double variance_wh, float* out) {
  check_count(count);
  check_variance(variance_xy, "variances[0]");
  check_variance(variance_wh, "variances[1]");
  for (ptrdiff_t a = 0; a < count; ++a) {
    const float* d = deltas + 4 * a;
    const float* p = priors + 4 * a;
    const double pw = p[2], ph = p[3];
    // Written in the order the numpy twin evaluates it (left to right), in double.
    const double cx = p[0] + static_cast<double>(d[0]) * variance_xy * pw;
    const double cy = p[1] + static_cast<double>(d[1]) * variance_xy * ph;
    const double w = pw * std::exp(static_cast<double>(d[2]) * variance_wh);
    const double h = ph * std::exp(static_cast<double>(d[3]) * variance_wh);
    float* o = out + 4 * a;
    o[0] = static_cast<float>(cx - w / 2);
    o[1] = static_cast<float>(cy - h / 2);
    o[2] = static_cast<float>(cx + w / 2);
    o[3] = static_cast<float>(cy + h / 2);
  }
}

void decode_landmarks(const float* deltas, const float* priors, ptrdiff_t count, ptrdiff_t points,
                      double variance, float* out) {
  check_count(count);
  if (points < 1) throw std::invalid_argument("landmarks need at least one point");
  check_variance(variance, "variance");
  const ptrdiff_t row = 2 * points;
  for (ptrdiff_t a = 0; a < count; ++a) {
    const float* d = deltas + row * a;
    const float* p = priors + 4 * a;
    const double cx = p[0], cy = p[1], pw = p[2], ph = p[3];
    float* o = out + row * a;
    for (ptrdiff_t k = 0; k < row; k += 2) {
      o[k] = static_cast<float>(cx + static_cast<double>(d[k]) * variance * pw);
      o[k + 1] = static_cast<float>(cy + static_cast<double>(d[k + 1]) * variance * ph);
    }
  }
}

}  // namespace fastfer
