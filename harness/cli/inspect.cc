// `llada-eval logits | loglik | generate`: a checkpoint's raw outputs for
// token ids, for parity checks against the reference implementations.
#include <iostream>

#include "core/errors.h"
#include "harness/cli/command.h"
#include "harness/cli/flags.h"
#include "models/torch_backend.h"

namespace llada {
namespace {

nlohmann::json ParseJsonFlag(const std::string& text, const char* flag) {
  if (text.empty()) return nlohmann::json();
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded()) throw UserError(std::string(flag) + ": not valid JSON");
  return value;
}

// The flags every inspection command has.
class InspectCommand : public Command {
 protected:
  CLI::App* AddInspect(CLI::App& app, const std::string& name, const std::string& help) {
    auto* cmd = app.add_subcommand(name, help);
    cmd->add_option("--model", options_.model, "Checkpoint directory")->required();
    cmd->add_option("--device", options_.device, "cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_option("--dtype", options_.dtype, "float32, bfloat16 or float16")->capture_default_str();
    return cmd;
  }
  CLI::Option* AddSeed(CLI::App* cmd) {
    return cmd->add_option("--seed", seed_, "torch.manual_seed(S) right before the call")->check(NonNegativeInteger());
  }
  InspectOptions WithSeed(const CLI::Option* seed) const {
    InspectOptions options = options_;
    if (seed->count()) options.seed = seed_;
    return options;
  }

  InspectOptions options_;
  uint64_t seed_ = 0;
};

class LogitsCommand : public InspectCommand {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = AddInspect(app, "logits", "Write a checkpoint's logits for token ids (float32 LE, [B,T,V])");
    cmd->add_option("--ids", ids_, "JSON id rows, e.g. [[1,2,3]]")->required();
    cmd->add_option("--attention-mask", mask_, "JSON 0/1 rows (1 = token)");
    cmd->add_flag("--causal", causal_, "Run a LLaDA-architecture checkpoint with a causal mask");
    cmd->add_option("--out", out_, "Output file")->required();
    return cmd;
  }
  int Run(CommandContext&) override {
    std::cout << GetTorchBackend()
                     .InspectLogits(options_, ParseJsonFlag(ids_, "--ids"), ParseJsonFlag(mask_, "--attention-mask"),
                                    causal_, out_)
                     .dump()
              << "\n";
    return kExitOk;
  }

 private:
  std::string ids_, mask_, out_;
  bool causal_ = false;
};

class LoglikCommand : public InspectCommand {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = AddInspect(app, "loglik", "Log-likelihood of answer ids after prompt ids (LLaDA: Monte-Carlo)");
    cmd->add_option("--prompt-ids", prompt_, "JSON ids")->required();
    cmd->add_option("--answer-ids", answer_, "JSON ids")->required();
    cmd->add_option("--mc-num", mc_num_, "Monte-Carlo samples")->capture_default_str()->check(PositiveInteger());
    cmd->add_option("--batch-size", mc_batch_, "Samples per forward pass")
        ->capture_default_str()
        ->check(PositiveInteger());
    cmd->add_option("--cfg", cfg_, "Classifier-free guidance scale")->capture_default_str()->check(FiniteNumber(true));
    seed_option_ = AddSeed(cmd);
    cmd->add_flag("--check-greedy", check_greedy_, "Also run the suffix-greedy check");
    return cmd;
  }
  int Run(CommandContext&) override {
    std::cout << GetTorchBackend()
                     .InspectLoglik(WithSeed(seed_option_), ParseJsonFlag(prompt_, "--prompt-ids"),
                                    ParseJsonFlag(answer_, "--answer-ids"), mc_num_, mc_batch_, cfg_, check_greedy_)
                     .dump()
              << "\n";
    return kExitOk;
  }

 private:
  std::string prompt_, answer_;
  int mc_num_ = 128, mc_batch_ = 32;
  double cfg_ = 0.0;
  bool check_greedy_ = false;
  CLI::Option* seed_option_ = nullptr;
};

class GenerateCommand : public InspectCommand {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = AddInspect(app, "generate", "Generate from prompt ids (LLaDA: diffusion; ARM: greedy)");
    cmd->add_option("--prompt-ids", prompt_, "JSON id rows (left-padded to one length)")->required();
    cmd->add_option("--attention-mask", mask_, "JSON 0/1 rows for the prompt");
    cmd->add_option("--steps", steps_)->capture_default_str()->check(PositiveInteger());
    cmd->add_option("--gen-length", gen_length_)->capture_default_str()->check(PositiveInteger());
    cmd->add_option("--block-length", block_length_)->capture_default_str()->check(PositiveInteger());
    cmd->add_option("--temperature", temperature_)->capture_default_str()->check(FiniteNumber(true));
    cmd->add_option("--cfg", cfg_)->capture_default_str()->check(FiniteNumber(true));
    cmd->add_option("--remasking", remasking_, "low_confidence or random")
        ->capture_default_str()
        ->check(CLI::IsMember({"low_confidence", "random"}));
    seed_option_ = AddSeed(cmd);
    return cmd;
  }
  int Run(CommandContext&) override {
    std::cout << GetTorchBackend()
                     .InspectGenerate(WithSeed(seed_option_), ParseJsonFlag(prompt_, "--prompt-ids"),
                                      ParseJsonFlag(mask_, "--attention-mask"), steps_, gen_length_, block_length_,
                                      temperature_, cfg_, remasking_)
                     .dump()
              << "\n";
    return kExitOk;
  }

 private:
  std::string prompt_, mask_, remasking_ = "low_confidence";
  int64_t steps_ = 128, gen_length_ = 128, block_length_ = 128;
  double temperature_ = 0.0, cfg_ = 0.0;
  CLI::Option* seed_option_ = nullptr;
};

}  // namespace

std::vector<std::unique_ptr<Command>> MakeInspectCommands() {
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(std::make_unique<LogitsCommand>());
  commands.push_back(std::make_unique<LoglikCommand>());
  commands.push_back(std::make_unique<GenerateCommand>());
  return commands;
}

}  // namespace llada
