#!/usr/bin/env bash
# Prepares what scripts/gpu-check.sh needs on a GPU machine that has PyTorch,
# CUDA, CMake and Ninja but no package manager: the other build dependencies
# as Debian 12 packages unpacked into .gpu-deps/root, and the tiny checkpoints
# and goldens the parity tests read, copied from ../shared into .gpu-deps/shared
# (../shared does not travel to the device). Run it here, then carry .gpu-deps:
#
#   bash scripts/gpu-deps.sh
#   device run: bash scripts/gpu-check.sh      (carry: [".gpu-deps"])
set -euo pipefail
cd "$(dirname "$0")/.."
deps=.gpu-deps
grep -qxF '/.gpu-deps/' .git/info/exclude 2>/dev/null || echo '/.gpu-deps/' >>.git/info/exclude
rm -rf "$deps"
mkdir -p "$deps/debs" "$deps/root"
packages=(
  nlohmann-json3-dev libcli11-dev
  libre2-dev libre2-9 libutf8proc-dev libutf8proc2
  libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3
  libsqlite3-dev libsqlite3-0 libssl-dev libssl3 libbz2-dev libbz2-1.0 zlib1g-dev zlib1g
  libgtest-dev libgmock-dev
  libseccomp-dev libseccomp2 libarchive-dev libarchive13 libacl1 libxml2 libicu72 liblzma5 libzstd1 liblz4-1 libnettle8 libb2-1
  pkgconf pkgconf-bin libpkgconf3
)
(cd "$deps/debs" && apt-get download "${packages[@]}" 2>/dev/null)
for deb in "$deps"/debs/*.deb; do dpkg -x "$deb" "$deps/root"; done
rm -rf "$deps/debs" "$deps/root/usr/share/doc" "$deps/root/usr/share/man"
# Shared libraries suffice, except GoogleTest, which Debian ships static only.
find "$deps/root" -name '*.a' ! -name 'libgtest*' ! -name 'libgmock*' -delete

shared=../shared
if [ -d "$shared/golden" ]; then
  mkdir -p "$deps/shared/models" "$deps/shared/golden" "$deps/shared/data"
  cp -r "$shared"/models/tiny-* "$deps/shared/models/"
  cp -r "$shared/golden/tiny-llada" "$shared/golden/arm" "$deps/shared/golden/"
else
  echo "gpu-deps: no ../shared here; the GPU parity tests will skip" >&2
fi
du -sh "$deps"
