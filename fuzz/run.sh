#!/usr/bin/env bash
# fuzz/run.sh BUILD_DIR SECONDS [TARGET...]: runs each fuzz target (default: all that were built)
# for SECONDS over a copy of its seed corpus, two at a time, and prints one line per target:
# executions, corpus size, and whether it found anything. A finding leaves its input (crash-*,
# leak-*, timeout-*, oom-*) and the fuzzer's log in BUILD_DIR/fuzz-runs/<target>/; exit 1 then.
set -u
build=$(cd "${1:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}" && pwd) || exit 1
seconds=${2:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/fuzz/fuzz_*; do
    [ -x "$f" ] && targets+=("$(basename "$f" | sed 's/^fuzz_//')")
  done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no fuzz targets in $build/fuzz"; exit 1; }

run_one() {
  local name=$1 dir="$build/fuzz-runs/$1"
  rm -rf "$dir" && mkdir -p "$dir/corpus"
  cp "$here/corpus/$name"/* "$dir/corpus/" 2>/dev/null
  local dict=() max_len=4096
  [ -f "$here/dict/$name.dict" ] && dict=(-dict="$here/dict/$name.dict")
  [ "$name" = image ] || [ "$name" = safetensors ] && max_len=65536
  (cd "$dir" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
     UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     "$build/fuzz/fuzz_$name" corpus "${dict[@]}" -max_total_time="$seconds" \
     -max_len="$max_len" -rss_limit_mb=3072 -timeout=10 -print_final_stats=1 >log.txt 2>&1)
  local status=$?
  local runs
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log.txt" | tail -1)
  local found
  found=$(ls "$dir" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | head -3 | tr '\n' ' ')
  if [ $status -ne 0 ] || [ -n "$found" ]; then
    echo "fuzz_$name: FOUND after ${runs:-?} executions: ${found:-exit $status} (log: $dir/log.txt)"
    return 1
  fi
  echo "fuzz_$name: ${runs:-?} executions in ${seconds} s, corpus $(ls "$dir/corpus" | wc -l) inputs, nothing found"
}

failed=0
pids=()
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run_one "${targets[i]}" & pids=($!)
  if ((i + 1 < ${#targets[@]})); then run_one "${targets[i + 1]}" & pids+=($!); fi
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
done
exit $failed
