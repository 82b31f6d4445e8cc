#include "core/process.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

namespace llada {
namespace {

std::string BootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

// Field 22 of /proc/<pid>/stat: the start time after boot, in clock ticks.
std::string StartTicks(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return "";
  const size_t paren = line.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return "";
  size_t at = paren + 2;
  for (int field = 3; field < 22; ++field) {
    at = line.find(' ', at);
    if (at == std::string::npos) return "";
    ++at;
  }
  return line.substr(at, line.find(' ', at) - at);
}

std::string StartOf(int64_t pid) {
  const std::string ticks = StartTicks(pid);
  return ticks.empty() ? "" : BootId() + "/" + ticks;
}

}  // namespace

std::string HostName() {
  char buffer[256] = {0};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) return "unknown";
  return buffer;
}

ProcessOwner CurrentProcess() {
  const int64_t pid = static_cast<int64_t>(::getpid());
  return {HostName(), pid, StartOf(pid)};
}

bool IsRunningHere(const ProcessOwner& owner) {
  if (owner.host != HostName() || owner.pid <= 0) return false;
  if (::kill(static_cast<pid_t>(owner.pid), 0) != 0 && errno == ESRCH) return false;
  // The pid is taken: by the owner only if it started at the same moment.
  return owner.start.empty() || StartOf(owner.pid) == owner.start;
}

}  // namespace llada
