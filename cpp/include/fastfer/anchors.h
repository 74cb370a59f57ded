// Prior boxes ("anchors") of the SSD-style face detectors (RetinaFace, BlazeFace).
//
// The layout is data, not code: a list of feature-map levels, each with a stride and a few square
// anchor sizes, so one function serves every detector. The numpy twin and the full description
// live in python/fastfer/_reference/detect.py (make_anchors).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastfer {

// The most anchors make_anchors will produce: a typo in a size or stride should fail loudly,
// not allocate gigabytes.
constexpr int64_t kMaxAnchors = 50000000;

// Validates a layout and returns its anchor count. Level l has stride steps[l] and
// sizes_per_level[l] anchor sizes; the sizes of all levels are stored one level after another in
// min_sizes. Throws std::invalid_argument when height or width < 1, levels < 1, a stride < 1, a
// level has no sizes, a size is not finite and > 0, or the count exceeds kMaxAnchors.
int64_t anchor_count(int64_t height, int64_t width, const int64_t* steps,
                     const ptrdiff_t* sizes_per_level, const double* min_sizes, ptrdiff_t levels);

// Validates a layout as anchor_count() does, and that every value make_anchors() would write fits
// float32 (huge sizes or offsets would otherwise become silent infinities): std::invalid_argument.
void check_anchor_values(int64_t height, int64_t width, const int64_t* steps,
                         const ptrdiff_t* sizes_per_level, const double* min_sizes,
                         ptrdiff_t levels, double offset);

// Writes the anchor_count() anchors as rows (cx, cy, w, h), normalised to width/height, into
// out (4 floats per anchor). Order: level, feature-map row, column, size. The centre of cell
// (i, j) is ((j + offset) * step / width, (i + offset) * step / height); computed in double and
// rounded once, so the numpy twin gets the same bits. Throws like check_anchor_values.
void make_anchors(int64_t height, int64_t width, const int64_t* steps,
                  const ptrdiff_t* sizes_per_level, const double* min_sizes, ptrdiff_t levels,
                  double offset, float* out);

}  // namespace fastfer
