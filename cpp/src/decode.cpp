#include "fastfer/decode.h"

#include <cfloat>
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

// Every decoded value must fit float32: exp() of a large size delta overflows, and a silent inf
// or NaN box would pass on to NMS and the caller.
void check_decoded(const double* v, int n, ptrdiff_t row, const char* what) {
  for (int k = 0; k < n; ++k) {
    if (!(std::fabs(v[k]) <= static_cast<double>(FLT_MAX))) {
      throw std::invalid_argument(std::string(what) + ": row " + std::to_string(row) +
                                  " decodes to a value outside the float32 range (a delta too "
                                  "large for its prior)");
    }
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
    const double box[4] = {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
    check_decoded(box, 4, a, "decode_boxes");
    float* o = out + 4 * a;
    for (int k = 0; k < 4; ++k) o[k] = static_cast<float>(box[k]);
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
      const double point[2] = {cx + static_cast<double>(d[k]) * variance * pw,
                               cy + static_cast<double>(d[k + 1]) * variance * ph};
      check_decoded(point, 2, a, "decode_landmarks");
      o[k] = static_cast<float>(point[0]);
      o[k + 1] = static_cast<float>(point[1]);
    }
  }
}

}  // namespace fastfer
