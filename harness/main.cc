// llada-eval command line: run (the default), tasks, requests.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <fstream>
#include <iostream>
#include <thread>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/text.h"
#include "harness/analysis.h"
#include "harness/evaluator.h"
#include "harness/version.h"
#include "models/checkpoint/tiny_model.h"
#include "models/model.h"
#include "models/tokenizer/tokenizer.h"
#include "models/torch/inspect.h"
#include "sandbox/selftest.h"
#include "scorers/registry.h"
#include "tasks/loaders.h"
#include "store/store.h"
#include "tasks/registry.h"

namespace llada {
namespace {

std::string DefaultDataDir() {
  if (const char* env = std::getenv("LLADA_EVAL_DATA"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.cache/llada-eval/data";
}

// Options shared by `run` and `requests`.
struct CommonFlags {
  std::string tasks;
  int shots = -1;
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
void AddCommonFlags(CLI::App* app, CommonFlags* flags, std::string* shots_list = nullptr) {
  // A flag given twice takes its last value, so scripts can override defaults.
  app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app->add_option("--tasks", flags->tasks, "Comma list of tasks, groups or aliases (see `llada-eval tasks`)")
      ->required();
  if (shots_list)
    app->add_option("--shots", *shots_list, "Few-shot settings to compare, e.g. 0,1,5")->required();
  else
    app->add_option("--shots", flags->shots, "Few-shot examples per document (default: preset, else each task's own)");
  app->add_option("--limit", flags->limit, "Evaluate only the first N documents of each task");
  app->add_option("--doc-range", flags->doc_range, "Only documents A <= index < B of each task, as A:B");
  app->add_option("--data-dir", flags->data_dir, "Benchmark files, laid out as <data-dir>/<task>/ (default: "
                                                 "$LLADA_EVAL_DATA, else ~/.cache/llada-eval/data)");
  app->add_option("--preset", flags->preset, "Named settings from configs/presets/ (or a JSON file path)");
  app->add_option("--fewshot-seed", flags->fewshot_seed, "Seed of the random few-shot sampler (lm-eval: 1234)");
  app->add_flag("--apply-chat-template", flags->apply_chat_template,
                "Render prompts as a conversation with the model's chat template");
  app->add_option("--chat-template", flags->chat_template,
                  "Chat template by name (chatml, llada, llama2, llama3, mistral); implies --apply-chat-template");
  app->add_option("--system-instruction", flags->system_instruction, "System prompt placed before the description");
  app->add_flag("--fewshot-as-multiturn", flags->fewshot_as_multiturn,
                "With a chat template: each few-shot example as a user/assistant turn pair");
}

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
    std::string list;
    for (const auto& name : known) list += (list.empty() ? "" : ", ") + name;
    throw UserError("--preset: unknown preset '" + preset + "' (known: " + list + ")");
  }
  nlohmann::json config = nlohmann::json::parse(ReadInputFile(path), nullptr, false);
  if (config.is_discarded() || !config.is_object()) throw UserError::InFile(path.string(), "--preset", "not valid JSON");
  return config;
}

EvalOptions ToEvalOptions(const CommonFlags& flags) {
  EvalOptions options;
  std::string item;
  for (char c : flags.tasks + ",") {
    if (c == ',') {
      if (!item.empty()) options.tasks.push_back(item);
      item.clear();
    } else {
      item.push_back(c);
    }
  }
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
    if (value == "True" || value == "False") args[key] = value == "True";
    else if (!parsed.is_discarded() && (parsed.is_number() || parsed.is_boolean())) args[key] = parsed;
    else args[key] = value;
    item.clear();
  }
  return args;
}

void ValidateDevice(const std::string& device, const std::string& dtype) {
  const bool device_ok = device == "cpu" || device == "cuda" || (device.rfind("cuda:", 0) == 0 && device.size() > 5);
  if (!device_ok) throw UserError("--device: '" + device + "' (expected cpu, cuda or cuda:N)");
  if (dtype != "auto" && dtype != "float32" && dtype != "bfloat16" && dtype != "float16")
    throw UserError("--dtype: '" + dtype + "' (expected auto, float32, bfloat16 or float16)");
}

int ListTasks(const TaskRegistry& registry, const std::string& data_dir) {
  std::cout << "Data directory: " << data_dir << "\n\nGroups:\n";
  for (const auto& name : registry.GroupNames()) {
    const GroupSpec* group = registry.FindGroup(name);
    std::string aliases;
    for (const auto& alias : registry.AliasesOf(name)) aliases += (aliases.empty() ? "" : ",") + alias;
    std::cout << "  " << name << "  (" << group->subtasks.size() << " subtasks"
              << (aliases.empty() ? "" : "; aliases: " + aliases) << ")\n";
  }
  std::cout << "\nTasks (name, request type, default shots, aliases, data files):\n";
  size_t missing = 0;
  for (const auto& name : registry.TaskNames()) {
    auto task = registry.CreateTask(name);
    std::string aliases;
    for (const auto& alias : registry.AliasesOf(name)) aliases += (aliases.empty() ? "" : ",") + alias;
    std::cout << "  " << name << "  " << RequestTypeName(task->request_type()) << "  shots=" << task->default_num_fewshot()
              << (aliases.empty() ? "" : "  aliases=" + aliases) << "\n";
    for (const auto& file : task->DataFiles(data_dir)) {
      std::cout << "      " << file.split << ": " << file.path.string() << (file.found ? "  [found]" : "  [MISSING]")
                << "\n";
      if (!file.found) ++missing;
    }
  }
  std::cout << "\n" << registry.TaskNames().size() << " tasks, " << registry.GroupNames().size() << " groups; "
            << missing << " data files missing\n";
  return 0;
}

// One JSON object per input line: {"ids": [...]} or, with --decode, {"text": ...}.
int RunTokenize(const std::string& path, bool jsonl, bool add_special, bool decode, bool skip_special) {
  const auto tokenizer = Tokenizer::Load(path);
  std::string line;
  for (size_t number = 1; std::getline(std::cin, line); ++number) {
    const std::string where = "stdin line " + std::to_string(number);
    if (decode) {
      const nlohmann::json ids = nlohmann::json::parse(line, nullptr, false);
      if (ids.is_discarded() || !ids.is_array()) throw UserError(where + ": expected a JSON array of token ids");
      std::cout << nlohmann::json({{"text", tokenizer->Decode(ids.get<std::vector<int32_t>>(), skip_special)}})
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
      continue;
    }
    std::string text = line;
    if (jsonl) {
      const nlohmann::json value = nlohmann::json::parse(line, nullptr, false);
      if (value.is_discarded() || !value.is_string()) throw UserError(where + ": expected a JSON string");
      text = value.get<std::string>();
    }
    std::cout << nlohmann::json({{"ids", tokenizer->Encode(text, add_special)}}).dump() << "\n";
  }
  return 0;
}

// Options of `run` (and `study`) beyond the common ones: the model and its
// settings, outputs, the sandbox.
struct RunFlags {
  EvalOptions extra;
  std::string output = "llada-eval-out", db, model_args;
  std::map<std::string, std::string> setting_flags;
};

// `study` names its models with --models, so it takes no --model.
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
  for (const auto& [flag, help] : std::vector<std::pair<std::string, std::string>>{
           {"mc-num", "LLaDA: Monte-Carlo samples per likelihood (default 128)"},
           {"mc-batch-size", "LLaDA: Monte-Carlo samples per forward pass (default min(mc_num, 32))"},
           {"cfg", "LLaDA: classifier-free guidance scale (default 0: off)"},
           {"gen-length", "LLaDA: tokens generated per answer (default 1024)"},
           {"steps", "LLaDA: diffusion sampling steps (default gen_length)"},
           {"block-length", "LLaDA: semi-autoregressive block length (default gen_length)"},
           {"remasking", "LLaDA: low_confidence (default) or random"},
           {"temperature", "LLaDA: Gumbel sampling temperature (default 0: greedy)"},
       })
    run->add_option("--" + flag, flags->setting_flags[flag], help);
  run->add_option("--seed", flags->extra.model.seed, "Model sampling seed")->capture_default_str();
  run->add_option("--batch-size", flags->extra.model.batch_size, "Requests per model call")->capture_default_str();
  run->add_option("--device", flags->extra.model.device, "cpu, cuda or cuda:N")->capture_default_str();
  run->add_option("--dtype", flags->extra.model.dtype, "auto, float32, bfloat16 or float16")->capture_default_str();
  // Code tasks (HumanEval, MBPP): the sandbox.
  run->add_option("--exec-workers", flags->extra.code_execution.workers,
                  "Programs run at once in the sandbox (default: the machine's cores)");
  run->add_option("--exec-time-floor", flags->extra.code_execution.time_limit_floor,
                  "Smallest time limit per program, seconds")
      ->capture_default_str();
  run->add_option("--exec-time-factor", flags->extra.code_execution.time_limit_factor,
                  "Time limit = max(floor, factor x the reference solution's time in the sandbox)")
      ->capture_default_str();
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
  ValidateDevice(options.model.device, options.model.dtype);
  if (options.model.batch_size < 1) throw UserError("--batch-size: must be 1 or more");
  return options;
}

// The backend settings of a run: the preset's, then the command line's.
void ResolveModelArgs(EvalOptions* options) {
  options->model.model_args = options->preset_config.value("model_args", nlohmann::json::object());
  for (auto it = options->cli_model_args.begin(); it != options->cli_model_args.end(); ++it)
    options->model.model_args[it.key()] = it.value();
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  for (const auto& item : Split(text, ','))
    if (!item.empty()) items.push_back(item);
  return items;
}

int Main(int argc, char** argv) {
  CLI::App app{"llada-eval: evaluation harness for diffusion (LLaDA) and autoregressive language models"};
  app.set_version_flag("--version", std::string(kHarnessVersion) + " (" + kGitSha + ")");
  app.require_subcommand(1);

  CommonFlags run_flags;
  RunFlags run_options;
  auto* run = app.add_subcommand("run", "Evaluate a model on tasks (the default command)");
  AddCommonFlags(run, &run_flags);  // first: it sets the option defaults for the rest
  AddRunFlags(run, &run_options, /*with_model=*/true);

  CommonFlags request_flags;
  auto* requests = app.add_subcommand("requests", "Print every request a run would send, as JSONL");
  AddCommonFlags(requests, &request_flags);

  std::string tasks_data_dir = DefaultDataDir();
  auto* tasks_cmd = app.add_subcommand("tasks", "List tasks and groups, their aliases and data files");
  tasks_cmd->add_option("--data-dir", tasks_data_dir, "Where to look for the data files");

  std::string tokenizer_path;
  bool tokenize_jsonl = false, tokenize_add_special = false, tokenize_decode = false, tokenize_skip_special = false;
  auto* tokenize = app.add_subcommand("tokenize", "Encode stdin lines (or decode id arrays) with a tokenizer.json");
  tokenize->add_option("--tokenizer", tokenizer_path, "A tokenizer.json, or a directory holding one")->required();
  tokenize->add_flag("--jsonl", tokenize_jsonl, "Each input line is a JSON string (texts may hold newlines)");
  tokenize->add_flag("--add-special-tokens", tokenize_add_special, "Apply the post-processor (e.g. add BOS)");
  tokenize->add_flag("--decode", tokenize_decode, "Read JSON id arrays and print {\"text\": ...}");
  tokenize->add_flag("--skip-special-tokens", tokenize_skip_special, "With --decode: drop special tokens");

  InitModelOptions init;
  std::string init_out;
  auto* init_model = app.add_subcommand("init-model", "Write a random checkpoint in the Hugging Face layout (for trials, tests, benchmarks)");
  init_model->add_option("--arch", init.family, "llada, llama, mistral or qwen2")->capture_default_str();
  init_model->add_option("--layers", init.layers, "Transformer blocks")->capture_default_str();
  init_model->add_option("--d-model", init.d_model, "Hidden size")->capture_default_str();
  init_model->add_option("--heads", init.heads, "Attention heads")->capture_default_str();
  init_model->add_option("--kv-heads", init.kv_heads, "Key/value heads (default: LLaDA all, ARM half)");
  init_model->add_option("--ffn", init.ffn, "Feed-forward size (default 2 x d-model)");
  init_model->add_option("--vocab", init.vocab, "Vocabulary rows (>= 262: bytes + special tokens)")->capture_default_str();
  init_model->add_option("--seed", init.seed, "Weight seed")->capture_default_str();
  init_model->add_option("--out", init_out, "Directory to write")->required();

  // Inspection commands over a checkpoint directory.
  InspectOptions inspect;
  std::string ids_json, mask_json, prompt_json, answer_json, logits_out, remasking = "low_confidence";
  bool causal = false, check_greedy = false;
  int mc_num = 128, mc_batch = 32;
  double cfg = 0.0, temperature = 0.0;
  int64_t steps = 128, gen_length = 128, block_length = 128;
  uint64_t inspect_seed = 0;
  auto add_inspect_flags = [&](CLI::App* cmd) {
    cmd->add_option("--model", inspect.model, "Checkpoint directory")->required();
    cmd->add_option("--device", inspect.device, "cpu, cuda or cuda:N")->capture_default_str();
    cmd->add_option("--dtype", inspect.dtype, "float32, bfloat16 or float16")->capture_default_str();
  };
  auto* logits_cmd = app.add_subcommand("logits", "Write a checkpoint's logits for token ids (float32 LE, [B,T,V])");
  add_inspect_flags(logits_cmd);
  logits_cmd->add_option("--ids", ids_json, "JSON id rows, e.g. [[1,2,3]]")->required();
  logits_cmd->add_option("--attention-mask", mask_json, "JSON 0/1 rows (1 = token)");
  logits_cmd->add_flag("--causal", causal, "Run a LLaDA-architecture checkpoint with a causal mask");
  logits_cmd->add_option("--out", logits_out, "Output file")->required();
  auto* loglik_cmd = app.add_subcommand("loglik", "Log-likelihood of answer ids after prompt ids (LLaDA: Monte-Carlo)");
  add_inspect_flags(loglik_cmd);
  loglik_cmd->add_option("--prompt-ids", prompt_json, "JSON ids")->required();
  loglik_cmd->add_option("--answer-ids", answer_json, "JSON ids")->required();
  loglik_cmd->add_option("--mc-num", mc_num, "Monte-Carlo samples")->capture_default_str();
  loglik_cmd->add_option("--batch-size", mc_batch, "Samples per forward pass")->capture_default_str();
  loglik_cmd->add_option("--cfg", cfg, "Classifier-free guidance scale")->capture_default_str();
  auto* loglik_seed = loglik_cmd->add_option("--seed", inspect_seed, "torch.manual_seed(S) right before the call");
  loglik_cmd->add_flag("--check-greedy", check_greedy, "Also run the suffix-greedy check");
  auto* generate_cmd = app.add_subcommand("generate", "Generate from prompt ids (LLaDA: diffusion; ARM: greedy)");
  add_inspect_flags(generate_cmd);
  generate_cmd->add_option("--prompt-ids", prompt_json, "JSON id rows (left-padded to one length)")->required();
  generate_cmd->add_option("--attention-mask", mask_json, "JSON 0/1 rows for the prompt");
  generate_cmd->add_option("--steps", steps)->capture_default_str();
  generate_cmd->add_option("--gen-length", gen_length)->capture_default_str();
  generate_cmd->add_option("--block-length", block_length)->capture_default_str();
  generate_cmd->add_option("--temperature", temperature)->capture_default_str();
  generate_cmd->add_option("--cfg", cfg)->capture_default_str();
  generate_cmd->add_option("--remasking", remasking, "low_confidence or random")->capture_default_str();
  auto* generate_seed = generate_cmd->add_option("--seed", inspect_seed, "torch.manual_seed(S) right before the call");

  int selftest_workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto* sandbox_cmd = app.add_subcommand("sandbox", "The code-execution sandbox");
  sandbox_cmd->require_subcommand(1);
  auto* selftest_cmd =
      sandbox_cmd->add_subcommand("selftest", "Run the adversarial suite; print case, expected, observed (exit 1 on any miss)");
  selftest_cmd->add_option("--workers", selftest_workers, "Parallel sandbox slots (default: the machine's cores)")
      ->capture_default_str();

  // Reading the store back: runs, compare, report, study.
  std::string store_db = "llada-eval-out/llada-eval.db";
  auto add_db = [&](CLI::App* cmd) {
    cmd->add_option("--db", store_db, "Result store")->capture_default_str();
  };
  bool runs_json = false;
  auto* runs_cmd = app.add_subcommand("runs", "List the runs in a store");
  add_db(runs_cmd);
  runs_cmd->add_flag("--json", runs_json, "One JSON array instead of a table");

  std::string baseline_spec, candidate_spec, compare_json, compare_tasks;
  double alpha = 0.05, min_delta = 0.0;
  int compare_shots = -1;
  auto* compare_cmd = app.add_subcommand(
      "compare", "Paired comparison of two runs per task; exit 1 on a significant regression");
  add_db(compare_cmd);
  compare_cmd->add_option("--baseline", baseline_spec, "Run id or latest:<model>")->required();
  compare_cmd->add_option("--candidate", candidate_spec, "Run id or latest:<model>")->required();
  compare_cmd->add_option("--alpha", alpha, "Family-wise significance level (Holm over tasks)")->capture_default_str();
  compare_cmd->add_option("--min-delta", min_delta, "Smallest change (in metric units) that counts as a regression")
      ->capture_default_str();
  compare_cmd->add_option("--json", compare_json, "Also write the comparison as JSON to this file");
  compare_cmd->add_option("--tasks", compare_tasks, "latest:<model> must cover these tasks");
  compare_cmd->add_option("--shots", compare_shots, "latest:<model> must have run with this --shots");

  std::string report_out = "llada-eval-report.html", reported_file = (DefaultConfigDir() / "reported" / "llada_paper.json").string();
  size_t samples_per_cell = 20;
  auto* report_cmd = app.add_subcommand("report", "Write the self-contained HTML report of a store");
  add_db(report_cmd);
  report_cmd->add_option("--out", report_out, "HTML file to write")->capture_default_str();
  report_cmd->add_option("--reported", reported_file, "Numbers reported in papers (configs/reported/*.json; '' for none)")
      ->capture_default_str();
  report_cmd->add_option("--samples-per-cell", samples_per_cell, "Samples shown per run and task")->capture_default_str();

  CommonFlags study_flags;
  RunFlags study_options;
  std::string study_shots, study_models, study_report;
  auto* study_cmd = app.add_subcommand(
      "study", "Run models x shots (x chat templates x presets), reusing cached requests; print few-shot minus zero-shot");
  AddCommonFlags(study_cmd, &study_flags, &study_shots);
  AddRunFlags(study_cmd, &study_options, /*with_model=*/false);
  study_cmd->add_option("--models", study_models, "Comma list of --model values")->required();
  study_cmd->add_option("--report", study_report, "Also write the HTML report of the store here");
  // --chat-template and --preset take comma lists here ("none" = plain prompts, "auto" = the checkpoint's template).

  // `llada-eval --tasks ...` means `llada-eval run --tasks ...`.
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0].size() > 1 && args[0][0] == '-' && args[0] != "--help" && args[0] != "-h" &&
      args[0] != "--version")
    args.insert(args.begin(), "run");
  std::reverse(args.begin(), args.end());  // CLI11 consumes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "llada-eval: error: " << e.what() << " (see --help)\n";
    return 2;
  }

  if (init_model->parsed()) {
    WriteRandomModel(init, init_out);
    std::cerr << "llada-eval: wrote a random " << init.family << " checkpoint to " << init_out << "\n";
    return 0;
  }
  auto parse_json = [](const std::string& text, const char* flag) {
    if (text.empty()) return nlohmann::json();
    nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
    if (value.is_discarded()) throw UserError(std::string(flag) + ": not valid JSON");
    return value;
  };
  if (logits_cmd->parsed()) {
    std::cout << InspectLogits(inspect, parse_json(ids_json, "--ids"), parse_json(mask_json, "--attention-mask"), causal,
                               logits_out)
                     .dump()
              << "\n";
    return 0;
  }
  if (loglik_cmd->parsed()) {
    if (loglik_seed->count()) inspect.seed = inspect_seed;
    std::cout << InspectLoglik(inspect, parse_json(prompt_json, "--prompt-ids"), parse_json(answer_json, "--answer-ids"),
                               mc_num, mc_batch, cfg, check_greedy)
                     .dump()
              << "\n";
    return 0;
  }
  if (generate_cmd->parsed()) {
    if (generate_seed->count()) inspect.seed = inspect_seed;
    std::cout << InspectGenerate(inspect, parse_json(prompt_json, "--prompt-ids"), parse_json(mask_json, "--attention-mask"),
                                 steps, gen_length, block_length, temperature, cfg, remasking)
                     .dump()
              << "\n";
    return 0;
  }
  if (selftest_cmd->parsed()) {
    auto executor = MakeBwrapExecutor();
    const SandboxProbe probe = ProbeSandbox(*executor);
    std::cerr << "llada-eval: sandbox probe: " << probe.detail << "\n";
    const SelftestReport report = RunSandboxSelftest(*executor, selftest_workers);
    std::cout << FormatSelftestTable(report);
    return report.ok() && probe.ok ? 0 : 1;
  }
  if (tokenize->parsed())
    return RunTokenize(tokenizer_path, tokenize_jsonl, tokenize_add_special, tokenize_decode, tokenize_skip_special);

  LoaderRegistry loaders;
  RegisterBuiltinLoaders(loaders);
  TaskRegistry registry;
  RegisterBuiltinTasks(registry, DefaultConfigDir(), loaders, BuiltinScorers());

  if (tasks_cmd->parsed()) return ListTasks(registry, tasks_data_dir);

  if (requests->parsed()) {
    const EvalOptions options = ToEvalOptions(request_flags);
    const Plan plan = BuildPlan(registry, options);
    for (const auto& planned : plan.tasks)
      for (const auto& doc_requests : planned.requests)
        for (const auto& request : doc_requests) std::cout << RequestJson(request).dump() << "\n";
    return 0;
  }

  // The read-only commands never create a store.
  auto open_existing = [](const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      throw UserError::InFile(path, "--db", "no result store here (a run writes <output>/llada-eval.db)");
    return Store::Open(path);
  };
  if (runs_cmd->parsed()) {
    auto store = open_existing(store_db);
    if (runs_json) std::cout << RunsJson(*store, registry).dump(2) << "\n";
    else std::cout << FormatRunsTable(*store, registry);
    return 0;
  }
  if (compare_cmd->parsed()) {
    if (alpha <= 0 || alpha >= 1) throw UserError("--alpha: must be between 0 and 1");
    auto store = open_existing(store_db);
    RunFilter filter{SplitList(compare_tasks), std::nullopt};
    if (compare_shots >= 0) filter.shots = compare_shots;
    const int64_t baseline = ResolveRunSpec(*store, registry, baseline_spec, filter);
    const int64_t candidate = ResolveRunSpec(*store, registry, candidate_spec, filter);
    const ComparisonReport comparison = CompareRuns(*store, registry, baseline, candidate, alpha, min_delta);
    std::cout << FormatComparison(comparison);
    if (!compare_json.empty()) WriteFileAtomically(compare_json, ComparisonJson(comparison).dump(2) + "\n");
    return comparison.HasRegression() ? 1 : 0;
  }
  auto write_report = [&](const std::string& db_path, const std::string& out) {
    auto store = open_existing(db_path);
    const HtmlReportInput input = GatherReport(*store, registry, reported_file, samples_per_cell);
    WriteFileAtomically(out, RenderHtmlReport(input));
    std::cerr << "llada-eval: report of " << input.runs.size() << " runs written to " << out << "\n";
  };
  if (report_cmd->parsed()) {
    write_report(store_db, report_out);
    return 0;
  }
  if (study_cmd->parsed()) {
    std::vector<int> shots;
    for (const auto& item : SplitList(study_shots)) {
      if (!IsAsciiDigits(item)) throw UserError("--shots: expected a comma list of whole numbers, got '" + study_shots + "'");
      shots.push_back(std::stoi(item));
    }
    const std::vector<std::string> models = SplitList(study_models);
    // Chat-template axis: names, "none" for plain prompts, "auto" for the checkpoint's own.
    std::vector<std::string> chat_templates = SplitList(study_flags.chat_template);
    if (chat_templates.empty()) chat_templates.push_back(study_flags.apply_chat_template ? "auto" : "none");
    for (auto& chat : chat_templates)
      if (chat == "none") chat.clear();
    std::vector<std::string> presets = SplitList(study_flags.preset);
    if (presets.empty()) presets.push_back("");
    for (auto& preset : presets)
      if (preset == "none") preset.clear();
    ModelRegistry models_registry;
    RegisterBuiltinModels(models_registry);
    Evaluator evaluator(registry, models_registry, std::cerr, isatty(STDERR_FILENO) != 0);
    std::vector<int64_t> run_ids;
    size_t computed = 0, cached = 0;
    std::string db_path;
    for (const auto& model : models)
      for (const auto& preset : presets)
        for (const auto& chat : chat_templates)
          for (int shot : shots) {
            CommonFlags cell = study_flags;
            cell.preset = preset;
            cell.chat_template = chat == "auto" ? "" : chat;
            cell.apply_chat_template = !chat.empty();
            cell.shots = shot;
            RunFlags cell_options = study_options;
            cell_options.extra.model.spec = model;
            EvalOptions options = ToRunOptions(cell, cell_options);
            ResolveModelArgs(&options);
            std::cerr << "llada-eval: study: " << model << ", " << shot << " shots"
                      << (chat.empty() ? "" : ", chat template " + chat) << (preset.empty() ? "" : ", preset " + preset)
                      << "\n";
            const RunOutcome outcome = evaluator.Run(options);
            run_ids.push_back(outcome.report.run_id);
            computed += outcome.computed_responses;
            cached += outcome.cached_responses;
            db_path = outcome.db_path.string();
          }
    auto store = Store::Open(db_path);
    std::cout << FormatStudy(ComputeStudy(*store, registry, run_ids));
    std::cerr << "llada-eval: study: " << run_ids.size() << " runs, " << computed << " responses computed, " << cached
              << " from cache\n  store:   " << db_path << "\n";
    if (!study_report.empty()) write_report(db_path, study_report);
    return 0;
  }

  EvalOptions options = ToRunOptions(run_flags, run_options);
  ResolveModelArgs(&options);

  ModelRegistry models;
  RegisterBuiltinModels(models);
  Evaluator evaluator(registry, models, std::cerr, isatty(STDERR_FILENO) != 0);
  const RunOutcome outcome = evaluator.Run(options);
  std::cout << FormatResultsTable(outcome.report);
  std::cerr << "llada-eval: run " << outcome.report.run_id << (outcome.resumed ? " (resumed)" : "") << ": "
            << outcome.computed_responses << " responses computed, " << outcome.cached_responses << " from cache";
  if (outcome.failed_documents) std::cerr << ", " << outcome.failed_documents << " documents failed (see samples)";
  std::cerr << "\n  results: " << outcome.results_path.string() << "\n  store:   " << outcome.db_path.string() << "\n";
  for (const auto& path : outcome.sample_paths) std::cerr << "  samples: " << path.string() << "\n";
  return 0;
}

}  // namespace
}  // namespace llada

int main(int argc, char** argv) {
  try {
    return llada::Main(argc, argv);
  } catch (const llada::UserError& e) {
    std::cerr << "llada-eval: error: " << e.what() << "\n";
    return 2;
  } catch (const llada::InternalError& e) {
    std::cerr << "llada-eval: " << e.what() << " (this is a bug; please report it)\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "llada-eval: internal error: " << e.what() << " (this is a bug; please report it)\n";
    return 3;
  }
}
