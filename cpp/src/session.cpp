// fastfer::Session over ONNX Runtime's C API, loaded with dlopen() (see fastfer/session.h).
#include "fastfer/session.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>

#include "onnxruntime_c_api.h"

namespace fastfer {
namespace {

// ---- the library: dlopen'ed once per path, never closed --------------------------------------
struct Library {
  std::string path;
  const OrtApi* api = nullptr;
  std::string version;
  OrtEnv* env = nullptr;  // ORT's process-wide environment; lives as long as the process
};

std::string status_message(const OrtApi* api, OrtStatus* status) {
  std::string msg = api->GetErrorMessage(status);
  api->ReleaseStatus(status);
  return msg;
}

void check(const OrtApi* api, OrtStatus* status, const char* what) {
  if (status == nullptr) return;
  throw OrtError(std::string("ONNX Runtime: ") + what + ": " + status_message(api, status));
}

std::string resolve_path(const std::string& path) {
  if (!path.empty()) return path;
  const char* env = std::getenv(kOnnxRuntimeLibraryEnv);
  if (env != nullptr && *env != '\0') return env;
  throw OrtError(std::string("no ONNX Runtime library given: pass its path or set ") +
                 kOnnxRuntimeLibraryEnv + " to the libonnxruntime.so of an onnxruntime install");
}

const Library& library(const std::string& requested) {
  static std::mutex mutex;
  static std::map<std::string, Library*>* cache = new std::map<std::string, Library*>();
  const std::string path = resolve_path(requested);
  std::lock_guard<std::mutex> lock(mutex);
  auto found = cache->find(path);
  if (found != cache->end()) return *found->second;

  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    throw OrtError("cannot load the ONNX Runtime library " + path + ": " +
                   (err != nullptr ? err : "unknown dlopen error"));
  }
  using GetApiBase = const OrtApiBase* (*)();
  auto get_base = reinterpret_cast<GetApiBase>(dlsym(handle, "OrtGetApiBase"));
  if (get_base == nullptr) {
    dlclose(handle);
    throw OrtError("the library " + path + " is not ONNX Runtime (no OrtGetApiBase)");
  }
  const OrtApiBase* base = get_base();
  const char* version = base != nullptr && base->GetVersionString != nullptr
                            ? base->GetVersionString() : "unknown";
  const OrtApi* api = base != nullptr ? base->GetApi(ORT_API_VERSION) : nullptr;
  if (api == nullptr) {
    // Keep the handle: the library may be in use elsewhere in the process.
    std::ostringstream msg;
    msg << "ONNX Runtime " << version << " at " << path << " does not offer C API version "
        << ORT_API_VERSION << "; fastfer's native session needs onnxruntime >= 1."
        << ORT_API_VERSION;
    throw OrtError(msg.str());
  }
  auto lib = std::make_unique<Library>();
  lib->path = path;
  lib->api = api;
  lib->version = version;
  check(api, api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "fastfer", &lib->env), "CreateEnv");
  Library* raw = lib.release();  // process lifetime, like the dlopen handle
  (*cache)[path] = raw;
  return *raw;
}

// ---- RAII for ORT objects -------------------------------------------------------------------
struct Releaser {
  const OrtApi* api = nullptr;
  void operator()(OrtSession* p) const { api->ReleaseSession(p); }
  void operator()(OrtSessionOptions* p) const { api->ReleaseSessionOptions(p); }
  void operator()(OrtValue* p) const { api->ReleaseValue(p); }
  void operator()(OrtMemoryInfo* p) const { api->ReleaseMemoryInfo(p); }
  void operator()(OrtTypeInfo* p) const { api->ReleaseTypeInfo(p); }
  void operator()(OrtTensorTypeAndShapeInfo* p) const { api->ReleaseTensorTypeAndShapeInfo(p); }
  void operator()(OrtCUDAProviderOptionsV2* p) const { api->ReleaseCUDAProviderOptions(p); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Releaser>;

template <typename T>
Ptr<T> own(const OrtApi* api, T* p) { return Ptr<T>(p, Releaser{api}); }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << '(';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) s << ',';
  s << ')';
  return s.str();
}

std::vector<std::string> available(const Library& lib) {
  char** names = nullptr;
  int count = 0;
  check(lib.api, lib.api->GetAvailableProviders(&names, &count), "GetAvailableProviders");
  std::vector<std::string> out(names, names + count);
  check(lib.api, lib.api->ReleaseAvailableProviders(names, count), "ReleaseAvailableProviders");
  return out;
}

void check_session_options(const SessionOptions& options) {
  if (options.intra_op_threads < 1)
    throw std::invalid_argument("intra_op_threads must be >= 1, got " +
                                std::to_string(options.intra_op_threads));
  if (options.providers.empty()) throw std::invalid_argument("providers must not be empty");
}

GraphOptimizationLevel ort_optimization_level(GraphOptimization level) {
  switch (level) {
    case GraphOptimization::disable_all: return ORT_DISABLE_ALL;
    case GraphOptimization::basic: return ORT_ENABLE_BASIC;
    case GraphOptimization::extended: return ORT_ENABLE_EXTENDED;
    case GraphOptimization::all: return ORT_ENABLE_ALL;
  }
  return ORT_ENABLE_ALL;
}

// Threads, spinning, graph optimisation and log level; the providers are appended apart.
Ptr<OrtSessionOptions> make_session_options(const OrtApi* api, const SessionOptions& options) {
  OrtSessionOptions* raw_opts = nullptr;
  check(api, api->CreateSessionOptions(&raw_opts), "CreateSessionOptions");
  Ptr<OrtSessionOptions> opts = own(api, raw_opts);
  check(api, api->SetIntraOpNumThreads(opts.get(), options.intra_op_threads), "SetIntraOpNumThreads");
  check(api, api->SetInterOpNumThreads(opts.get(), 1), "SetInterOpNumThreads");
  check(api, api->AddSessionConfigEntry(opts.get(), "session.intra_op.allow_spinning",
                                        options.allow_spinning ? "1" : "0"),
        "AddSessionConfigEntry");
  check(api, api->AddSessionConfigEntry(opts.get(), "session.inter_op.allow_spinning",
                                        options.allow_spinning ? "1" : "0"),
        "AddSessionConfigEntry");
  check(api, api->SetSessionGraphOptimizationLevel(opts.get(), ort_optimization_level(options.graph_optimization)),
        "SetSessionGraphOptimizationLevel");
  check(api, api->SetSessionLogSeverityLevel(opts.get(), options.log_severity), "SetSessionLogSeverityLevel");
  return opts;
}

// Appends the CUDA provider on p.device_id; returns why it cannot, or "" once it is appended.
std::string append_cuda(const Library& lib, const std::vector<std::string>& offered,
                        const ProviderRequest& p, OrtSessionOptions* opts) {
  const OrtApi* api = lib.api;
  if (std::find(offered.begin(), offered.end(), "CUDAExecutionProvider") == offered.end()) {
    std::string offered_text;
    for (const auto& n : offered) offered_text += (offered_text.empty() ? "" : ", ") + n;
    return "provider 'cuda' (CUDAExecutionProvider) is not available in ONNX Runtime " +
           lib.version + " at " + lib.path + " (available: " + offered_text +
           "); install onnxruntime-gpu for cuda";
  }
  OrtCUDAProviderOptionsV2* raw_cuda = nullptr;
  check(api, api->CreateCUDAProviderOptions(&raw_cuda), "CreateCUDAProviderOptions");
  Ptr<OrtCUDAProviderOptionsV2> cuda = own(api, raw_cuda);
  const std::string device = std::to_string(p.device_id);
  const char* keys[] = {"device_id"};
  const char* values[] = {device.c_str()};
  check(api, api->UpdateCUDAProviderOptions(cuda.get(), keys, values, 1), "UpdateCUDAProviderOptions");
  if (OrtStatus* st = api->SessionOptionsAppendExecutionProvider_CUDA_V2(opts, cuda.get()))
    return "provider 'cuda' (device " + device + ") cannot start: " + status_message(api, st);
  return "";
}

// Appends the requested providers in priority order (ORT keeps the CPU provider as the implicit
// last resort); returns the names of those in use, "cpu" last.
std::vector<std::string> append_providers(const Library& lib, const SessionOptions& options,
                                          OrtSessionOptions* opts) {
  const std::vector<std::string> offered = available(lib);
  std::vector<std::string> used;
  for (size_t i = 0; i < options.providers.size(); ++i) {
    const ProviderRequest& p = options.providers[i];
    if (p.name == "cpu") {
      if (i + 1 != options.providers.size())
        throw std::invalid_argument("'cpu' must be the last provider (ONNX Runtime tries providers in "
                                    "order and the CPU runs every operator)");
      break;
    }
    if (p.name != "cuda")
      throw std::invalid_argument("unknown provider '" + p.name + "'; expected 'cpu' or 'cuda'");
    if (p.device_id < 0)
      throw std::invalid_argument("cuda device id must be >= 0, got " + std::to_string(p.device_id));
    const std::string failure = append_cuda(lib, offered, p, opts);
    if (failure.empty()) {
      used.push_back("cuda");
    } else if (!options.allow_fallback) {
      throw OrtError(failure);
    }
  }
  used.push_back("cpu");
  return used;
}

}  // namespace

std::string load_onnxruntime(const std::string& path) { return library(path).version; }

std::vector<std::string> onnxruntime_available_providers(const std::string& path) {
  return available(library(path));
}

struct Session::Impl {
  const Library* lib = nullptr;
  const OrtApi* api = nullptr;
  Ptr<OrtSession> session{nullptr, Releaser{}};
  Ptr<OrtMemoryInfo> cpu_memory{nullptr, Releaser{}};
  std::vector<std::string> input_names, output_names, providers;
  std::vector<std::vector<int64_t>> input_shapes;
  std::vector<ONNXTensorElementDataType> input_types;

  size_t input_index(const std::string& name) const {
    for (size_t i = 0; i < input_names.size(); ++i)
      if (input_names[i] == name) return i;
    std::string known;
    for (const auto& n : input_names) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown input name '" + name + "'; the model's inputs: " + known);
  }
  void check_output_name(const std::string& name) const {
    for (const auto& n : output_names)
      if (n == name) return;
    std::string known;
    for (const auto& n : output_names) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown output name '" + name + "'; the model's outputs: " + known);
  }

  // The names, element types and shapes of the model's inputs, and the names of its outputs.
  void read_model_io() {
    OrtAllocator* allocator = nullptr;
    check(api, api->GetAllocatorWithDefaultOptions(&allocator), "GetAllocatorWithDefaultOptions");
    auto take_name = [&](char* s) {
      std::string out(s);
      check(api, api->AllocatorFree(allocator, s), "AllocatorFree");
      return out;
    };
    size_t n_in = 0, n_out = 0;
    check(api, api->SessionGetInputCount(session.get(), &n_in), "SessionGetInputCount");
    check(api, api->SessionGetOutputCount(session.get(), &n_out), "SessionGetOutputCount");
    for (size_t i = 0; i < n_in; ++i) {
      char* name = nullptr;
      check(api, api->SessionGetInputName(session.get(), i, allocator, &name), "SessionGetInputName");
      input_names.push_back(take_name(name));
      read_input_type(i);
    }
    for (size_t i = 0; i < n_out; ++i) {
      char* name = nullptr;
      check(api, api->SessionGetOutputName(session.get(), i, allocator, &name), "SessionGetOutputName");
      output_names.push_back(take_name(name));
    }
  }

  // Input i's element type and shape (-1 for every dimension that is not a fixed size).
  void read_input_type(size_t i) {
    OrtTypeInfo* raw_type = nullptr;
    check(api, api->SessionGetInputTypeInfo(session.get(), i, &raw_type), "SessionGetInputTypeInfo");
    Ptr<OrtTypeInfo> type = own(api, raw_type);
    const OrtTensorTypeAndShapeInfo* tensor = nullptr;  // owned by `type`
    check(api, api->CastTypeInfoToTensorInfo(type.get(), &tensor), "CastTypeInfoToTensorInfo");
    std::vector<int64_t> dims;
    ONNXTensorElementDataType elem = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    if (tensor != nullptr) {
      size_t rank = 0;
      check(api, api->GetTensorElementType(tensor, &elem), "GetTensorElementType");
      check(api, api->GetDimensionsCount(tensor, &rank), "GetDimensionsCount");
      dims.resize(rank);
      check(api, api->GetDimensions(tensor, dims.data(), rank), "GetDimensions");
      for (auto& d : dims)
        if (d <= 0) d = -1;
    }
    input_shapes.push_back(std::move(dims));
    input_types.push_back(elem);
  }

  // Wraps the inputs (in place) and checks names, ranks and fixed dimensions.
  std::vector<Ptr<OrtValue>> wrap_inputs(const std::vector<std::pair<std::string, TensorView>>& inputs,
                                         std::vector<const char*>& names) const {
    if (inputs.size() != input_names.size()) {
      std::vector<bool> given(input_names.size(), false);
      for (const auto& in : inputs) given[input_index(in.first)] = true;
      for (size_t i = 0; i < given.size(); ++i)
        if (!given[i]) throw std::invalid_argument("missing input '" + input_names[i] + "'");
    }
    std::vector<Ptr<OrtValue>> values;
    values.reserve(inputs.size());
    names.clear();
    for (const auto& in : inputs) {
      const size_t idx = input_index(in.first);
      const TensorView& t = in.second;
      const auto& want = input_shapes[idx];
      if (input_types[idx] != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
        throw std::invalid_argument("input '" + in.first + "' is not a float32 tensor in the model");
      bool ok = t.shape.size() == want.size();
      size_t count = 1;
      for (size_t d = 0; d < t.shape.size(); ++d) {
        if (t.shape[d] < 0) ok = false;
        if (ok && want[d] >= 0 && t.shape[d] != want[d]) ok = false;
        count *= static_cast<size_t>(t.shape[d] < 0 ? 0 : t.shape[d]);
      }
      if (!ok)
        throw std::invalid_argument("input '" + in.first + "' has shape " + shape_text(t.shape) +
                                    "; the model expects " + shape_text(want) + " (-1: any size)");
      if (t.data == nullptr && count > 0)
        throw std::invalid_argument("input '" + in.first + "' has no data");
      OrtValue* value = nullptr;
      check(api, api->CreateTensorWithDataAsOrtValue(
                     cpu_memory.get(), const_cast<float*>(t.data), count * sizeof(float),
                     t.shape.data(), t.shape.size(), ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &value),
            "CreateTensorWithDataAsOrtValue");
      values.push_back(own(api, value));
      names.push_back(in.first.c_str());
    }
    return values;
  }
};

Session::Session(const void* model_data, std::size_t model_size, const std::string& library_path,
                 const SessionOptions& options)
    : impl_(std::make_unique<Impl>()) {
  const Library& lib = library(library_path);
  const OrtApi* api = lib.api;
  impl_->lib = &lib;
  impl_->api = api;
  if (model_data == nullptr || model_size == 0) throw std::invalid_argument("empty model bytes");
  check_session_options(options);
  Ptr<OrtSessionOptions> opts = make_session_options(api, options);
  impl_->providers = append_providers(lib, options, opts.get());

  OrtSession* raw_session = nullptr;
  if (OrtStatus* st = api->CreateSessionFromArray(lib.env, model_data, model_size, opts.get(), &raw_session))
    throw ModelLoadError("ONNX Runtime: cannot load the model: " + status_message(api, st));
  impl_->session = own(api, raw_session);

  OrtMemoryInfo* raw_mem = nullptr;
  check(api, api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &raw_mem), "CreateCpuMemoryInfo");
  impl_->cpu_memory = own(api, raw_mem);
  impl_->read_model_io();
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const std::vector<std::string>& Session::input_names() const { return impl_->input_names; }
const std::vector<std::string>& Session::output_names() const { return impl_->output_names; }
const std::vector<std::vector<int64_t>>& Session::input_shapes() const { return impl_->input_shapes; }
const std::vector<std::string>& Session::providers() const { return impl_->providers; }
const std::string& Session::onnxruntime_version() const { return impl_->lib->version; }

std::vector<Tensor> Session::run(const std::vector<std::pair<std::string, TensorView>>& inputs,
                                 const std::vector<std::string>& output_names) const {
  const Impl& s = *impl_;
  const OrtApi* api = s.api;
  const std::vector<std::string>& wanted = output_names.empty() ? s.output_names : output_names;
  for (const auto& n : wanted) s.check_output_name(n);
  std::vector<const char*> in_names;
  std::vector<Ptr<OrtValue>> in_values = s.wrap_inputs(inputs, in_names);
  std::vector<const OrtValue*> in_raw;
  for (const auto& v : in_values) in_raw.push_back(v.get());
  std::vector<const char*> out_names;
  for (const auto& n : wanted) out_names.push_back(n.c_str());
  std::vector<OrtValue*> out_raw(wanted.size(), nullptr);

  OrtStatus* status = api->Run(s.session.get(), nullptr, in_names.data(), in_raw.data(), in_raw.size(),
                               out_names.data(), out_names.size(), out_raw.data());
  std::vector<Ptr<OrtValue>> out_values;  // owns whatever ORT produced, even on error
  for (OrtValue* v : out_raw) out_values.push_back(own(api, v));
  check(api, status, "Run");

  std::vector<Tensor> result(wanted.size());
  for (size_t i = 0; i < wanted.size(); ++i) {
    OrtValue* v = out_values[i].get();
    int is_tensor = 0;
    check(api, api->IsTensor(v, &is_tensor), "IsTensor");
    if (!is_tensor) throw OrtError("output '" + wanted[i] + "' is not a tensor");
    OrtTensorTypeAndShapeInfo* raw_info = nullptr;
    check(api, api->GetTensorTypeAndShape(v, &raw_info), "GetTensorTypeAndShape");
    Ptr<OrtTensorTypeAndShapeInfo> info = own(api, raw_info);
    ONNXTensorElementDataType elem = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    check(api, api->GetTensorElementType(info.get(), &elem), "GetTensorElementType");
    if (elem != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
      throw OrtError("output '" + wanted[i] + "' is not a float32 tensor");
    size_t rank = 0, count = 0;
    check(api, api->GetDimensionsCount(info.get(), &rank), "GetDimensionsCount");
    result[i].shape.resize(rank);
    check(api, api->GetDimensions(info.get(), result[i].shape.data(), rank), "GetDimensions");
    check(api, api->GetTensorShapeElementCount(info.get(), &count), "GetTensorShapeElementCount");
    float* data = nullptr;
    check(api, api->GetTensorMutableData(v, reinterpret_cast<void**>(&data)), "GetTensorMutableData");
    result[i].data.assign(data, data + count);
  }
  return result;
}

void Session::run_into(const std::vector<std::pair<std::string, TensorView>>& inputs,
                       const std::vector<std::pair<std::string, MutableTensorView>>& outputs) const {
  const Impl& s = *impl_;
  const OrtApi* api = s.api;
  std::vector<const char*> in_names;
  std::vector<Ptr<OrtValue>> in_values = s.wrap_inputs(inputs, in_names);
  std::vector<const OrtValue*> in_raw;
  for (const auto& v : in_values) in_raw.push_back(v.get());
  std::vector<const char*> out_names;
  std::vector<Ptr<OrtValue>> out_values;
  for (const auto& out : outputs) {
    s.check_output_name(out.first);
    size_t count = 1;
    for (int64_t d : out.second.shape) {
      if (d < 0) throw std::invalid_argument("output '" + out.first + "': negative dimension");
      count *= static_cast<size_t>(d);
    }
    if (out.second.data == nullptr && count > 0)
      throw std::invalid_argument("output '" + out.first + "' has no buffer");
    OrtValue* value = nullptr;
    check(api, api->CreateTensorWithDataAsOrtValue(
                   s.cpu_memory.get(), out.second.data, count * sizeof(float), out.second.shape.data(),
                   out.second.shape.size(), ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &value),
          "CreateTensorWithDataAsOrtValue");
    out_values.push_back(own(api, value));
    out_names.push_back(out.first.c_str());
  }
  std::vector<OrtValue*> out_raw;
  for (const auto& v : out_values) out_raw.push_back(v.get());
  OrtStatus* status = api->Run(s.session.get(), nullptr, in_names.data(), in_raw.data(), in_raw.size(),
                               out_names.data(), out_names.size(), out_raw.data());
  // ORT writes into pre-allocated outputs only when their shape matches; say so plainly.
  check(api, status, "Run (into caller buffers: each must have the exact output shape)");
}

}  // namespace fastfer
