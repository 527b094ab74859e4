#!/usr/bin/env python3
"""`scenecam export` against onnxruntime: every architecture, the same probabilities.

    onnx_parity.py SCENECAM WORK_DIR

For resnet18 (both stems), resnet34, resnet50 and seed_resnet: a short `scenecam train` on
synthetic scenes, `scenecam export --format onnx`, then the exported model in onnxruntime on
PNG images against `scenecam predict` on the same files, within 1e-5; batches of 1 and of all
images (the batch dimension is dynamic). Then the one-line errors of bad requests.
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

MODELS = {  # name: (arch, extra model keys, image size)
    "resnet18_small": ("resnet18", "width: 8, blocks: [1, 1, 1, 1], stem: small", 32),
    "resnet18": ("resnet18", "width: 16", 64),
    "resnet34": ("resnet34", "width: 8", 64),
    "resnet50": ("resnet50", "width: 8", 64),
    "seed_resnet": ("seed_resnet", "width: 8", 150),
}
failures = []


def run(cmd, expect=0):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != expect:
        sys.exit(f"{' '.join(cmd)} exited {r.returncode} (expected {expect}):\n{r.stdout}\n{r.stderr}")
    return r


def write_images(folder, count, size, seed):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(count):
        low = rng.random((4, 4, 3))
        img = np.kron(low, np.ones((size // 4 + 1, size // 4 + 1, 1)))[:size, :size]
        img = np.clip(img + 0.2 * rng.random((size, size, 3)), 0, 1)
        path = os.path.join(folder, f"img{i}.png")
        Image.fromarray((img * 255).round().astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def main():
    sc, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    print(f"onnxruntime {ort.__version__}")
    for name, (arch, keys, size) in MODELS.items():
        run_dir = os.path.join(work, name)
        config = os.path.join(work, name + ".yaml")
        with open(config, "w") as f:
            f.write(f"model: {{arch: {arch}, classes: 6, {keys}}}\n"
                    f"data: {{source: synthetic, image_size: {size}, synthetic_train: 64, "
                    f"synthetic_val: 16}}\n"
                    "train: {epochs: 1, batch_size: 16, optimizer: {lr: 0.05}}\n"
                    f"runtime: {{device: cpu, threads: 2}}\noutput: {{dir: {run_dir}}}\n")
        run([sc, "train", config, "--overwrite"])
        checkpoint = os.path.join(run_dir, "last.safetensors")
        model_path = os.path.join(work, name + ".onnx")
        run([sc, "export", "--checkpoint", checkpoint, "--format", "onnx", "--out", model_path])

        paths = write_images(os.path.join(work, name + "_images"), 5, size, seed=len(name))
        records = json.loads(run([sc, "predict", "--checkpoint", checkpoint, "--images", *paths,
                                  "--top-k", "6"]).stdout)
        session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        meta = session.get_modelmeta().custom_metadata_map
        classes = json.loads(meta["classes"])
        expected = np.zeros((len(paths), len(classes)))
        for i, r in enumerate(records):
            for p in r["predictions"]:
                expected[i, classes.index(p["class"])] = p["probability"]
        assert expected.max() - expected.min() > 0.01, "uniform probabilities would compare little"
        x = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255
                      for p in paths]).transpose(0, 3, 1, 2)
        together = session.run(["probabilities"], {"input": x})[0]
        alone = np.concatenate([session.run(["probabilities"], {"input": x[i:i + 1]})[0]
                                for i in range(len(paths))])
        for label, got in (("batch of 5", together), ("batches of 1", alone)):
            diff = float(np.abs(got - expected).max())
            ok = diff <= 1e-5
            print(f"{'ok  ' if ok else 'FAIL'} {name} ({label}): largest difference {diff:.3g} "
                  "(tolerance 1e-05)")
            if not ok:
                failures.append(f"{name} {label}")

    checkpoint = os.path.join(work, "resnet18", "last.safetensors")
    bad = run([sc, "export", "--checkpoint", checkpoint, "--format", "tflite", "--out", "x"], 2)
    assert "--format" in bad.stderr and "tflite" in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr
    bad = run([sc, "export", "--checkpoint", checkpoint, "--opset", "11", "--out", "x"], 2)
    assert "--opset" in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr
    bad = run([sc, "export", "--checkpoint", os.path.join(work, "none.safetensors"), "--out",
               os.path.join(work, "none.onnx")], 1)
    assert "none.safetensors" in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr
    assert not os.path.exists(os.path.join(work, "none.onnx"))
    print("ok   bad requests: one-line errors, exit 2 (command line) and 1 (input)")
    if failures:
        sys.exit(f"{len(failures)} comparison(s) beyond tolerance: {', '.join(failures)}")


if __name__ == "__main__":
    main()
