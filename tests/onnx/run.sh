#!/usr/bin/env bash
# The ONNX export test: sets up a virtual environment with onnxruntime from PyPI (once, in
# VENV), then runs onnx_parity.py in it. Exit 77 (CTest: skipped) with one line when no Python
# can make the environment or PyPI cannot be reached.
# Usage: tests/onnx/run.sh SCENECAM WORK_DIR VENV
set -u
sc=$1 work=$2 venv=$3
here=$(cd "$(dirname "$0")" && pwd)
if ! "$venv/bin/python" -c "import onnxruntime, numpy, PIL" 2> /dev/null; then
  made=""
  for py in /usr/bin/python3 python3; do
    if command -v "$py" > /dev/null && "$py" -m venv --system-site-packages "$venv" 2> /dev/null; then
      made=$py
      break
    fi
  done
  if [ -z "$made" ]; then
    echo "skipped: no python3 here can make a virtual environment (apt install python3-venv)"
    exit 77
  fi
  if ! "$venv/bin/python" -m pip install -q onnxruntime numpy pillow > "$work.pip.log" 2>&1; then
    echo "skipped: onnxruntime could not be installed from PyPI (see $work.pip.log)"
    exit 77
  fi
fi
exec "$venv/bin/python" "$here/onnx_parity.py" "$sc" "$work"
