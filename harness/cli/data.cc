// `llada-eval data fetch` / `data status`: the benchmark files, from the
// pinned locations in configs/data_manifest.json (docs/data.md).
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>

#include "core/text.h"
#include "fetch/fetcher.h"
#include "harness/cli/command.h"
#include "harness/cli/flags.h"
#include "harness/progress.h"

namespace llada {
namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

class DataCommand : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    data_ = app.add_subcommand("data", "Download the benchmark files (pinned, verified, resumable) and check them");
    fetch_ = data_->add_subcommand("fetch", "Download, verify and unpack the files the tasks read");
    fetch_->add_option("--tasks", tasks_, "Comma list of tasks, groups or aliases")->required();
    AddShared(fetch_);
    fetch_->add_option("--mirror", mirror_,
                       "Base URL replacing each file's scheme and host (default: $LLADA_EVAL_DATA_MIRROR)");
    fetch_->add_option("--retries", download_.retries, "Further tries after a transient failure (5xx, timeout, reset)")
        ->check(NonNegativeInteger())
        ->capture_default_str();
    fetch_
        ->add_option("--retry-delay", download_.retry_delay_seconds,
                     "Seconds before the first retry; doubled after each")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    fetch_->add_flag("--dry-run", dry_run_, "List each file's URL, revision, size and destination; download nothing");
    status_ = data_->add_subcommand("status", "Per task: each file present, missing or differing from its checksum");
    status_->add_option("--tasks", tasks_, "Comma list of tasks, groups or aliases (default: every file)");
    AddShared(status_);
    data_->require_subcommand(1);
    return data_;
  }

  int Run(CommandContext& context) override {
    const Manifest manifest =
        LoadManifest(manifest_path_.empty() ? DefaultManifestPath() : std::filesystem::path(manifest_path_));
    std::vector<const ManifestFile*> files;
    if (tasks_.empty()) {
      for (const auto& file : manifest.files) files.push_back(&file);
    } else {
      const auto selection = context.Tasks().Resolve(SplitList(tasks_));
      files = FilesForTasks(manifest, context.Tasks(), selection.leaf_tasks, data_dir_);
    }
    return fetch_->parsed() ? Fetch(files) : Status(manifest, files);
  }

 private:
  void AddShared(CLI::App* command) {
    command->add_option("--data-dir", data_dir_,
                        "Where the files go (default: $LLADA_EVAL_DATA, else ~/.cache/llada-eval/data)");
    command->add_option("--manifest", manifest_path_, "Another data manifest (default: configs/data_manifest.json)");
  }

  int Fetch(const std::vector<const ManifestFile*>& files) {
    FetchOptions options;
    options.data_dir = data_dir_;
    options.mirror = mirror_.empty() ? EnvOr("LLADA_EVAL_DATA_MIRROR", "") : mirror_;
    options.hf_token = EnvOr("HF_TOKEN", EnvOr("HUGGING_FACE_HUB_TOKEN", ""));
    options.download = download_;
    options.download.log = &std::cerr;
    if (dry_run_) {
      for (const ManifestFile* file : files)
        std::cout << MirroredUrl(file->url, options.mirror) << "  ->  "
                  << (std::filesystem::path(data_dir_) / file->dest).string() << "  ("
                  << (file->size ? Progress::FormatBytes(static_cast<double>(*file->size)) : "size unknown")
                  << ", revision " << file->revision << ", " << file->license << ")\n";
      return kExitOk;
    }
    std::cerr << "data fetch: " << files.size() << " files for " << tasks_ << " into " << data_dir_
              << (options.mirror.empty() ? "" : " (mirror " + options.mirror + ")") << "\n";
    std::unique_ptr<Progress> progress;
    const FetchSummary summary = FetchFiles(
        files, options,
        [&](int64_t total_bytes, int to_download) {
          if (to_download == 0) return;
          progress = std::make_unique<Progress>("data fetch", total_bytes, std::cerr, isatty(STDERR_FILENO) != 0,
                                                Progress::Unit::kBytes);
        },
        [&](int64_t bytes) {
          if (progress) progress->Advance(bytes);
        });
    if (progress) progress->Finish();
    for (const auto& failure : summary.failures) std::cerr << "data fetch: FAILED " << failure << "\n";
    std::cout << "data fetch: " << summary.downloaded << " downloaded ("
              << Progress::FormatBytes(static_cast<double>(summary.bytes_received)) << "), " << summary.already_present
              << " already present, " << summary.unpacked_only << " unpacked again from archives already here, "
              << summary.failures.size() << " failed; data in " << data_dir_ << "\n";
    if (!summary.failures.empty()) {
      std::cerr << "data fetch: " << summary.failures.size() << " of " << files.size()
                << " files failed; the same command resumes what was downloaded\n";
      return kExitUserError;
    }
    return kExitOk;
  }

  int Status(const Manifest& manifest, const std::vector<const ManifestFile*>& files) {
    std::cout << "Data directory: " << data_dir_ << "\nManifest: " << manifest.origin << "\n\n";
    // One line per task family (a manifest file's first task), problems listed under it.
    std::vector<std::string> order;
    std::map<std::string, std::vector<std::pair<const ManifestFile*, FileCheck>>> by_family;
    for (const ManifestFile* file : files) {
      const std::string& family = file->tasks.front();
      if (!by_family.count(family)) order.push_back(family);
      FileCheck check;
      try {
        check = CheckFile(*file, data_dir_);
      } catch (const UserError& e) {
        check.state = FileCheck::State::kMismatch;
        check.detail = e.what();
      }
      by_family[family].emplace_back(file, check);
    }
    std::vector<std::string> incomplete;
    for (const auto& family : order) {
      std::map<std::string, int> counts;
      for (const auto& [file, check] : by_family[family]) ++counts[StateName(check.state)];
      std::string tally;
      for (const auto& [state, count] : counts)
        tally += (tally.empty() ? "" : ", ") + std::to_string(count) + " " + state;
      const size_t n = by_family[family].size();
      std::cout << "  " << family << std::string(family.size() < 16 ? 16 - family.size() : 1, ' ') << n
                << (n == 1 ? " file:  " : " files: ") << tally << "\n";
      bool complete = true;
      for (const auto& [file, check] : by_family[family]) {
        if (check.state == FileCheck::State::kOk) continue;
        complete = false;
        std::cout << "      " << file->dest << ": " << StateName(check.state) << " (" << check.detail << ")\n";
      }
      if (!complete) incomplete.push_back(family);
    }
    if (incomplete.empty()) {
      std::cout << "\nAll " << files.size() << " files present with their pinned checksums.\n";
      return kExitOk;
    }
    std::cout << "\nFetch what is missing with: llada-eval data fetch --tasks " << Join(incomplete, ",")
              << " --data-dir " << data_dir_ << "\n";
    return kExitRegression;  // 1: something is missing or differs (README: "Exit status")
  }

  CLI::App* data_ = nullptr;
  CLI::App* fetch_ = nullptr;
  CLI::App* status_ = nullptr;
  std::string tasks_, mirror_, manifest_path_;
  std::string data_dir_ = DefaultDataDir();
  bool dry_run_ = false;
  DownloadOptions download_;
};

}  // namespace

std::unique_ptr<Command> MakeDataCommand() { return std::make_unique<DataCommand>(); }

}  // namespace llada
