// oneDNN's sgemm threaded on its own against the products split by output
// columns as models/torch/cpu_kernels.cc's SgemmLinear splits them (one
// single-threaded sgemm per thread's slice), on the small LLaDA's shapes and
// its head, for a range of row counts: GFLOP/s (best of the repeats) and
// whether the two results are the same bits. Debian's LibTorch only (where
// CpuSgemm finds oneDNN's sgemm); elsewhere it says so and exits.
//   sgemm_split_bench [threads] [repeats]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "models/torch/cpu_threads.h"

namespace {

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The same slicing as SgemmLinear (cpu_threads.h's ColumnSlice).
void SplitProduct(llada::SgemmFunction* sgemm, int threads, int64_t rows, int64_t in, int64_t out, const float* x,
                  const float* w, float* y) {
  const int64_t slice = llada::ColumnSlice(out, threads);
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int part = 0; part < threads; ++part) {
    const int64_t first = part * slice, count = std::min(out, first + slice) - first;
    if (count > 0) sgemm('N', 'T', rows, count, in, 1.0f, x, in, w + first * in, in, 0.0f, y + first, out);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : omp_get_num_procs();
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 20;
  llada::SgemmFunction* sgemm = llada::CpuSgemm();
  if (!sgemm) {
    std::printf("no oneDNN sgemm in this build (CpuSgemm is null): nothing to compare\n");
    return 0;
  }
  omp_set_num_threads(threads);
  std::printf("%d threads, best of %d (%d for the head); GFLOP/s oneDNN's own -> split; '=' same bits\n", threads,
              repeats, std::max(1, repeats / 4));
  const int64_t shapes[][2] = {{512, 512}, {512, 1536}, {1536, 512}, {512, 32000}};
  std::printf("rows  ");
  for (const auto& shape : shapes) {
    const std::string name = std::to_string(shape[0]) + "x" + std::to_string(shape[1]);
    std::printf("  %-16s", name.c_str());
  }
  std::printf("\n");
  std::mt19937 generator(1);
  std::normal_distribution<float> normal;
  for (int64_t rows : {1, 8, 32, 64, 128, 256, 512}) {
    std::printf("%4ld  ", static_cast<long>(rows));
    for (const auto& [in, out] : shapes) {
      std::vector<float> x(static_cast<size_t>(rows * in)), w(static_cast<size_t>(out * in));
      std::vector<float> own(static_cast<size_t>(rows * out)), split(own.size());
      for (auto& v : x) v = normal(generator);
      for (auto& v : w) v = 0.05f * normal(generator);
      const int count = out > 4096 ? std::max(1, repeats / 4) : repeats;
      double own_best = 1e9, split_best = 1e9;
      for (int r = 0; r < count; ++r) {
        double start = Seconds();
        sgemm('N', 'T', rows, out, in, 1.0f, x.data(), in, w.data(), in, 0.0f, own.data(), out);
        own_best = std::min(own_best, Seconds() - start);
        start = Seconds();
        SplitProduct(sgemm, threads, rows, in, out, x.data(), w.data(), split.data());
        split_best = std::min(split_best, Seconds() - start);
      }
      const double gflop = 2.0 * static_cast<double>(rows * in * out) * 1e-9;
      const bool same = std::memcmp(own.data(), split.data(), own.size() * sizeof(float)) == 0;
      std::printf("  %5.0f -> %5.0f %s", gflop / own_best, gflop / split_best, same ? "=" : "!");
    }
    std::printf("\n");
  }
  return 0;
}
