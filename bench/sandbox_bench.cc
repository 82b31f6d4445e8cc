// Wall time of HumanEval's 164 canonical solutions in the sandbox, with one
// worker and with more (bench/run_sandbox_bench.sh).
//   sandbox_bench HumanEval.jsonl[.gz] [workers...]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "core/text.h"
#include "sandbox/executor.h"

int main(int argc, char** argv) {
  using namespace llada;
  if (argc < 2) {
    std::fprintf(stderr, "usage: sandbox_bench HumanEval.jsonl[.gz] [workers...]\n");
    return 2;
  }
  std::vector<ExecJob> jobs;
  for (const auto& line : Split(ReadInputFile(argv[1]), '\n')) {
    if (PyStrip(line).empty()) continue;
    const auto problem = nlohmann::json::parse(line);
    jobs.push_back({problem.at("prompt").get<std::string>() + problem.at("canonical_solution").get<std::string>() +
                        "\n" + problem.at("test").get<std::string>() + "\ncheck(" +
                        problem.at("entry_point").get<std::string>() + ")",
                    ExecLimits()});
  }
  std::vector<int> worker_counts;
  for (int i = 2; i < argc; ++i) worker_counts.push_back(std::atoi(argv[i]));
  if (worker_counts.empty()) worker_counts = {1, 2};
  auto executor = MakeBwrapExecutor();
  std::printf("executor %s, %zu programs\n", executor->Name().c_str(), jobs.size());
  std::printf("%8s %10s %12s %8s\n", "workers", "wall_s", "programs/s", "passed");
  for (int workers : worker_counts) {
    const auto start = std::chrono::steady_clock::now();
    const auto results = RunAll(*executor, jobs, workers);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    size_t passed = 0;
    for (const auto& result : results) passed += result.verdict == Verdict::kPass;
    std::printf("%8d %10.2f %12.1f %5zu/%zu\n", workers, seconds, jobs.size() / seconds, passed, jobs.size());
  }
  return 0;
}
