#!/usr/bin/env bash
# Runs tests/torch/parity.py with the first Python that imports torch and torchvision
# ($SCENECAM_TORCH_PYTHON, python3, /usr/bin/python3); without one, says so in one line and
# exits 77, which CTest reports as skipped.
# Usage: tests/torch/run.sh SCENECAM WORK_DIR PART
for py in "${SCENECAM_TORCH_PYTHON:-}" python3 /usr/bin/python3; do
  if [ -n "$py" ] && command -v "$py" > /dev/null && "$py" -c "import torch, torchvision" 2> /dev/null; then
    exec "$py" "$(dirname "$0")/parity.py" "$@"
  fi
done
echo "skipped: no python3 here imports torch and torchvision (scripts/install-deps.sh --for-tests installs them)"
exit 77
