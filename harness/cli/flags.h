// Flags that several commands share: the task selection (`run`, `requests`,
// `study`) and the model, output and sandbox settings (`run`, `study`), with
// validators that refuse bad values naming the flag.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "harness/evaluator.h"

namespace llada {

std::string DefaultDataDir();

// Validators whose messages CLI11 prefixes with the flag's name.
const CLI::Validator& NonNegativeInteger();
const CLI::Validator& PositiveInteger();
CLI::Validator FiniteNumber(bool allow_zero);  // $LLADA_EVAL_DATA, else ~/.cache/llada-eval/data

// Options shared by `run`, `requests` and `study`.
struct CommonFlags {
  std::string tasks;
  int shots = -1;  // -1: not given (the validator refuses negative values)
  int64_t limit = -1;
  std::string doc_range;
  std::string data_dir = DefaultDataDir();
  std::string preset;
  uint64_t fewshot_seed = 1234;
  bool apply_chat_template = false;
  std::string chat_template;
  std::string system_instruction;
  bool fewshot_as_multiturn = false;
};

// `study` takes lists where `run` takes one value (--shots 0,1,5; --preset
// a,b; --chat-template x,y): `shots_list` receives its --shots.
void AddCommonFlags(CLI::App* app, CommonFlags* flags, std::string* shots_list = nullptr);

// Options of `run` (and `study`) beyond the common ones: the model and its
// settings, outputs, the sandbox.
struct RunFlags {
  EvalOptions extra;
  std::string output = "llada-eval-out", db, model_args;
  std::map<std::string, std::string> setting_flags;
};

// `study` names its models with --models, so it takes no --model.
void AddRunFlags(CLI::App* run, RunFlags* flags, bool with_model);

EvalOptions ToEvalOptions(const CommonFlags& flags);
EvalOptions ToRunOptions(const CommonFlags& common, const RunFlags& flags);

// "a,,b" -> {"a", "b"}.
std::vector<std::string> SplitList(const std::string& text);

// Words as one shell command line, quoted where they need it (printed
// commands a user reruns, the scripts `slurm` writes).
std::string ShellQuote(const std::vector<std::string>& words);

// The arguments without the flags named, each with its value ("--flag value"
// or "--flag=value").
std::vector<std::string> WithoutFlags(const std::vector<std::string>& args, const std::set<std::string>& flags);

// `study --model-args-grid "cache=none,dual threshold=none,0.9"`: one axis per
// space-separated key, every combination of their values, the first value of
// every axis first (the baseline the others are compared with). A value is
// typed as --model-args types it; "none" sets the key to null (the backend's
// default, whatever a preset says).
struct GridCell {
  std::string label;  // "cache=dual threshold=0.9"
  nlohmann::json model_args;
};
std::vector<GridCell> ParseModelArgsGrid(const std::string& text);

}  // namespace llada
