// Progress on long work: a bar with rate and ETA on a terminal, a plain line
// every few seconds otherwise (CI logs, pipes).
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace llada {

class Progress {
 public:
  enum class Unit { kCount, kBytes };  // kBytes: amounts and rate in kB/MB/GB
  // `interactive`: redraw one line in place (stderr is a terminal).
  Progress(std::string label, int64_t total, std::ostream& out, bool interactive, Unit unit = Unit::kCount);
  void Advance(int64_t count = 1);
  void Finish();

  // "1m05s", "12s", "2h03m".
  static std::string FormatDuration(double seconds);
  // "512 B", "12.3 kB", "166.2 MB" (decimal units, as download tools print).
  static std::string FormatBytes(double bytes);

 private:
  void Draw(bool final);
  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  std::ostream& out_;
  bool interactive_;
  Unit unit_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace llada
