// analyze_image: fastfer's C++ API in one small program.
//
//   analyze_image MODEL_DIR IMAGE [ORT_LIBRARY]
//
// MODEL_DIR: the folder holding retinaface_mbv2.onnx and fernet.onnx (python/fastfer/models
// in the repository, or the fastfer/models folder of the installed Python package).
// IMAGE: a binary PPM (P6, colour) or PGM (P5, grey) file with 8-bit samples, at most 100,000,000
// pixels. Only regular files are read (not devices, FIFOs or sockets), each up to a size limit.
// Convert other formats first, e.g. `convert photo.jpg photo.ppm` (ImageMagick) or `python -c
// "import cv2; cv2.imwrite('photo.ppm', cv2.imread('photo.jpg'))"`. ORT_LIBRARY: the ONNX Runtime
// shared library to dlopen() (the libonnxruntime.so* in the capi/ folder of the installed
// onnxruntime wheel); defaults to $FASTFER_ONNXRUNTIME_LIBRARY.
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

namespace {

// The most pixels an image may have (fastfer's default pixel cap), and the largest files read:
// a model (protobuf cannot hold 2 GiB or more) and a binary PPM/PGM (3 bytes a pixel + header).
constexpr long long kMaxPixels = 100000000;
constexpr std::size_t kMaxModelBytes = (std::size_t{2} << 30) - 1;
constexpr std::size_t kMaxImageBytes = static_cast<std::size_t>(kMaxPixels) * 3 + 65536;

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

std::shared_ptr<const fastfer::Session> load_session(const std::string& path,
                                                     const std::string& ort_library) {
  const std::vector<char> model = read_file(path, kMaxModelBytes);
  return std::make_shared<const fastfer::Session>(model.data(), model.size(), ort_library);
}

// The settings of the two default models, hard-coded here to the values of
// python/fastfer/models/manifest.json ("retinaface_mbv2" and "fernet"), with the Detector's
// defaults (fastfer::kDefaultMaxSide, kDefaultNmsIou, at most 1000 faces). Keep them in step with
// the manifest when the models change.
fastfer::DetectorConfig retinaface_mbv2_config() {
  fastfer::DetectorConfig c;
  c.kind = fastfer::DetectorKind::RetinaFace;
  c.input.max_side = fastfer::kDefaultMaxSide;
  c.input.pad_multiple = 32;  // input.pad_multiple
  c.input.rgb = true;         // input.color = rgb
  for (int k = 0; k < 3; ++k) {
    c.input.mean[k] = 0.f;   // input.mean: raw 0..255, the graph normalises itself
    c.input.scale[k] = 1.f;  // input.scale
  }
  c.input.layout = fastfer::Layout::NHWC;  // input.layout
  c.input_name = "image";
  c.output_names = {"boxes", "landmarks", "scores"};
  c.steps = {8, 16, 32};
  c.min_sizes = {{16, 32}, {64, 128}, {256, 512}};
  c.anchor_offset = 0.5;
  c.variance_xy = 0.1;
  c.variance_wh = 0.2;
  c.score_threshold = 0.5f;
  c.nms_iou = fastfer::kDefaultNmsIou;
  c.max_faces = 1000;  // fastfer.core.detector.MAX_FACES
  return c;
}

fastfer::ClassifierConfig fernet_config() {
  fastfer::ClassifierConfig c;
  c.input.size = 48;         // input.size 48×48
  c.input.gray = true;       // input.color = gray (BT.601)
  c.input.mean[0] = 127.5f;  // x/127.5 - 1
  c.input.scale[0] = 1.f / 127.5f;
  c.input.layout = fastfer::Layout::NCHW;
  c.input_name = "image";
  c.output_name = "probs";
  c.margin = 0.013;                         // crop.margin: FER2013's own framing
  c.square = true;                          // crop.square
  c.label_columns = {0, 1, 2, 3, 4, 5, 6};  // labels in the FER2013 order, as fastfer::kLabels
  c.softmax = false;                        // the model outputs probabilities
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR IMAGE.ppm [ORT_LIBRARY]\n"
              << "  ORT_LIBRARY defaults to $" << fastfer::kOnnxRuntimeLibraryEnv << "\n";
    return 2;
  }
  const std::string model_dir = argv[1];
  const std::string image_path = argv[2];
  std::string ort_library = argc > 3 ? argv[3] : "";
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
    const std::string ort_version = fastfer::load_onnxruntime(ort_library);
    auto detector = load_session(model_dir + "/retinaface_mbv2.onnx", ort_library);
    auto classifier = load_session(model_dir + "/fernet.onnx", ort_library);
    const fastfer::Pipeline pipeline(detector, retinaface_mbv2_config(), classifier,
                                     fernet_config());

    const Image image = read_pnm(image_path);
    const std::vector<fastfer::FaceResult> faces = pipeline.analyze(image.view());
    const fastfer::Pipeline::Timing timing = fastfer::Pipeline::last_timing();

    for (const fastfer::FaceResult& f : faces) {
      const int best = static_cast<int>(std::max_element(f.probs, f.probs + 7) - f.probs);
      std::printf("box=%.1f,%.1f,%.1f,%.1f score=%.4f label=%s prob=%.4f\n", f.box[0], f.box[1],
                  f.box[2], f.box[3], f.score, fastfer::kLabels[best], f.probs[best]);
    }
    std::fprintf(stderr, "%zu face(s) in %dx%d, %.1f ms (%.1f ms in ONNX Runtime %s)\n",
                 faces.size(), image.width, image.height, timing.total_seconds * 1e3,
                 timing.inference_seconds * 1e3, ort_version.c_str());
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
