// `llada-eval data fetch` / `data status`: which manifest files a set of
// tasks reads, whether they are in the data directory with the pinned bytes,
// and getting them there (download, verify, unpack).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "fetch/download.h"
#include "fetch/manifest.h"
#include "tasks/registry.h"

namespace llada {

// The manifest files that `tasks` (leaf task names) read from `data_dir`:
// for each split, the first of the task's accepted paths that a manifest
// file provides. Throws UserError naming every task split no manifest file
// provides.
std::vector<const ManifestFile*> FilesForTasks(const Manifest& manifest, const TaskRegistry& registry,
                                               const std::vector<std::string>& tasks,
                                               const std::filesystem::path& data_dir);

struct FileCheck {
  enum class State { kOk, kMissing, kPartial, kMismatch };
  State state = State::kMissing;
  std::string detail;       // what is wrong, for `data status`
  bool archive_ok = false;  // the downloaded file itself is present with its pinned bytes
};
const char* StateName(FileCheck::State state);

// Compares what `data_dir` holds with the manifest: the file's sha256, and
// each file it unpacks (against the rule's sha256, else the archive's member).
FileCheck CheckFile(const ManifestFile& file, const std::filesystem::path& data_dir);

// "https://host:port/a/b?c" -> "/a/b?c" ("/" when there is no path).
std::string UrlPath(const std::string& url);
// The URL with its scheme and host replaced by `mirror` ("" keeps it).
std::string MirroredUrl(const std::string& url, const std::string& mirror);

struct FetchOptions {
  std::filesystem::path data_dir;
  std::string mirror;    // --mirror / LLADA_EVAL_DATA_MIRROR
  std::string hf_token;  // HF_TOKEN: sent to the hub (and for files marked gated)
  DownloadOptions download;
};

struct FetchSummary {
  int already_present = 0, downloaded = 0, unpacked_only = 0;
  int64_t bytes_received = 0;
  std::vector<std::string> failures;  // "<dest>: <why>", one per file that failed
};

// Brings every file to its pinned state: skips those already there, downloads
// the rest to "<dest>.part" (resuming one left by an interrupted fetch),
// verifies size and sha256 before renaming it into place (a mismatch leaves
// nothing a loader would read), then unpacks. A failed file does not stop
// the others. `on_start` is told the bytes to download; `on_bytes` each chunk.
FetchSummary FetchFiles(const std::vector<const ManifestFile*>& files, const FetchOptions& options,
                        const std::function<void(int64_t total_bytes, int files_to_download)>& on_start,
                        const std::function<void(int64_t)>& on_bytes);

}  // namespace llada
