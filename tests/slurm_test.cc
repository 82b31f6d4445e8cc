// `llada-eval slurm` against a real Slurm: Debian's slurm-wlm started as a
// one-node cluster on this machine (scripts/slurm_cluster.sh) for the test's
// duration. A 3-shard array on a real checkpoint, one shard's job cancelled
// midway and resubmitted, merged after it: the results equal the run in one
// process. Skips, saying why, where the cluster cannot start.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <thread>

#include "core/errors.h"
#include "harness/evaluator.h"
#include "store/store.h"
#include "tests/test_util.h"

namespace llada {
namespace {

using testing::Describe;
using testing::ReadFile;
using testing::ReadLines;
using testing::RunCli;
using testing::SharedDir;

// Runs a shell command; its exit status and standard output.
std::pair<int, std::string> Shell(const std::string& command) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return {-1, ""};
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The one-node cluster, up for the fixture's lifetime.
class SlurmCluster {
 public:
  explicit SlurmCluster(const std::filesystem::path& dir) : dir_(dir) {
    const auto [status, out] =
        Shell("bash " + (testing::SourceDir() / "scripts" / "slurm_cluster.sh").string() + " start " + dir.string());
    if (status != 0) {
      reason_ = out.empty() ? "scripts/slurm_cluster.sh exited " + std::to_string(status) : out;
      return;
    }
    conf_ = (dir / "slurm.conf").string();
    setenv("SLURM_CONF", conf_.c_str(), 1);
  }
  ~SlurmCluster() {
    if (!conf_.empty())
      Shell("bash " + (testing::SourceDir() / "scripts" / "slurm_cluster.sh").string() + " stop " + dir_.string());
    unsetenv("SLURM_CONF");
  }
  bool up() const { return !conf_.empty(); }
  const std::string& reason() const { return reason_; }
  const std::string& conf() const { return conf_; }

  // Waits until the queue is empty; false after `seconds`.
  bool WaitForEmptyQueue(int seconds) const {
    for (int i = 0; i < seconds * 2; ++i) {
      if (Shell("squeue -h").second.find_first_not_of(" \n") == std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return false;
  }

 private:
  std::filesystem::path dir_;
  std::string conf_, reason_;
};

std::vector<std::string> RunFlags(const std::string& settings) {
  return {"--model",      (SharedDir() / "models" / "mini-llada-llama2").string(),
          "--tasks",      "arc_challenge,gsm8k",
          "--shots",      "0",
          "--limit",      "4",
          "--data-dir",   (SharedDir() / "data").string(),
          "--model-args", settings,
          "--log-samples"};
}

TEST(SlurmTest, ArrayWithACancelledShardMergesToTheOneProcessRun) {
  LLADA_REQUIRE_SHARED();
  testing::TempDir tmp;
  SlurmCluster cluster(tmp.path() / "cluster");
  if (!cluster.up()) GTEST_SKIP() << "no Slurm cluster could start here: " << cluster.reason();
  const std::string settings = "mc_num=64,gen_length=64,steps=64,block_length=64";
  std::vector<std::string> one = {"run"};
  for (const auto& flag : RunFlags(settings)) one.push_back(flag);
  one.insert(one.end(), {"--output", (tmp.path() / "one").string()});
  const auto reference = RunCli(one);
  ASSERT_EQ(reference.exit_code, 0) << Describe(reference);

  const std::filesystem::path out = tmp.path() / "sharded";
  std::vector<std::string> submit = {"slurm", "--shards", "3", "--output", out.string(), "--"};
  for (const auto& flag : RunFlags(settings)) submit.push_back(flag);
  const auto submitted = RunCli(submit, {{"SLURM_CONF", cluster.conf()}});
  ASSERT_EQ(submitted.exit_code, 0) << Describe(submitted);
  std::smatch ids;
  const std::string printed = submitted.out;
  ASSERT_TRUE(std::regex_search(printed, ids, std::regex("^(\\d+) (\\d+)"))) << Describe(submitted);
  const std::string array_job = ids[1];

  // The first shard seen with a stored response and no finished run is cancelled midway.
  int cancelled = -1;
  for (int i = 0; i < 1200 && cancelled < 0; ++i) {
    for (int shard = 0; shard < 3 && cancelled < 0; ++shard) {
      const auto path = out / ShardStoreName({shard, 3});
      try {
        if (!std::filesystem::exists(path)) continue;
        auto store = Store::Open(path);
        const auto runs = store->ListRuns();
        if (store->CountRows("request_cache") > 0 && !runs.empty() && runs.back().status == "running") {
          ASSERT_EQ(Shell("scancel " + array_job + "_" + std::to_string(shard)).first, 0);
          cancelled = shard;
        }
      } catch (const Error&) {
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(cancelled, 0) << "no shard was caught running: " << Shell("squeue; sacct 2>/dev/null").second;
  ASSERT_TRUE(cluster.WaitForEmptyQueue(300)) << Shell("squeue").second;
  // The merge ran after the array however it ended, and named the unfinished shard.
  const std::string merge_log = ReadFile(out / "slurm" / "merge.log");
  EXPECT_NE(merge_log.find("shard " + std::to_string(cancelled) + "/3 did not finish"), std::string::npos) << merge_log;
  const auto status = RunCli({"slurm", "status", "--output", out.string()});
  ASSERT_EQ(status.exit_code, 0) << Describe(status);
  EXPECT_NE(status.out.find("2 of 3 shards done; merged: no"), std::string::npos) << status.out;

  // Resubmitted as the submission said, then merged again: the one-process run's numbers.
  const auto [rc, again] = Shell("id=$(sbatch --parsable --array=" + std::to_string(cancelled) + " " +
                                 (out / "slurm" / "shards.sbatch").string() +
                                 ") && sbatch --parsable --dependency=afterany:$id " +
                                 (out / "slurm" / "merge.sbatch").string());
  ASSERT_EQ(rc, 0) << again;
  ASSERT_TRUE(cluster.WaitForEmptyQueue(300)) << Shell("squeue").second;
  const std::string log = ReadFile(out / "slurm" / ("shard-" + std::to_string(cancelled) + ".log"));
  EXPECT_NE(log.find("(resumed)"), std::string::npos) << log;
  const auto done = RunCli({"slurm", "status", "--output", out.string()});
  EXPECT_NE(done.out.find("3 of 3 shards done; merged: yes"), std::string::npos) << done.out;
  const testing::RunNumbers expected = testing::ReadRunNumbers(tmp.path() / "one"),
                            merged = testing::ReadRunNumbers(out);
  EXPECT_EQ(merged.metrics, expected.metrics);
  EXPECT_EQ(merged.samples, expected.samples);
}

// --dry-run writes the scripts and submits nothing; bad run flags fail before any script.
TEST(SlurmTest, DryRunWritesScriptsAndBadFlagsAreRefused) {
  LLADA_REQUIRE_SHARED();
  testing::TempDir tmp;
  const std::filesystem::path out = tmp.path() / "out";
  std::vector<std::string> args = {"slurm",  "--shards",    "4",       "--output", out.string(), "--partition",
                                   "gpu",    "--gres",      "gpu:1",   "--time",   "02:00:00",   "--dry-run",
                                   "--"};
  for (const auto& flag : RunFlags("mc_num=8")) args.push_back(flag);
  const auto written = RunCli(args);
  ASSERT_EQ(written.exit_code, 0) << Describe(written);
  const std::string shards = ReadFile(out / "slurm" / "shards.sbatch"), merge = ReadFile(out / "slurm" / "merge.sbatch");
  for (const char* line : {"#SBATCH --array=0-3\n", "#SBATCH --requeue\n", "#SBATCH --partition=gpu\n",
                           "#SBATCH --gres=gpu:1\n", "#SBATCH --time=02:00:00\n", "--shard \"${SLURM_ARRAY_TASK_ID}/4\""})
    EXPECT_NE(shards.find(line), std::string::npos) << line << "\n" << shards;
  EXPECT_EQ(merge.find("--gres"), std::string::npos) << merge;  // the merge loads no weights
  EXPECT_NE(merge.find(ShardStoreName({3, 4})), std::string::npos) << merge;
  EXPECT_EQ(Shell("bash -n " + (out / "slurm" / "shards.sbatch").string()).first, 0);
  EXPECT_EQ(Shell("bash -n " + (out / "slurm" / "merge.sbatch").string()).first, 0);
  EXPECT_FALSE(std::filesystem::exists(out / "slurm" / "jobs.json"));

  auto bad = args;
  bad.insert(bad.end(), {"--shard", "0/2"});
  const auto refused = RunCli(bad);
  EXPECT_EQ(refused.exit_code, 2) << Describe(refused);
  EXPECT_NE(refused.err.find("--shard after --"), std::string::npos) << refused.err;
  std::vector<std::string> unknown = {"slurm", "--shards", "2", "--output", (tmp.path() / "x").string(), "--dry-run",
                                      "--", "--model", (SharedDir() / "models" / "mini-llada-llama2").string(),
                                      "--tasks", "no_such_task"};
  const auto no_task = RunCli(unknown);
  EXPECT_EQ(no_task.exit_code, 2) << Describe(no_task);
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "x" / "slurm" / "shards.sbatch"));
}

}  // namespace
}  // namespace llada
