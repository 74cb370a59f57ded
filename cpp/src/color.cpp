#include "fastfer/color.h"

#include <stdexcept>

#include "simd/rowops.h"

namespace fastfer {

void to_gray(const ImageView& src, bool bgr, const MutableImageView& dst) {
  check_image(src, "to_gray source", 3, 4);
  check_image(dst, "to_gray destination", 1, 1);
  if (src.width != dst.width || src.height != dst.height) {
    throw std::invalid_argument("to_gray: source and destination sizes differ");
  }
  // OpenCV's BT.601 weights in 1/16384ths (they sum to 16384, so white stays 255).
  constexpr int32_t kB = 1868, kG = 9617, kR = 4899;
  const int32_t c0 = bgr ? kB : kR, c2 = bgr ? kR : kB;
  const simd::RowOps& ops = simd::rowops();
  for (int y = 0; y < src.height; ++y) {
    ops.gray_row(src.row(y), src.channels, c0, kG, c2, dst.row(y), src.width);
  }
}

}  // namespace fastfer
