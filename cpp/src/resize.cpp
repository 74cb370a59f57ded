#include "fastfer/resize.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "sampling.h"
#include "simd/rowops.h"

namespace fastfer {

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

  // Per output element (pixel x, channel c): its offset in the blended row and its weight.
  const ptrdiff_t out_elems = static_cast<ptrdiff_t>(dst.width) * C;
  std::vector<int32_t> eofs(out_elems), ew1(out_elems);
  for (int x = 0; x < dst.width; ++x) {
    for (int c = 0; c < C; ++c) {
      eofs[static_cast<ptrdiff_t>(x) * C + c] = xindex[x] * C + c;
      ew1[static_cast<ptrdiff_t>(x) * C + c] = xw1[x];
    }
  }

  // Vertical pass first (one contiguous, SIMD-friendly blend of two source rows), then the
  // horizontal gather. In exact integer arithmetic the order does not change the result.
  const ptrdiff_t row_elems = static_cast<ptrdiff_t>(src.width) * C;
  std::vector<int32_t> blended(row_elems + C, 0);  // + C: the clamped last pixel's neighbour
  const simd::RowOps& ops = simd::rowops();
  for (int y = 0; y < dst.height; ++y) {
    const int y0 = yindex[y];
    const int y1 = std::min(y0 + 1, src.height - 1);
    ops.vblend_u8(src.row(y0), src.row(y1), simd::kWeightOne - yw1[y], yw1[y], blended.data(),
                  row_elems);
    ops.hblend_u8(blended.data(), eofs.data(), ew1.data(), C, dst.row(y),
                  static_cast<int>(out_elems));
  }
}

}  // namespace fastfer
