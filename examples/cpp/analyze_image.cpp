// analyze_image: fastfer's C++ API in one small program.
//
//   analyze_image [--detector NAME] [--classifier NAME] [--min-face N] MODELS IMAGE [ORT_LIBRARY]
//
// MODELS: a folder holding fastfer's manifest.json and the model files it lists (python/fastfer/
// models in the repository, or the fastfer/models folder of the installed Python package), or a
// manifest file itself, with the model files beside it. The models' settings come from their
// manifest entries (model_manifest.cpp), and each model file is checked against its entry's
// sha256 before it is loaded.
// --detector, --classifier: manifest entries to use; retinaface_mbv2 and fernet by default (the
// float32 models FER() uses on CPUs without fast int8; e.g. yunet, blazeface_short, fernet_int8).
// --min-face N: FER(min_face=N)'s input-size policy; 0 by default, the whole image (long side at
// most 1600), as FER(min_face=0).
// IMAGE: a binary PPM (P6, colour) or PGM (P5, grey) file with 8-bit samples, at most 100,000,000
// pixels. Only regular files are read (not devices, FIFOs or sockets), each up to a size limit.
// Convert other formats first, e.g. `convert photo.jpg photo.ppm` (ImageMagick) or
// `python -c "import cv2; cv2.imwrite('photo.ppm', cv2.imread('photo.jpg'))"`.
// ORT_LIBRARY: the ONNX Runtime shared library to dlopen() (the libonnxruntime.so* in the capi/
// folder of the installed onnxruntime wheel); defaults to $FASTFER_ONNXRUNTIME_LIBRARY.
//
// Prints one line per face, best score first:
//   box=X1,Y1,X2,Y2 score=S label=LABEL prob=P
// (box in image pixels; label = the most probable expression, prob = its probability).

#include <fastfer/pipeline.h>
#include <fastfer/session.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "model_manifest.h"

namespace {

// The most pixels an image may have (fastfer's default pixel cap), and the largest files read:
// a model (protobuf cannot hold 2 GiB or more), a binary PPM/PGM (3 bytes a pixel + header) and a
// manifest (the shipped one is about 25 kB: 16 MiB leaves room for any number of entries).
constexpr long long kMaxPixels = 100000000;
constexpr std::size_t kMaxModelBytes = (std::size_t{2} << 30) - 1;
constexpr std::size_t kMaxImageBytes = static_cast<std::size_t>(kMaxPixels) * 3 + 65536;
constexpr std::size_t kMaxManifestBytes = std::size_t{16} << 20;

// The bytes of a regular file of at most max_bytes. A path naming a directory, device
// (/dev/zero never ends), FIFO (it would block until a writer comes) or socket is refused before
// anything is read, and so is a file larger than max_bytes (a sparse file may claim gigabytes).
// O_NONBLOCK: a FIFO swapped in after the check still cannot block the open.
std::vector<char> read_file(const std::string& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info{};
  if (::fstat(fd, &info) != 0)
    throw std::runtime_error("cannot stat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) {
    const char* kind = S_ISDIR(info.st_mode)    ? "a directory"
                       : S_ISCHR(info.st_mode)  ? "a character device"
                       : S_ISBLK(info.st_mode)  ? "a block device"
                       : S_ISFIFO(info.st_mode) ? "a FIFO"
                       : S_ISSOCK(info.st_mode) ? "a socket"
                                                : "not a regular file";
    throw std::runtime_error(path + ": is " + std::string(kind) + ", not a regular file");
  }
  if (info.st_size < 0 || static_cast<unsigned long long>(info.st_size) > max_bytes)
    throw std::runtime_error(path + ": is " + std::to_string(info.st_size) +
                             " bytes, more than the limit of " + std::to_string(max_bytes) +
                             " bytes");
  // Read what fstat promised, and one byte more to catch a file that grew: never past max_bytes.
  std::vector<char> bytes(static_cast<std::size_t>(info.st_size) + 1);
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > static_cast<std::size_t>(info.st_size))
    throw std::runtime_error(path + ": the file grew while it was read");
  bytes.resize(got);
  return bytes;
}

// An 8-bit BGR image owning its pixels.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> bgr;  // height × width × 3, packed

  fastfer::ImageView view() const {
    fastfer::ImageView v;
    v.data = bgr.data();
    v.height = height;
    v.width = width;
    v.channels = 3;
    v.row_stride = static_cast<ptrdiff_t>(width) * 3;
    return v;
  }
};

// Binary PPM (P6) / PGM (P5), maxval <= 255, '#' comments allowed in the header.
Image read_pnm(const std::string& path) {
  const std::vector<char> bytes = read_file(path, kMaxImageBytes);
  size_t pos = 0;
  auto fail = [&](const std::string& why) -> std::runtime_error {
    return std::runtime_error(path + ": " + why + " (expected a binary PPM/PGM: P6 or P5, 8-bit)");
  };
  auto skip_space = [&] {
    while (pos < bytes.size()) {
      const char c = bytes[pos];
      if (c == '#') {
        while (pos < bytes.size() && bytes[pos] != '\n') ++pos;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++pos;
      } else {
        break;
      }
    }
  };
  auto number = [&]() -> long {
    skip_space();
    long v = 0;
    size_t digits = 0;
    while (pos < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[pos]))) {
      v = v * 10 + (bytes[pos++] - '0');
      if (v > 1000000) throw fail("header value too large");
      ++digits;
    }
    if (digits == 0) throw fail("bad header");
    return v;
  };

  if (bytes.size() < 2 || bytes[0] != 'P' || (bytes[1] != '6' && bytes[1] != '5')) {
    throw fail("not a P6/P5 file");
  }
  const int channels = bytes[1] == '6' ? 3 : 1;
  pos = 2;
  const long width = number();
  const long height = number();
  const long maxval = number();
  if (width <= 0 || height <= 0) throw fail("empty image");
  if (static_cast<long long>(width) * height > kMaxPixels)
    throw fail(std::to_string(width) + "x" + std::to_string(height) + " is more than the cap of " +
               std::to_string(kMaxPixels) + " pixels");
  if (maxval <= 0 || maxval > 255) throw fail("maxval must be 1..255");
  if (pos >= bytes.size() || !std::isspace(static_cast<unsigned char>(bytes[pos]))) {
    throw fail("bad header");
  }
  ++pos;  // the single whitespace before the raster
  const size_t n = static_cast<size_t>(width) * static_cast<size_t>(height);
  if (bytes.size() - pos < n * channels) throw fail("truncated raster");

  Image img;
  img.width = static_cast<int>(width);
  img.height = static_cast<int>(height);
  img.bgr.resize(n * 3);
  const auto* src = reinterpret_cast<const unsigned char*>(bytes.data() + pos);
  auto scaled = [maxval](unsigned v) -> uint8_t {
    if (maxval == 255) return static_cast<uint8_t>(v);
    return static_cast<uint8_t>(std::min<unsigned>(255u, (v * 255u + maxval / 2) / maxval));
  };
  for (size_t i = 0; i < n; ++i) {
    if (channels == 3) {  // PPM stores RGB; fastfer takes BGR
      img.bgr[3 * i + 0] = scaled(src[3 * i + 2]);
      img.bgr[3 * i + 1] = scaled(src[3 * i + 1]);
      img.bgr[3 * i + 2] = scaled(src[3 * i + 0]);
    } else {
      const uint8_t g = scaled(src[i]);
      img.bgr[3 * i + 0] = img.bgr[3 * i + 1] = img.bgr[3 * i + 2] = g;
    }
  }
  return img;
}

// The model's bytes, checked against its manifest entry, in an ONNX Runtime session. The read
// stops at the size the manifest records, so a replaced file that grew is refused unread.
std::shared_ptr<const fastfer::Session> load_session(const example::ModelFile& model,
                                                     const std::string& ort_library) {
  std::vector<char> bytes;
  try {
    const std::size_t limit =
        model.size >= 0 && static_cast<unsigned long long>(model.size) < kMaxModelBytes
            ? static_cast<std::size_t>(model.size)
            : kMaxModelBytes;
    bytes = read_file(model.path, limit);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("model \"" + model.name + "\": " + e.what());
  }
  example::check_model_bytes(model, bytes);
  return std::make_shared<const fastfer::Session>(bytes.data(), bytes.size(), ort_library);
}

// MODELS names a folder (its manifest.json) or a manifest file.
example::Manifest read_manifest(const std::string& models) {
  struct stat info{};
  const bool folder = ::stat(models.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
  const std::string path = folder ? models + "/manifest.json" : models;
  return example::Manifest(read_file(path, kMaxManifestBytes), path);
}

struct Options {
  bool help = false;
  std::string detector = "retinaface_mbv2";
  std::string classifier = "fernet";
  int min_face = 0;
  std::vector<std::string> positional;  // MODELS IMAGE [ORT_LIBRARY]
};

void usage(std::ostream& out, const char* program) {
  out << "usage: " << program
      << " [--detector NAME] [--classifier NAME] [--min-face N] MODELS IMAGE.ppm "
         "[ORT_LIBRARY]\n"
      << "  MODELS: a folder with fastfer's manifest.json and model files, or a manifest\n"
      << "  --detector, --classifier: models of the manifest (retinaface_mbv2, fernet)\n"
      << "  --min-face N: FER(min_face=N)'s input-size policy (0: the whole image)\n"
      << "  ORT_LIBRARY defaults to $" << fastfer::kOnnxRuntimeLibraryEnv << "\n";
}

// Options as `--name VALUE` or `--name=VALUE`, anywhere; `--` ends them. Returns false (after a
// message) for a command line this program does not take.
bool parse_options(int argc, char** argv, Options& options) {
  bool more_options = true;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!more_options || arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
      options.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      more_options = false;
      continue;
    }
    if (arg == "--help") {
      options.help = true;
      return true;
    }
    std::string value;
    const std::size_t equals = arg.find('=');
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
      arg.resize(equals);
    } else if (arg == "--detector" || arg == "--classifier" || arg == "--min-face") {
      if (i + 1 == argc) return std::cerr << "error: " << arg << " needs a value\n", false;
      value = argv[++i];
    }
    if (arg == "--detector") {
      options.detector = value;
    } else if (arg == "--classifier") {
      options.classifier = value;
    } else if (arg == "--min-face") {
      char* end = nullptr;
      errno = 0;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || n < 0 || n > 65536)
        return std::cerr << "error: --min-face takes a number of pixels in [0, 65536]\n", false;
      options.min_face = static_cast<int>(n);
    } else {
      return std::cerr << "error: unknown option " << arg << "\n", false;
    }
  }
  return options.positional.size() == 2 || options.positional.size() == 3;
}

}  // namespace

// tests/fuzz/ppm_harness.cpp compiles this file for read_pnm alone, with main #defined to another
// name, and links neither model_manifest.cpp nor libcrypto: the program is left out there.
#ifndef main
int main(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, options)) {
    usage(std::cerr, argv[0]);
    return 2;
  }
  if (options.help) {
    usage(std::cout, argv[0]);
    return 0;
  }
  const std::string& models = options.positional[0];
  const std::string& image_path = options.positional[1];
  std::string ort_library = options.positional.size() > 2 ? options.positional[2] : "";
  if (ort_library.empty()) {
    const char* env = std::getenv(fastfer::kOnnxRuntimeLibraryEnv);
    if (env == nullptr || *env == '\0') {
      std::cerr << "error: no ONNX Runtime library: pass ORT_LIBRARY or set "
                << fastfer::kOnnxRuntimeLibraryEnv << "\n";
      return 2;
    }
    ort_library = env;
  }

  try {
    // Every setting is read and checked before anything is loaded.
    const example::Manifest manifest = read_manifest(models);
    const example::ModelFile detector_file = manifest.file(options.detector, "detector");
    const example::ModelFile classifier_file = manifest.file(options.classifier, "classifier");
    fastfer::DetectorConfig detector_config =
        manifest.detector_config(options.detector, options.min_face);
    fastfer::ClassifierConfig classifier_config = manifest.classifier_config(options.classifier);

    const std::string ort_version = fastfer::load_onnxruntime(ort_library);
    // One statement each: the detector's file is checked first, whatever the compiler's order of
    // evaluating arguments.
    auto detector = load_session(detector_file, ort_library);
    auto classifier = load_session(classifier_file, ort_library);
    const fastfer::Pipeline pipeline(std::move(detector), std::move(detector_config),
                                     std::move(classifier), std::move(classifier_config));

    const Image image = read_pnm(image_path);
    const std::vector<fastfer::FaceResult> faces = pipeline.analyze(image.view());
    const fastfer::Pipeline::Timing timing = fastfer::Pipeline::last_timing();

    for (const fastfer::FaceResult& f : faces) {
      const int best = static_cast<int>(std::max_element(f.probs, f.probs + 7) - f.probs);
      std::printf("box=%.1f,%.1f,%.1f,%.1f score=%.4f label=%s prob=%.4f\n", f.box[0], f.box[1],
                  f.box[2], f.box[3], f.score, fastfer::kLabels[best], f.probs[best]);
    }
    std::fprintf(stderr,
                 "%zu face(s) in %dx%d with %s + %s, %.1f ms (%.1f ms in ONNX Runtime %s)\n",
                 faces.size(), image.width, image.height, options.detector.c_str(),
                 options.classifier.c_str(), timing.total_seconds * 1e3,
                 timing.inference_seconds * 1e3, ort_version.c_str());
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
#endif
