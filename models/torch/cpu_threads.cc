#include "models/torch/cpu_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

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

// MXCSR's flush-to-zero and denormals-are-zero bits (x86's SSE/AVX math).
constexpr unsigned kFlushDenormals = 0x8040;

bool FlushesDenormals() {
#if defined(__x86_64__)
  return (__builtin_ia32_stmxcsr() & kFlushDenormals) == kFlushDenormals;
#else
  return false;
#endif
}

void SetLoadTimeSettings(char** argv, char** envp) {
  // The environment as given: libc's initializer, which runs after this,
  // resets the process's environment to it, so a variable set here would
  // never reach libgomp.
  std::vector<char*> env;
  bool has_policy = false;
  for (char** entry = envp; *entry; ++entry) {
    env.push_back(*entry);
    if (std::strncmp(*entry, "OMP_WAIT_POLICY=", 16) == 0) has_policy = true;
  }
  // Only where OpenBLAS is loaded: its pool is the one LibTorch's workers
  // would spin against. (Every library is mapped and relocated by now, none
  // started: looking a symbol up is safe, calling OpenBLAS is not.)
  if (!has_policy && OpenBlas<void(int)>("openblas_set_num_threads")) {
    // Start again with the policy added. No library has run any code yet,
    // so this costs the loader's relocations (~0.3 s with Debian's
    // LibTorch), not LibTorch's start-up as well.
    static char passive[] = "OMP_WAIT_POLICY=PASSIVE";
    env.push_back(passive);
    env.push_back(nullptr);
    execve("/proc/self/exe", argv, env.data());
    // exec failed: run as started, with libgomp's default policy
  }
#if defined(__x86_64__)
  // Threads inherit the floating-point environment of the thread that
  // creates them (POSIX), so OpenBLAS's pool, started by its initializer, and
  // LibTorch's, started later, flush too.
  __builtin_ia32_ldmxcsr(__builtin_ia32_stmxcsr() | kFlushDenormals);
#endif
}

void UseWidestBlasKernels() {
  const nlohmann::json core = OpenBlasCore();
  auto* quit = OpenBlas<void()>("gotoblas_dynamic_quit");
  auto* init = OpenBlas<void()>("gotoblas_dynamic_init");
  if (!core.is_string() || !quit || !init || std::getenv("OPENBLAS_CORETYPE")) return;
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const int level = KernelLevel(core.get<std::string>());
  const char* wanted = avx512 && level < 3 ? "SkylakeX" : avx2 && level < 2 ? "Haswell" : nullptr;
  if (!wanted) return;
  // OpenBLAS's own way of choosing kernels, run again: with the variable
  // set, its dynamic-architecture start-up takes the named core's kernels and
  // block sizes (as if the process had been started with it).
  setenv("OPENBLAS_CORETYPE", wanted, 0);
  quit();
  init();
}

// glibc's ceiling for the mmap threshold on 64-bit systems (mallopt(3)).
constexpr int kHeapBlockLimit = 32 << 20;
constexpr int kHeapKeep = 1 << 30;

nlohmann::json ApplyCpuThreads(int threads) {
  UseWidestBlasKernels();
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
          {"omp_wait_policy", policy ? nlohmann::json(policy) : nlohmann::json(nullptr)},
          {"flush_denormals", FlushesDenormals()}};
}

}  // namespace llada
