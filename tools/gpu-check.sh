#!/usr/bin/env bash
# The GPU check: one call on a machine with an NVIDIA GPU, the CUDA 13 runtime, cuBLAS and
# cuDNN 9 (nothing else needed: the build it runs is `cmake --preset gpu-machine`, made on another
# machine and copied over).
#
#   tools/gpu-check.sh [BUILD_DIR] [OUT_DIR]        (defaults: build/gpu, gpu-check)
#
# It finds cuDNN and cuBLAS (system paths, the CUDA toolkit, or Python's nvidia/*/lib folders),
# records the GPU, driver and library versions and the source commit, then runs, in order of
# importance: the probe, the CUDA parity tests, an end-to-end training of configs/demo.yaml on the
# GPU, the benchmark suite (train, kernels, conv, explain), the CPU tests, and, where this
# machine's Python has PyTorch, bench/compare.py. One log and one JSON per step, and summary.md,
# go to OUT_DIR. Exit code: 0 when every step passed (a skipped comparison counts as passed).
# SCENECAM_GPU_CHECK_QUICK=1 shrinks the benchmark sizes, and SCENECAM_GPU_CHECK_DEVICE=cpu runs
# the training and benchmark steps on the CPU backend: together, a dry run of the script itself.
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
  echo "source: $(cat "$build/source-commit.txt" 2>/dev/null || echo unknown)"
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
  if [ $rc -eq 77 ]; then
    result="skipped"
  elif [ $rc -ne 0 ]; then
    result="FAILED (exit $rc)" && failed=1
  fi
  local detail=$(grep -E "$pattern" "$out/$name.log" | tail -n 1 | tr '|' '/' | cut -c1-160)
  [ -z "$detail" ] && [ "$result" != passed ] && detail=$(tail -n 1 "$out/$name.log" | tr '|' '/' | cut -c1-160)
  echo "| $name | $result | $((t1 - t0)) | $detail |" >> "$summary"
  echo "gpu-check: $name: $result ($((t1 - t0)) s)"
}

bench="$build/bench/scenecam-bench"
device=${SCENECAM_GPU_CHECK_DEVICE:-cuda}
if [ "${SCENECAM_GPU_CHECK_QUICK:-0}" = 1 ]; then
  train_sizes=(--batch 4 --input 32 --steps 3)
  kernel_sizes=(--input 33 --batch 3 --repeats 3 --flush-mib 1)
  conv_sizes=(--batch 2 --input 32 --repeats 2)
  explain_sizes=(--batch 2 --input 64 --images 2 --repeats 1)
  explain_large=(--batch 4 --input 64 --images 4 --repeats 1 --methods gradcam,saliency)
else  # the subcommands' GPU defaults, but explain's: occlusion (225 forwards a batch) and
  # SmoothGrad (16 passes, noise drawn on the host) over 256 images would take minutes, so the
  # batch-256 run leaves them out and the full set runs on 16 images.
  train_sizes=()
  kernel_sizes=()
  conv_sizes=()
  explain_sizes=(--batch 1,16,64 --images 16 --repeats 2)
  explain_large=(--batch 256 --images 256 --repeats 2
                 --methods gradcam,gradcam++,xgradcam,hirescam,layercam,cam,saliency)
fi

run probe 60 'device 0|SGD kernel|no CUDA' "$build/cuda/scenecam-gpu-probe"
run cuda-tests 180 'PASSED|FAILED|SKIPPED' "$build/tests/scenecam_cuda_tests" --gtest_color=no \
  --gtest_output="xml:$out/cuda-tests.xml"
run smoke-train 240 'best|accuracy|error' "$build/scenecam" train configs/demo.yaml --overwrite \
  --set runtime.device="$device" --set output.dir="$out/demo-run"
# The demo reaches 99.9% on the CPU backend; the same run on the GPU must reach at least 90%.
run smoke-accuracy 5 'accuracy' grep -E 'best validation accuracy (9[0-9]|100)\.' "$out/smoke-train.log"
run bench-train 240 '^resnet18' "$bench" train --device "$device" "${train_sizes[@]}" --json "$out/train.json"
run bench-kernels 300 'adamw|copy' "$bench" kernels --device "$device" "${kernel_sizes[@]}" \
  --json "$out/kernels.json"
run bench-conv 120 'layer4 downsample' "$bench" conv --device "$device" "${conv_sizes[@]}" \
  --json "$out/conv.json"
run bench-explain 240 'occlusion' "$bench" explain --device "$device" "${explain_sizes[@]}" \
  --json "$out/explain.json"
run bench-explain-256 120 'saliency' "$bench" explain --device "$device" "${explain_large[@]}" \
  --json "$out/explain-256.json"
run cpu-tests 240 'PASSED|FAILED' "$build/tests/scenecam_tests" --gtest_color=no --gtest_brief=1
compare_sizes=(--args explain="${explain_sizes[*]}")
[ "${SCENECAM_GPU_CHECK_QUICK:-0}" = 1 ] && compare_sizes=(--quick)
run compare-torch 300 'geometric mean|not installed' python3 bench/compare.py --device "$device" \
  --bench "$bench" --out "$out/compare" "${compare_sizes[@]}"

echo "" >> "$summary"
echo "total: $(( $(date +%s) - start )) s; environment in environment.txt; one log per step." >> "$summary"
cat "$summary"
exit $failed
