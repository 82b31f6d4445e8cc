// `run --workers N` / `run --devices cuda:0,cuda:1,...`: the run's N shards
// (docs/sharding.md), one process each (one per device), with one progress
// line for the whole run, merged at the end. A worker that dies is reported
// with the command that reruns it alone; the other shards' work is kept.
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <chrono>
#include <iostream>
#include <set>
#include <thread>

#include "core/errors.h"
#include "harness/cli/command.h"
#include "harness/cli/flags.h"
#include "harness/progress.h"
#include "store/store.h"

namespace llada {
namespace {

namespace bp = boost::process;

// The run's distinct requests (by content), for the progress total.
int64_t DistinctRequests(const Plan& plan) {
  std::set<std::string> distinct;
  for (const auto& planned : plan.tasks)
    for (const auto& requests : planned.requests)
      for (const auto& request : requests) distinct.insert(RequestJson(request).dump());
  return static_cast<int64_t>(distinct.size());
}

struct Worker {
  ShardSpec shard;
  std::string device;  // empty: as the command line says
  std::vector<std::string> args;
  std::filesystem::path store, log;
  std::unique_ptr<bp::child> process;
  std::unique_ptr<Store> opened;  // its store, once the worker has created it (for progress)
  bool done = false;
  int status = 0;  // exit status; -1 when killed by a signal
};

}  // namespace

int RunWorkers(const EvalOptions& options, const std::vector<std::string>& devices, int workers,
               CommandContext& context) {
  const int count = devices.empty() ? workers : static_cast<int>(devices.size());
  if (options.shard) throw UserError("--shard: a worker's own flag; with --workers or --devices the run shards itself");
  if (count < 1) throw UserError("--workers: at least 1");
  const std::filesystem::path output = std::filesystem::absolute(options.output_dir);
  std::filesystem::create_directories(output);
  const Plan plan = BuildPlan(context.Tasks(), options);  // bad tasks or data fail here, once, not N times

  // Each worker: the command line as given, its shard, its device; its own
  // store in the output directory (--db names the merged store).
  std::vector<std::string> base = WithoutFlags(context.args, {"--workers", "--devices", "--shard", "--db"});
  if (!devices.empty()) base = WithoutFlags(base, {"--device"});
  const bool threads_given = base.size() != WithoutFlags(base, {"--threads"}).size();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe");
  std::vector<Worker> pool(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    Worker& worker = pool[static_cast<size_t>(i)];
    worker.shard = {i, count};
    worker.args = base;
    worker.args.insert(worker.args.end(), {"--shard", std::to_string(i) + "/" + std::to_string(count)});
    if (!devices.empty()) {
      worker.device = devices[static_cast<size_t>(i)];
      worker.args.insert(worker.args.end(), {"--device", worker.device});
    } else if (!threads_given) {  // CPU workers share the cores
      worker.args.insert(worker.args.end(), {"--threads", std::to_string(std::max(1u, cores / count))});
    }
    worker.store = output / ShardStoreName(worker.shard);
    worker.log = output / ("worker-" + std::to_string(i) + "-of-" + std::to_string(count) + ".log");
    worker.process = std::make_unique<bp::child>(exe.string(), bp::args(worker.args), bp::std_in < bp::null,
                                                 (bp::std_out & bp::std_err) > worker.log.string());
  }
  std::cerr << "llada-eval: " << count << " workers over the run's shards"
            << (devices.empty() ? "" : " (one per device)") << "; their logs: " << (output / "worker-*.log").string()
            << "\n";

  // One progress line: the responses in the shard stores.
  Progress progress("requests", DistinctRequests(plan), std::cerr, isatty(STDERR_FILENO) != 0);
  int64_t shown = 0;
  size_t running = pool.size();
  while (running > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    int64_t stored = 0;
    for (auto& worker : pool) {
      std::error_code ec;
      try {
        if (!worker.opened && std::filesystem::exists(worker.store, ec)) worker.opened = Store::Open(worker.store);
        if (worker.opened) stored += worker.opened->CountRows("request_cache");
      } catch (const Error&) {  // still being created: counted next time
      }
      if (worker.done || worker.process->running()) continue;
      worker.process->wait();
      worker.done = true;
      --running;
      const int native = worker.process->native_exit_code();
      worker.status = WIFEXITED(native) ? WEXITSTATUS(native) : -1;
      if (worker.status != 0)
        std::cerr << "\nllada-eval: worker " << worker.shard.index << "/" << count
                  << (worker.device.empty() ? "" : " (" + worker.device + ")") << " "
                  << (worker.status < 0 ? "was killed (signal " + std::to_string(WTERMSIG(native)) + ")"
                                        : "exited with status " + std::to_string(worker.status))
                  << "; its log: " << worker.log.string() << "\n";
    }
    if (stored > shown) {
      progress.Advance(stored - shown);
      shown = stored;
    }
  }
  progress.Finish();

  std::vector<std::string> stores;
  std::vector<const Worker*> failed;
  for (const auto& worker : pool) {
    stores.push_back(worker.store.string());
    if (worker.status != 0) failed.push_back(&worker);
  }
  if (!failed.empty()) {
    int status = kExitOk;
    std::cerr << "llada-eval: " << failed.size() << " of " << count
              << " workers failed; the others' shards are stored. Rerun each failed one alone:\n";
    for (const Worker* worker : failed) {
      std::vector<std::string> line = {exe.string()};
      line.insert(line.end(), worker->args.begin(), worker->args.end());
      std::cerr << "  " << ShellQuote(line) << "\n";
      status = std::max(status, worker->status < 0 ? static_cast<int>(kExitBug) : worker->status);
    }
    std::vector<std::string> merge = {exe.string(), "merge"};
    merge.insert(merge.end(), stores.begin(), stores.end());
    std::cerr << "then merge them:\n  " << ShellQuote(merge) << "\n";
    return status;
  }
  MergeRequest merge;
  merge.shard_stores = stores;
  merge.output = output.string();
  if (!options.db_path.empty()) merge.db = options.db_path.string();
  merge.command_line = context.args;
  return ReportMerged(MergeShardStores(merge, context));
}

}  // namespace llada
