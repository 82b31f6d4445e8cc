#!/usr/bin/env bash
# The second build configuration's LibTorch: PyPI's torch wheel (LibTorch 2.x
# built with CUDA), pinned to the GPU machines' version, in a virtual
# environment this script owns (.venv-torch2, not the system Python).
#
# Only what the C++ build, its link and a CPU-only run need is installed
# (--no-deps): the wheel itself, plus the three CUDA libraries libtorch_cuda.so
# loads that the CUDA toolkit on the machine does not carry (cuSPARSELt,
# NVSHMEM, cuFile). cuBLAS, cuDNN, NCCL, cudart, ... come from the toolkit
# (/usr/local/cuda): the wheel's Python dependencies (sympy, triton, ~3 GB of
# nvidia-* wheels) are not needed from C++.
#
# Idempotent: a second run with everything in place does no network I/O.
# Prints the CMake prefix to use (the torch package root) on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.11.0
PACKAGES=(
  "torch==${TORCH_VERSION}"
  "nvidia-cusparselt-cu13==0.8.0"
  "nvidia-nvshmem-cu13==3.4.5"
  "nvidia-cufile==1.15.1.6"
)
venv=.venv-torch2

if [[ ! -x /usr/local/cuda/bin/nvcc ]]; then
  echo "setup-torch2: no CUDA toolkit at /usr/local/cuda (nvcc, cuBLAS, cuDNN, NCCL): the LibTorch ${TORCH_VERSION}" \
       "configuration needs it to link; install CUDA 13 there, or use the default Debian LibTorch 1.13 build" >&2
  exit 3
fi
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv"
fi
# grep reads all of pip's output (with -q it could exit first and, under pipefail, the
# SIGPIPE pip gets would read as "not installed").
installed() { "$venv/bin/pip" show "$1" 2>/dev/null | grep -x "Version: $2" >/dev/null; }
missing=()
for spec in "${PACKAGES[@]}"; do
  installed "${spec%%==*}" "${spec##*==}" || missing+=("$spec")
done
if ((${#missing[@]} > 0)); then
  echo "setup-torch2: installing ${missing[*]} into $venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "${missing[@]}" >&2
else
  echo "setup-torch2: torch ${TORCH_VERSION} and its CUDA libraries already in $venv" >&2
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$site/torch"
