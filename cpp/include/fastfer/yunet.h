// YuNet's face score (libfacedetection.train's anchor-free detector). YuNet's boxes and landmarks
// decode like RetinaFace's with priors (j*S, i*S, S, S) and variances (1, 1) (anchors.h,
// decode.h); only its score, from two heads, is its own. The numpy twin and the full description
// live in python/fastfer/_reference/yunet.py.
#pragma once

#include <cstddef>

namespace fastfer {

// out[a] = sqrt(clamp(cls[a], 0, 1) * clamp(obj[a], 0, 1)), the geometric mean of the class and
// objectness probabilities (OpenCV's FaceDetectorYN score), `count` values. The product of two
// floats is exact in double and sqrt is correctly rounded, so the twin gets the same bits.
// Throws std::invalid_argument when count < 0.
void yunet_scores(const float* cls, const float* obj, ptrdiff_t count, float* out);

}  // namespace fastfer
