#!/usr/bin/env bash
# cli_bad_input.sh SCENECAM CHECKPOINT SOURCE_DIR WORK_DIR CASE: one bad-input case of the command
# line, run against a trained demo checkpoint. Each case checks the exit code, the one-line
# message and what was (or was not) written. Exit 0 when the case behaves.
set -u
scenecam=$1 checkpoint=$2 source=$3 work=$4 case=$5
rm -rf "$work" && mkdir -p "$work"
cd "$work" || exit 1

failed=0
check() {  # check DESCRIPTION COMMAND...: the test command must succeed
  local what=$1
  shift
  if ! "$@"; then
    echo "cli_bad_input: $case: $what"
    failed=1
  fi
}
run() {  # run ARGS...: scenecam's stdout in out.txt, stderr in err.txt, exit code in $code
  "$scenecam" "$@" >out.txt 2>err.txt
  code=$?
}
has() { grep -Eq -- "$2" "$1"; }

# Six class folders named as the checkpoint's classes, one real image in each.
class_folder() {
  local c
  for c in disc square triangle cross ring diamond; do
    mkdir -p "data/$c"
    cp "$source/tests/data/images/gradient.png" "data/$c/a.png"
  done
}

case $case in
  config_is_a_folder)
    run train "$source/configs"
    check "exit 1" test "$code" -eq 1
    check "names the folder" has err.txt "configs: is a folder, not a file \(expected the config file\)"
    ;;
  predict_stdout_is_json)
    # The checkpoint's run asked for device auto: which device was chosen goes to stderr.
    run predict --checkpoint "$checkpoint" --images "$source/tests/data/images"
    check "exit 0" test "$code" -eq 0
    check "stdout parses as JSON" python3 -c "import json,sys; json.load(open('out.txt'))"
    check "the device line is on stderr" has err.txt "^device: auto -> "
    ;;
  eval_names_unreadable_files)
    class_folder
    printf 'not an image' >data/ring/broken.jpg
    head -c 300 "$source/tests/data/images/gradient.jpg" >data/disc/cut.jpg
    run eval --checkpoint "$checkpoint" --data data --out eval
    check "exit 0" test "$code" -eq 0
    check "names the undecodable file" has err.txt "ring/broken.jpg: not a decodable image"
    check "names the truncated file" has err.txt "disc/cut.jpg: truncated JPEG"
    ;;
  explain_bad_activation_layer)
    run explain --checkpoint "$checkpoint" --method gradcam,activations --activation-layers layer1,layer9 --limit 2 --out explain
    check "exit 1" test "$code" -eq 1
    check "names the layer and lists the model's" has err.txt "^scenecam: unknown layer 'layer9' \(this model has: conv1, .*layer4\)$"
    check "writes nothing" test ! -e explain
    run explain --checkpoint "$checkpoint" --method integrated-gradients --ig-steps 1 --limit 2 --out explain
    check "exit 2 for --ig-steps 1" test "$code" -eq 2
    check "says the range" has err.txt "ig-steps"
    check "writes nothing" test ! -e explain
    ;;
  explain_top_k_beyond_the_classes)
    run explain --checkpoint "$checkpoint" --target top99 --limit 2 --out explain
    check "exit 1" test "$code" -eq 1
    check "says why" has err.txt "^scenecam: --target top99 asks for 99 classes per image; the model has 6$"
    check "writes nothing" test ! -e explain
    ;;
  explain_target_by_class_name)
    run explain --checkpoint "$checkpoint" --target ring --limit 2 --out explain
    check "exit 0" test "$code" -eq 0
    check "explains class ring" python3 -c "
import json; m = json.load(open('explain/manifest.json'))
assert m['target'] == 'ring' and all(i['outputs']['gradcam']['target'] == 'ring' for i in m['images']), m"
    run explain --checkpoint "$checkpoint" --target rings --limit 2 --out explain2
    check "an unknown class exits 1" test "$code" -eq 1
    check "lists the classes" has err.txt "--target 'rings' is not .*\[\"disc\",\"square\""
    ;;
  explain_missing_image_says_why)
    run explain --checkpoint "$checkpoint" --images missing.jpg --out explain
    check "exit 1" test "$code" -eq 1
    check "names the file and the reason" has err.txt "missing.jpg: cannot read \(No such file or directory\)"
    ;;
  explain_images_with_split)
    run explain --checkpoint "$checkpoint" --images "$source/tests/data/images" --split val
    check "exit 2" test "$code" -eq 2
    check "says they conflict" has err.txt "--images and --split both say which images"
    ;;
  diverged_run_reports)
    run train "$source/configs/demo.yaml" --set train.optimizer.lr=99 --set train.epochs=2 \
      --set data.synthetic_train=640 --set data.synthetic_val=64 --set output.dir=run
    check "exit 1" test "$code" -eq 1
    check "the NaN message" has err.txt "^scenecam: train: .* became .*; stopping\."
    check "no null in the metrics" bash -c '! grep -q null run/metrics.jsonl'
    check "a report" test -s run/report/report.html
    run report run
    check "report exits 0" test "$code" -eq 0
    ;;
  init_file_missing)
    run train "$source/configs/demo.yaml" --set model.init=nowhere.safetensors --set output.dir=run
    check "exit 1" test "$code" -eq 1
    check "names the file" has err.txt "^scenecam: nowhere.safetensors: cannot open \(No such file or directory\)$"
    check "writes no run folder" test ! -e run
    ;;
  init_from_another_architecture)
    run train "$source/configs/demo.yaml" --set model.init="$checkpoint" --set model.arch=resnet50 \
      --set output.dir=run
    check "exit 1" test "$code" -eq 1
    check "names the tensor" has err.txt "^scenecam: .*best.safetensors: tensor 'layer1.0.conv1.weight' has shape \[16, 16, 3, 3\] in the file but \[16, 16, 1, 1\] in this model \(resnet50, width 16\)$"
    check "writes no run folder" test ! -e run
    ;;
  export_errors)
    run export --checkpoint "$checkpoint" --format tflite --out m.onnx
    check "exit 2 for a format" test "$code" -eq 2
    check "names the format" has err.txt "tflite"
    run export --checkpoint missing.safetensors --out m.onnx
    check "exit 1 for a missing checkpoint" test "$code" -eq 1
    check "one line naming it" has err.txt "^scenecam: missing.safetensors: cannot open the checkpoint"
    check "writes nothing" test ! -e m.onnx
    ;;
  *)
    echo "cli_bad_input: unknown case '$case'"
    exit 2
    ;;
esac
if ((failed)); then
  echo "--- stdout"; cat out.txt; echo "--- stderr"; cat err.txt
  exit 1
fi
echo "cli_bad_input: $case: ok"
