#!/usr/bin/env bash
# crash_safety.sh SCENECAM SOURCE_DIR WORK_DIR SECONDS: kills short training runs with SIGKILL at
# random moments, for about SECONDS and at least 6 times (at most 5 x SECONDS in a slow build),
# and after each kill checks what a crash may leave:
# config.yaml reads back, every line of metrics.jsonl is a JSON object, every checkpoint loads,
# and --resume finishes the run. Exit 0 when every kill left a usable run folder.
set -u
scenecam=$1 source=$2 work=$3 seconds=$4
rm -rf "$work" && mkdir -p "$work"
config="$source/configs/demo.yaml"
sets=(--set data.synthetic_train=192 --set data.synthetic_val=32 --set train.epochs=3
      --set train.batch_size=32 --set train.log_every=1 --set model.width=4)
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# One run to the end first: its length spans the kill moments (this build may be slow).
start=$(now_ms)
"$scenecam" train "$config" "${sets[@]}" --set output.dir="$work/full" --overwrite >/dev/null 2>&1 ||
  { echo "crash_safety: the uninterrupted run failed"; exit 1; }
full_ms=$(($(now_ms) - start))
rm -rf "$work/full"
RANDOM=7  # the same kill moments on every run
deadline=$((SECONDS + seconds)) hard_deadline=$((SECONDS + 5 * seconds))
kills=0 resumed=0 failures=0
fail() {
  echo "crash_safety: kill $kills: $*"
  failures=$((failures + 1))
}
while ( ((SECONDS < deadline)) || ((kills < 6)) ) && ((SECONDS < hard_deadline)); do
  run="$work/run$kills"
  "$scenecam" train "$config" "${sets[@]}" --set output.dir="$run" --overwrite >/dev/null 2>&1 &
  pid=$!
  delay_ms=$(((RANDOM * 32768 + RANDOM) % full_ms))
  sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  kills=$((kills + 1))
  [ -d "$run" ] || continue
  if [ -f "$run/metrics.jsonl" ]; then
    python3 -c "
import json, sys
for n, line in enumerate(open(sys.argv[1]), 1):
    if not isinstance(json.loads(line), dict): sys.exit(f'line {n} is not an object')
" "$run/metrics.jsonl" || fail "metrics.jsonl does not parse"
  fi
  for ckpt in "$run"/last.safetensors "$run"/best.safetensors; do
    [ -f "$ckpt" ] || continue
    "$scenecam" eval --checkpoint "$ckpt" --out "$work/eval" >/dev/null 2>"$work/eval.err" ||
      fail "$(basename "$ckpt") does not load: $(tail -1 "$work/eval.err")"
  done
  if [ -f "$run/last.safetensors" ]; then
    "$scenecam" train --resume "$run" >/dev/null 2>"$work/resume.err" ||
      fail "--resume failed: $(tail -1 "$work/resume.err")"
    resumed=$((resumed + 1))
  fi
  rm -rf "$run"
done
echo "crash_safety: $kills kills within runs of $full_ms ms, $resumed resumed, $failures failure(s)"
((kills >= 5)) || { echo "crash_safety: too few kills to mean anything"; exit 1; }
((resumed >= 1)) || { echo "crash_safety: no kill came after a checkpoint"; exit 1; }
((failures == 0))
