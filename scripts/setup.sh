#!/usr/bin/env bash
# Installs every Debian 12 package llada-eval needs to build, test and run.
# Non-interactive and idempotent: packages already present are skipped, so a
# second run does no network I/O.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries the harness links
  libsqlite3-dev libcli11-dev nlohmann-json3-dev libre2-dev libpcre2-dev libssl-dev libutf8proc-dev zlib1g-dev
  libbz2-dev libarchive-dev libgtest-dev libgmock-dev
  # `llada-eval data fetch`: HTTP(S) downloads
  libcurl4-openssl-dev
  # the code sandbox: Boost.Process (v1 API, Boost 1.74) launching bubblewrap, running python3
  libboost-dev libboost-filesystem-dev bubblewrap python3 libseccomp-dev
  # fast BLAS for LibTorch on CPU (Debian's default reference BLAS is ~30x slower)
  libopenblas0-pthread
  # LibTorch (CPU) for the LLaDA and ARM backends
  libtorch-dev
  # rendering the HTML report in a real browser (its test)
  chromium
  # inspecting the result store by hand
  sqlite3
  # a real one-node Slurm cluster for the `slurm` command's test: scripts/slurm_cluster.sh starts
  # its own munged, slurmctld and slurmd on private ports and state (the packages' services unused)
  slurm-wlm munge
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
