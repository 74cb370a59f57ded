// Bounds on the work and memory of one kernel call, shared by the kernels and their bindings.
//
// A service passes strangers' data (and sizes derived from it) to these kernels; each bound turns
// a request that would take minutes or gigabytes into a std::invalid_argument at once. The numpy
// twins (python/fastfer/_reference/_checks.py) hold the same numbers and refuse the same inputs.
#pragma once

#include <cstdint>

namespace fastfer {

// The most values (elements, whatever their type) one call of resize, detector_input or
// face_input may write: 2^28, 1 GiB of float32. Far above any detector or classifier input.
constexpr int64_t kMaxOutputElements = int64_t{1} << 28;

// Throws std::invalid_argument unless (p - mean) * scale is finite in float32 for every pixel value
// p in 0..255 (what the normalising kernels compute): an overflowing scale would fill the tensor
// with infinities. `what` names the kernel in the message.
void check_normalisation(const float mean[3], const float scale[3], const char* what);

}  // namespace fastfer
