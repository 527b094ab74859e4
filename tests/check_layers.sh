#!/usr/bin/env bash
# The layers' includes point downward: every #include "scenecam/X.hpp" in a room's sources (and in
# each public header) names a header of that room or of one below it; so does every include of a
# room's private header, "ROOM/X.hpp" (src/internal/'s helpers are the core's, open to every
# room); and the third-party
# libraries stay in their rooms (OpenCV in src/io, Eigen in src/cpu, yaml-cpp in src/config, CUDA
# in cuda/). The build checks the links (layer_check_*); this checks what the linker cannot see.
#
#   tests/check_layers.sh ROOT        exit 0 when clean; 1 with one line per offending include
set -u
root=${1:?usage: check_layers.sh ROOT}

# The room each public header belongs to.
room_of_header() {
  case $1 in
    tensor|error|interrupt|pool|backend|elementwise|cam_math|safetensors|run_config|cuda_backend)
      echo core ;;
    nn) echo nn ;;
    data|dataset) echo data ;;
    trainer|metrics|inference|checkpoint|finetune) echo train ;;
    explain) echo explain ;;
    config) echo config ;;
    image_io|image_folder|canvas) echo io ;;
    evaluate|report|explain_run|cli|backends|export) echo app ;;
    *) echo unknown ;;
  esac
}

# The rooms a room may include from (itself and the layers below it).
allowed() {
  case $1 in
    core) echo "core" ;;
    cpu|cuda|nn|data|config) echo "core $1" ;;
    train) echo "core nn data train" ;;
    explain) echo "core nn data train explain" ;;
    io) echo "core data io" ;;
    app) echo "core nn data train explain config io app" ;;
  esac
}

problems=0
report() {
  echo "check_layers: $1"
  problems=$((problems + 1))
}

# check FILE ROOM: its scenecam includes against the room's allowance.
check() {
  local file=$1 room=$2 header owner
  while IFS= read -r header; do
    owner=$(room_of_header "$header")
    [[ " $(allowed "$room") " == *" $owner "* ]] ||
      report "${file#"$root"/} ($room) includes scenecam/$header.hpp, of the $owner layer above it"
  done < <(sed -n 's/^#include "scenecam\/\([a-z_]*\)\.hpp".*/\1/p' "$file")
  # A room's private headers (#include "ROOM/X.hpp") follow the same rule; internal/ is the core's.
  while IFS= read -r header; do
    owner=${header%%/*}
    [ "$owner" = internal ] && owner=core
    [[ " $(allowed "$room") " == *" $owner "* ]] ||
      report "${file#"$root"/} ($room) includes $header.hpp, of the $owner layer above it"
  done < <(sed -n 's/^#include "\(\(core\|cpu\|nn\|data\|train\|explain\|config\|io\|app\|internal\)\/[a-z_]*\)\.hpp".*/\1/p' "$file")
}

for room in core cpu nn data train explain config io app; do
  for file in "$root"/src/"$room"/*.cpp "$root"/src/"$room"/*.hpp; do
    [ -f "$file" ] && check "$file" "$room"
  done
done
for file in "$root"/cuda/*.cpp "$root"/cuda/*.cu "$root"/cuda/*.hpp "$root"/cuda/*.cuh; do
  [ -f "$file" ] && check "$file" cuda
done
for file in "$root"/include/scenecam/*.hpp; do
  name=$(basename "$file" .hpp)
  check "$file" "$(room_of_header "$name")"
done

# third-party headers: LIBRARY_PATTERN ROOM_PATTERN NAME
only_in() {
  local pattern=$1 rooms=$2 name=$3 file
  while IFS= read -r file; do
    [[ ${file#"$root"/} =~ $rooms ]] || report "${file#"$root"/} includes $name outside its room"
  done < <(grep -rlE "^#include <($pattern)" "$root"/src "$root"/include "$root"/cuda \
             "$root"/tools 2>/dev/null)
}
only_in 'opencv2/' '^src/io/' OpenCV
only_in 'Eigen/' '^src/cpu/' Eigen
only_in 'yaml-cpp/' '^src/config/' yaml-cpp
only_in 'cuda_runtime|cudnn|cublas' '^cuda/' CUDA

if ((problems)); then
  echo "check_layers: $problems include(s) point upward or out of their room"
  exit 1
fi
echo "check_layers: every include points downward"
