#!/usr/bin/env python3
"""PyTorch weights (.pth / .pt / .bin) to a safetensors file that `model.init` takes.

    torch_to_safetensors.py resnet18-f37072fd.pth resnet18.safetensors
    torch_to_safetensors.py --torchvision resnet50 resnet50.safetensors   # weights in torch's cache

The file is read with PyTorch's own loader (torch.load, weights_only where this torch has it).
A training checkpoint that wraps the weights ({"state_dict": ...}, {"model": ...}) is unwrapped;
"module." prefixes (DataParallel, DistributedDataParallel) and "_orig_mod." (torch.compile) are
stripped; num_batches_tracked counters are dropped; every floating tensor is written as float32.
Tensor names stay as torchvision and timm spell them ("layer1.0.conv1.weight", "fc.bias").

This module also reads and writes safetensors with nothing but the standard library and torch,
for the project's tests.
"""
import argparse
import json
import struct
import sys

_DTYPES = {  # safetensors' dtype words, for the torch dtypes scenecam's files use
    "F32": "float32", "F64": "float64", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "U8": "uint8",
}
_PREFIXES = ("module.", "_orig_mod.")


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} (contiguous CPU copies are made) and string metadata."""
    import torch
    header, blobs, offset = {}, [], 0
    words = {getattr(torch, v): k for k, v in _DTYPES.items()}
    for name, t in tensors.items():
        t = t.detach().to("cpu").contiguous()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": words[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    import os
    os.replace(tmp, path)


def read_safetensors(path):
    """({name: tensor}, {metadata}) of a safetensors file."""
    import torch
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        dtype = getattr(torch, _DTYPES[e["dtype"]])
        buf = bytearray(data[begin:end])
        flat = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(e["shape"]).clone()
    return tensors, metadata


def clean_state_dict(obj):
    """The weights of a loaded .pth, named as the model names them, float32."""
    import torch
    for key in ("state_dict", "model", "model_state_dict", "module"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise ValueError("expected a state dict (a mapping of names to tensors), got "
                         + type(obj).__name__)
    out = {}
    for name, t in obj.items():
        if not torch.is_tensor(t):
            continue
        for p in _PREFIXES:
            while name.startswith(p):
                name = name[len(p):]
        if name.endswith("num_batches_tracked"):
            continue
        out[name] = t.float() if t.is_floating_point() else t
    if not out:
        raise ValueError("no tensors in the file")
    return out


def load_torch_file(path):
    import torch
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # a torch older than weights_only
        return torch.load(path, map_location="cpu")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", nargs="?", help=".pth/.pt/.bin file (a state dict or a checkpoint)")
    ap.add_argument("output", help="the safetensors file to write")
    ap.add_argument("--torchvision", metavar="ARCH",
                    help="instead of INPUT: torchvision's ImageNet weights for ARCH (resnet18, "
                         "resnet34, resnet50), downloaded into torch's cache if not there")
    args = ap.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("torch_to_safetensors: needs PyTorch (pip install torch, or apt install "
                 "python3-torch)")
    try:
        if args.torchvision:
            import torchvision
            model = torchvision.models.get_model(args.torchvision, weights="DEFAULT")
            state = model.state_dict()
        else:
            if not args.input:
                ap.error("give INPUT or --torchvision ARCH")
            state = load_torch_file(args.input)
        tensors = clean_state_dict(state)
        write_safetensors(args.output, tensors, {"source": args.torchvision or args.input})
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        sys.exit(f"torch_to_safetensors: {args.input or args.torchvision}: {e}")
    print(f"torch_to_safetensors: {len(tensors)} tensors -> {args.output}")


if __name__ == "__main__":
    main()
