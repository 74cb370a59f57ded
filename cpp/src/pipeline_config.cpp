// DetectorConfig::validate and ClassifierConfig::validate: every rule a configuration must keep,
// checked once, in C++, whoever built it (the Python bindings, a C++ program).
#include <cmath>
#include <stdexcept>
#include <string>

#include "detectors/family.h"
#include "fastfer/nms.h"
#include "fastfer/pipeline.h"

namespace fastfer {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument(what); }

bool in_unit_interval(double v) { return std::isfinite(v) && v >= 0.0 && v <= 1.0; }

void check_output_count(const DetectorConfig& det) {
  const detectors::DetectorFamily& family = detectors::detector_family(det.kind);
  const size_t wanted = family.output_count(det);
  if (det.output_names.size() != wanted) {
    fail(std::string("the ") + family.name + " decoder needs " + std::to_string(wanted) +
         " output names (" + family.output_roles + "), got " +
         std::to_string(det.output_names.size()));
  }
}

void check_anchors(const DetectorConfig& det) {
  if (det.steps.empty()) fail("detector steps must not be empty");
  for (int64_t s : det.steps)
    if (s < 1 || s > 4096) fail("detector steps must be in [1, 4096], got " + std::to_string(s));
  if (det.min_sizes.size() != det.steps.size())
    fail("detector min_sizes needs one list per step: " + std::to_string(det.steps.size()) +
         " steps, " + std::to_string(det.min_sizes.size()) + " lists");
  for (const auto& level : det.min_sizes) {
    if (level.empty()) fail("detector min_sizes: a level has no sizes");
    for (double v : level)
      if (!std::isfinite(v) || v <= 0)
        fail("detector min_sizes must be finite and > 0, got " + std::to_string(v));
  }
  if (!std::isfinite(det.anchor_offset)) fail("detector anchor offset must be finite");
}

void check_size_policy(const DetectorConfig& det) {
  const std::string range = " must be in [0, " + std::to_string(kMaxSizePolicySide) + "], got ";
  if (det.input.max_side < 0 || det.input.max_side > kMaxSizePolicySide)
    fail("max_side" + range + std::to_string(det.input.max_side));
  if (det.min_face < 0 || det.min_face > kMaxSizePolicySide)
    fail("min_face" + range + std::to_string(det.min_face));
  if (det.min_face_px < 0 || det.min_face_px > kMaxSizePolicySide)
    fail("min_face_px" + range + std::to_string(det.min_face_px) + " (0: not measured)");
  if (det.min_face > 0 && det.input.fixed_width == 0 && det.min_face_px == 0)
    fail("min_face needs the detector's smallest reliable face (decoder min_face_px) in [1, " +
         std::to_string(kMaxSizePolicySide) + "], got 0");
  try {
    detector_input_geometry(64, 64, det.input);  // validates the input spec
  } catch (const std::invalid_argument& e) {
    fail(std::string("detector input: ") + e.what());
  }
}

void check_selection(const DetectorConfig& det) {
  if (!in_unit_interval(det.score_threshold))
    fail("score_threshold must be in [0, 1], got " + std::to_string(det.score_threshold));
  if (!in_unit_interval(det.nms_iou))
    fail("nms_iou must be in [0, 1], got " + std::to_string(det.nms_iou));
  if (det.max_faces < 1 || det.max_faces > kMaxFaces)
    fail("max_faces must be in [1, " + std::to_string(kMaxFaces) + "], got " +
         std::to_string(det.max_faces));
  if (det.pre_nms_top_k < 1 || det.pre_nms_top_k > kMaxNmsCandidates) {
    fail("pre_nms_top_k must be in [1, " + std::to_string(kMaxNmsCandidates) + "], got " +
         std::to_string(det.pre_nms_top_k));
  }
}

}  // namespace

void DetectorConfig::validate() const {
  check_output_count(*this);
  check_anchors(*this);
  detectors::detector_family(kind).validate(*this);
  check_size_policy(*this);
  check_selection(*this);
}

void ClassifierConfig::validate() const {
  try {
    check_face_input_spec(input);
  } catch (const std::invalid_argument& e) {
    fail(std::string("classifier input: ") + e.what());
  }
  if (!std::isfinite(margin) || margin < 0 || margin > 10)
    fail("classifier crop margin must be in [0, 10], got " + std::to_string(margin));
  std::array<bool, 7> seen{};
  for (int c : label_columns) {
    if (c < 0 || c > 6 || seen[c]) fail("classifier label_columns must be a permutation of 0..6");
    seen[c] = true;
  }
}

}  // namespace fastfer
