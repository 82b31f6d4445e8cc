#!/usr/bin/env bash
# README command (2): installs, builds and runs the whole ctest suite on the
# default configuration (Debian's LibTorch 1.13, CPU), then builds the second
# one (PyPI's LibTorch 2.11 with CUDA) and runs every LibTorch-dependent test
# again under it, on the CPU (tests that need a GPU skip). Tests that need
# ../shared (benchmark files, goldens) skip with a message when it is absent;
# in CI it is present and they run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)")

# The tests that load a checkpoint or call LibTorch (suite names).
torch_tests='(E2eGoldenTest|CpuKernelsTest|FastDecodingTest|AdaptiveMonteCarloTest|LowPrecisionTest|LladaTransformerTest|LladaAlgorithmsTest|ArmTest|ArmBatchedGenerationTest|CheckpointTest|CudaParityTest|TorchCli[A-Za-z]*Test|InspectCliTest|ChatCliTest|ShardTest)\.'
if [[ -x /usr/local/cuda/bin/nvcc || ${LLADA_EVAL_REQUIRE_TORCH2:-} == 1 ]]; then
  bash scripts/build.sh torch2
  (cd build-torch2 && ctest --output-on-failure -j "$(nproc)" -R "$torch_tests")
else
  echo "test: no CUDA toolkit in /usr/local/cuda: the LibTorch 2.x configuration was not built or tested" >&2
fi
