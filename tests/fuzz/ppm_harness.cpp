// The C++ example's PPM/PGM reader as a C function, for tests/fuzz/fuzz_ppm.py (through ctypes).
//
// The example is compiled as it is, its main() renamed, so the fuzzer reads exactly the code the
// example runs (examples/cpp/analyze_image.cpp); nothing is copied or changed there. Built with
// AddressSanitizer and UndefinedBehaviorSanitizer by tests/fuzz/sanitize.py.
#define main analyze_image_main
#include "../../examples/cpp/analyze_image.cpp"
#undef main

#include <cstring>

// Reads the file at `path`. Returns 0 with the size in *width, *height (the pixels are checked
// inside: every byte is summed, so ASan sees each one read), 1 when the reader refuses the file
// (its message in `error`), 2 for any other exception.
extern "C" int fastfer_fuzz_read_pnm(const char* path, int* width, int* height,
                                     unsigned long long* checksum, char* error, size_t error_size) {
  try {
    const Image image = read_pnm(path);
    *width = image.width;
    *height = image.height;
    unsigned long long sum = 0;
    for (uint8_t v : image.bgr) sum += v;
    *checksum = sum;
    return image.bgr.size() == static_cast<size_t>(image.width) * image.height * 3 ? 0 : 3;
  } catch (const std::runtime_error& e) {
    std::snprintf(error, error_size, "%s", e.what());
    return 1;
  } catch (...) {
    return 2;
  }
}
