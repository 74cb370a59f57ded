// Borrowed views of 8-bit images, as every kernel takes them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastfer {

// Rows may be strided (row_stride bytes apart, row_stride >= width * channels); the pixels inside a
// row are packed, channel-interleaved (BGR for colour images unless a kernel says otherwise).
struct ImageView {
  const uint8_t* data = nullptr;
  int height = 0;
  int width = 0;
  int channels = 0;
  ptrdiff_t row_stride = 0;

  const uint8_t* row(int y) const { return data + static_cast<ptrdiff_t>(y) * row_stride; }
};

struct MutableImageView {
  uint8_t* data = nullptr;
  int height = 0;
  int width = 0;
  int channels = 0;
  ptrdiff_t row_stride = 0;

  uint8_t* row(int y) const { return data + static_cast<ptrdiff_t>(y) * row_stride; }
};

// Throws std::invalid_argument naming `what` when the view is empty, has a null pointer, a
// channel count outside [min_channels, max_channels] or a row stride too small for its width.
void check_image(const ImageView& image, const char* what, int min_channels, int max_channels);
void check_image(const MutableImageView& image, const char* what, int min_channels,
                 int max_channels);

// Output tensor layout of the fused input kernels.
enum class Layout { NCHW, NHWC };

}  // namespace fastfer
