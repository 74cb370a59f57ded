// fastfer's model manifest read into fastfer::DetectorConfig / ClassifierConfig: see
// model_manifest.h. JSON: nlohmann/json (Debian's nlohmann-json3-dev); SHA-256: OpenSSL's
// libcrypto (libssl-dev); the example's CMakeLists.txt finds both and says what it found.
#include "model_manifest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace example {

namespace {

using nlohmann::json;

// The most of a wrong value a message quotes: enough to recognise it, short enough for one line.
constexpr std::size_t kQuoted = 60;

// A value of the manifest with its place in it, so that every refusal is one line naming the file
// and the key ("models.yunet.decoder.steps[1]"). Checks types and ranges on access: a broken
// entry stops the program with that line, never with an exception from deep inside the library.
class Value {
 public:
  Value(const json& j, const std::string& file, std::string path)
      : j_(&j), file_(&file), path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw ManifestError(*file_ + ": " + (path_.empty() ? "" : path_ + ": ") + why);
  }

  // A required member: its absence names the key.
  Value at(const std::string& key) const {
    std::optional<Value> v = find(key);
    if (!v) fail("missing key '" + key + "'");
    return *v;
  }

  // An optional member. null is a wrong type like any other, except where `null_is_absent` (a
  // classifier's crop and decoder, which Python's spec reading and the bindings take as absent).
  std::optional<Value> find(const std::string& key, bool null_is_absent = false) const {
    const json& o = object();
    const auto it = o.find(key);
    if (it == o.end() || (null_is_absent && it->is_null())) return std::nullopt;
    return Value(*it, *file_, path_.empty() ? key : path_ + "." + key);
  }

  const json& object() const {
    if (!j_->is_object()) wrong("an object");
    return *j_;
  }

  std::vector<Value> list() const {
    if (!j_->is_array()) wrong("a list");
    std::vector<Value> items;
    for (std::size_t i = 0; i < j_->size(); ++i)
      items.emplace_back((*j_)[i], *file_, path_ + "[" + std::to_string(i) + "]");
    return items;
  }

  bool is_string() const { return j_->is_string(); }
  bool is_number() const { return j_->is_number(); }  // never a bool in nlohmann/json

  std::string text() const {
    if (!j_->is_string()) wrong("a string");
    return j_->get<std::string>();
  }

  // A tensor name: ONNX Runtime looks it up, and an empty one is never right.
  std::string name() const {
    std::string s = text();
    if (s.empty()) fail("must be a non-empty name");
    return s;
  }

  double number() const {
    if (!j_->is_number()) wrong("a number");
    const double x = j_->get<double>();
    if (!std::isfinite(x)) fail("must be finite");
    return x;
  }

  // A whole number in [lo, hi] (a float with an integral value counts, as in the bindings).
  long long integer(long long lo, long long hi) const {
    if (!j_->is_number()) wrong("an integer");
    const double x = j_->get<double>();
    if (x != std::floor(x)) wrong("an integer");
    if (x < static_cast<double>(lo) || x > static_cast<double>(hi))
      fail("must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + quoted());
    return j_->is_number_integer() ? j_->get<long long>() : static_cast<long long>(x);
  }

  bool boolean() const {
    if (!j_->is_boolean()) wrong("true or false");
    return j_->get<bool>();
  }

  [[noreturn]] void wrong(const std::string& expected) const {
    fail("expected " + expected + ", got " + j_->type_name() +
         (j_->is_null() ? "" : " " + quoted()));
  }

 private:
  std::string quoted() const {
    std::string s = j_->dump(-1, ' ', false, json::error_handler_t::replace);
    return s.size() > kQuoted ? s.substr(0, kQuoted) + "..." : s;
  }

  const json* j_;
  const std::string* file_;
  std::string path_;
};

// mean / scale: one number, or a list of 1 or `channels` numbers (as the kernels take them).
void per_channel(const Value& v, int channels, float out[3]) {
  std::vector<double> values;
  if (v.is_number()) {
    values.push_back(v.number());
  } else {
    for (const Value& item : v.list()) values.push_back(item.number());
  }
  if (values.size() != 1 && values.size() != static_cast<std::size_t>(channels))
    v.fail((channels == 1 ? std::string("expected 1 value") : "expected 1 or 3 values") + ", got " +
           std::to_string(values.size()));
  for (int k = 0; k < 3; ++k)
    out[k] = static_cast<float>(values[values.size() == 1 ? 0 : std::min(k, channels - 1)]);
}

fastfer::Layout layout(const Value& v) {
  const std::string s = v.text();
  if (s == "nchw") return fastfer::Layout::NCHW;
  if (s == "nhwc") return fastfer::Layout::NHWC;
  v.fail("must be \"nchw\" or \"nhwc\", got \"" + s + "\"");
}

// The decoder kind, and the output names in the order of its roles: RetinaFace's boxes,
// landmarks, scores; BlazeFace's regressors, scores; YuNet's cls, obj, bbox and kps heads, each
// once per step (cls_8, cls_16, cls_32, obj_8, ...), as fastfer::DetectorConfig wants them.
void read_detector_outputs(const Value& decoder, const Value& outputs, fastfer::DetectorConfig& c) {
  const Value kind_value = decoder.at("kind");
  const std::string kind = kind_value.text();
  std::vector<std::string> roles;
  if (kind == "retinaface") {
    c.kind = fastfer::DetectorKind::RetinaFace;
    roles = {"boxes", "landmarks", "scores"};
  } else if (kind == "blazeface") {
    c.kind = fastfer::DetectorKind::BlazeFace;
    roles = {"regressors", "scores"};
  } else if (kind == "yunet") {
    c.kind = fastfer::DetectorKind::YuNet;
    const std::vector<Value> steps = decoder.at("steps").list();
    for (const char* head : {"cls", "obj", "bbox", "kps"})
      for (const Value& step : steps)
        roles.push_back(std::string(head) + "_" + std::to_string(step.integer(1, 4096)));
  } else {
    kind_value.fail("unknown detector kind \"" + kind + "\" (retinaface, blazeface or yunet)");
  }
  c.output_names.clear();
  for (const std::string& role : roles) c.output_names.push_back(outputs.at(role).name());
}

// The input name, size (fixed, or dynamic up to kDefaultMaxSide), colour, mean/scale, layout.
void read_detector_input(const Value& input, fastfer::DetectorConfig& c) {
  if (auto name = input.find("name")) c.input_name = name->name();
  const Value size = input.at("size");
  if (size.is_string()) {
    if (size.text() != "dynamic") size.fail("must be \"dynamic\" or [width, height]");
    c.input.max_side = fastfer::kDefaultMaxSide;  // FER's max_side
    auto pad = input.find("pad_multiple");
    c.input.pad_multiple = pad ? static_cast<int>(pad->integer(1, 4096)) : 32;
  } else {
    const std::vector<Value> wh = size.list();
    if (wh.size() != 2) size.fail("must be \"dynamic\" or [width, height]");
    c.input.fixed_width = static_cast<int>(wh[0].integer(1, 65536));
    c.input.fixed_height = static_cast<int>(wh[1].integer(1, 65536));
  }
  auto color = input.find("color");
  const std::string colour = color ? color->text() : "rgb";
  if (colour != "rgb" && colour != "bgr") color->fail("must be \"rgb\" or \"bgr\"");
  c.input.rgb = colour == "rgb";
  if (auto mean = input.find("mean")) per_channel(*mean, 3, c.input.mean);
  if (auto scale = input.find("scale")) per_channel(*scale, 3, c.input.scale);
  if (auto l = input.find("layout")) c.input.layout = layout(*l);
}

// Steps, anchor sizes and offset, variances (BlazeFace has none), threshold, min_face_px.
void read_detector_decoder(const Value& decoder, fastfer::DetectorConfig& c) {
  c.steps.clear();
  for (const Value& step : decoder.at("steps").list()) c.steps.push_back(step.integer(1, 4096));
  c.min_sizes.clear();
  for (const Value& level : decoder.at("min_sizes").list()) {
    std::vector<double> sizes;
    for (const Value& s : level.list()) sizes.push_back(s.number());
    c.min_sizes.push_back(sizes);
  }
  if (auto offset = decoder.find("offset")) c.anchor_offset = offset->number();
  if (c.kind != fastfer::DetectorKind::BlazeFace) {
    const Value variances = decoder.at("variances");
    const std::vector<Value> v = variances.list();
    if (v.size() != 2) variances.fail("must be two numbers [xy, wh]");
    c.variance_xy = v[0].number();
    c.variance_wh = v[1].number();
  }
  // FER(score_threshold=None) takes the decoder's threshold, else 0.5 (the struct's default).
  if (auto t = decoder.find("score_threshold")) c.score_threshold = static_cast<float>(t->number());
  if (auto px = decoder.find("min_face_px"))
    c.min_face_px = static_cast<int>(px->integer(1, 65536));
}

void read_classifier_input(const Value& input, fastfer::ClassifierConfig& c) {
  if (auto name = input.find("name")) c.input_name = name->name();
  const Value size = input.at("size");
  const std::vector<Value> side = size.list();
  if (side.size() != 2) size.fail("must be a square [S, S]");
  c.input.size = static_cast<int>(side[0].integer(1, 4096));
  if (side[1].integer(1, 4096) != c.input.size) size.fail("must be a square [S, S]");
  auto color = input.find("color");
  const std::string colour = color ? color->text() : "rgb";
  if (colour != "rgb" && colour != "bgr" && colour != "gray")
    color->fail("must be \"gray\", \"rgb\" or \"bgr\"");
  c.input.gray = colour == "gray";
  c.input.rgb = colour != "bgr";
  const int channels = c.input.gray ? 1 : 3;
  if (auto mean = input.find("mean")) per_channel(*mean, channels, c.input.mean);
  if (auto scale = input.find("scale")) per_channel(*scale, channels, c.input.scale);
  if (auto l = input.find("layout")) c.input.layout = layout(*l);
}

// label_columns[j]: the output column of fastfer::kLabels[j] in the model's own label order.
void read_labels(const Value& labels, fastfer::ClassifierConfig& c) {
  std::vector<std::string> names;
  for (const Value& label : labels.list()) names.push_back(label.text());
  if (names.size() != 7) labels.fail("must be the 7 names of fastfer::kLabels, in any order");
  for (int j = 0; j < 7; ++j) {
    const auto it = std::find(names.begin(), names.end(), fastfer::kLabels[j]);
    if (it == names.end()) labels.fail(std::string("lacks \"") + fastfer::kLabels[j] + "\"");
    c.label_columns[j] = static_cast<int>(it - names.begin());
  }
}

}  // namespace

struct Manifest::Impl {
  std::string path;    // for messages
  std::string folder;  // holds the model files
  json doc;

  Value root() const { return Value(doc, path, ""); }

  // The entry of a model of this task; an unknown name lists the manifest's models of the task.
  Value entry(const std::string& name, const std::string& task) const {
    const std::optional<Value> found = root().at("models").find(name);
    if (!found) {
      std::string known;
      for (const std::string& n : names(task)) known += (known.empty() ? "" : ", ") + n;
      throw ManifestError(path + ": no model \"" + name + "\" (its " + task + "s: " + known + ")");
    }
    const Value task_value = found->at("task");
    const std::string got = task_value.text();
    if (got != task) task_value.fail("\"" + name + "\" is a " + got + ", not a " + task);
    return *found;
  }

  std::vector<std::string> names(const std::string& task) const {
    std::vector<std::string> out;
    for (const auto& [name, entry] : doc.at("models").items()) {
      const auto t = entry.is_object() ? entry.find("task") : entry.end();
      if (entry.is_object() && t != entry.end() && *t == task) out.push_back(name);
    }
    return out;
  }
};

Manifest::Manifest(const std::vector<char>& text, const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  const std::size_t slash = path.find_last_of('/');
  impl->folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  try {
    impl->doc = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // e.what() gives the line and column
    throw ManifestError(path + ": not valid JSON: " + e.what());
  }
  const Value root = impl->root();
  if (auto format = root.find("format")) {
    if (format->integer(0, 1 << 30) != 1) format->fail("this program reads format 1");
  }
  root.at("models").object();
  impl_ = std::move(impl);
}

Manifest::~Manifest() = default;

std::vector<std::string> Manifest::names(const std::string& task) const {
  return impl_->names(task);
}

ModelFile Manifest::file(const std::string& name, const std::string& task) const {
  const Value entry = impl_->entry(name, task);
  const Value file = entry.at("file");
  const std::string f = file.text();
  // A plain name, as Python requires: an entry cannot point outside the manifest's folder.
  if (f.empty() || f == "." || f == ".." || f.find_first_of("/\\") != std::string::npos)
    file.fail("must be a file name in the manifest's folder, got \"" + f + "\"");
  ModelFile m;
  m.name = name;
  m.path = impl_->folder + "/" + f;
  const Value sha = entry.at("sha256");
  m.sha256 = sha.text();
  std::transform(m.sha256.begin(), m.sha256.end(), m.sha256.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (m.sha256.size() != 64 || m.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
    sha.fail("must be 64 hex digits");
  if (auto size = entry.find("size", true)) m.size = size->integer(0, 1LL << 50);
  return m;
}

fastfer::DetectorConfig Manifest::detector_config(const std::string& name, int min_face) const {
  const Value entry = impl_->entry(name, "detector");
  fastfer::DetectorConfig c;
  c.name = name;
  const Value decoder = entry.at("decoder");
  read_detector_outputs(decoder, entry.at("outputs"), c);
  read_detector_input(entry.at("input"), c);
  read_detector_decoder(decoder, c);
  c.min_face = min_face;  // nms_iou, max_faces, pre_nms_top_k: the struct's defaults, FER's
  return c;
}

fastfer::ClassifierConfig Manifest::classifier_config(const std::string& name) const {
  const Value entry = impl_->entry(name, "classifier");
  fastfer::ClassifierConfig c;
  c.name = name;
  read_classifier_input(entry.at("input"), c);
  c.output_name = entry.at("outputs").at("probs").name();
  read_labels(entry.at("labels"), c);
  if (auto crop = entry.find("crop", true)) {  // none: the whole box (margin 0, made square)
    if (auto margin = crop->find("margin")) c.margin = margin->number();
    if (auto square = crop->find("square")) c.square = square->boolean();
  }
  c.softmax = false;  // the model gives probabilities unless its decoder says it gives logits
  if (auto decoder = entry.find("decoder", true)) {
    if (auto activation = decoder->find("activation")) c.softmax = activation->text() == "logits";
  }
  return c;
}

std::string sha256_hex(const void* data, std::size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data, size, digest, &length, EVP_sha256(), nullptr) != 1 || length != 32)
    throw std::runtime_error("libcrypto could not compute a SHA-256");
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

void check_model_bytes(const ModelFile& model, const std::vector<char>& bytes) {
  const std::string where = "model \"" + model.name + "\": " + model.path;
  const std::string why = " (the file is corrupted or was replaced)";
  if (model.size >= 0 && bytes.size() != static_cast<unsigned long long>(model.size))
    throw std::runtime_error(where + " is " + std::to_string(bytes.size()) +
                             " bytes, the manifest records " + std::to_string(model.size) + why);
  const std::string got = sha256_hex(bytes.data(), bytes.size());
  if (got != model.sha256)
    throw std::runtime_error(where + ": sha256 " + got + " does not match the manifest's " +
                             model.sha256 + why);
}

}  // namespace example
