#include "models/torch/cpu_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <cstdlib>
#include <thread>

namespace llada {

nlohmann::json ApplyCpuThreads(int threads) {
  const int count = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(count);
  // OpenBLAS keeps a pool of its own, sized by its own setting; LibTorch
  // does not touch it. Found at run time: the BLAS is whatever
  // libblas.so.3 points to (Debian's alternatives).
  nlohmann::json blas_threads = nullptr;
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set(count);
    blas_threads = count;
  }
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return {{"threads", at::get_num_threads()},
          {"blas_threads", blas_threads},
          {"omp_wait_policy", policy ? nlohmann::json(policy) : nlohmann::json(nullptr)}};
}

}  // namespace llada
