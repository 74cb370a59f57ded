// The fused detector-input kernel: BGR uint8 image -> normalised float tensor, in one pass.
#pragma once

#include "fastfer/image.h"

namespace fastfer {

// Dynamic-size inputs are padded to a multiple of this unless a spec says otherwise.
inline constexpr int kDefaultPadMultiple = 32;

struct DetectorInputSpec {
  // Dynamic-size models: shrink (never enlarge) so the long side is at most max_side
  // (0 = keep the image's size), then pad right and bottom up to a multiple of pad_multiple.
  int max_side = 0;
  int pad_multiple = kDefaultPadMultiple;
  // Fixed-size models: when both are > 0, scale the image (up or down) to fit inside
  // fixed_width × fixed_height, keeping its aspect ratio, and pad right/bottom to exactly that size.
  int fixed_width = 0;
  int fixed_height = 0;
  // Output channel order: RGB when true, BGR when false (the source is always BGR).
  bool rgb = true;
  // out = (pixel - mean[k]) * scale[k], k in output channel order. Padding is a black pixel
  // normalised the same way, (0 - mean[k]) * scale[k]: a model sees padding as black borders.
  float mean[3] = {0.f, 0.f, 0.f};
  float scale[3] = {1.f, 1.f, 1.f};
  Layout layout = Layout::NCHW;
};

struct DetectorInputGeometry {
  int width = 0;           // tensor width (padded)
  int height = 0;          // tensor height (padded)
  int content_width = 0;   // the resized image inside it, at the top left
  int content_height = 0;
  // Tensor pixel = image pixel * scale: divide tensor coordinates by it to map boxes back.
  double scale = 1.0;
};

// The tensor size for an image of this size; validates the spec (std::invalid_argument).
DetectorInputGeometry detector_input_geometry(int image_height, int image_width,
                                              const DetectorInputSpec& spec);

// Writes the 1×3×H×W (NCHW) or 1×H×W×3 (NHWC) tensor into out (3·H·W floats, H and W from
// detector_input_geometry). Resampling is bilinear (the resize kernel's rule, with the exact scale
// returned, so coordinates map back exactly); every output element is written once.
DetectorInputGeometry detector_input(const ImageView& bgr, const DetectorInputSpec& spec,
                                     float* out);

}  // namespace fastfer
