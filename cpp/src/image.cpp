#include "fastfer/image.h"

#include <stdexcept>
#include <string>

namespace fastfer {
namespace {

void check_geometry(const void* data, int height, int width, int channels, ptrdiff_t row_stride,
                    const char* what, int min_channels, int max_channels) {
  const std::string name(what);
  if (data == nullptr) throw std::invalid_argument(name + ": null image data");
  if (height <= 0 || width <= 0) {
    throw std::invalid_argument(name + ": image must be non-empty, got " + std::to_string(height) +
                                "x" + std::to_string(width));
  }
  if (channels < min_channels || channels > max_channels) {
    throw std::invalid_argument(name + ": expected " + std::to_string(min_channels) +
                                (min_channels == max_channels
                                     ? std::string()
                                     : " to " + std::to_string(max_channels)) +
                                " channels, got " + std::to_string(channels));
  }
  // Offsets inside a row are int32 in the SIMD kernels.
  if (static_cast<long long>(width) * channels > (1LL << 31) - 64) {
    throw std::invalid_argument(name + ": a row of " + std::to_string(width) + " pixels is too wide");
  }
  if (row_stride < static_cast<ptrdiff_t>(width) * channels) {
    throw std::invalid_argument(name + ": row stride " + std::to_string(row_stride) +
                                " is smaller than a row (" + std::to_string(width * channels) +
                                " bytes)");
  }
}

}  // namespace

void check_image(const ImageView& image, const char* what, int min_channels, int max_channels) {
  check_geometry(image.data, image.height, image.width, image.channels, image.row_stride, what,
                 min_channels, max_channels);
}

void check_image(const MutableImageView& image, const char* what, int min_channels,
                 int max_channels) {
  check_geometry(image.data, image.height, image.width, image.channels, image.row_stride, what,
                 min_channels, max_channels);
}

}  // namespace fastfer
