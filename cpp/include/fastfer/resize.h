// Bilinear resize of 8-bit images.
#pragma once

#include "fastfer/image.h"

namespace fastfer {

// Resizes src into dst (same channel count, 1 to 4, any sizes >= 1), with OpenCV's INTER_LINEAR
// rule: output pixel x samples source x' = (x + 0.5) * src_w / dst_w - 0.5, clamped to the image,
// with 11-bit fixed-point weights and one rounding at the end (results within 1 grey level of
// cv2.resize, identical across SIMD paths and to the numpy twin).
void resize_bilinear(const ImageView& src, const MutableImageView& dst);

}  // namespace fastfer
