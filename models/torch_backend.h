// The LibTorch backends behind one interface, so that a process can start
// without LibTorch: llada-eval loads them from a shared library
// (llada-eval-torch.so) on a background thread as it starts -- LibTorch's
// ~0.5 s of loading and registering operators overlaps the command line's own
// preparation (tasks, documents, the tokenizer, the weights widened by
// ReadHfCheckpoint) -- and a command that runs no model never loads it.
// Tests and benches link the backends instead (models/torch/backends.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "models/hf_checkpoint.h"
#include "models/model.h"
#include "models/torch/inspect.h"

namespace llada {

class TorchBackend {
 public:
  virtual ~TorchBackend() = default;

  // The model for a checkpoint of a registered architecture (registry.cc).
  virtual std::unique_ptr<Model> Create(const ModelOptions& options, HfCheckpoint checkpoint) const = 0;

  // The `logits`, `loglik` and `generate` commands (models/torch/inspect.h).
  virtual nlohmann::json InspectLogits(const InspectOptions& options, const nlohmann::json& ids,
                                       const nlohmann::json& attention_mask, bool causal,
                                       const std::filesystem::path& out) const = 0;
  virtual nlohmann::json InspectLoglik(const InspectOptions& options, const nlohmann::json& prompt_ids,
                                       const nlohmann::json& answer_ids, int mc_num, int batch_size, double cfg,
                                       bool check_greedy) const = 0;
  virtual nlohmann::json InspectGenerate(const InspectOptions& options, const nlohmann::json& prompt_ids,
                                         const nlohmann::json& attention_mask, int64_t steps, int64_t gen_length,
                                         int64_t block_length, double temperature, double cfg,
                                         const std::string& remasking) const = 0;
};

// The shared library's one exported function (models/torch/module.cc).
using TorchBackendEntry = const TorchBackend* (*)();
inline constexpr const char* kTorchBackendEntry = "llada_eval_torch_backend_v1";

// Starts loading the library on a background thread (once; later calls do
// nothing). It is looked for beside the running program, then in
// ../lib/llada-eval/ from it; LLADA_EVAL_TORCH_BACKEND names another file.
void StartLoadingTorchBackend();

// Makes `linked` the backend (tests, benches): nothing is loaded.
void UseLinkedTorchBackend(const TorchBackend& linked);

// Whether the background load has started and not finished. Until the
// libraries are mapped (~0.25 s of Debian's LibTorch), glibc's loader lock
// holds up every new thread of the process: work meant for a helper thread
// runs in the caller instead while this is true.
bool TorchBackendLoading();

// The backend, waiting for the load to finish (starting it when nobody
// has). UserError when the library is missing or cannot load (a LibTorch it
// needs is not installed), with the loader's message.
const TorchBackend& GetTorchBackend();

// The CPU settings a model-running process must have before LibTorch's
// libraries start, set in this thread's environment: flush-to-zero and
// denormals-are-zero (threads inherit them: models/torch/cpu_threads.h) and,
// where LLADA_EVAL_CPU_GEMM=libtorch asks for LibTorch's own products (whose
// BLAS pool would compete with OpenMP's spinning workers), OpenMP's passive
// wait policy. Call before StartLoadingTorchBackend and before any thread.
void SetCpuSettingsBeforeTorchLoads();

}  // namespace llada
