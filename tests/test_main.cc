// The test binary's entry point: gtest's, with the load-time settings and
// OpenBLAS kernels llada-eval's own model-running processes get (they set
// them before loading LibTorch: models/torch_backend.h), so that tests
// computing in this process (and the children they fork) agree with the
// command line's numbers to the last bit.
#include <gtest/gtest.h>

#include "models/torch/backends.h"
#include "models/torch/cpu_threads.h"

namespace {

// ctest runs test binaries side by side (-j): OpenMP workers that spin
// would take each other's cores, so tests and the llada-eval processes they
// start (which inherit the policy) wait passively.
void BeforeLibrariesStart(int, char** argv, char** envp) {
  llada::SetLoadTimeSettings(argv, envp, llada::CoreSharing::kOthers);
}

__attribute__((section(".preinit_array"), used)) void (*before_libraries_start)(int, char**,
                                                                                char**) = BeforeLibrariesStart;

}  // namespace

int main(int argc, char** argv) {
  llada::UseWidestBlasKernels();
  // In-process runs use the backends linked into this binary; the
  // llada-eval processes tests start load llada-eval-torch.so as users' do.
  llada::UseLinkedTorchBackend(llada::LinkedTorchBackend());
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
