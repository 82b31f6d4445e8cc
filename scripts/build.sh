#!/usr/bin/env bash
# Configures and builds llada-eval (Ninja, ccache when present).
#   bash scripts/build.sh           build/: Debian's LibTorch 1.13 (CPU), the default
#   bash scripts/build.sh torch2    build-torch2/: PyPI's LibTorch 2.11 with CUDA
#                                   (scripts/setup-torch2.sh installs it; needs the
#                                   CUDA toolkit in /usr/local/cuda to link)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-default}" in
  default)
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
    cmake --build build
    ;;
  torch2)
    # The torch package root as the prefix, so that its lib/ is searched before
    # the system's (where Debian's libtorch 1.13 lives).
    torch_root=$(bash scripts/setup-torch2.sh | tail -1)
    cmake -S . -B build-torch2 -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
      -DCMAKE_PREFIX_PATH="$torch_root" -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
      -DCUDAToolkit_ROOT=/usr/local/cuda -DTORCH_CUDA_ARCH_LIST="8.0;9.0" >build-torch2.cmake.log 2>&1 \
      || { tail -40 build-torch2.cmake.log; exit 1; }
    cmake --build build-torch2 --target llada-eval llada_tests
    ;;
  *)
    echo "usage: scripts/build.sh [torch2]" >&2
    exit 2
    ;;
esac
