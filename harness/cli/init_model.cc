// `llada-eval init-model`: a random checkpoint in the Hugging Face layout.
#include <iostream>

#include "harness/cli/command.h"
#include "models/checkpoint/tiny_model.h"

namespace llada {
namespace {

class InitModelCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* init = app.add_subcommand(
        "init-model", "Write a random checkpoint in the Hugging Face layout (for trials, tests, benchmarks)");
    init->add_option("--arch", options_.family, "llada, llama, mistral or qwen2")->capture_default_str();
    init->add_option("--layers", options_.layers, "Transformer blocks")->capture_default_str();
    init->add_option("--d-model", options_.d_model, "Hidden size")->capture_default_str();
    init->add_option("--heads", options_.heads, "Attention heads")->capture_default_str();
    init->add_option("--kv-heads", options_.kv_heads, "Key/value heads (default: LLaDA all, ARM half)");
    init->add_option("--ffn", options_.ffn, "Feed-forward size (default 2 x d-model)");
    init->add_option("--vocab", options_.vocab, "Vocabulary rows (>= 262: bytes + special tokens)")
        ->capture_default_str();
    init->add_option("--seed", options_.seed, "Weight seed")->capture_default_str();
    init->add_option("--out", out_, "Directory to write")->required();
    return init;
  }

  int Run(CommandContext&) override {
    WriteRandomModel(options_, out_);
    std::cerr << "llada-eval: wrote a random " << options_.family << " checkpoint to " << out_ << "\n";
    return kExitOk;
  }

 private:
  InitModelOptions options_;
  std::string out_;
};

}  // namespace

std::unique_ptr<Command> MakeInitModelCommand() { return std::make_unique<InitModelCommand>(); }

}  // namespace llada
