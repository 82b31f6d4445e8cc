#include "harness/cli/flags.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <tuple>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/text.h"
#include "models/model.h"
#include "sandbox/executor.h"

namespace llada {

namespace {

nlohmann::json LoadPreset(const std::string& preset) {
  if (preset.empty()) return nlohmann::json::object();
  std::filesystem::path path = preset;
  if (path.extension() != ".json") path = DefaultConfigDir() / "presets" / (preset + ".json");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    std::vector<std::string> known;
    for (const auto& entry : std::filesystem::directory_iterator(DefaultConfigDir() / "presets", ec))
      known.push_back(entry.path().stem().string());
    std::sort(known.begin(), known.end());
    throw UserError("--preset: unknown preset '" + preset + "' (known: " + Join(known, ", ") + ")");
  }
  nlohmann::json config = nlohmann::json::parse(ReadInputFile(path), nullptr, false);
  if (config.is_discarded() || !config.is_object())
    throw UserError::InFile(path.string(), "--preset", "not valid JSON");
  return config;
}

// "mc_num=128,cfg=0.5,remasking=low_confidence,is_check_greedy=true" -> JSON,
// numbers and booleans typed as lm-eval's --model_args does.
nlohmann::json ParseModelArgs(const std::string& text) {
  nlohmann::json args = nlohmann::json::object();
  std::string item;
  for (char c : text + ",") {
    if (c != ',') {
      item.push_back(c);
      continue;
    }
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) throw UserError("--model-args: expected key=value, got '" + item + "'");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    const nlohmann::json parsed = nlohmann::json::parse(value, nullptr, false);
    if (value == "True" || value == "False")
      args[key] = value == "True";
    else if (!parsed.is_discarded() && (parsed.is_number() || parsed.is_boolean()))
      args[key] = parsed;
    else
      args[key] = value;
    item.clear();
  }
  return args;
}

}  // namespace

const CLI::Validator& NonNegativeInteger() {
  static const CLI::Validator validator(
      [](std::string& value) -> std::string {
        return IsAsciiDigits(value) ? "" : "must be a whole number of 0 or more, got '" + value + "'";
      },
      "INT>=0");
  return validator;
}

const CLI::Validator& PositiveInteger() {
  static const CLI::Validator validator(
      [](std::string& value) -> std::string {
        const bool ok = IsAsciiDigits(value) && value.find_first_not_of('0') != std::string::npos;
        return ok ? "" : "must be a whole number of 1 or more, got '" + value + "'";
      },
      "INT>0");
  return validator;
}

CLI::Validator FiniteNumber(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& value) -> std::string {
        char* end = nullptr;
        const double number = std::strtod(value.c_str(), &end);
        const bool ok =
            !value.empty() && end && *end == '\0' && std::isfinite(number) && (allow_zero ? number >= 0 : number > 0);
        return ok ? ""
                  : std::string("must be a finite number ") + (allow_zero ? "of 0 or more" : "above 0") + ", got '" +
                        value + "'";
      },
      allow_zero ? "NUMBER>=0" : "NUMBER>0");
}

std::string DefaultDataDir() {
  if (const char* env = std::getenv("LLADA_EVAL_DATA"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.cache/llada-eval/data";
}

void AddCommonFlags(CLI::App* app, CommonFlags* flags, std::string* shots_list) {
  // A flag given twice takes its last value, so scripts can override defaults.
  app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app->add_option("--tasks", flags->tasks, "Comma list of tasks, groups or aliases (see `llada-eval tasks`)")
      ->required();
  if (shots_list)
    app->add_option("--shots", *shots_list, "Few-shot settings to compare, e.g. 0,1,5")->required();
  else
    app->add_option("--shots", flags->shots, "Few-shot examples per document (default: preset, else each task's own)")
        ->check(NonNegativeInteger());
  app->add_option("--limit", flags->limit, "Evaluate only the first N documents of each task")
      ->check(NonNegativeInteger());
  app->add_option("--doc-range", flags->doc_range, "Only documents A <= index < B of each task, as A:B");
  app->add_option("--data-dir", flags->data_dir,
                  "Benchmark files, laid out as <data-dir>/<task>/ (default: "
                  "$LLADA_EVAL_DATA, else ~/.cache/llada-eval/data)");
  app->add_option("--preset", flags->preset, "Named settings from configs/presets/ (or a JSON file path)");
  app->add_option("--fewshot-seed", flags->fewshot_seed, "Seed of the random few-shot sampler (lm-eval: 1234)")
      ->check(NonNegativeInteger());
  app->add_flag("--apply-chat-template", flags->apply_chat_template,
                "Render prompts as a conversation with the model's chat template");
  app->add_option("--chat-template", flags->chat_template,
                  "Chat template by name (chatml, llada, llama2, llama3, mistral); implies --apply-chat-template");
  app->add_option("--system-instruction", flags->system_instruction, "System prompt placed before the description");
  app->add_flag("--fewshot-as-multiturn", flags->fewshot_as_multiturn,
                "With a chat template: each few-shot example as a user/assistant turn pair");
}

EvalOptions ToEvalOptions(const CommonFlags& flags) {
  EvalOptions options;
  options.tasks = SplitList(flags.tasks);
  if (flags.shots >= 0) options.num_fewshot = flags.shots;
  if (flags.limit >= 0) options.limit = flags.limit;
  if (!flags.doc_range.empty()) options.doc_range = ParseDocRange(flags.doc_range);
  options.data_dir = flags.data_dir;
  options.preset = flags.preset;
  options.preset_config = LoadPreset(flags.preset);
  options.fewshot_seed = flags.fewshot_seed;
  options.chat_template_name = flags.chat_template;
  options.apply_chat_template = flags.apply_chat_template || !flags.chat_template.empty();
  if (!flags.system_instruction.empty()) options.system_instruction = flags.system_instruction;
  options.fewshot_as_multiturn = flags.fewshot_as_multiturn;
  return options;
}

void AddRunFlags(CLI::App* run, RunFlags* flags, bool with_model) {
  if (with_model)
    run->add_option("--model", flags->extra.model.spec, "Checkpoint directory, or replay:FILE.jsonl")->required();
  run->add_option("--output", flags->output, "Directory for results_<timestamp>.json, samples and the store")
      ->capture_default_str();
  run->add_option("--db", flags->db, "Result store (default: <output>/llada-eval.db)");
  run->add_flag("--log-samples", flags->extra.log_samples, "Write samples_<task>.jsonl per task");
  run->add_option("--model-args", flags->model_args,
                  "Backend settings as key=value,... (e.g. mc_num=128,cfg=0.5,gen_length=256); override the preset's");
  // The common backend settings as flags of their own (they fold into --model-args).
  const CLI::Validator any_text;
  for (const auto& [flag, help, check] : std::vector<std::tuple<std::string, std::string, CLI::Validator>>{
           {"mc-num", "LLaDA: Monte-Carlo samples per likelihood (default 128)", PositiveInteger()},
           {"mc-batch-size", "LLaDA: Monte-Carlo samples per forward pass (default min(mc_num, 32))",
            PositiveInteger()},
           {"cfg", "LLaDA: classifier-free guidance scale (default 0: off)", FiniteNumber(true)},
           {"gen-length", "LLaDA: tokens generated per answer (default 1024)", PositiveInteger()},
           {"steps", "LLaDA: diffusion sampling steps (default gen_length)", PositiveInteger()},
           {"block-length", "LLaDA: semi-autoregressive block length (default gen_length)", PositiveInteger()},
           {"remasking", "LLaDA: low_confidence (default) or random", CLI::IsMember({"low_confidence", "random"})},
           {"temperature", "LLaDA: Gumbel sampling temperature (default 0: greedy)", FiniteNumber(true)},
       })
    run->add_option("--" + flag, flags->setting_flags[flag], help)->check(check);
  run->add_option("--seed", flags->extra.model.seed, "Model sampling seed")
      ->capture_default_str()
      ->check(NonNegativeInteger());
  run->add_option("--batch-size", flags->extra.model.batch_size, "Requests per model call")
      ->capture_default_str()
      ->check(PositiveInteger());
  run->add_option("--threads", flags->extra.model.threads,
                  "CPU threads for the model (LibTorch and OpenBLAS alike; default: the machine's cores)")
      ->check(PositiveInteger());
  run->add_option("--device", flags->extra.model.device, "cpu, cuda or cuda:N")->capture_default_str();
  run->add_option("--dtype", flags->extra.model.dtype, "auto, float32, bfloat16 or float16")->capture_default_str();
  // Code tasks (HumanEval, MBPP): the sandbox.
  run->add_option("--exec-workers", flags->extra.code_execution.workers,
                  "Programs run at once in the sandbox, 1 to " + std::to_string(kMaxSandboxSlots) +
                      " (default: the machine's cores, at most " + std::to_string(kMaxSandboxSlots) + ")")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            const bool ok = IsAsciiDigits(value) && value.size() <= 3 && std::stoi(value) >= 1 &&
                            std::stoi(value) <= kMaxSandboxSlots;
            return ok ? ""
                      : "must be between 1 and " + std::to_string(kMaxSandboxSlots) +
                            " (sandbox slots per process, each with its own uid), got '" + value + "'";
          },
          "1.." + std::to_string(kMaxSandboxSlots)));
  run->add_option("--exec-time-floor", flags->extra.code_execution.time_limit_floor,
                  "Smallest time limit per program, seconds")
      ->capture_default_str()
      ->check(FiniteNumber(false));
  run->add_option("--exec-time-factor", flags->extra.code_execution.time_limit_factor,
                  "Time limit = max(floor, factor x the reference solution's time in the sandbox)")
      ->capture_default_str()
      ->check(FiniteNumber(false));
  run->add_flag("--unsafe-exec", flags->extra.code_execution.unsafe_exec,
                "If the sandbox is unusable, run model-written code WITHOUT isolation (rlimits only; recorded)");
}

EvalOptions ToRunOptions(const CommonFlags& common, const RunFlags& flags) {
  EvalOptions options = ToEvalOptions(common);
  options.model = flags.extra.model;
  options.log_samples = flags.extra.log_samples;
  options.output_dir = flags.output;
  options.db_path = flags.db;
  options.cli_model_args = ParseModelArgs(flags.model_args);
  options.code_execution = flags.extra.code_execution;
  if (const char* bwrap = std::getenv("LLADA_EVAL_BWRAP"); bwrap && *bwrap) options.code_execution.bwrap = bwrap;
  for (const auto& [flag, value] : flags.setting_flags) {
    if (value.empty()) continue;
    std::string key = flag;
    std::replace(key.begin(), key.end(), '-', '_');
    const nlohmann::json parsed = ParseModelArgs(key + "=" + value);  // typed as --model-args types it
    options.cli_model_args[key] = parsed.at(key);
  }
  CheckDeviceAndDtype(options.model.device, options.model.dtype);
  if (options.model.batch_size < 1) throw UserError("--batch-size: must be 1 or more");
  return options;
}

std::vector<GridCell> ParseModelArgsGrid(const std::string& text) {
  std::vector<GridCell> cells = {{"", nlohmann::json::object()}};
  std::set<std::string> keys;
  for (const auto& axis : Split(text, ' ')) {
    if (axis.empty()) continue;
    const size_t eq = axis.find('=');
    const std::string key = eq == std::string::npos ? "" : axis.substr(0, eq);
    const std::vector<std::string> values =
        eq == std::string::npos ? std::vector<std::string>{} : SplitList(axis.substr(eq + 1));
    if (key.empty() || values.empty())
      throw UserError("--model-args-grid: expected key=value,value,... per axis, got '" + axis + "'");
    if (!keys.insert(key).second) throw UserError("--model-args-grid: key '" + key + "' appears twice");
    std::vector<GridCell> product;
    for (const auto& cell : cells)
      for (const auto& value : values) {
        GridCell next = cell;
        next.model_args[key] = value == "none" ? nlohmann::json(nullptr) : ParseModelArgs(key + "=" + value).at(key);
        next.label += (next.label.empty() ? "" : " ") + key + "=" + value;
        product.push_back(std::move(next));
      }
    cells = std::move(product);
  }
  if (keys.empty()) throw UserError("--model-args-grid: no axis given");
  return cells;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  for (const auto& item : Split(text, ','))
    if (!item.empty()) items.push_back(item);
  return items;
}

std::string ShellQuote(const std::vector<std::string>& words) {
  static const std::string kPlain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+%";
  std::string line;
  for (const auto& word : words) {
    std::string quoted = word;
    if (word.empty() || word.find_first_not_of(kPlain) != std::string::npos) {
      quoted = "'";
      for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      quoted += "'";
    }
    line += (line.empty() ? "" : " ") + quoted;
  }
  return line;
}

std::vector<std::string> WithoutFlags(const std::vector<std::string>& args, const std::set<std::string>& flags) {
  std::vector<std::string> kept;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string name = args[i].substr(0, args[i].find('='));
    if (!flags.count(name)) {
      kept.push_back(args[i]);
    } else if (name == args[i]) {
      ++i;  // and its value
    }
  }
  return kept;
}

}  // namespace llada
