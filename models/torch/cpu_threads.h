// CPU threads for a process that runs a model: LibTorch's intra-op pool and
// OpenBLAS's own pool, set to one count, with the OpenMP wait policy that
// lets them share the cores. A plain header: callers need no torch include.
#pragma once

#include <nlohmann/json.hpp>

namespace llada {

// Sets LibTorch's intra-op threads and, where the BLAS in use is OpenBLAS,
// its threads to `threads` (0: the machine's cores). Returns what is in
// force, for the run's record: {"threads", "blas_threads" (null when the
// BLAS has no thread setting), "omp_wait_policy" (null: libgomp's default,
// which spins)}.
nlohmann::json ApplyCpuThreads(int threads);

}  // namespace llada
