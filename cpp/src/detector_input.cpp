#include "fastfer/detector_input.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastfer/limits.h"
#include "sampling.h"
#include "simd/rowops.h"

namespace fastfer {
namespace {

constexpr int kMaxTensorSide = 1 << 16;

int round_up(int value, int multiple) { return (value + multiple - 1) / multiple * multiple; }

int scaled_size(int size, double scale, int limit) {
  const double s = std::nearbyint(size * scale);
  return static_cast<int>(std::min<double>(limit, std::max(1.0, s)));
}

void check_spec(const DetectorInputSpec& spec) {
  const bool fixed = spec.fixed_width > 0 || spec.fixed_height > 0;
  if (fixed && (spec.fixed_width <= 0 || spec.fixed_height <= 0)) {
    throw std::invalid_argument("detector_input: fixed size needs both width and height > 0");
  }
  if (fixed && (spec.fixed_width > kMaxTensorSide || spec.fixed_height > kMaxTensorSide)) {
    throw std::invalid_argument("detector_input: fixed size larger than 65536");
  }
  if (fixed && spec.max_side != 0) {
    throw std::invalid_argument("detector_input: give either max_side or a fixed size, not both");
  }
  if (spec.max_side < 0) {
    throw std::invalid_argument("detector_input: max_side must be >= 0 (0 = keep the size), got " +
                                std::to_string(spec.max_side));
  }
  if (spec.pad_multiple < 1 || spec.pad_multiple > 4096) {
    throw std::invalid_argument("detector_input: pad_multiple must be in [1, 4096], got " +
                                std::to_string(spec.pad_multiple));
  }
  for (int k = 0; k < 3; ++k) {
    if (!std::isfinite(spec.mean[k]) || !std::isfinite(spec.scale[k])) {
      throw std::invalid_argument("detector_input: mean and scale must be finite");
    }
  }
  check_normalisation(spec.mean, spec.scale, "detector_input");
}

// The tensor is 3 x height x width floats: refuse sizes whose tensor would exceed the bound.
void check_tensor_size(const DetectorInputGeometry& g) {
  const int64_t values = int64_t{3} * g.width * g.height;
  if (values > kMaxOutputElements) {
    throw std::invalid_argument("detector_input: a " + std::to_string(g.width) + "x" +
                                std::to_string(g.height) + " tensor holds " +
                                std::to_string(values) + " values, above the limit of " +
                                std::to_string(kMaxOutputElements) + "; set max_side");
  }
}

}  // namespace

DetectorInputGeometry detector_input_geometry(int image_height, int image_width,
                                              const DetectorInputSpec& spec) {
  check_spec(spec);
  if (image_height <= 0 || image_width <= 0) {
    throw std::invalid_argument("detector_input: image must be non-empty");
  }
  DetectorInputGeometry g;
  if (spec.fixed_width > 0) {
    g.scale = std::min(static_cast<double>(spec.fixed_width) / image_width,
                       static_cast<double>(spec.fixed_height) / image_height);
    g.content_width = scaled_size(image_width, g.scale, spec.fixed_width);
    g.content_height = scaled_size(image_height, g.scale, spec.fixed_height);
    g.width = spec.fixed_width;
    g.height = spec.fixed_height;
    check_tensor_size(g);
    return g;
  }
  const int long_side = std::max(image_width, image_height);
  g.scale = (spec.max_side > 0 && long_side > spec.max_side)
                ? static_cast<double>(spec.max_side) / long_side
                : 1.0;
  g.content_width = scaled_size(image_width, g.scale, std::numeric_limits<int>::max());
  g.content_height = scaled_size(image_height, g.scale, std::numeric_limits<int>::max());
  if (g.content_width > kMaxTensorSide || g.content_height > kMaxTensorSide) {
    throw std::invalid_argument("detector_input: tensor side above 65536; set max_side");
  }
  g.width = round_up(g.content_width, spec.pad_multiple);
  g.height = round_up(g.content_height, spec.pad_multiple);
  check_tensor_size(g);
  return g;
}

DetectorInputGeometry detector_input(const ImageView& bgr, const DetectorInputSpec& spec,
                                     float* out) {
  check_image(bgr, "detector_input image", 3, 3);
  if (out == nullptr) throw std::invalid_argument("detector_input: null output");
  const DetectorInputGeometry g = detector_input_geometry(bgr.height, bgr.width, spec);
  const ptrdiff_t W = g.width, H = g.height, cw = g.content_width, ch = g.content_height;

  std::vector<int32_t> xindex(cw), xw1(cw), yindex(ch), yw1(ch);
  const double inv = 1.0 / g.scale;
  detail::map_axis(bgr.width, static_cast<int>(cw), inv, xindex.data(), xw1.data());
  detail::map_axis(bgr.height, static_cast<int>(ch), inv, yindex.data(), yw1.data());
  for (auto& x : xindex) x *= 3;  // pixel index -> offset of its blue byte in a row

  const int src_channel[3] = {spec.rgb ? 2 : 0, 1, spec.rgb ? 0 : 2};
  float pad[3];
  for (int k = 0; k < 3; ++k) pad[k] = (0.0f - spec.mean[k]) * spec.scale[k];

  // Horizontal pass first, once per source row that has a non-zero vertical weight, into int32
  // planes (a two-row cache: consecutive output rows often share source rows); then a vertical
  // pass per output row writes the normalised floats. Exact integers until the final rounding, so
  // this equals the vertical-first order of the numpy twin bit for bit.
  const int simd_end = detail::simd_safe_end(xindex.data(), static_cast<int>(cw),
                                             static_cast<ptrdiff_t>(bgr.width) * 3, 16);
  const simd::RowOps& ops = simd::rowops();
  detail::TwoRowCache cache(3 * cw);
  auto horizontal = [&](int src_row, int32_t* planes) {
    ops.hpass_planar3(bgr.row(src_row), xindex.data(), xw1.data(), planes, planes + cw,
                      planes + 2 * cw, simd_end, static_cast<int>(cw));
  };

  const bool nchw = spec.layout == Layout::NCHW;
  std::vector<float> planar_row(nchw ? 0 : 3 * cw);  // NHWC: one row, planar, then interleaved
  for (ptrdiff_t y = 0; y < H; ++y) {
    float* planes[3];
    for (int k = 0; k < 3; ++k) {
      planes[k] = nchw ? out + k * H * W + y * W : planar_row.data() + k * cw;
    }
    ptrdiff_t filled = 0;
    if (y < ch) {
      const int y0 = yindex[y], w1 = yw1[y];
      // A zero weight needs no second row (clamped last rows, and exact sampling positions).
      const int y1 = w1 == 0 ? y0 : std::min(y0 + 1, bgr.height - 1);
      const int32_t* top = cache.get(y0, y1, horizontal);
      const int32_t* bottom = cache.get(y1, y0, horizontal);
      for (int k = 0; k < 3; ++k) {
        const ptrdiff_t c = src_channel[k];
        ops.vpass_norm(top + c * cw, bottom + c * cw, simd::kWeightOne - w1, w1, spec.mean[k],
                       spec.scale[k], planes[k], static_cast<int>(cw));
      }
      filled = cw;
    }
    if (nchw) {
      for (int k = 0; k < 3; ++k) std::fill(planes[k] + filled, planes[k] + W, pad[k]);
    } else {
      float* o = out + y * W * 3;
      ops.interleave3_f32(planes[0], planes[1], planes[2], o, static_cast<int>(filled));
      for (ptrdiff_t x = filled; x < W; ++x) {
        for (int k = 0; k < 3; ++k) o[x * 3 + k] = pad[k];
      }
    }
  }
  return g;
}

}  // namespace fastfer
