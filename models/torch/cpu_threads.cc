#include "models/torch/cpu_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

namespace llada {

namespace {

// OpenBLAS's entry points, found at run time: the BLAS is whatever
// libblas.so.3 points to (Debian's alternatives); null for another BLAS.
template <typename Function>
Function* OpenBlas(const char* name) {
  return reinterpret_cast<Function*>(dlsym(RTLD_DEFAULT, name));
}

nlohmann::json OpenBlasCore() {
  auto* corename = OpenBlas<char*()>("openblas_get_corename");
  return corename ? nlohmann::json(corename()) : nlohmann::json(nullptr);
}

// How wide OpenBLAS's kernels for a core type are: 3 AVX-512, 2 AVX2 + FMA,
// 0 older or unknown (Prescott is its fallback for a CPU it cannot name).
int KernelLevel(const std::string& core) {
  for (const char* name : {"SkylakeX", "Cooperlake", "SapphireRapids"})
    if (core == name) return 3;
  for (const char* name : {"Haswell", "Zen"})
    if (core == name) return 2;
  return 0;
}

}  // namespace

// glibc's ceiling for the mmap threshold on 64-bit systems (mallopt(3)).
constexpr int kHeapBlockLimit = 32 << 20;
constexpr int kHeapKeep = 1 << 30;

nlohmann::json ApplyCpuThreads(int threads) {
  const int count = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(count);
  // OpenBLAS keeps a pool of its own, sized by its own setting; LibTorch
  // does not touch it.
  nlohmann::json blas_threads = nullptr;
  if (auto* set = OpenBlas<void(int)>("openblas_set_num_threads")) {
    set(count);
    blas_threads = count;
  }
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  // Every forward pass allocates and frees activations of a few MB. Above
  // glibc's mmap threshold each block went back to the kernel when freed and
  // was faulted in, zeroed, again on the next pass (17 % of an MMLU-shape
  // run's time, in the kernel). Blocks below 32 MiB now come from the heap,
  // which keeps up to 1 GiB of freed memory for reuse.
  const bool heap_reuse = mallopt(M_MMAP_THRESHOLD, kHeapBlockLimit) == 1 && mallopt(M_TRIM_THRESHOLD, kHeapKeep) == 1;
  return {{"threads", at::get_num_threads()},
          {"malloc_mmap_threshold", heap_reuse ? nlohmann::json(kHeapBlockLimit) : nlohmann::json(nullptr)},
          {"blas_threads", blas_threads},
          {"blas_core", OpenBlasCore()},
          {"omp_wait_policy", policy ? nlohmann::json(policy) : nlohmann::json(nullptr)}};
}

std::map<std::string, std::string> LoadTimeSettings() {
  std::map<std::string, std::string> settings;
  if (!OpenBlas<void(int)>("openblas_set_num_threads")) return settings;
  if (!std::getenv("OMP_WAIT_POLICY")) settings["OMP_WAIT_POLICY"] = "PASSIVE";
  const nlohmann::json core = OpenBlasCore();
  if (!std::getenv("OPENBLAS_CORETYPE") && core.is_string()) {
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const int level = KernelLevel(core.get<std::string>());
    if (avx512 && level < 3)
      settings["OPENBLAS_CORETYPE"] = "SkylakeX";
    else if (avx2 && level < 2)
      settings["OPENBLAS_CORETYPE"] = "Haswell";
  }
  return settings;
}

void RestartWithLoadTimeSettings(char** argv) {
  const auto settings = LoadTimeSettings();
  if (settings.empty()) return;
  for (const auto& [name, value] : settings) setenv(name.c_str(), value.c_str(), 1);
  execv("/proc/self/exe", argv);
  for (const auto& [name, value] : settings) unsetenv(name.c_str());  // exec failed: run as started
}

}  // namespace llada
