// The fused face-input kernel: crop (by box) or align (by 5 landmarks) every face of an image,
// resample to S×S, optionally to grey, normalise, and write one float32 batch tensor.
#pragma once

#include <cstddef>

#include "fastfer/image.h"

namespace fastfer {

// A 2×3 affine map, row-major: x = m[0]*u + m[1]*v + m[2], y = m[3]*u + m[4]*v + m[5].
struct Affine {
  double m[6] = {1, 0, 0, 0, 1, 0};
};

struct FaceInputSpec {
  int size = 64;        // S: output faces are S×S
  bool gray = false;    // one grey channel (OpenCV's BT.601 weights) instead of three
  bool rgb = true;      // colour output order (source is BGR); ignored for grey
  // out = (value - mean[k]) * scale[k] per output channel (only [0] is used for grey).
  float mean[3] = {0.f, 0.f, 0.f};
  float scale[3] = {1.f, 1.f, 1.f};
  Layout layout = Layout::NCHW;
};

// InsightFace's 5-point template for 112×112 crops (eyes, nose tip, mouth corners, in pixel-centre
// coordinates): the default alignment target, scaled by S / 112.
constexpr double kFivePointTemplate112[10] = {38.2946, 51.6963, 73.5318, 51.5014, 56.0252,
                                              71.7366, 41.5493, 92.3655, 70.7299, 92.2041};

// The sampling map (output pixel -> source pixel) that crops the box (x1, y1, x2, y2, in pixel-edge
// coordinates) to S×S: the box is first made square around its centre (square = true: its long
// side) and grown by margin × its size on each side.
Affine box_crop_affine(const double box[4], double margin, bool square, int size);

// The least-squares similarity (rotation, uniform scale, translation; no reflection) that maps
// src points onto dst points (n >= 2 pairs of (x, y)), in closed form. Throws when the src points
// all coincide.
Affine similarity_transform(const double* src, const double* dst, int n);

// The inverse map. Throws when the map is singular.
Affine invert_affine(const Affine& a);

// Samples each face through its map (output pixel centre (u, v), integer coordinates as OpenCV's
// warpAffine, to source (x, y)): bilinear, 11-bit fixed-point weights, one rounding to uint8, then
// grey conversion if asked, then normalisation. Pixels outside the image take the value of the
// nearest edge pixel (clamp-to-edge, as cv2.BORDER_REPLICATE).
// out: n × C × S × S (NCHW) or n × S × S × C (NHWC) floats, C = 1 (grey) or 3.
void face_input(const ImageView& bgr, const Affine* maps, ptrdiff_t n, const FaceInputSpec& spec,
                float* out);

// Throws std::invalid_argument for a size outside [1, 4096] or non-finite mean/scale.
void check_face_input_spec(const FaceInputSpec& spec);

}  // namespace fastfer
