#include "harness/progress.h"

#include <algorithm>
#include <cstdio>

namespace llada {

Progress::Progress(std::string label, int64_t total, std::ostream& out, bool interactive, Unit unit)
    : label_(std::move(label)),
      total_(total),
      out_(out),
      interactive_(interactive),
      unit_(unit),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

std::string Progress::FormatDuration(double seconds) {
  if (seconds < 0 || seconds != seconds) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buffer[32];
  if (s >= 3600)
    std::snprintf(buffer, sizeof(buffer), "%ldh%02ldm", static_cast<long>(s / 3600), static_cast<long>(s % 3600 / 60));
  else if (s >= 60)
    std::snprintf(buffer, sizeof(buffer), "%ldm%02lds", static_cast<long>(s / 60), static_cast<long>(s % 60));
  else
    std::snprintf(buffer, sizeof(buffer), "%lds", static_cast<long>(s));
  return buffer;
}

std::string Progress::FormatBytes(double bytes) {
  char buffer[32];
  if (bytes < 1e3)
    std::snprintf(buffer, sizeof(buffer), "%.0f B", bytes);
  else if (bytes < 1e6)
    std::snprintf(buffer, sizeof(buffer), "%.1f kB", bytes / 1e3);
  else if (bytes < 1e9)
    std::snprintf(buffer, sizeof(buffer), "%.1f MB", bytes / 1e6);
  else
    std::snprintf(buffer, sizeof(buffer), "%.2f GB", bytes / 1e9);
  return buffer;
}

void Progress::Advance(int64_t count) {
  done_ += count;
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  // Terminals redraw ten times a second; logs get a line every 10 seconds.
  if (since_draw >= (interactive_ ? 0.1 : 10.0)) {
    last_draw_ = now;
    Draw(false);
  }
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  Draw(true);
}

void Progress::Draw(bool final) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : -1;
  const double fraction = total_ > 0 ? std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_)) : 1.0;
  char stats[200];
  if (unit_ == Unit::kBytes)
    std::snprintf(stats, sizeof(stats), "%s/%s (%3.0f%%) %s/s elapsed %s ETA %s",
                  FormatBytes(static_cast<double>(done_)).c_str(), FormatBytes(static_cast<double>(total_)).c_str(),
                  fraction * 100.0, FormatBytes(rate).c_str(), FormatDuration(elapsed).c_str(),
                  final ? "0s" : FormatDuration(eta).c_str());
  else
    std::snprintf(stats, sizeof(stats), "%ld/%ld (%3.0f%%) %.1f/s elapsed %s ETA %s", static_cast<long>(done_),
                  static_cast<long>(total_), fraction * 100.0, rate, FormatDuration(elapsed).c_str(),
                  final ? "0s" : FormatDuration(eta).c_str());
  if (interactive_) {
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    out_ << "\r" << label_ << " [" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << stats
         << "\x1b[K";
    if (final) out_ << "\n";
  } else {
    out_ << label_ << ": " << stats << "\n";
  }
  out_.flush();
}

}  // namespace llada
