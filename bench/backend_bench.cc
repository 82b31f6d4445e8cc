// LibTorch backend throughput on a checkpoint (e.g. one from `llada-eval init-model`).
//
//   backend_bench MODEL_DIR [device=cpu] [prompt=256] [answer=16] [mc_num=128] [mc_batch=32] [gen=64] [dtype=float32]
//
// Reports Monte-Carlo likelihood throughput (samples/s, tokens/s), diffusion
// (LLaDA: paper mode, and at block 32 the dual cache and Fast-dLLM's dual
// cache + threshold 0.9, batch 1 and 8) or greedy cached (ARM) generation
// throughput (tokens/s, forward passes/s), achieved FLOP/s against a float32 matmul peak measured in the
// same run (MFU), and the process's peak resident memory. CPU runs take the
// command line's settings (load-time settings, ApplyCpuThreads with every core).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "models/checkpoint/model_config.h"
#include "models/checkpoint/safetensors.h"
#include "models/model.h"
#include "models/torch/causal_lm.h"
#include "models/torch/cpu_kernels.h"
#include "models/torch/cpu_threads.h"
#include "models/torch/device_memory.h"
#include "models/torch/llada_algorithms.h"
#include "models/torch/transformer.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// FLOPs of one forward over `tokens` positions of a `context`-long sequence
// (2 per multiply-add in every projection and the head, plus attention).
double ForwardFlops(const llada::TransformerConfig& c, double tokens, double context) {
  const double h = c.hidden_size, kv = c.num_kv_heads * c.head_dim, f = c.intermediate_size;
  const double per_layer = 2 * tokens * (h * h * 2 + 2 * h * kv + 3 * h * f) + 4 * tokens * context * h;
  return c.num_layers * per_layer + 2 * tokens * h * c.vocab_size;
}

// The matmul peak in the model's dtype: 1024^3 on a CPU, 8192^3 on a GPU,
// through the products the model itself calls (oneDNN's sgemm under
// Debian's LibTorch).
double MatmulPeak(torch::Device device, torch::ScalarType dtype) {
  const int64_t n = device.is_cuda() ? 8192 : 1024;
  const auto a = torch::randn({n, n}, torch::TensorOptions().device(device).dtype(dtype));
  const auto b = torch::randn({n, n}, torch::TensorOptions().device(device).dtype(dtype));
  llada::Linear(a, b);
  if (device.is_cuda()) torch::cuda::synchronize();
  const int reps = 10;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) llada::Linear(a, b);
  if (device.is_cuda()) torch::cuda::synchronize();
  return reps * 2.0 * n * n * n / Seconds(start);
}

void Sync(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// The load-time settings of a program linking LibTorch (the command line
// sets the same before it loads LibTorch: models/torch_backend.h): a
// benchmark runs with the cores to itself.
void BeforeLibrariesStart(int argc, char** argv, char** envp) {
  llada::SetLoadTimeSettings(argv, envp, llada::CoreSharing::kAlone);
}
__attribute__((section(".preinit_array"), used)) void (*before_libraries_start)(int, char**,
                                                                                char**) = BeforeLibrariesStart;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [device] [prompt] [answer] [mc_num] [mc_batch] [gen]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const torch::Device device = llada::ParseDevice(argc > 2 ? argv[2] : "cpu");
  const int64_t prompt_len = argc > 3 ? std::stoll(argv[3]) : 256, answer_len = argc > 4 ? std::stoll(argv[4]) : 16;
  const int mc_num = argc > 5 ? std::stoi(argv[5]) : 128, mc_batch = argc > 6 ? std::stoi(argv[6]) : 32;
  const int64_t gen = argc > 7 ? std::stoll(argv[7]) : 64;
  const std::string dtype_name = argc > 8 ? argv[8] : "float32";
  llada::CheckDeviceAndDtype(device.is_cuda() ? "cuda" : "cpu", dtype_name);
  const torch::ScalarType dtype = llada::ParseDtype(dtype_name, device);

  // The CPU settings of `llada-eval run` (--threads' default: every core).
  if (device.is_cpu()) std::printf("cpu threads: %s\n", llada::ApplyCpuThreads(0).dump().c_str());
  const auto config = llada::ReadTransformerConfig(dir);
  const auto checkpoint = llada::Checkpoint::Open(dir);
  const llada::Transformer model(config, *checkpoint, device, dtype);
  const double peak = MatmulPeak(device, dtype);
  std::vector<int64_t> prompt(prompt_len), answer(answer_len);
  for (int64_t i = 0; i < prompt_len; ++i) prompt[i] = 1 + i % 200;
  for (int64_t i = 0; i < answer_len; ++i) answer[i] = 3 + i % 100;

  std::printf("model %s: %s, %lld layers, d_model %lld, vocab %lld; device %s, %s, %d threads\n", dir.c_str(),
              config.architecture.c_str(), static_cast<long long>(config.num_layers),
              static_cast<long long>(config.hidden_size), static_cast<long long>(config.vocab_size),
              device.str().c_str(), dtype_name.c_str(), torch::get_num_threads());
  std::printf("%s matmul peak: %.1f GFLOP/s\n", dtype_name.c_str(), peak / 1e9);
  const double length = static_cast<double>(prompt_len + answer_len);

  if (!config.causal) {
    llada::MonteCarloOptions mc;
    mc.mc_num = mc_num;
    mc.batch_size = mc_batch;
    mc.mask_id = config.mask_token_id.value_or(126336);
    torch::manual_seed(1234);
    auto start = std::chrono::steady_clock::now();
    llada::LladaLogLikelihood(model, prompt, answer, mc);
    double s = Seconds(start);
    // Every sample is a full forward (the head only at masked positions: ~half the answer on average).
    const double flops =
        mc_num * (ForwardFlops(config, length, length) - 2 * length * config.hidden_size * config.vocab_size +
                  2 * (answer_len / 2.0) * config.hidden_size * config.vocab_size);
    std::printf(
        "likelihood: prompt %lld + answer %lld, mc_num %d, batch %d: %.3f s, %.1f samples/s, %.0f tokens/s, "
        "%.1f GFLOP/s, MFU %.1f%%\n",
        static_cast<long long>(prompt_len), static_cast<long long>(answer_len), mc_num, mc_batch, s, mc_num / s,
        mc_num * length / s, flops / s / 1e9, 100 * flops / s / peak);
    start = std::chrono::steady_clock::now();
    llada::LladaLogLikelihoods(model, {{prompt, answer}}, mc, 1234);
    s = Seconds(start);
    std::printf("likelihood, harness path (passes of %s rows): %.3f s, %.1f samples/s, MFU %.1f%%\n",
                device.is_cuda() ? "mc_batch" : "<= 4", s, mc_num / s, 100 * flops / s / peak);
    // Forward-pass throughput against batch rows (what packing trades on).
    for (int64_t rows : {1, 4, 16, 32}) {
      const auto input = torch::tensor(prompt).unsqueeze(0).repeat({rows, 1}).to(device);
      model.Hidden(input);
      Sync(device);
      const int reps = static_cast<int>(std::max<int64_t>(1, 32 / rows));
      start = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; ++i) model.Hidden(input);
      Sync(device);
      const double t = Seconds(start);
      std::printf("forward (no head), %lld rows x %lld tokens: %.0f tokens/s\n", static_cast<long long>(rows),
                  static_cast<long long>(prompt_len), reps * rows * prompt_len / t);
    }
    // Packing across requests: 16 requests of mixed lengths, and 64
    // one-token (MMLU-like) requests, one at a time vs packed.
    std::vector<llada::LikelihoodQuery> mixed, single_token;
    for (int i = 0; i < 16; ++i) {
      const int64_t p = prompt_len / 2 + (i * prompt_len) / 32;
      mixed.push_back({std::vector<int64_t>(prompt.begin(), prompt.begin() + std::min<int64_t>(p, prompt_len)),
                       std::vector<int64_t>(answer.begin(), answer.begin() + 1 + i % answer_len)});
    }
    // 16 questions (prompts differing in their first token) x 4 one-token
    // answers: the answers of a question share one row.
    for (int i = 0; i < 64; ++i) {
      std::vector<int64_t> question = prompt;
      question[0] = 1 + i / 4;
      single_token.push_back({question, {answer[i % 4]}});
    }
    for (const auto* set : {&mixed, &single_token}) {
      llada::MonteCarloOptions small = mc;
      if (set == &mixed) small.mc_num = small.batch_size = 8;
      double rows = 0.0;
      for (const auto& q : *set) rows += q.target.size() == 1 ? 1 : small.mc_num;
      start = std::chrono::steady_clock::now();
      for (const auto& q : *set) llada::LladaLogLikelihoods(model, {q}, small, 1234);
      const double alone = Seconds(start);
      start = std::chrono::steady_clock::now();
      llada::LladaLogLikelihoods(model, *set, small, 1234);
      const double packed = Seconds(start);
      std::printf(
          "likelihood, %zu %s requests (%.0f rows): one at a time %.3f s (%.1f rows/s), packed %.3f s "
          "(%.1f rows/s), x%.2f\n",
          set->size(), set == &mixed ? "mixed-length mc_num 8" : "one-token (16 questions x 4 answers)", rows, alone,
          rows / alone, packed, rows / packed, alone / packed);
    }
    llada::DiffusionGenerateOptions g;
    g.gen_length = gen;
    g.steps = gen;
    g.block_length = gen;
    g.mask_id = mc.mask_id;
    int64_t calls = 0;
    start = std::chrono::steady_clock::now();
    llada::LladaGenerate(model, torch::tensor(prompt).unsqueeze(0), g, &calls);
    Sync(device);
    s = Seconds(start);
    const double gen_flops = calls * ForwardFlops(config, prompt_len + gen, prompt_len + gen);
    std::printf(
        "generation: prompt %lld, gen_length = steps = block %lld: %.3f s, %.1f tokens/s, %.1f forwards/s, "
        "%.1f GFLOP/s, MFU %.1f%%\n",
        static_cast<long long>(prompt_len), static_cast<long long>(gen), s, gen / s, calls / s, gen_flops / s / 1e9,
        100 * gen_flops / s / peak);
    // Semi-autoregressive blocks of 32, paper schedule against Fast-dLLM's
    // setting (dual cache, threshold 0.9) and its cache alone, batch 1 and 8.
    if (gen % 32 == 0) {
      for (const char* mode : {"paper", "dual", "fast-dllm"}) {
        for (int64_t rows : {1, 8}) {
          llada::DiffusionGenerateOptions b = g;
          b.block_length = 32;
          if (std::string(mode) != "paper") b.cache = llada::DiffusionCache::kDual;
          if (std::string(mode) == "fast-dllm") b.threshold = 0.9;
          const auto input = torch::tensor(prompt).unsqueeze(0).repeat({rows, 1});
          start = std::chrono::steady_clock::now();
          llada::LladaGenerate(model, input, b, &calls);
          Sync(device);
          s = Seconds(start);
          std::printf("generation, block 32, %s, batch %lld: %.3f s, %.1f tokens/s, %lld forwards\n", mode,
                      static_cast<long long>(rows), s, static_cast<double>(rows * gen) / s,
                      static_cast<long long>(calls));
        }
      }
    }
  } else {
    auto start = std::chrono::steady_clock::now();
    const int reps = 16;
    for (int i = 0; i < reps; ++i) llada::CausalLogLikelihood(model, prompt, answer);
    double s = Seconds(start);
    const double flops = reps * ForwardFlops(config, length - 1, length - 1);
    std::printf(
        "likelihood (exact): prompt %lld + answer %lld, %d requests: %.3f s, %.1f requests/s, %.0f tokens/s, "
        "MFU %.1f%%\n",
        static_cast<long long>(prompt_len), static_cast<long long>(answer_len), reps, s, reps / s, reps * length / s,
        100 * flops / s / peak);
    start = std::chrono::steady_clock::now();
    const auto generated = llada::GreedyGenerate(model, prompt, gen, {});
    s = Seconds(start);
    std::printf("generation (greedy, KV cache): prompt %lld, %zu new tokens: %.3f s, %.1f tokens/s\n",
                static_cast<long long>(prompt_len), generated.size(), s, generated.size() / s);
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("peak resident memory: %.1f MiB\n", usage.ru_maxrss / 1024.0);
  if (const auto peak_gpu = llada::PeakDeviceMemoryBytes(device))
    std::printf("peak GPU memory (CUDA caching allocator): %.1f MiB\n", static_cast<double>(*peak_gpu) / (1 << 20));
  return 0;
}
