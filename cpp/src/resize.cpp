#include "fastfer/resize.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "sampling.h"
#include "simd/rowops.h"

namespace fastfer {

namespace {

// 3 and 4 channels: horizontal pass per source row (one pixel's channels per SIMD lane), cached
// across output rows, then a vertical pass per output row.
void resize_horizontal_first(const ImageView& src, const MutableImageView& dst,
                             std::vector<int32_t>& xindex, const std::vector<int32_t>& xw1,
                             const std::vector<int32_t>& yindex, const std::vector<int32_t>& yw1,
                             const simd::RowOps& ops) {
  const int C = src.channels;
  for (auto& x : xindex) x *= C;  // pixel index -> byte offset in a row
  const int simd_end = detail::simd_safe_end(xindex.data(), dst.width,
                                             static_cast<ptrdiff_t>(src.width) * C, 16);
  detail::TwoRowCache cache(4 * static_cast<ptrdiff_t>(dst.width));
  auto horizontal = [&](int src_row, int32_t* out) {
    ops.hpass_quad(src.row(src_row), C, xindex.data(), xw1.data(), out, simd_end, dst.width);
  };
  for (int y = 0; y < dst.height; ++y) {
    const int y0 = yindex[y], w1 = yw1[y];
    const int y1 = w1 == 0 ? y0 : std::min(y0 + 1, src.height - 1);  // zero weight: one row
    const int32_t* top = cache.get(y0, y1, horizontal);
    const int32_t* bottom = cache.get(y1, y0, horizontal);
    ops.vpass_quad_u8(top, bottom, simd::kWeightOne - w1, w1, C, dst.row(y), dst.width);
  }
}

// 1 and 2 channels: vertical blend of two whole source rows (contiguous, SIMD-friendly), then a
// horizontal gather per output element.
void resize_vertical_first(const ImageView& src, const MutableImageView& dst,
                           const std::vector<int32_t>& xindex, const std::vector<int32_t>& xw1,
                           const std::vector<int32_t>& yindex, const std::vector<int32_t>& yw1,
                           const simd::RowOps& ops) {
  const int C = src.channels;
  const ptrdiff_t out_elems = static_cast<ptrdiff_t>(dst.width) * C;
  std::vector<int32_t> eofs(out_elems), ew1(out_elems);
  for (int x = 0; x < dst.width; ++x) {
    for (int c = 0; c < C; ++c) {
      eofs[static_cast<ptrdiff_t>(x) * C + c] = xindex[x] * C + c;
      ew1[static_cast<ptrdiff_t>(x) * C + c] = xw1[x];
    }
  }
  const ptrdiff_t row_elems = static_cast<ptrdiff_t>(src.width) * C;
  std::vector<int32_t> blended(row_elems + C, 0);  // + C: the clamped last pixel's neighbour
  for (int y = 0; y < dst.height; ++y) {
    const int y0 = yindex[y];
    const int y1 = std::min(y0 + 1, src.height - 1);
    ops.vblend_u8(src.row(y0), src.row(y1), simd::kWeightOne - yw1[y], yw1[y], blended.data(),
                  row_elems);
    ops.hblend_u8(blended.data(), eofs.data(), ew1.data(), C, dst.row(y),
                  static_cast<int>(out_elems));
  }
}

}  // namespace

void resize_bilinear(const ImageView& src, const MutableImageView& dst) {
  check_image(src, "resize source", 1, 4);
  check_image(dst, "resize destination", 1, 4);
  if (src.channels != dst.channels) {
    throw std::invalid_argument("resize: source and destination channel counts differ");
  }
  const int C = src.channels;
  std::vector<int32_t> xindex(dst.width), xw1(dst.width), yindex(dst.height), yw1(dst.height);
  detail::map_axis(src.width, dst.width, static_cast<double>(src.width) / dst.width, xindex.data(),
                   xw1.data());
  detail::map_axis(src.height, dst.height, static_cast<double>(src.height) / dst.height,
                   yindex.data(), yw1.data());

  // Both orders give the same exact integers before the one final rounding (bilinear weights are
  // separable), so the choice is only about speed.
  const simd::RowOps& ops = simd::rowops();
  if (C >= 3) {
    resize_horizontal_first(src, dst, xindex, xw1, yindex, yw1, ops);
  } else {
    resize_vertical_first(src, dst, xindex, xw1, yindex, yw1, ops);
  }
}

}  // namespace fastfer
