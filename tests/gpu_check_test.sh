#!/usr/bin/env bash
# tools/gpu-check.sh on a machine without a GPU, as ctest runs it:
#
#   tests/gpu_check_test.sh dry|budget|preflight BUILD_DIR WORK_DIR
#
# dry:       the whole dry run (QUICK, device cpu) passes, with one row per step and the total line.
# budget:    a 20 s budget ends with `skipped (budget)` rows, exit 3 and a finished summary; a
#            step that outlives the budget is `stopped (budget)`; a SIGTERM mid-step finishes
#            the summary too; neither leaves a process behind.
# preflight: a binary whose library cannot be found stops the check within seconds with one line
#            and exit 2; a library in a venv's site-packages/nvidia/*/lib is found.
set -u
mode=$1 build=$2 work=$3
check="$(cd "$(dirname "$0")/.." && pwd)/tools/gpu-check.sh"
steps="pre-flight probe cuda-tests cuda-graph-tests emu-tests smoke-train smoke-accuracy smoke-resident
       smoke-resident-accuracy smoke-graphs smoke-graphs-accuracy smoke-graphs-replayed bench-train bench-train-graphs
       bench-input bench-kernels bench-conv bench-explain bench-explain-256 cpu-tests memcheck
       compare-torch compare-torch-resnet50"
rm -rf "$work" && mkdir -p "$work" || exit 1

fail() {
  echo "gpu_check_test $mode: $*" >&2
  for f in "$work"/*/summary.md; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done >&2
  exit 1
}
finished() {  # SUMMARY: the header and the total line are there
  grep -q '^| step | result | seconds | detail |$' "$1" || fail "$1: no table header"
  grep -Eq '^total: [0-9]+ s of a [0-9]+ s budget; exit [0-9]+;' "$1" || fail "$1: no total line"
}
every_step() {  # SUMMARY: one row for each step
  local s
  for s in $steps; do grep -q "^| $s | " "$1" || fail "$1: no row for $s"; done
}
dry_run() {  # OUT [VAR=VALUE...]: runs the dry run into OUT; its exit code in $rc
  local dir=$1
  shift
  env -u OUT SCENECAM_GPU_CHECK_QUICK=1 SCENECAM_GPU_CHECK_DEVICE=cpu "$@" \
    "$check" "$build" "$dir" > "$dir.log" 2>&1
  rc=$?
}

case $mode in
dry)
  t0=$(date +%s)
  dry_run "$work/dry"
  echo "dry run: exit $rc in $(($(date +%s) - t0)) s"
  [ $rc -eq 0 ] || fail "exit $rc, expected 0"
  finished "$work/dry/summary.md"
  every_step "$work/dry/summary.md"
  ! grep -q 'FAILED' "$work/dry/summary.md" || fail "a step failed"
  grep -Eq '^\| cuda-tests \| (skipped \((no GPU: dry run|not built)\)|passed) \|' \
    "$work/dry/summary.md" || fail "cuda-tests: an all-skipped run must say so"
  grep -q '^pre-flight: [0-9.]* s$' "$work/dry/environment.txt" || fail "environment.txt: no pre-flight line"
  cat "$work/dry/summary.md"
  ;;
budget)
  t0=$(date +%s)
  dry_run "$work/tiny" SCENECAM_GPU_CHECK_BUDGET_S=20
  echo "20 s budget: exit $rc in $(($(date +%s) - t0)) s"
  [ $rc -eq 3 ] || fail "exit $rc, expected 3 (budget)"
  (($(date +%s) - t0 <= 30)) || fail "took $(($(date +%s) - t0)) s for a 20 s budget"
  finished "$work/tiny/summary.md"
  every_step "$work/tiny/summary.md"
  grep -q '| skipped (budget) |' "$work/tiny/summary.md" || fail "no skipped (budget) row"
  cat "$work/tiny/summary.md"
  # A step that outlives the budget is stopped with its children: binaries that only sleep.
  mkdir -p "$work/slow/cuda" "$work/slow/tests" "$work/slow/bench"
  for b in cuda/scenecam-gpu-probe tests/scenecam_cuda_tests tests/scenecam_tests scenecam \
           bench/scenecam-bench; do
    printf '#!/bin/sh\nsleep 987\n' > "$work/slow/$b" && chmod +x "$work/slow/$b"
  done
  t0=$(date +%s)
  env -u OUT SCENECAM_GPU_CHECK_DEVICE=cpu SCENECAM_GPU_CHECK_BUDGET_S=12 \
    "$check" "$work/slow" "$work/stopped" > "$work/stopped.log" 2>&1
  rc=$?
  echo "sleeping binaries, 12 s budget: exit $rc in $(($(date +%s) - t0)) s"
  [ $rc -eq 3 ] || fail "exit $rc, expected 3"
  (($(date +%s) - t0 <= 20)) || fail "took $(($(date +%s) - t0)) s for a 12 s budget"
  grep -q '^| probe | stopped (budget) |' "$work/stopped/summary.md" || fail "probe not stopped"
  finished "$work/stopped/summary.md"
  ! pgrep -f 'sleep 987' > /dev/null || fail "the stopped step's children are still running"
  # Interrupted mid-step (training, the longest step, starts about 1 s in).
  mkdir -p "$work/term"
  env -u OUT SCENECAM_GPU_CHECK_QUICK=1 SCENECAM_GPU_CHECK_DEVICE=cpu \
    "$check" "$build" "$work/term" > "$work/term.log" 2>&1 &
  pid=$!
  sleep 4
  kill -TERM $pid
  wait $pid
  rc=$?
  [ $rc -eq 143 ] || fail "after SIGTERM: exit $rc, expected 143"
  finished "$work/term/summary.md"
  grep -q '| FAILED (interrupted) |' "$work/term/summary.md" || fail "no interrupted row"
  sleep 1
  ! pgrep -f "$work/term/demo-run" > /dev/null || fail "the interrupted step is still running"
  ;;
preflight)
  # A binary linked against a library that is then taken away, at every path the check starts.
  mkdir -p "$work/lib" "$work/fake/cuda" "$work/fake/tests" "$work/fake/bench"
  echo 'int scenecam_fake(void) { return 0; }' > "$work/fake.c"
  printf 'int scenecam_fake(void);\nint main(void) { return scenecam_fake(); }\n' > "$work/main.c"
  "${CC:-cc}" -shared -fPIC -o "$work/lib/libscenecamfake.so" "$work/fake.c" &&
    "${CC:-cc}" -o "$work/fakebin" "$work/main.c" -L"$work/lib" -lscenecamfake || fail "cc failed"
  for b in cuda/scenecam-gpu-probe tests/scenecam_cuda_tests tests/scenecam_tests scenecam \
           bench/scenecam-bench; do cp "$work/fakebin" "$work/fake/$b"; done
  t0=$(date +%s%N)
  env -u LD_LIBRARY_PATH -u OUT "$check" "$work/fake" "$work/out" > "$work/out.log" 2>&1
  rc=$? ms=$((($(date +%s%N) - t0) / 1000000))
  echo "missing library: exit $rc in $ms ms: $(cat "$work/out.log")"
  [ $rc -eq 2 ] || fail "exit $rc, expected 2"
  ((ms < 10000)) || fail "took $ms ms"
  [ "$(wc -l < "$work/out.log")" -eq 1 ] || fail "more than one line: $(cat "$work/out.log")"
  grep -Eq "^gpu-check: pre-flight: libscenecamfake.so not found for $work/fake/cuda/scenecam-gpu-probe; searched: /" \
    "$work/out.log" || fail "not the one-line message"
  finished "$work/out/summary.md"
  grep -q '^| pre-flight | FAILED |' "$work/out/summary.md" || fail "no pre-flight FAILED row"
  # The same library inside a Python's site-packages/nvidia/<name>/lib is found (as pip's CUDA
  # wheels are); then the missing benchmark binary is the one line.
  if python3 -m venv --without-pip "$work/venv" 2> /dev/null; then
    site=$("$work/venv/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    mkdir -p "$site/nvidia/fake/lib" && mv "$work/lib/libscenecamfake.so" "$site/nvidia/fake/lib/"
    rm "$work/fake/bench/scenecam-bench"
    env -u LD_LIBRARY_PATH -u OUT PATH="$work/venv/bin:$PATH" "$check" "$work/fake" "$work/venv-out" \
      > "$work/venv-out.log" 2>&1
    rc=$?
    echo "library in a venv: exit $rc: $(cat "$work/venv-out.log")"
    [ $rc -eq 2 ] || fail "exit $rc, expected 2"
    grep -q "^gpu-check: pre-flight: $work/fake/bench/scenecam-bench missing" "$work/venv-out.log" ||
      fail "the missing binary is not named"
    grep -q "^libscenecamfake.so => $site/nvidia/fake/lib/libscenecamfake.so" \
      "$work/venv-out/environment.txt" || fail "the venv's nvidia/fake/lib was not searched"
  else
    echo "python3 -m venv not available: the site-packages search is not checked"
  fi
  ;;
*) fail "unknown mode" ;;
esac
echo "gpu_check_test $mode: ok"
