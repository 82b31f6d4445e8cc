// The seccomp filter bwrap installs just before it runs the program
// (`bwrap --seccomp FD`): the syscalls a test program never needs and a
// sandbox escape would (new namespaces, mounts, ptrace, bpf, kernel modules,
// keyrings, ...) fail with EPERM; syscalls of another architecture kill the
// process. Built with libseccomp.
#pragma once

#include <string>
#include <vector>

namespace llada {

struct SeccompFilter {
  std::string bpf;          // compiled classic BPF, as `bwrap --seccomp` reads it; empty when unavailable
  std::string unavailable;  // why, when bpf is empty
};

// The names of the syscalls the filter denies (for reports and the selftest).
const std::vector<std::string>& DeniedSyscalls();

SeccompFilter BuildSeccompFilter();

}  // namespace llada
