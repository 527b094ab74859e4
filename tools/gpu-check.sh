#!/usr/bin/env bash
# The GPU check: one call on a machine with an NVIDIA GPU, the CUDA 13 runtime, cuBLAS and
# cuDNN 9 (nothing else needed: the build it runs is `cmake --preset gpu-machine`, made on another
# machine and copied over).
#
#   tools/gpu-check.sh [BUILD_DIR] [OUT_DIR]        (defaults: build/gpu, gpu-check)
#
# It finds cuDNN and cuBLAS (system paths, the CUDA toolkit, or Python's nvidia/*/lib folders),
# records the GPU, driver and library versions, runs the probe, the CUDA parity tests, the CPU
# tests, a ResNet-18 training benchmark whose loss must fall, and the kernel benchmark, and writes
# one log per step plus summary.md to OUT_DIR. Exit code: 0 when every step passed.
set -u
build=${1:-build/gpu}
out=${2:-gpu-check}
mkdir -p "$out"
start=$(date +%s)

# ---- libraries: cuDNN may live in a Python package's folder on such machines
libdirs=""
for module in nvidia.cudnn nvidia.cublas nvidia.cuda_runtime nvidia.cuda_nvrtc; do
  dir=$(python3 -c "import $module, os; print(os.path.join(os.path.dirname($module.__file__), 'lib'))" 2>/dev/null) \
    && [ -d "$dir" ] && libdirs="$libdirs:$dir"
done
for dir in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu; do
  [ -d "$dir" ] && libdirs="$libdirs:$dir"
done
export LD_LIBRARY_PATH="${libdirs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(hostname)"
  echo "LD_LIBRARY_PATH: $LD_LIBRARY_PATH"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || echo "nvidia-smi: not available"
  echo "--- libraries the probe resolves"
  ldd "$build/cuda/scenecam-gpu-probe" 2>&1 | grep -E 'cudnn|cublas|cudart|gomp|not found'
} > "$out/environment.txt" 2>&1

summary="$out/summary.md"
echo "| step | result | seconds | detail |" > "$summary"
echo "| --- | --- | --- | --- |" >> "$summary"
failed=0

# run NAME TIMEOUT_S DETAIL_REGEX COMMAND...: logs to OUT/NAME.log, adds a summary row.
run() {
  local name=$1 limit=$2 pattern=$3
  shift 3
  local t0=$(date +%s)
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  local t1=$(date +%s)
  local result=passed
  [ $rc -ne 0 ] && result="FAILED (exit $rc)" && failed=1
  local detail=$(grep -E "$pattern" "$out/$name.log" | tail -n 1 | tr '|' '/' | cut -c1-160)
  echo "| $name | $result | $((t1 - t0)) | $detail |" >> "$summary"
  echo "gpu-check: $name: $result ($((t1 - t0)) s)"
}

run probe 60 'device 0|SGD kernel|no CUDA' "$build/cuda/scenecam-gpu-probe"
run cuda-tests 180 'PASSED|FAILED|SKIPPED' "$build/tests/scenecam_cuda_tests" --gtest_color=no \
  --gtest_output="xml:$out/cuda-tests.xml"
run cpu-tests 240 'PASSED|FAILED' "$build/tests/scenecam_tests" --gtest_color=no --gtest_brief=1
run train-resnet18 120 '^resnet18' "$build/bench/scenecam-bench" train --device cuda --arch resnet18 \
  --batch 64 --input 150 --steps 20 --json "$out/train.json"
run kernels 120 'adamw|copy' "$build/bench/scenecam-bench" kernels --device cuda --batch 64 --repeats 50 \
  --json "$out/kernels.json"

echo "" >> "$summary"
echo "total: $(( $(date +%s) - start )) s; environment in environment.txt; one log per step." >> "$summary"
cat "$summary"
exit $failed
