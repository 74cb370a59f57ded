// fastfer's model manifest (manifest.json: python/fastfer/models in the repository, fastfer/models
// in the installed Python package) read into the C++ API's configurations, and a model file
// checked against its entry. The keys are those of the typed spec in
// python/fastfer/models/schema.py, from which Python's fastfer.FER builds the same configurations;
// DetectorConfig::validate and ClassifierConfig::validate (cpp/src/pipeline_config.cpp) check both.
//
// This header names no JSON or crypto type (model_manifest.cpp holds nlohmann/json and
// libcrypto), so a program that includes it needs neither library's headers.
#pragma once

#include <fastfer/pipeline.h>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace example {

// A manifest that cannot be read, or an entry that lacks a key or holds a value of the wrong
// type or range: one line that names the file and the key ("models.yunet.decoder.steps").
class ManifestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where a model's file is and what it must hold.
struct ModelFile {
  std::string name;     // the manifest's name for the model, e.g. "fernet"
  std::string path;     // the manifest's folder + the entry's "file" (a plain file name)
  std::string sha256;   // 64 lowercase hex digits
  long long size = -1;  // bytes; -1 when the entry gives no "size"
};

class Manifest {
 public:
  // Parses a manifest's text; `path` names it in messages and its folder holds the model files.
  // Only the top level is checked here: each entry is checked when it is used, so a program is
  // not stopped by an entry it does not use.
  Manifest(const std::vector<char>& text, const std::string& path);
  ~Manifest();

  // The names of the manifest's models of one task ("detector" or "classifier").
  std::vector<std::string> names(const std::string& task) const;

  // The entry's file, sha256 and size; throws ManifestError for a name the manifest lacks or an
  // entry of another task.
  ModelFile file(const std::string& name, const std::string& task) const;

  // The entry as the C++ API takes it, with FER's Detector defaults for what the manifest does
  // not say (long side at most kDefaultMaxSide, NMS IoU kDefaultNmsIou, at most 1000 faces) and
  // FER(min_face=min_face)'s input-size policy (0: off, the whole image).
  fastfer::DetectorConfig detector_config(const std::string& name, int min_face) const;
  fastfer::ClassifierConfig classifier_config(const std::string& name) const;

 private:
  struct Impl;
  std::unique_ptr<const Impl> impl_;
};

// The SHA-256 of the bytes, as 64 lowercase hex digits (OpenSSL's libcrypto).
std::string sha256_hex(const void* data, std::size_t size);

// Refuses (std::runtime_error) bytes whose size or sha256 differ from the manifest's: a model
// file that was corrupted or replaced is never loaded.
void check_model_bytes(const ModelFile& model, const std::vector<char>& bytes);

}  // namespace example
