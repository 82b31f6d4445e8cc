// Which process owns something (a run in the store), and whether it is alive.
//
// A pid alone is reused; the pair (boot id, start time in clock ticks) names
// one process for the life of the machine. Liveness is exact on the same host
// (the process is there or not); another host's owner is judged by how fresh
// its heartbeat is.
#pragma once

#include <cstdint>
#include <string>

namespace llada {

struct ProcessOwner {
  std::string host;
  int64_t pid = 0;
  std::string start;  // "<boot id>/<start time in ticks>"; empty when unknown
};

// This process.
ProcessOwner CurrentProcess();

// True when `owner` names a process that is still running on this host. False
// for an owner on another host: the caller decides from its heartbeat.
bool IsRunningHere(const ProcessOwner& owner);

// The host name as gethostname() gives it ("unknown" when it fails).
std::string HostName();

}  // namespace llada
