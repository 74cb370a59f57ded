// fastfer::Session: an ONNX Runtime inference session driven through ORT's C API, which is loaded
// at run time with dlopen() from a library the caller names (the libonnxruntime.so* inside the
// installed `onnxruntime` or `onnxruntime-gpu` wheel; Python passes its path). Nothing links
// against ONNX Runtime at build time, and this header does not need ORT's headers.
//
// - One intra-op thread by default, spinning off, all graph optimisations.
// - Providers in priority order ("cpu", or "cuda" with a device id). A provider this ONNX Runtime
//   does not offer, or cannot start, is an error unless the caller allowed a fallback to the CPU
//   (ORT itself falls back silently; fastfer does not). providers() says what is really used.
// - Models are loaded from memory (bytes the caller already verified).
// - run() is thread-safe (ORT sessions are); every ORT error becomes an OrtError with ORT's text.
//
// Needs ONNX Runtime >= 1.21 at run time (the C API version the header was taken from).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fastfer {

// An error reported by ONNX Runtime (its message included), or a failure to load the library.
class OrtError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ONNX Runtime refused the model bytes themselves (not ONNX, an unknown operator, a bad graph):
// the model is at fault, not the library or the provider. Python sees fastfer._core.ModelLoadError.
class ModelLoadError : public OrtError {
 public:
  using OrtError::OrtError;
};

// The environment variable naming the ONNX Runtime library when the caller passes no path.
inline constexpr const char* kOnnxRuntimeLibraryEnv = "FASTFER_ONNXRUNTIME_LIBRARY";

struct ProviderRequest {
  std::string name;   // "cpu" or "cuda"
  int device_id = 0;  // for "cuda"
};

enum class GraphOptimization { disable_all, basic, extended, all };

struct SessionOptions {
  int intra_op_threads = 1;
  bool allow_spinning = false;
  GraphOptimization graph_optimization = GraphOptimization::all;
  // Priority order. "cpu" is always the implicit last resort inside ORT, so it must come last.
  std::vector<ProviderRequest> providers{ProviderRequest{"cpu", 0}};
  // When false (the default), a requested provider that is missing or fails to start throws.
  // When true, it is skipped and providers() no longer lists it.
  bool allow_fallback = false;
  int log_severity = 3;  // ORT's levels: 0 verbose .. 3 error, 4 fatal
};

// A float32 input tensor, read in place: `data` must hold product(shape) floats, row-major.
struct TensorView {
  std::vector<int64_t> shape;
  const float* data = nullptr;
};

// A caller-provided float32 output buffer of exactly `shape` (ORT writes straight into it).
struct MutableTensorView {
  std::vector<int64_t> shape;
  float* data = nullptr;
};

// An output tensor owning its data.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// Loads (once per path, kept for the process lifetime) the ONNX Runtime library at `path`, or at
// $FASTFER_ONNXRUNTIME_LIBRARY when `path` is empty, and returns its version string. Throws
// OrtError when the library cannot be loaded or is older than the C API this build needs.
std::string load_onnxruntime(const std::string& path);

// The execution providers the library at `path` offers, in ORT's names
// ("CPUExecutionProvider", "CUDAExecutionProvider", ...).
std::vector<std::string> onnxruntime_available_providers(const std::string& path);

class Session {
 public:
  Session(const void* model_data, std::size_t model_size, const std::string& library_path,
          const SessionOptions& options = SessionOptions());
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::vector<std::string>& input_names() const;
  const std::vector<std::string>& output_names() const;
  // The input's dimensions as the model declares them (-1 for a symbolic or free dimension).
  const std::vector<std::vector<int64_t>>& input_shapes() const;
  // The providers really in use, in priority order, by short name ("cuda", "cpu").
  const std::vector<std::string>& providers() const;
  // ONNX Runtime's version string.
  const std::string& onnxruntime_version() const;

  // Runs the model on named inputs and returns the requested outputs (all of them, in model order,
  // when `output_names` is empty). Throws std::invalid_argument for an unknown input or output
  // name, a missing input, a wrong rank or fixed dimension; OrtError for what ORT rejects.
  std::vector<Tensor> run(const std::vector<std::pair<std::string, TensorView>>& inputs,
                          const std::vector<std::string>& output_names = {}) const;

  // The same, writing each output into a buffer the caller allocated with the exact output shape
  // (buffers can then be reused across calls). Throws std::invalid_argument when a shape differs.
  void run_into(const std::vector<std::pair<std::string, TensorView>>& inputs,
                const std::vector<std::pair<std::string, MutableTensorView>>& outputs) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastfer
