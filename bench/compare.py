#!/usr/bin/env python3
"""scenecam against PyTorch on the same machine, in one run: one table of ratios.

    bench/compare.py [--device cpu|cuda] [--parts train,kernels,conv,explain] [--out DIR]
                     [--bench build/default/bench/scenecam-bench] [--python PYTHON] [--quick]
                     [--args PART="FLAGS" ...]

For each part it runs `scenecam-bench PART --json` and `bench/torch_baseline.py PART --json` with
the same flags (both pick the same CPU- or GPU-sized defaults), pairs their rows, and prints one
table. `speedup` is PyTorch's time over ours: above 1, scenecam is faster. The raw JSON of both
sides and compare.json (the paired rows) go to --out.

PyTorch is looked for in --python, then this interpreter, then /usr/bin/python3 (Debian's
python3-torch). Without it the script says so and exits with 77 (ctest's "skipped").
--quick: tiny sizes, to check that the whole chain works, not to measure.
"""
import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SKIPPED = 77

QUICK = {
    "train": ["--batch", "4", "--input", "32", "--steps", "3"],
    "kernels": ["--input", "33", "--batch", "3", "--repeats", "3", "--flush-mib", "1"],
    "conv": ["--batch", "2", "--input", "32", "--repeats", "2"],
    "explain": ["--batch", "2", "--input", "64", "--images", "2", "--repeats", "1",
                "--methods", "gradcam,gradcam++,saliency"],
}


def python_with_torch(preferred):
    for candidate in [preferred, sys.executable, "/usr/bin/python3"]:
        if not candidate or not shutil.which(candidate) and not os.path.exists(candidate):
            continue
        if subprocess.run([candidate, "-c", "import torch, torchvision"],
                          capture_output=True).returncode == 0:
            return candidate
    return None


def run(cmd, what):
    print(f"compare: {what}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"compare: {what} failed with exit code {done.returncode}")
    return done.stdout


def load(path):
    with open(path) as f:
        return json.load(f)


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def pair(part, ours, theirs):
    """Rows of (part, item, ours, theirs, unit, speedup) from both sides' JSON rows."""
    out = []

    def add(item, o, t, unit, higher_is_better):
        o, t = num(o), num(t)
        if o is None or t is None or o <= 0 or t <= 0:
            return
        out.append({"part": part, "item": item, "ours": o, "torch": t, "unit": unit,
                    "speedup": round(o / t if higher_is_better else t / o, 3)})

    if part == "train":
        for r in ours:
            for t in theirs:
                if int(t["batch"]) == int(r["batch"]) and int(t["input"]) == int(r["input"]):
                    add(f"{r['arch']} batch {r['batch']} @{r['input']} vs torch {t['mode']}",
                        r["images_per_s"], t["images_per_s"], "images/s", True)
                    # Memory (a GPU's: torch reports 0 on the CPU, and the row is left out).
                    add(f"{r['arch']} batch {r['batch']} @{r['input']} peak memory vs torch "
                        f"{t['mode']}", r.get("device_peak_mib"), t.get("peak_mib"), "MiB", False)
    elif part == "kernels":
        index = {(str(t["input"]), str(t["batch"]), t["kernel"]): t for t in theirs}
        seen = set()  # on CUDA, add_ appears twice (beside two library peers): pair it once
        for r in ours:
            key = (str(r["input"]), str(r["batch"]), r["kernel"])
            t = index.get(key)
            if t and key not in seen:
                seen.add(key)
                where = "" if r["batch"] == "-" else f" @{r['input']} b{r['batch']}"
                add(f"{r['kernel']}{where} vs {t['torch_ops']}", r["ms"], t["ms"], "ms", False)
    elif part == "conv":
        index = {t["layer"]: t for t in theirs}
        for r in ours:
            t = index.get(r["layer"])
            if t:
                for p in ("fwd", "bwd_data", "bwd_filter"):
                    add(f"{r['layer']} {p}", r[f"{p}_ms"], t[f"{p}_ms"], "ms", False)
    elif part == "explain":
        index = {(t["method"], int(t["batch"])): t for t in theirs}
        for r in ours:
            t = index.get((r["method"], int(r["batch"])))
            if t:
                add(f"{r['method']} batch {r['batch']} vs {t['implementation']}",
                    r["images_per_s"], t["images_per_s"], "images/s", True)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--parts", default="train,kernels,conv,explain")
    p.add_argument("--bench", default=os.path.join(HERE, "..", "build", "default", "bench",
                                                   "scenecam-bench"))
    p.add_argument("--python", default="")
    p.add_argument("--out", default="")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--args", action="append", default=[], metavar="PART=FLAGS",
                   help='extra flags for both sides of one part: --args explain="--batch 1,32"')
    args = p.parse_args()

    py = python_with_torch(args.python)
    if py is None:
        print("compare: PyTorch (torch and torchvision) is not installed for any Python found; "
              "install Debian's python3-torch python3-torchvision to compare", file=sys.stderr)
        return SKIPPED
    if not os.path.exists(args.bench):
        raise SystemExit(f"compare: {args.bench}: no such benchmark binary (build it first)")
    out_dir = args.out or tempfile.mkdtemp(prefix="scenecam-compare-")
    os.makedirs(out_dir, exist_ok=True)

    extra_flags = {}
    for item in args.args:
        part, _, flags = item.partition("=")
        if part not in QUICK:
            raise SystemExit(f"compare: --args {item}: unknown part '{part}'")
        extra_flags[part] = shlex.split(flags)

    rows = []
    for part in args.parts.split(","):
        if part not in QUICK:
            raise SystemExit(f"compare: unknown part '{part}' (train, kernels, conv, explain)")
        extra = (QUICK[part] if args.quick else []) + extra_flags.get(part, [])
        ours_json = os.path.join(out_dir, f"{part}.scenecam.json")
        torch_json = os.path.join(out_dir, f"{part}.torch.json")
        run([args.bench, part, "--device", args.device, "--json", ours_json] + extra, f"scenecam {part}")
        run([py, os.path.join(HERE, "torch_baseline.py"), part, "--device", args.device,
             "--json", torch_json] + extra, f"torch {part}")
        theirs = load(torch_json)
        paired = pair(part, load(ours_json)["rows"], theirs["rows"])
        if not paired:
            raise SystemExit(f"compare: no rows of {part} could be paired")
        for r in paired:
            r["framework"] = theirs["framework"]
        rows += paired

    tmp = os.path.join(out_dir, "compare.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"device": args.device, "rows": rows}, f, indent=1)
    os.replace(tmp, os.path.join(out_dir, "compare.json"))

    width = max(len(r["item"]) for r in rows)
    print(f"scenecam vs {rows[0]['framework']} on {args.device}; speedup = torch time / ours "
          f"(above 1: scenecam faster); raw results in {out_dir}")
    print(f"{'part':8s}  {'item':{width}s}  {'ours':>10s}  {'torch':>10s}  {'unit':8s}  speedup")
    for r in rows:
        print(f"{r['part']:8s}  {r['item']:{width}s}  {r['ours']:10.4g}  {r['torch']:10.4g}  "
              f"{r['unit']:8s}  {r['speedup']:.2f}")
    for part in dict.fromkeys(r["part"] for r in rows):
        s = [r["speedup"] for r in rows if r["part"] == part]
        print(f"{part}: geometric mean speedup {math.exp(sum(map(math.log, s)) / len(s)):.2f} "
              f"over {len(s)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
