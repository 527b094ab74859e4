#!/usr/bin/env bash
# Installs the Debian packages scenecam builds against, running apt-get only for what is missing.
# Usage: scripts/install-deps.sh [--fuzz]   (as root, or with sudo available)
#   --fuzz   also clang, its sanitizer and libFuzzer runtimes and LLVM's OpenMP (the fuzz preset)
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libeigen3-dev          # CPU backend matrix products (header-only)
  libyaml-cpp-dev        # configs (static library linked)
  nlohmann-json3-dev     # checkpoint headers, metrics, manifests (header-only)
  libgtest-dev           # tests (static library linked)
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev   # image files, src/io only
)
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang libclang-rt-14-dev libomp-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
