#include "tests/test_util.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process/search_path.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/errors.h"
#include "core/file_io.h"
#include "sandbox/executor.h"
#include "tasks/loaders.h"

extern char** environ;

namespace llada::testing {

std::filesystem::path SourceDir() { return LLADA_EVAL_SOURCE_DIR; }

std::filesystem::path SharedDir() {
  std::filesystem::path dir;
  if (const char* env = std::getenv("LLADA_EVAL_SHARED"); env && *env)
    dir = env;
  else
    dir = SourceDir().parent_path() / "shared";
  std::error_code ec;
  return std::filesystem::is_directory(dir / "data", ec) ? dir : std::filesystem::path();
}

bool Required(const char* name) {
  const char* value = std::getenv(name);
  return value && std::string(value) == "1";
}

std::string SandboxUnusableReason() {
  static const std::string reason = [] {
    if (boost::process::search_path("bwrap").empty())
      return std::string("bubblewrap is not installed (scripts/setup.sh installs it)");
    const auto executor = MakeBwrapExecutor();
    const SandboxProbe probe = ProbeSandbox(*executor);
    if (probe.ok) return std::string();
    std::string user_namespaces = "?";
    std::ifstream("/proc/sys/user/max_user_namespaces") >> user_namespaces;
    return "bubblewrap cannot run a program here (max_user_namespaces " + user_namespaces +
           "; a container or chroot may allow none): " + probe.detail;
  }();
  return reason;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "llada-eval-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string UserErrorOf(const std::function<void()>& body) {
  try {
    body();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::filesystem::path& path, const std::string& contents) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

std::vector<std::string> ReadLines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

std::filesystem::path LatestResults(const std::filesystem::path& dir) {
  std::filesystem::path latest;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("results_", 0) == 0 && entry.path().extension() == ".json" &&
        (latest.empty() || name > latest.filename().string()))
      latest = entry.path();
  }
  return latest;
}

RunNumbers ReadRunNumbers(const std::filesystem::path& output_dir) {
  RunNumbers numbers;
  numbers.metrics = nlohmann::json::parse(ReadFile(LatestResults(output_dir)))["results"];
  for (const auto& entry : std::filesystem::directory_iterator(output_dir))
    if (entry.path().filename().string().rfind("samples_", 0) == 0)
      numbers.samples[entry.path().filename().string()] = ReadLines(entry.path());
  return numbers;
}

namespace {

// Waits for the child `pid` and reads what it wrote to `out_path` and `err_path`.
CliResult WaitForCli(pid_t pid, const std::filesystem::path& out_path, const std::filesystem::path& err_path) {
  int status = 0;
  waitpid(pid, &status, 0);
  CliResult result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

}  // namespace

CliResult RunCli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                 const std::string& input) {
  return RunBinary(LLADA_EVAL_BINARY, args, env, input);
}

CliResult RunBinary(const std::filesystem::path& binary, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env, const std::string& input) {
  TempDir capture;
  const auto out_path = capture.path() / "out", err_path = capture.path() / "err", in_path = capture.path() / "in";
  WriteFile(in_path, input);
  std::vector<std::string> argv_storage = {binary.string()};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    if (!env.count(entry.substr(0, entry.find('=')))) env_storage.push_back(entry);
  }
  for (const auto& [key, value] : env)
    if (value != kUnset) env_storage.push_back(key + "=" + value);
  std::vector<char*> argv, envp;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t pid = fork();
  if (pid == 0) {
    int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in_fd = open(in_path.c_str(), O_RDONLY);
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    chdir(SourceDir().c_str());
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return WaitForCli(pid, out_path, err_path);
}

CliResult RunCliInChild(const std::vector<std::string>& args, const CliHooks& hooks) {
  TempDir capture;
  const auto out_path = capture.path() / "out", err_path = capture.path() / "err";
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = fork();
  if (pid == 0) {
    const int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    if (chdir(SourceDir().c_str()) != 0) _exit(126);
    const int code = RunCommandLine(args, hooks);
    std::cout.flush();
    std::cerr.flush();
    _exit(code);
  }
  return WaitForCli(pid, out_path, err_path);
}

std::string Describe(const CliResult& r) {
  return "exit " + std::to_string(r.exit_code) + " signal " + std::to_string(r.signal) + "\nstdout:\n" + r.out +
         "\nstderr:\n" + r.err;
}

bool ContainsCount(const std::string& text, const std::string& needle) {
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    if (at == 0 || !std::isdigit(static_cast<unsigned char>(text[at - 1]))) return true;
  return false;
}

int CountOccurrences(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++count;
  return count;
}

std::string ReplayAnswering(const std::string& requests_jsonl, const std::filesystem::path& data,
                            const std::function<bool(const std::string& task, size_t doc)>& answered_right) {
  std::map<std::string, std::vector<std::vector<std::string>>> mmlu_rows;
  std::vector<nlohmann::json> gsm8k_docs;
  std::string replay;
  std::istringstream lines(requests_jsonl);
  for (std::string line; std::getline(lines, line);) {
    const auto request = nlohmann::json::parse(line);
    const std::string task = request.at("task");
    const size_t doc = request.at("doc_index");
    const bool gold = answered_right(task, doc);
    nlohmann::json record = {{"task", task}, {"doc_index", doc}, {"request_index", request.at("request_index")}};
    if (task == "gsm8k") {
      if (gsm8k_docs.empty())
        for (const auto& row : ReadLines(data / "gsm8k" / "test.jsonl"))
          gsm8k_docs.push_back(nlohmann::json::parse(row));
      // The reference solution itself ends "#### N"; a wrong one ends with a number no answer has.
      record["output"] =
          gold ? " " + gsm8k_docs.at(doc).at("answer").get<std::string>() : " So it is 31337.\n#### 31337";
    } else {
      const std::string subject = task.substr(5);  // "mmlu_"
      if (!mmlu_rows.count(subject))
        mmlu_rows[subject] = ParseCsv(ReadInputFile(data / "mmlu" / "test" / (subject + "_test.csv")), subject);
      const int gold_index = mmlu_rows[subject].at(doc).at(5)[0] - 'A';
      const int winner = gold ? gold_index : (gold_index + 1) % 4;
      const bool wins = request.at("request_index").get<int>() == winner;
      record["loglik"] = wins ? -0.5 : -4.0;
      record["greedy"] = wins;
    }
    replay += record.dump() + "\n";
  }
  return replay;
}

}  // namespace llada::testing
