#!/usr/bin/env bash
# The explanation gallery in a real browser: `scenecam explain` writes index.html for a few
# images and methods (activations and --metrics included); headless Chromium must report every
# image on the page loaded, and its screenshot must not be blank. Without Chromium it says so in
# one line and exits 77, which CTest reports as skipped.
# Usage: tests/gallery/check.sh SCENECAM CHECKPOINT WORK_DIR
set -euo pipefail
scenecam=$1 checkpoint=$2 work=$3
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then
  echo "skipped: no chromium here (scripts/install-deps.sh --for-tests installs it)"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work"
images=3 methods=(gradcam scorecam integrated-gradients occlusion) layers=(layer1 layer4)
"$scenecam" explain --checkpoint "$checkpoint" --limit $images --out "$work/out" \
  --method "$(IFS=,; echo "${methods[*]}"),activations" --ig-steps 16 \
  --activation-layers "$(IFS=,; echo "${layers[*]}")" --metrics --sanity-images 2 \
  > "$work/explain.log"
page="file://$work/out/index.html"
flags=(--headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars)
# Per image: its input, one overlay per method and one grid per layer; once: the conv1 filters.
expected=$((images * (1 + ${#methods[@]} + ${#layers[@]}) + 1))
found=$(grep -o '<img ' "$work/out/index.html" | wc -l)
"$chrome" "${flags[@]}" --virtual-time-budget=10000 --dump-dom "$page" > "$work/dom.html" 2> "$work/chrome.log"
status=$(grep -o 'id="status">[^<]*' "$work/dom.html" | cut -d'>' -f2)
echo "gallery: $found images on the page; the page says: $status"
[ "$found" -eq "$expected" ] || { echo "FAIL: $found images on the page, not $expected"; exit 1; }
[ "$status" = "$expected of $expected images loaded" ] || { echo "FAIL: not every image loaded"; exit 1; }
"$chrome" "${flags[@]}" --window-size=1400,1600 --screenshot="$work/screenshot.png" "$page" 2>> "$work/chrome.log"
python3 "$(dirname "$0")/not_blank.py" "$work/screenshot.png"
