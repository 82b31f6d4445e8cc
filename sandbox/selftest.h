// The sandbox's adversarial suite (../shared/spec/sandbox.md section 4.5): each
// case is a hostile program (or a hostile situation) with the verdict the
// sandbox must give, plus host-side checks (nothing of a slot's uid survives,
// the canary listener saw no connection, host files unchanged, the harness's
// memory did not grow). `llada-eval sandbox selftest` prints the table; the
// ctests run it with 1 and with 16 workers.
#pragma once

#include <string>
#include <vector>

#include "sandbox/executor.h"

namespace llada {

struct SelftestRow {
  std::string name;      // "cpu_spin", "fork_bomb", ...
  std::string spec;      // spec section 4.5 item, e.g. "4.5.1"
  std::string expected;  // "CPU_LIMIT", "PASS|FAIL", "0 processes", ...
  std::string observed;
  bool ok = false;
  std::string note;  // stderr head or detail when not ok
};

struct SelftestReport {
  std::string executor;  // the executor's Name()
  int workers = 1;
  std::vector<SelftestRow> rows;
  bool ok() const;
};

// The suite's default limits: 5 s wall, 2 s CPU, 512 MiB, 64 KiB of output.
ExecLimits SelftestLimits();

// Runs the suite on `executor` with `workers` parallel slots (1..64).
SelftestReport RunSandboxSelftest(Executor& executor, int workers);

// case | spec | expected | observed | ok, one row per line.
std::string FormatSelftestTable(const SelftestReport& report);

}  // namespace llada
