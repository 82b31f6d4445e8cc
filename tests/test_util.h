// Helpers shared by the tests: where ../shared is, temporary directories, and
// running the llada-eval binary as a user would.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/cli/command_line.h"

namespace llada::testing {

// ../shared beside the source tree (or $LLADA_EVAL_SHARED); empty if absent.
std::filesystem::path SharedDir();

// True when the environment variable `name` is "1": CI sets
// LLADA_EVAL_REQUIRE_SHARED, LLADA_EVAL_REQUIRE_BWRAP and
// LLADA_EVAL_REQUIRE_CHROMIUM (.ci/run), so that a missing ../shared,
// bubblewrap or Chromium fails the suite there instead of skipping half of it.
bool Required(const char* name);

// Skips the current test naming what is missing -- or, where `requirement` is
// set, fails it.
#define LLADA_SKIP_OR_FAIL(requirement, why)                                                    \
  do {                                                                                          \
    if (::llada::testing::Required(requirement)) GTEST_FAIL() << why << " (" requirement "=1)"; \
    GTEST_SKIP() << why;                                                                        \
  } while (0)

// ../shared: the benchmark data and goldens.
#define LLADA_REQUIRE_SHARED()                                                                  \
  do {                                                                                          \
    if (::llada::testing::SharedDir().empty())                                                  \
      LLADA_SKIP_OR_FAIL("LLADA_EVAL_REQUIRE_SHARED",                                           \
                         "../shared (benchmark data and goldens) not found next to the source " \
                         "tree; set LLADA_EVAL_SHARED to run this test");                       \
  } while (0)

// Why the bubblewrap sandbox cannot run here ("" when it can): not installed,
// or the kernel allows no user namespaces (a container, a chroot). Probed once.
std::string SandboxUnusableReason();
#define LLADA_REQUIRE_BWRAP()                                                        \
  do {                                                                               \
    const std::string unusable = ::llada::testing::SandboxUnusableReason();          \
    if (!unusable.empty()) LLADA_SKIP_OR_FAIL("LLADA_EVAL_REQUIRE_BWRAP", unusable); \
  } while (0)

std::filesystem::path SourceDir();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct CliResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the signal that killed it, else 0
  std::string out;
  std::string err;
};

// Exit status, signal, stdout and stderr, for failure messages.
std::string Describe(const CliResult& result);

// Runs build/llada-eval with `args`; `env` entries are added to the environment
// (replacing the test's own; kUnset removes the variable); `input` is its
// standard input.
inline const std::string kUnset = std::string(1, '\0');
CliResult RunCli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                 const std::string& input = "");
// The same with another llada-eval executable (a copy laid out as installed).
CliResult RunBinary(const std::filesystem::path& binary, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env = {}, const std::string& input = "");

// Runs the command line in a forked child of the test process (so hooks, e.g.
// one that kills the process after N committed responses, can reach into the
// run), with stdout and stderr captured like RunCli's.
CliResult RunCliInChild(const std::vector<std::string>& args, const CliHooks& hooks);

// The message of the UserError `body` throws, or "" when it throws none.
std::string UserErrorOf(const std::function<void()>& body);

std::string ReadFile(const std::filesystem::path& path);
void WriteFile(const std::filesystem::path& path, const std::string& contents);
std::vector<std::string> ReadLines(const std::filesystem::path& path);

// True when `text` holds `needle` not preceded by a digit, so that
// "0 responses computed" does not match "10 responses computed".
bool ContainsCount(const std::string& text, const std::string& needle);

// Non-overlapping occurrences of `needle` in `text`.
int CountOccurrences(const std::string& text, const std::string& needle);

// The newest results_*.json in a directory.
std::filesystem::path LatestResults(const std::filesystem::path& dir);

// What a run's numbers are, as an output directory holds them: the newest
// results' per-task metrics and every samples_*.jsonl line (sharded and
// merged runs are compared with one-process runs on these).
struct RunNumbers {
  nlohmann::json metrics;
  std::map<std::string, std::vector<std::string>> samples;  // file name -> lines
};
RunNumbers ReadRunNumbers(const std::filesystem::path& output_dir);

// Replay lines (`--model replay:FILE`) answering every MMLU and GSM8K request
// of `requests_jsonl` (what `llada-eval requests` printed), reading the gold
// answers from `data` (a --data-dir). A document is answered right when
// `answered_right(task, doc)`: MMLU's gold choice wins (else the next one),
// GSM8K's reference solution is the output (else one ending "#### 31337").
std::string ReplayAnswering(const std::string& requests_jsonl, const std::filesystem::path& data,
                            const std::function<bool(const std::string& task, size_t doc)>& answered_right);

}  // namespace llada::testing
