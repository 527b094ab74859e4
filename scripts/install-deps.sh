#!/usr/bin/env bash
# Installs the Debian packages scenecam builds against, running apt-get only for what is missing.
# Usage: scripts/install-deps.sh [--fuzz] [--for-tests]   (as root, or with sudo available)
#   --fuzz        also clang, its sanitizer and libFuzzer runtimes and LLVM's OpenMP (the fuzz preset)
#   --for-tests   also what the tests use beyond the build: Debian's PyTorch and torchvision, which
#                 the parity tests (tests/torch/) compare scenecam with, python3-venv for the ONNX
#                 test's onnxruntime, and Chromium, which renders the explanation gallery headless
#                 (--with-torch is the same option under its older name)
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libeigen3-dev          # CPU backend matrix products (header-only)
  libyaml-cpp-dev        # configs (static library linked)
  nlohmann-json3-dev     # checkpoint headers, metrics, manifests (header-only)
  libgtest-dev           # tests (static library linked)
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev   # image files, src/io only
  libonnx-dev libprotobuf-dev protobuf-compiler   # scenecam export --format onnx
)
for option in "$@"; do
  case "$option" in
    --fuzz) packages+=(clang libclang-rt-14-dev libomp-dev) ;;
    --for-tests | --with-torch)
      packages+=(python3-torch python3-torchvision python3-venv python3-pil chromium) ;;
    *) echo "install-deps: unknown option '$option' (expected --fuzz or --for-tests)" >&2; exit 2 ;;
  esac
done

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
