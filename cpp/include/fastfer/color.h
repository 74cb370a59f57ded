// Colour to grey.
#pragma once

#include "fastfer/image.h"

namespace fastfer {

// Converts a 3- or 4-channel image (BGR[A] when bgr is true, else RGB[A]) to one grey channel with
// OpenCV 4's fixed-point BT.601 weights (0.114 B + 0.587 G + 0.299 R in 1/16384ths): identical to
// OpenCV 4's cv2.cvtColor(..., COLOR_BGR2GRAY), within 1 grey level of OpenCV 5's (which rounds
// differently). dst must be 1-channel and the same size.
void to_gray(const ImageView& src, bool bgr, const MutableImageView& dst);

}  // namespace fastfer
