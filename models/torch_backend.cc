#include "models/torch_backend.h"

#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <mutex>
#include <string_view>

#include "core/errors.h"
#include "models/torch/cpu_threads.h"  // torch-free

namespace llada {
namespace {

constexpr const char* kLibraryName = "llada-eval-torch.so";

struct BackendState {
  std::mutex mutex;
  const TorchBackend* linked = nullptr;
  std::shared_future<const TorchBackend*> loading;
};

BackendState& State() {
  static BackendState state;
  return state;
}

std::filesystem::path FindLibrary() {
  if (const char* named = std::getenv("LLADA_EVAL_TORCH_BACKEND"); named && *named) return named;
  std::error_code unreadable;
  const auto dir = std::filesystem::read_symlink("/proc/self/exe", unreadable).parent_path();
  if (unreadable)
    throw UserError("cannot find the LibTorch backend: /proc/self/exe is unreadable (" + unreadable.message() +
                    "); set LLADA_EVAL_TORCH_BACKEND to llada-eval-torch.so's path");
  const std::filesystem::path beside = dir / kLibraryName, installed = dir / ".." / "lib" / "llada-eval" / kLibraryName;
  for (const auto& candidate : {beside, installed}) {
    std::error_code ec;
    if (std::filesystem::exists(candidate, ec)) return candidate;
  }
  throw UserError("cannot find the LibTorch backend: no " + beside.string() + " nor " + installed.string() +
                  " (build or install it with llada-eval, or set LLADA_EVAL_TORCH_BACKEND to its path)");
}

// Runs on the loading thread; errors travel through the future.
const TorchBackend* Load() {
  const auto library = FindLibrary();
  // RTLD_GLOBAL: the backend finds the BLAS and oneDNN entry points it
  // chooses between by name in the process's global scope (cpu_threads.cc),
  // as when LibTorch is linked. Our own code in the library stays private to
  // it (linked with --exclude-libs).
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (!handle) throw UserError("cannot load the LibTorch backend " + library.string() + ": " + dlerror());
  auto entry = reinterpret_cast<TorchBackendEntry>(dlsym(handle, kTorchBackendEntry));
  if (!entry)
    throw UserError(library.string() + " is not llada-eval's LibTorch backend (no " + kTorchBackendEntry +
                    "): rebuild it with this llada-eval");
  return entry();  // never unloaded: the process exits with LibTorch loaded
}

}  // namespace

void StartLoadingTorchBackend() {
  auto& state = State();
  std::lock_guard lock(state.mutex);
  if (state.linked || state.loading.valid()) return;
  state.loading = std::async(std::launch::async, Load).share();
}

void UseLinkedTorchBackend(const TorchBackend& linked) {
  auto& state = State();
  std::lock_guard lock(state.mutex);
  state.linked = &linked;
}

bool TorchBackendLoading() {
  auto& state = State();
  std::lock_guard lock(state.mutex);
  return !state.linked && state.loading.valid() &&
         state.loading.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
}

const TorchBackend& GetTorchBackend() {
  StartLoadingTorchBackend();  // nothing when linked or already loading
  auto& state = State();
  std::shared_future<const TorchBackend*> loading;
  {
    std::lock_guard lock(state.mutex);
    if (state.linked) return *state.linked;
    loading = state.loading;
  }
  return *loading.get();
}

void SetCpuSettingsBeforeTorchLoads() {
  FlushDenormalsInThisThread();
  const char* gemm = std::getenv("LLADA_EVAL_CPU_GEMM");
  if (gemm && std::string_view(gemm) == "libtorch") setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
}

}  // namespace llada
