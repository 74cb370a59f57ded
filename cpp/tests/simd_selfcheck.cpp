// Runs the SIMD-dispatched kernels on random inputs at every SIMD level this build and CPU offer
// and checks each gives exactly what the scalar path gives. The Python tests do this through the
// bindings on the build machine; this program exists for other architectures (tools/check_aarch64.sh
// runs it under qemu), where the Python stack is not at hand.
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "fastfer/color.h"
#include "fastfer/cpu.h"
#include "fastfer/detector_input.h"
#include "fastfer/face_input.h"
#include "fastfer/nms.h"
#include "fastfer/resize.h"

using namespace fastfer;

namespace {

struct Outputs {
  std::vector<uint8_t> resized, gray;
  std::vector<float> tensor, faces;
  std::vector<int64_t> kept;
};

Outputs run_all(const std::vector<uint8_t>& pixels, int h, int w, int c, int ow, int oh,
                const std::vector<float>& boxes, const std::vector<float>& scores) {
  Outputs o;
  const ImageView src{pixels.data(), h, w, c, static_cast<ptrdiff_t>(w) * c};
  o.resized.resize(static_cast<size_t>(ow) * oh * c);
  resize_bilinear(src, MutableImageView{o.resized.data(), oh, ow, c, static_cast<ptrdiff_t>(ow) * c});
  if (c >= 3) {
    o.gray.resize(static_cast<size_t>(w) * h);
    to_gray(src, c == 3, MutableImageView{o.gray.data(), h, w, 1, w});
  }
  if (c == 3) {
    DetectorInputSpec spec;
    spec.max_side = ow;
    spec.mean[0] = 10.f;
    spec.scale[2] = 0.5f;
    const DetectorInputGeometry g = detector_input_geometry(h, w, spec);
    o.tensor.resize(static_cast<size_t>(3) * g.width * g.height);
    detector_input(src, spec, o.tensor.data());
    FaceInputSpec face;
    face.size = 24;
    const double box[4] = {-3.0, -1.5, w * 0.7 + 1.0, h * 0.9 + 1.0};
    const Affine map = box_crop_affine(box, 0.1, true, face.size);
    o.faces.resize(3 * 24 * 24);
    face_input(src, &map, 1, face, o.faces.data());
  }
  NmsParams params;
  params.iou_threshold = 0.3;
  o.kept.resize(scores.size());
  o.kept.resize(static_cast<size_t>(nms(boxes.data(), scores.data(),
                                        static_cast<ptrdiff_t>(scores.size()), params, o.kept.data())));
  return o;
}

bool same(const Outputs& a, const Outputs& b) {
  return a.resized == b.resized && a.gray == b.gray && a.kept == b.kept &&
         a.tensor.size() == b.tensor.size() && a.faces.size() == b.faces.size() &&
         std::memcmp(a.tensor.data(), b.tensor.data(), a.tensor.size() * sizeof(float)) == 0 &&
         std::memcmp(a.faces.data(), b.faces.data(), a.faces.size() * sizeof(float)) == 0;
}

}  // namespace

int main() {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> size(1, 90), byte(0, 255), chan(1, 4);
  std::uniform_real_distribution<float> coord(0.f, 100.f), extent(1.f, 40.f), unit(0.f, 1.f);
  int failures = 0, cases = 0;
  for (int it = 0; it < 300; ++it) {
    const int h = size(rng), w = size(rng), c = it % 2 ? 3 : chan(rng), ow = size(rng), oh = size(rng);
    std::vector<uint8_t> pixels(static_cast<size_t>(h) * w * c);
    for (auto& p : pixels) p = static_cast<uint8_t>(byte(rng));
    std::vector<float> boxes, scores;
    for (int b = 0; b < 60; ++b) {
      const float x = coord(rng), y = coord(rng);
      boxes.insert(boxes.end(), {x, y, x + extent(rng), y + extent(rng)});
      scores.push_back(unit(rng));
    }
    set_simd_level(SimdLevel::Scalar);
    const Outputs reference = run_all(pixels, h, w, c, ow, oh, boxes, scores);
    for (SimdLevel level : available_simd_levels()) {
      set_simd_level(level);
      ++cases;
      if (!same(reference, run_all(pixels, h, w, c, ow, oh, boxes, scores))) {
        std::printf("MISMATCH level=%s h=%d w=%d c=%d out=%dx%d\n", simd_level_name(level), h, w, c, ow, oh);
        ++failures;
      }
    }
  }
  std::printf("levels:");
  for (SimdLevel level : available_simd_levels()) std::printf(" %s", simd_level_name(level));
  std::printf("\n%d cases, %d mismatches\n", cases, failures);
  return failures == 0 ? 0 : 1;
}
