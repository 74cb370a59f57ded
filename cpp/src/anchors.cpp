#include "fastfer/anchors.h"

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace fastfer {
namespace {

// ceil(a / b) for a >= 1, b >= 1 without the overflow of (a + b - 1) / b.
int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

std::string level_name(const char* what, ptrdiff_t level) {
  return std::string(what) + "[" + std::to_string(level) + "]";
}

// A value the anchors hold, computed in double, must survive the rounding to float32.
void check_float32(double v, const std::string& what) {
  if (!(std::fabs(v) <= static_cast<double>(FLT_MAX))) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    throw std::invalid_argument("anchors: " + what + " is " + text + ", outside the float32 range");
  }
}

}  // namespace

void check_anchor_values(int64_t height, int64_t width, const int64_t* steps,
                         const ptrdiff_t* sizes_per_level, const double* min_sizes,
                         ptrdiff_t levels, double offset) {
  if (!std::isfinite(offset)) throw std::invalid_argument("offset must be finite");
  anchor_count(height, width, steps, sizes_per_level, min_sizes, levels);
  const double h = static_cast<double>(height), w = static_cast<double>(width);
  ptrdiff_t first = 0;
  for (ptrdiff_t l = 0; l < levels; ++l) {
    const double s = static_cast<double>(steps[l]);
    const int64_t fh = ceil_div(height, steps[l]), fw = ceil_div(width, steps[l]);
    // The centres grow with the cell index: the first and last cells are the extremes.
    for (int64_t j : {int64_t{0}, fw - 1}) {
      check_float32((static_cast<double>(j) + offset) * s / w, level_name("centre x of level", l));
    }
    for (int64_t i : {int64_t{0}, fh - 1}) {
      check_float32((static_cast<double>(i) + offset) * s / h, level_name("centre y of level", l));
    }
    for (ptrdiff_t k = 0; k < sizes_per_level[l]; ++k) {
      const std::string name = level_name("min_sizes", l) + "[" + std::to_string(k) + "]";
      check_float32(min_sizes[first + k] / w, name + " / width");
      check_float32(min_sizes[first + k] / h, name + " / height");
    }
    first += sizes_per_level[l];
  }
}

int64_t anchor_count(int64_t height, int64_t width, const int64_t* steps,
                     const ptrdiff_t* sizes_per_level, const double* min_sizes, ptrdiff_t levels) {
  if (height < 1 || width < 1) {
    throw std::invalid_argument("height and width must be >= 1, got " + std::to_string(height) +
                                "x" + std::to_string(width));
  }
  if (levels < 1) throw std::invalid_argument("steps/min_sizes: need at least one level");
  // Counted in double: the products of absurd sizes overflow int64 but only need comparing
  // against kMaxAnchors, and every count below it is exact in double.
  double total = 0.0;
  ptrdiff_t first = 0;
  for (ptrdiff_t l = 0; l < levels; ++l) {
    if (steps[l] < 1) {
      throw std::invalid_argument(level_name("steps", l) + " must be >= 1, got " +
                                  std::to_string(steps[l]));
    }
    if (sizes_per_level[l] < 1) {
      throw std::invalid_argument(level_name("min_sizes", l) + " is empty");
    }
    for (ptrdiff_t k = 0; k < sizes_per_level[l]; ++k) {
      const double m = min_sizes[first + k];
      if (!(std::isfinite(m) && m > 0.0)) {
        throw std::invalid_argument(level_name("min_sizes", l) + "[" + std::to_string(k) +
                                    "] must be finite and > 0, got " + std::to_string(m));
      }
    }
    first += sizes_per_level[l];
    const double cells = static_cast<double>(ceil_div(height, steps[l])) *
                         static_cast<double>(ceil_div(width, steps[l]));
    total += cells * static_cast<double>(sizes_per_level[l]);
  }
  if (total > static_cast<double>(kMaxAnchors)) {
    const std::string count = total < 1e18 ? std::to_string(static_cast<int64_t>(total))
                                           : std::string("more than 10^18");
    throw std::invalid_argument("too many anchors: this layout gives " + count +
                                ", the limit is " + std::to_string(kMaxAnchors));
  }
  return static_cast<int64_t>(total);
}

void make_anchors(int64_t height, int64_t width, const int64_t* steps,
                  const ptrdiff_t* sizes_per_level, const double* min_sizes, ptrdiff_t levels,
                  double offset, float* out) {
  check_anchor_values(height, width, steps, sizes_per_level, min_sizes, levels, offset);
  const double h = static_cast<double>(height), w = static_cast<double>(width);
  std::vector<float> cx;
  ptrdiff_t first = 0;
  for (ptrdiff_t l = 0; l < levels; ++l) {
    const double s = static_cast<double>(steps[l]);
    const int64_t fh = ceil_div(height, steps[l]), fw = ceil_div(width, steps[l]);
    const double* sizes = min_sizes + first;
    const ptrdiff_t n_sizes = sizes_per_level[l];
    first += n_sizes;
    // The column centres repeat on every row: compute them once per level.
    cx.resize(static_cast<size_t>(fw));
    for (int64_t j = 0; j < fw; ++j) {
      cx[static_cast<size_t>(j)] = static_cast<float>((static_cast<double>(j) + offset) * s / w);
    }
    for (int64_t i = 0; i < fh; ++i) {
      const float cy = static_cast<float>((static_cast<double>(i) + offset) * s / h);
      for (int64_t j = 0; j < fw; ++j) {
        for (ptrdiff_t k = 0; k < n_sizes; ++k) {
          out[0] = cx[static_cast<size_t>(j)];
          out[1] = cy;
          out[2] = static_cast<float>(sizes[k] / w);
          out[3] = static_cast<float>(sizes[k] / h);
          out += 4;
        }
      }
    }
  }
}

}  // namespace fastfer
