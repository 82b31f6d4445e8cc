#include "sandbox/seccomp.h"

#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace llada {

const std::vector<std::string>& DeniedSyscalls() {
  static const std::vector<std::string> names = {
      // namespaces and the mount table: the way out of bwrap's view
      "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
      "fsmount", "fsconfig", "fspick", "mount_setattr",
      // other processes' memory and the kernel's
      "ptrace", "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open", "userfaultfd", "kexec_load",
      "kexec_file_load", "init_module", "finit_module", "delete_module",
      // kernel keyrings, file handles, accounting, swap, reboot, the kernel log
      "keyctl", "add_key", "request_key", "open_by_handle_at", "name_to_handle_at", "acct", "swapon", "swapoff",
      "reboot", "syslog", "quotactl"};
  return names;
}

SeccompFilter BuildSeccompFilter() {
  SeccompFilter filter;
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_ALLOW), seccomp_release);
  if (!ctx) {
    filter.unavailable = "seccomp_init failed";
    return filter;
  }
  auto fail = [&](const std::string& what, int rc) {
    filter.unavailable = what + ": " + std::strerror(-rc);
    return filter;
  };
  for (const auto& name : DeniedSyscalls()) {
    const int number = seccomp_syscall_resolve_name(name.c_str());
    if (number == __NR_SCMP_ERROR) continue;  // not on this architecture
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), number, 0); rc < 0) return fail("rule " + name, rc);
  }
  // clone() creating a namespace; clone3's flags live in memory a filter
  // cannot read, so it reports ENOSYS and the C library falls back to clone().
  for (const unsigned long flag :
       {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP}) {
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
        rc < 0)
      return fail("rule clone", rc);
  }
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0); rc < 0)
    return fail("rule clone3", rc);
  // Pushing keystrokes into a terminal (there is none, but a session could be inherited).
  if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                                SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, TIOCSTI));
      rc < 0)
    return fail("rule ioctl", rc);

  const int fd = memfd_create("llada-seccomp", MFD_CLOEXEC);
  if (fd < 0) {
    filter.unavailable = std::string("memfd_create: ") + std::strerror(errno);
    return filter;
  }
  if (int rc = seccomp_export_bpf(ctx.get(), fd); rc < 0) {
    ::close(fd);
    return fail("seccomp_export_bpf", rc);
  }
  const off_t size = ::lseek(fd, 0, SEEK_END);
  filter.bpf.resize(size > 0 ? static_cast<size_t>(size) : 0);
  if (::pread(fd, filter.bpf.data(), filter.bpf.size(), 0) != static_cast<ssize_t>(filter.bpf.size())) {
    filter.bpf.clear();
    filter.unavailable = "cannot read the exported filter back";
  }
  ::close(fd);
  return filter;
}

}  // namespace llada
