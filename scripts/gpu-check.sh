#!/usr/bin/env bash
# The GPU checks and benchmarks in one call, on a machine with a CUDA GPU and
# PyTorch (LibTorch 2.x is taken from the torch package). Prepare here first:
#   bash scripts/gpu-deps.sh        (build dependencies + tiny checkpoints -> .gpu-deps)
# then run on the device machine, carrying .gpu-deps:
#   bash scripts/gpu-check.sh       (writes logs and numbers to $OUT, else ./gpu-check-out)
# Steps: build (Release, LibTorch 2.x: the SDPA attention path); parity tests
# on CPU and on CUDA; backend benchmark on a small shape and on the LLaDA-8B shape.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/gpu-check-out}
mkdir -p "$out"
exec > >(tee "$out/gpu-check.log") 2>&1
step() { echo; echo "== $* ($(date +%T))"; }

step "machine"
have_gpu=0
if nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null; then
  have_gpu=1
else
  echo "no GPU (nvidia-smi finds none): the CUDA steps below are skipped"
fi
# LibTorch 2.x: $TORCH_ROOT, else the torch package python3 imports (the GPU
# machines'), else this checkout's .venv-torch2 (scripts/setup-torch2.sh). The
# package root, so that its lib/ wins over any system LibTorch.
if [ -n "${TORCH_ROOT:-}" ]; then
  torch_prefix=$TORCH_ROOT
elif torch_prefix=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null); then
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
else
  torch_prefix=$(bash scripts/setup-torch2.sh | tail -1) || { echo "no LibTorch 2.x"; exit 2; }
fi
echo "LibTorch from $torch_prefix"

deps=$PWD/.gpu-deps/root
prefix="$torch_prefix"
if [ -d "$deps" ]; then
  # Debian packages unpacked under $deps: point CMake, pkg-config and the
  # loader there (only for this build and its binaries).
  prefix="$torch_prefix;$deps/usr"
  export PATH="$PATH:$deps/usr/bin"
  export PKG_CONFIG_PATH="$deps/usr/lib/x86_64-linux-gnu/pkgconfig:$deps/usr/share/pkgconfig"
  export PKG_CONFIG_SYSROOT_DIR="$deps"
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$deps/usr/lib/x86_64-linux-gnu"
  export OPENSSL_ROOT_DIR="$deps/usr"
fi
[ -d .gpu-deps/shared ] && export LLADA_EVAL_SHARED=$PWD/.gpu-deps/shared

step "build (Release, LibTorch from $torch_prefix)"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DCUDAToolkit_ROOT=/usr/local/cuda >"$out/cmake.log" 2>&1 \
  || { tail -40 "$out/cmake.log"; exit 1; }
cmake --build build-gpu -j"$(nproc)" --target llada_tests backend_bench llada-eval >"$out/build.log" 2>&1 \
  || { grep -m20 -A5 'error' "$out/build.log"; exit 1; }

status=0
step "parity on CPU, LibTorch 2.x"
build-gpu/tests/llada_tests --gtest_filter='Llada*:TinyArms*:Checkpoint*' 2>&1 | tail -25 || status=1
step "parity on CUDA"
if ((have_gpu)); then
  LLADA_TEST_DEVICE=cuda build-gpu/tests/llada_tests --gtest_filter='CudaParity*' 2>&1 | tail -25 || status=1
else
  echo "skipped: no GPU"
fi

# Peak GPU memory of a command, sampled by nvidia-smi every 100 ms.
with_peak_memory() {
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$out/mem.txt" 2>/dev/null &
  local sampler=$!
  "$@"
  local rc=$?
  kill $sampler 2>/dev/null
  echo "peak GPU memory used: $(sort -n "$out/mem.txt" | tail -1) MiB"
  return $rc
}

if ((have_gpu)); then
  models=$(mktemp -d)
  step "benchmark: small shape (the CPU benchmark's), float32 and bfloat16"
  build-gpu/llada-eval init-model --arch llada --layers 4 --d-model 512 --heads 8 --ffn 1376 --vocab 32000 \
    --out "$models/small" >/dev/null
  for dtype in float32 bfloat16; do
    with_peak_memory build-gpu/bench/backend_bench "$models/small" cuda 256 16 128 32 64 $dtype | tee -a "$out/bench-small.txt"
  done

  # The LLaDA-8B shape (d_model 4096, 32 heads, ffn 12288, vocab 126464) with 8
  # of its 32 layers: writing 32 layers of random weights takes minutes of
  # device time; per-layer cost and MFU are what the shape decides.
  step "benchmark: LLaDA-8B shape, 8 of 32 layers, bfloat16"
  build-gpu/llada-eval init-model --arch llada --layers 8 --d-model 4096 --heads 32 --ffn 12288 --vocab 126464 \
    --out "$models/8b-shape" >/dev/null &&
    with_peak_memory build-gpu/bench/backend_bench "$models/8b-shape" cuda 512 32 128 32 256 bfloat16 | tee "$out/bench-8b-shape.txt"
  rm -rf "$models"
else
  step "benchmarks"
  echo "skipped: no GPU (the CPU numbers come from bench/run_backend_bench.sh)"
fi
echo; echo "gpu-check: done, status $status"
exit $status
