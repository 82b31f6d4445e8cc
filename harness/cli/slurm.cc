// `llada-eval slurm --shards N [sbatch settings] -- <run flags>`: the run's
// shards as a Slurm job array (one shard per task, requeued on node failure)
// and a merge job that waits for the whole array (afterany: a failed shard is
// rerun and merged later); `llada-eval slurm status` reads the shard stores.
// docs/sharding.md, README "Beyond one machine".
#include <boost/process.hpp>
#include <iostream>

#include "core/errors.h"
#include "core/file_io.h"
#include "core/text.h"
#include "harness/cli/command.h"
#include "harness/cli/flags.h"
#include "store/store.h"

namespace llada {
namespace {

namespace bp = boost::process;

std::string Pad(std::string text, size_t width) {
  text.resize(std::max(text.size(), width), ' ');
  return text;
}

std::filesystem::path SelfPath() { return std::filesystem::read_symlink("/proc/self/exe"); }

void WriteScript(const std::filesystem::path& path, const std::string& text) {
  WriteFileAtomically(path, text);
  std::filesystem::permissions(path, std::filesystem::perms::owner_exec | std::filesystem::perms::group_exec,
                               std::filesystem::perm_options::add);
}

// Runs sbatch; its job id (`--parsable` prints "id" or "id;cluster").
std::string Submit(const std::string& sbatch, const std::vector<std::string>& args) {
  bp::ipstream out, err;
  bp::child child(sbatch, bp::args(args), bp::std_in < bp::null, bp::std_out > out, bp::std_err > err);
  std::string id, line, errors;
  std::getline(out, id);
  while (std::getline(err, line)) errors += line + "\n";
  child.wait();
  if (child.exit_code() != 0 || id.empty())
    throw UserError("sbatch " + ShellQuote(args) + " failed (exit " + std::to_string(child.exit_code()) +
                    "): " + errors);
  return id.substr(0, id.find(';'));
}

struct SlurmSettings {
  int shards = 0;
  std::string output = "llada-eval-out", partition, gres, time, account, mem;
  int cpus_per_task = 0;
  std::vector<std::string> sbatch_options;  // more "#SBATCH" lines, as given
  bool dry_run = false;
  std::vector<std::string> run_flags;
};

std::string SbatchHeader(const SlurmSettings& settings, const std::string& name, const std::string& log) {
  std::string header = "#!/bin/bash\n#SBATCH --job-name=" + name + "\n#SBATCH --output=" + log + "\n";
  auto add = [&](const std::string& flag, const std::string& value) {
    if (!value.empty()) header += "#SBATCH --" + flag + "=" + value + "\n";
  };
  add("partition", settings.partition);
  add("account", settings.account);
  add("time", settings.time);
  return header;
}

class SlurmCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    slurm_ = app.add_subcommand(
        "slurm", "Run the shards of a run as a Slurm job array and merge them after it: slurm --shards N -- <run flags>");
    slurm_->add_option("--shards", settings_.shards, "Shards (array tasks)")->check(PositiveInteger());
    slurm_->add_option("--output", settings_.output, "Directory of the shard stores, results and slurm/ scripts")
        ->capture_default_str();
    slurm_->add_option("--partition", settings_.partition, "sbatch --partition");
    slurm_->add_option("--gres", settings_.gres, "sbatch --gres of each shard (e.g. gpu:1)");
    slurm_->add_option("--time", settings_.time, "sbatch --time");
    slurm_->add_option("--account", settings_.account, "sbatch --account");
    slurm_->add_option("--cpus-per-task", settings_.cpus_per_task, "sbatch --cpus-per-task of each shard")
        ->check(PositiveInteger());
    slurm_->add_option("--mem", settings_.mem, "sbatch --mem of each shard");
    slurm_->add_option("--sbatch-option", settings_.sbatch_options,
                       "Another #SBATCH line for the shards, e.g. --sbatch-option=--qos=high (repeatable)");
    slurm_->add_flag("--dry-run", settings_.dry_run, "Write the scripts; submit nothing");
    slurm_->add_option("run_flags", settings_.run_flags, "After --: the flags of `llada-eval run`");
    status_ = slurm_->add_subcommand("status", "Which shards of a Slurm run are done, running or missing");
    status_->add_option("--output", status_output_, "The run's --output")->capture_default_str();
    slurm_->require_subcommand(0, 1);
    return slurm_;
  }

  int Run(CommandContext& context) override {
    if (status_->parsed()) return Status();
    return Write(context);
  }

 private:
  int Write(CommandContext& context) {
    if (settings_.shards < 1) throw UserError("--shards: required (the number of array tasks)");
    if (settings_.run_flags.empty())
      throw UserError("the run's flags go after --: llada-eval slurm --shards N -- --model DIR --tasks ...");
    for (const char* own : {"--shard", "--workers", "--devices", "--output", "--db"})
      if (WithoutFlags(settings_.run_flags, {own}).size() != settings_.run_flags.size())
        throw UserError(std::string(own) + " after --: slurm sets it for each shard (give --output to slurm itself)");
    const std::filesystem::path output = std::filesystem::absolute(settings_.output);
    std::vector<std::string> run = {"run"};
    run.insert(run.end(), settings_.run_flags.begin(), settings_.run_flags.end());
    run.insert(run.end(), {"--output", output.string()});
    // Bad flags, tasks or data fail here, before anything is queued.
    const EvalOptions options = ParseRunCommandLine(run);
    BuildPlan(context.Tasks(), options);

    const std::filesystem::path dir = output / "slurm";
    std::filesystem::create_directories(dir);
    const std::string exe = SelfPath().string();
    const std::string cwd = std::filesystem::current_path().string();
    const std::string count = std::to_string(settings_.shards);
    std::string shards = SbatchHeader(settings_, "llada-eval-shard", (dir / "shard-%a.log").string());
    shards += "#SBATCH --array=0-" + std::to_string(settings_.shards - 1) + "\n#SBATCH --requeue\n#SBATCH --open-mode=append\n";
    if (!settings_.gres.empty()) shards += "#SBATCH --gres=" + settings_.gres + "\n";
    if (settings_.cpus_per_task > 0) shards += "#SBATCH --cpus-per-task=" + std::to_string(settings_.cpus_per_task) + "\n";
    if (!settings_.mem.empty()) shards += "#SBATCH --mem=" + settings_.mem + "\n";
    for (const auto& option : settings_.sbatch_options) shards += "#SBATCH " + option + "\n";
    shards += "# One shard of the run (docs/sharding.md); a requeued or resubmitted shard resumes from its store.\n"
              "set -euo pipefail\ncd " + ShellQuote({cwd}) + "\nexec " + ShellQuote({exe}) + " " + ShellQuote(run) +
              " --shard \"${SLURM_ARRAY_TASK_ID}/" + count + "\"\n";
    std::vector<std::string> merge = {exe, "merge"};
    for (int i = 0; i < settings_.shards; ++i) merge.push_back((output / ShardStoreName({i, settings_.shards})).string());
    merge.insert(merge.end(), {"--output", output.string()});
    std::string merger = SbatchHeader(settings_, "llada-eval-merge", (dir / "merge.log").string());
    merger += "# Scores the union of the shards (no GPU: the weights are not loaded). A missing or unfinished shard\n"
              "# fails it, naming the shard: resubmit that one (sbatch --array=I shards.sbatch), then this script.\n"
              "set -euo pipefail\ncd " + ShellQuote({cwd}) + "\nexec " + ShellQuote(merge) + "\n";
    const auto shards_script = dir / "shards.sbatch", merge_script = dir / "merge.sbatch";
    WriteScript(shards_script, shards);
    WriteScript(merge_script, merger);
    std::cerr << "llada-eval: wrote " << shards_script.string() << " (" << count << " array tasks) and "
              << merge_script.string() << "\n";

    const std::string sbatch = bp::search_path("sbatch").string();
    if (settings_.dry_run || sbatch.empty()) {
      if (!settings_.dry_run) std::cerr << "llada-eval: note: sbatch is not on PATH; nothing was submitted\n";
      std::cerr << "  submit: id=$(sbatch --parsable " << shards_script.string()
                << ") && sbatch --dependency=afterany:$id " << merge_script.string() << "\n";
      return kExitOk;
    }
    const std::string shards_job = Submit(sbatch, {"--parsable", shards_script.string()});
    const std::string merge_job =
        Submit(sbatch, {"--parsable", "--dependency=afterany:" + shards_job, merge_script.string()});
    WriteFileAtomically(dir / "jobs.json",
                        nlohmann::json({{"shards", settings_.shards},
                                        {"shards_job", shards_job},
                                        {"merge_job", merge_job},
                                        {"submitted_at", UtcTimestamp()}})
                                .dump(2) +
                            "\n");
    std::cout << shards_job << " " << merge_job << "\n";
    std::cerr << "llada-eval: submitted the shards as job " << shards_job << " (array 0-" << settings_.shards - 1
              << ") and the merge as job " << merge_job << " (after the whole array, however it ends)\n"
              << "  progress:       llada-eval slurm status --output " << ShellQuote({output.string()}) << "\n"
              << "  a failed shard: sbatch --array=I " << shards_script.string() << "; then sbatch "
              << merge_script.string() << "\n";
    return kExitOk;
  }

  int Status() {
    const std::filesystem::path output = std::filesystem::absolute(status_output_);
    const auto jobs_file = output / "slurm" / "jobs.json";
    int count = 0;
    nlohmann::json jobs = nlohmann::json::object();
    std::error_code ec;
    if (std::filesystem::exists(jobs_file, ec)) {
      jobs = nlohmann::json::parse(ReadInputFile(jobs_file));
      count = jobs.value("shards", 0);
    }
    if (count < 1) throw UserError::InFile(jobs_file.string(), "shards", "no Slurm run here (llada-eval slurm writes it)");
    std::cout << "shard  state     responses  store\n";
    int done = 0;
    for (int i = 0; i < count; ++i) {
      const auto path = output / ShardStoreName({i, count});
      std::string state = "missing";
      int64_t responses = 0;
      if (std::filesystem::exists(path, ec)) {
        const auto store = Store::Open(path);
        responses = store->CountRows("request_cache");
        state = "started";
        for (const auto& run : store->ListRuns())
          if (run.record.config.contains("shard")) state = run.status;  // the newest shard run's
      }
      if (state == "finished") ++done;
      std::cout << Pad(std::to_string(i) + "/" + std::to_string(count), 7) << Pad(state, 10)
                << Pad(std::to_string(responses), 11) << path.string() << "\n";
    }
    bool merged = false;
    const auto merged_store = output / "llada-eval.db";
    if (std::filesystem::exists(merged_store, ec))
      for (const auto& run : Store::Open(merged_store)->ListRuns())
        merged = merged || (run.status == "finished" && !run.record.config.contains("shard"));
    std::cout << done << " of " << count << " shards done; merged: " << (merged ? "yes" : "no");
    if (jobs.contains("shards_job"))
      std::cout << " (jobs " << jobs["shards_job"].get<std::string>() << ", merge "
                << jobs["merge_job"].get<std::string>() << ")";
    std::cout << "\n";
    if (done < count)
      std::cout << "running shards report as 'running' until they end; one whose job is gone (killed) resumes when "
                   "resubmitted: sbatch --array=I "
                << (output / "slurm" / "shards.sbatch").string() << "\n";
    return kExitOk;
  }

  CLI::App* slurm_ = nullptr;
  CLI::App* status_ = nullptr;
  SlurmSettings settings_;
  std::string status_output_ = "llada-eval-out";
};

}  // namespace

std::unique_ptr<Command> MakeSlurmCommand() { return std::make_unique<SlurmCommand>(); }

}  // namespace llada
