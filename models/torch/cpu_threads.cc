#include "models/torch/cpu_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

#include "core/errors.h"
#include "models/torch/cpu_kernels.h"

namespace llada {

namespace {

// A library's entry point, found at run time: the BLAS is whatever
// libblas.so.3 points to (Debian's alternatives), oneDNN is there only where
// LibTorch links it; null where the process has no such symbol.
template <typename Function>
Function* Symbol(const char* name) {
  return reinterpret_cast<Function*>(dlsym(RTLD_DEFAULT, name));
}

bool HasOpenBlas() { return Symbol<void(int)>("openblas_set_num_threads") != nullptr; }

// A variable's value in an environment block: getenv's answer before libc
// has set the process's environment up.
const char* EnvValue(char** envp, std::string_view name) {
  for (char** entry = envp; *entry; ++entry)
    if (std::strncmp(*entry, name.data(), name.size()) == 0 && (*entry)[name.size()] == '=')
      return *entry + name.size() + 1;
  return nullptr;
}

// oneDNN's sgemm where it should multiply (CpuSgemm); `choice` is
// LLADA_EVAL_CPU_GEMM's value, or null.
SgemmFunction* FindOneDnnSgemm(const char* choice) {
  if (choice && std::string_view(choice) == "libtorch") return nullptr;
  return HasOpenBlas() ? Symbol<SgemmFunction>("dnnl_sgemm") : nullptr;
}

nlohmann::json OpenBlasCore() {
  auto* corename = Symbol<char*()>("openblas_get_corename");
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

bool FlushesDenormals() {
#if defined(__x86_64__)
  return (__builtin_ia32_stmxcsr() & kFlushDenormals) == kFlushDenormals;
#else
  return false;
#endif
}

SgemmFunction* CpuSgemm() {
  static SgemmFunction* const sgemm = [] {
    const char* choice = std::getenv("LLADA_EVAL_CPU_GEMM");
    if (choice && std::string_view(choice) != "onednn" && std::string_view(choice) != "libtorch")
      throw UserError(std::string("LLADA_EVAL_CPU_GEMM=") + choice + ": expected onednn or libtorch");
    return FindOneDnnSgemm(choice);
  }();
  return sgemm;
}

void SetLoadTimeSettings(char** argv, char** envp, CoreSharing sharing) {
  // Only where OpenMP workers would spin against another pool or process.
  // (Every library is mapped and relocated by now, none started: looking a
  // symbol up is safe, calling a library is not.)
  const bool pools_compete = HasOpenBlas() && !FindOneDnnSgemm(EnvValue(envp, "LLADA_EVAL_CPU_GEMM"));
  if (!EnvValue(envp, "OMP_WAIT_POLICY") && (sharing == CoreSharing::kOthers || pools_compete)) {
    // libc's initializer, which runs after this, resets the process's
    // environment to the one given, so a variable set here would never reach
    // libgomp: start again with the policy added. No library has run any
    // code yet, so this costs the loader's relocations (25-50 ms with
    // Debian's LibTorch), not LibTorch's start-up as well.
    std::vector<char*> env;
    for (char** entry = envp; *entry; ++entry) env.push_back(*entry);
    static char passive[] = "OMP_WAIT_POLICY=PASSIVE";
    env.push_back(passive);
    env.push_back(nullptr);
    execve("/proc/self/exe", argv, env.data());
    // exec failed: run as started, with libgomp's default policy
  }
  // OpenBLAS's pool, started by its initializer, and LibTorch's, started
  // later, inherit it.
  FlushDenormalsInThisThread();
}

void UseWidestBlasKernels() {
  const nlohmann::json core = OpenBlasCore();
  auto* quit = Symbol<void()>("gotoblas_dynamic_quit");
  auto* init = Symbol<void()>("gotoblas_dynamic_init");
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
  // does not touch it. Where oneDNN multiplies, whatever still reaches
  // OpenBLAS runs in the calling thread and its pool never wakes.
  nlohmann::json blas_threads = nullptr;
  if (auto* set = Symbol<void(int)>("openblas_set_num_threads")) {
    const int blas_count = CpuSgemm() ? 1 : count;
    set(blas_count);
    blas_threads = blas_count;
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
          {"gemm", CpuSgemm() ? "onednn" : "libtorch"},
          {"blas_threads", blas_threads},
          {"blas_core", OpenBlasCore()},
          {"omp_wait_policy", policy ? nlohmann::json(policy) : nlohmann::json(nullptr)},
          {"flush_denormals", FlushesDenormals()},
          {"kernel_threads", KernelThreads()}};
}

}  // namespace llada
