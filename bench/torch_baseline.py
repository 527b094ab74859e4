#!/usr/bin/env python3
"""PyTorch's side of scenecam's benchmarks: the same work, timed the same way, in PyTorch.

    torch_baseline.py train   --device cpu --batch 16 --input 64 --steps 8 --json train.json
    torch_baseline.py kernels --device cpu --input 150,224 --batch 32 --json kernels.json
    torch_baseline.py conv    --device cpu --batch 32 --input 224 --json conv.json
    torch_baseline.py explain --device cpu --batch 1,8 --input 64 --images 8 --json explain.json

Each subcommand mirrors `scenecam-bench SUBCOMMAND` with the same flags and defaults and writes
rows keyed as scenecam's are, so that bench/compare.py can pair them:

  train    a torchvision ResNet's full step (forward, cross-entropy, backward, SGD with momentum)
           in eager float32, with autocast to bfloat16 and channels_last memory, and (on a GPU,
           where torch.compile works, at the largest batch) the latter compiled; peak memory
           per row;
  kernels  the torch ops a PyTorch step runs for each of scenecam's custom kernels (relu(a + b),
           threshold_backward, add_, adaptive pooling and its backward, cross-entropy with its
           gradient, torchvision-style augmentation on the device, torch.optim's SGD and AdamW
           over ResNet-18's parameters, and the Grad-CAM arithmetic as torch ops);
  conv     each distinct ResNet-18 convolution: forward, backward-data, backward-filter
           (aten.convolution_backward, the op autograd calls), cuDNN's default algorithm choice
           (torch.backends.cudnn.benchmark off, TF32 on, as PyTorch ships);
  explain  Grad-CAM and relatives through forward and backward hooks, the way pytorch-grad-cam
           computes them (activations and gradients moved to NumPy, the weights and the scaling
           there); with the `grad-cam` package importable, its own classes are timed instead.

Timing: CUDA events on the GPU, perf_counter on the CPU; the median of the repeats after warm-up.
Needs torch and torchvision; everything else is optional.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    import torchvision
except ImportError as e:  # the baseline is optional: say so and stop cleanly
    print(f"torch_baseline.py: PyTorch is not installed ({e}); nothing to compare",
          file=sys.stderr)
    sys.exit(3)

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESNET18_PARAMS = 11689512


def ints(text):
    return [int(x) for x in text.split(",") if x]


class Timer:
    """Median seconds of fn over repeats on a device, after warm-up runs."""

    def __init__(self, device):
        self.device = device
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def median(self, fn, warmup, repeats, before=None):
        for _ in range(warmup):
            fn()
        self.sync()
        times = []
        for _ in range(repeats):
            if before:
                before()
            if self.cuda:
                start = torch.cuda.Event(enable_timing=True)
                stop = torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                stop.record()
                stop.synchronize()
                times.append(start.elapsed_time(stop) * 1e-3)
            else:
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        return statistics.median(times)


def resnet_sides(input_size):
    s = (input_size + 1) // 2
    s = (s + 1) // 2
    layer1 = s
    for _ in range(3):
        s = (s + 1) // 2
    return layer1, s


def shape_text(shape):
    return "x".join(str(d) for d in shape)


def make_model(arch, classes, device):
    model = getattr(torchvision.models, arch)(num_classes=classes)
    return model.to(device)


# ---- train ---------------------------------------------------------------------------------

def bench_train(args, device, timer):
    S = args.input or (224 if device.type == "cuda" else 64)
    batches = ints(args.batch) if args.batch else ([32, 64, 128, 256] if device.type == "cuda" else [16])
    steps = args.steps or (30 if device.type == "cuda" else 8)
    rows = []
    modes = ["fp32 eager", "amp bf16 channels_last"]
    if device.type == "cuda":
        modes.append("amp bf16 channels_last compiled")
    for mode in modes:
        for B in batches:
            if mode.endswith("compiled") and B != max(batches):
                continue  # each shape compiles anew (a minute or more): the largest batch only
            row = train_row(args, device, timer, mode, B, S, steps)
            if row:
                rows.append(row)
    return rows


def train_row(args, device, timer, mode, B, S, steps):
    """One mode at one batch size; None when torch.compile does not work here."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(1)
    model = make_model(args.arch, args.classes, device).train()
    gen = torch.Generator().manual_seed(2)
    images = torch.randn(B, 3, S, S, generator=gen).to(device)
    labels = (torch.arange(B) % args.classes).to(device)
    amp = mode.startswith("amp")
    if amp:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.002, momentum=0.9)
    losses = []
    forward = model
    if mode.endswith("compiled"):
        try:
            forward = torch.compile(model)
            with torch.autocast(device.type, dtype=torch.bfloat16):
                forward(images).float().sum().backward()  # compiles now, untimed
            opt.zero_grad(set_to_none=True)
        except Exception as e:  # noqa: BLE001 - any failure means "not here"
            print(f"  {mode}: torch.compile does not work here ({type(e).__name__}); "
                  "row left out", file=sys.stderr)
            return None

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(forward(images), labels)
        loss.backward()
        opt.step()
        losses.append(loss.detach())

    def timed():
        step()
        losses[-1] = float(losses[-1])  # the host read scenecam's step also makes

    t = timer.median(timed, 2, steps)
    first, last = float(losses[0]), float(losses[-1])
    if not (math.isfinite(last) and last < first):
        raise SystemExit(f"torch train {mode} batch {B}: the loss did not fall "
                         f"({first} -> {last})")
    peak = (torch.cuda.max_memory_allocated(device) / 2**20) if device.type == "cuda" else 0
    print(f"  {mode:24s} batch {B:4d}: {t * 1e3:9.2f} ms/step {B / t:9.1f} images/s",
          file=sys.stderr)
    return {"mode": mode, "arch": args.arch, "batch": B, "input": S,
            "ms_per_step": round(t * 1e3, 3), "images_per_s": round(B / t, 2),
            "loss_first": round(first, 4), "loss_last": round(last, 4),
            "peak_mib": round(peak, 1)}


# ---- kernels -------------------------------------------------------------------------------

def bench_kernels(args, device, timer):
    gpu = device.type == "cuda"
    inputs = ints(args.input_list)
    batches = ints(args.batch) if args.batch else ([32, 64, 128, 256] if gpu else [32])
    repeats = args.repeats or (50 if gpu else 10)
    flush_mib = args.flush_mib if args.flush_mib is not None else (256 if gpu else 64)
    flush_buf = torch.empty(max(flush_mib * 2**20 // 4, 1), device=device)
    flush = (lambda: flush_buf.fill_(1.0)) if flush_mib > 0 else None
    gen = torch.Generator(device="cpu").manual_seed(5)

    def rand(*shape):
        return (torch.rand(*shape, generator=gen) * 2 - 1).to(device)

    rows = []

    def add(S, B, kernel, shape, fn, note):
        t = timer.median(fn, 3, repeats, flush)
        rows.append({"input": S, "batch": B, "kernel": kernel, "shape": shape,
                     "ms": round(t * 1e3, 5), "torch_ops": note})

    for S in inputs:
        layer1, layer4 = resnet_sides(S)
        for B in batches:
            for stage, shape in (("layer1", (B, 64, layer1, layer1)), ("layer4", (B, 512, layer4, layer4))):
                a, b, y = rand(*shape), rand(*shape), torch.empty(shape, device=device)
                add(S, B, f"add_relu forward {stage}", shape_text(shape),
                    lambda: torch.add(a, b, out=y).relu_(), "torch.add(out=) + relu_")
                add(S, B, f"add_relu backward {stage}", shape_text(shape),
                    lambda: torch.ops.aten.threshold_backward(b, a, 0.0), "aten.threshold_backward")
                add(S, B, f"add_ (dst += src) {stage}", shape_text(shape),
                    lambda: y.add_(a), "Tensor.add_")
            shape = (B, 512, layer4, layer4)
            x, pooled = rand(*shape), rand(B, 512)
            add(S, B, "global_avg_pool forward", shape_text(shape),
                lambda: F.adaptive_avg_pool2d(x, 1), "F.adaptive_avg_pool2d")
            add(S, B, "global_avg_pool backward", shape_text(shape),
                lambda: torch.ops.aten._adaptive_avg_pool2d_backward(pooled.view(B, 512, 1, 1), x),
                "aten._adaptive_avg_pool2d_backward")
            logits = rand(B, 6).requires_grad_(True)
            labels = (torch.arange(B) % 6).to(device)
            add(S, B, "softmax_cross_entropy", shape_text((B, 6)),
                lambda: torch.autograd.grad(F.cross_entropy(logits, labels, label_smoothing=0.1), logits),
                "F.cross_entropy + autograd.grad")
            pixels = torch.randint(0, 256, (B, S, S, 3), dtype=torch.uint8, generator=gen).to(device)
            mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1) * 255
            std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1) * 255
            crop = int(round(S * 0.875))

            def augment():
                img = pixels.permute(0, 3, 1, 2).float()[:, :, 3:3 + crop, 3:3 + crop]
                img = F.interpolate(img, size=(S, S), mode="bilinear", align_corners=False)
                img[1::2] = img[1::2].flip(3)
                return img.sub_(mean).div_(std)

            add(S, B, "augment_batch (u8 -> f32)", shape_text((B, S, S, 3)), augment,
                "permute/float/crop/F.interpolate/flip/normalise")
            grads, acts = rand(*shape), rand(*shape)
            weights = rand(B, 512)
            add(S, B, "cam channel weights", shape_text(shape), lambda: grads.mean((2, 3)), "Tensor.mean")
            add(S, B, "cam weighted sum + relu", shape_text(shape),
                lambda: torch.einsum("nc,nchw->nhw", weights, acts).relu_(), "einsum + relu_")
            cam = rand(B, layer4, layer4)

            def scale():
                flat = cam.flatten(1)
                c = cam - flat.min(1).values.view(B, 1, 1)
                c = c / (c.flatten(1).max(1).values.view(B, 1, 1) + 1e-7)
                c = F.interpolate(c[:, None], size=(S, S), mode="bilinear", align_corners=False)[:, 0].relu_()
                c = c - c.flatten(1).min(1).values.view(B, 1, 1)
                return c / (c.flatten(1).max(1).values.view(B, 1, 1) + 1e-7)

            add(S, B, "cam scale (resize + min-max)", f"{B}x{layer4}x{layer4}->{S}", scale,
                "min/max + F.interpolate + relu")
    model = make_model("resnet18", 1000, device)
    for p in model.parameters():
        p.grad = torch.rand_like(p) * 2 - 1
    for name, opt in (("sgd update (momentum, nesterov)",
                       torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9, nesterov=True, weight_decay=5e-4)),
                      ("adamw update", torch.optim.AdamW(model.parameters(), lr=1e-6))):
        add("-", "-", name, str(RESNET18_PARAMS), opt.step, f"torch.optim ({'foreach' if gpu else 'default'})")
    return rows


# ---- conv ----------------------------------------------------------------------------------

def conv_shapes(S):
    s1 = (S + 1) // 2
    s2 = (s1 + 1) // 2
    s3 = (s2 + 1) // 2
    s4 = (s3 + 1) // 2
    s5 = (s4 + 1) // 2
    return [("matmul ref 1x1 512->512", 512, 512, (S + 7) // 8, 1, 1),
            ("conv1 7x7/2", 3, 64, S, 7, 2), ("layer1 3x3", 64, 64, s2, 3, 1),
            ("layer2.0.conv1 3x3/2", 64, 128, s2, 3, 2), ("layer2 3x3", 128, 128, s3, 3, 1),
            ("layer2 downsample 1x1/2", 64, 128, s2, 1, 2), ("layer3.0.conv1 3x3/2", 128, 256, s3, 3, 2),
            ("layer3 3x3", 256, 256, s4, 3, 1), ("layer3 downsample 1x1/2", 128, 256, s3, 1, 2),
            ("layer4.0.conv1 3x3/2", 256, 512, s4, 3, 2), ("layer4 3x3", 512, 512, s5, 3, 1),
            ("layer4 downsample 1x1/2", 256, 512, s4, 1, 2)]


def bench_conv(args, device, timer):
    gpu = device.type == "cuda"
    B = int(args.batch) if args.batch else (128 if gpu else 32)
    S = args.input or 224
    repeats = args.repeats or (50 if gpu else 5)
    rows = []
    for name, c, o, hw, k, stride in conv_shapes(S):
        x = torch.rand(B, c, hw, hw, device=device) * 2 - 1
        w = torch.rand(o, c, k, k, device=device) * 2 - 1
        pad = k // 2
        y = F.conv2d(x, w, stride=stride, padding=pad)
        flops = 2.0 * y.numel() * c * k * k

        def backward(mask):
            return lambda: torch.ops.aten.convolution_backward(
                y, x, w, None, [stride, stride], [pad, pad], [1, 1], False, [0, 0], 1, mask)

        fwd = timer.median(lambda: F.conv2d(x, w, stride=stride, padding=pad), 3, repeats)
        bd = timer.median(backward([True, False, False]), 3, repeats)
        bf = timer.median(backward([False, True, False]), 3, repeats)
        rows.append({"layer": name, "fwd_ms": round(fwd * 1e3, 4), "fwd_tflops": round(flops / fwd / 1e12, 4),
                     "bwd_data_ms": round(bd * 1e3, 4), "bwd_data_tflops": round(flops / bd / 1e12, 4),
                     "bwd_filter_ms": round(bf * 1e3, 4), "bwd_filter_tflops": round(flops / bf / 1e12, 4)})
        print(f"  {name:26s} fwd {fwd * 1e3:8.3f} ms", file=sys.stderr)
    return rows


# ---- explain -------------------------------------------------------------------------------

def gradient_weights(method, acts, grads):
    """pytorch-grad-cam 1.5's weights (NumPy, [N, C]) or, for the element-wise methods, None."""
    if method == "gradcam":
        return grads.mean(axis=(2, 3))
    if method == "gradcam++":
        g2, g3 = grads ** 2, grads ** 3
        sum_a = acts.sum(axis=(2, 3))[:, :, None, None]
        denom = 2 * g2 + sum_a * g3
        denom = np.where(grads != 0, denom, np.ones_like(denom))
        aij = np.where(grads != 0, g2 / (denom + 1e-6), 0)
        return (np.maximum(grads, 0) * aij).sum(axis=(2, 3))
    if method == "xgradcam":
        s = acts.sum(axis=(2, 3))[:, :, None, None]
        return (grads * acts / (s + 1e-7)).sum(axis=(2, 3))
    return None


def scale_cam(cam, size):
    """pytorch-grad-cam's scale_cam_image: min-max, resize (cv2 when present), and its ReLU/min-max."""
    out = []
    for img in cam:
        img = img - img.min()
        img = img / (1e-7 + img.max())
        t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None, None]
        img = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)[0, 0].numpy()
        out.append(img)
    out = np.maximum(np.float32(out), 0)
    out = out - out.min(axis=(1, 2), keepdims=True)
    return out / (1e-7 + out.max(axis=(1, 2), keepdims=True))


class HookedModel:
    """Forward hook on the target layer keeps its activations; a tensor hook keeps their gradient."""

    def __init__(self, model, layer):
        self.model, self.acts, self.grads = model, None, None
        layer.register_forward_hook(self._save)

    def _save(self, module, inputs, output):
        self.acts = output.detach()
        if output.requires_grad:  # not under no_grad (occlusion)
            output.register_hook(lambda g: setattr(self, "grads", g.detach()))


def explain_batch(method, hooked, images_u8, device, mean, std, S):
    """Maps [n, S, S] for a uint8 NHWC host batch: upload, normalise, forward, backward, maps."""
    model = hooked.model
    x = torch.from_numpy(images_u8).to(device).permute(0, 3, 1, 2).float().sub_(mean).div_(std)
    if method in ("saliency", "smoothgrad"):
        copies = 16 if method == "smoothgrad" else 1
        total = torch.zeros_like(x)
        noise = 0.15 * (x.max() - x.min()).item() if copies > 1 else 0.0
        for _ in range(copies):
            xi = (x + noise * torch.randn_like(x)).requires_grad_(True)
            logits = model(xi)
            target = logits.argmax(1)
            g, = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), xi)
            total += g
        sal = (total / copies).abs().amax(1).cpu().numpy()
        return scale_cam(sal, S)
    if method == "occlusion":
        # scenecam's occlusion: patches of side S/8 (at least 2) at half-patch strides, blanked
        # to 0 (the mean colour after normalisation); a pixel's importance is the mean drop of
        # the target's probability over the patches that cover it.
        n = x.shape[0]
        patch = max(2, S // 8)
        stride = max(1, patch // 2)
        drop = torch.zeros(n, S, S, device=device)
        covered = torch.zeros(S, S, device=device)
        with torch.no_grad():
            probs = F.softmax(model(x), 1)
            target = probs.argmax(1)[:, None]
            base = probs.gather(1, target)[:, 0]
            for y0 in range(0, S - patch + 1, stride):
                for x0 in range(0, S - patch + 1, stride):
                    xo = x.clone()
                    xo[:, :, y0:y0 + patch, x0:x0 + patch] = 0
                    p = F.softmax(model(xo), 1).gather(1, target)[:, 0]
                    drop[:, y0:y0 + patch, x0:x0 + patch] += (base - p)[:, None, None]
                    covered[y0:y0 + patch, x0:x0 + patch] += 1
        heat = torch.where(covered > 0, drop / covered.clamp(min=1), torch.zeros_like(drop))
        return scale_cam(heat.relu_().cpu().numpy(), S)
    logits = model(x)
    target = logits.argmax(1)
    if method == "cam":
        acts = hooked.acts.cpu().numpy()
        w = model.fc.weight.detach()[target].cpu().numpy()
        return scale_cam(np.maximum((w[:, :, None, None] * acts).sum(1), 0), S)
    model.zero_grad(set_to_none=True)
    logits.gather(1, target[:, None]).sum().backward()
    acts, grads = hooked.acts.cpu().numpy(), hooked.grads.cpu().numpy()
    w = gradient_weights(method, acts, grads)
    if w is not None:
        cam = (w[:, :, None, None] * acts).sum(1)
    elif method == "hirescam":
        cam = (grads * acts).sum(1)
    else:  # layercam
        cam = (np.maximum(grads, 0) * acts).sum(1)
    return scale_cam(np.maximum(cam, 0), S)


def grad_cam_package_runner(method, model, device, mean, std, S):
    """With pytorch-grad-cam importable, its own class for `method`; else None."""
    try:
        import pytorch_grad_cam as pgc
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: F401
    except ImportError:
        return None
    cls = {"gradcam": "GradCAM", "gradcam++": "GradCAMPlusPlus", "xgradcam": "XGradCAM",
           "hirescam": "HiResCAM", "layercam": "LayerCAM"}.get(method)
    if cls is None:
        return None
    cam = getattr(pgc, cls)(model=model, target_layers=[model.layer4])

    def run(images_u8):
        x = torch.from_numpy(images_u8).to(device).permute(0, 3, 1, 2).float().sub_(mean).div_(std)
        return cam(input_tensor=x, targets=None)

    return run


def bench_explain(args, device, timer):
    gpu = device.type == "cuda"
    S = args.input or (224 if gpu else 64)
    batches = ints(args.batch) if args.batch else ([1, 8, 32, 64, 128, 256] if gpu else [1, 8])
    images = args.images or (256 if gpu else 8)
    methods = args.methods.split(",")
    torch.manual_seed(1)
    model = make_model(args.arch, args.classes, device).eval()
    hooked = HookedModel(model, model.layer4)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1) * 255
    rng = np.random.default_rng(7)
    count = max(images, max(batches))
    pixels = rng.integers(0, 256, size=(count, S, S, 3), dtype=np.uint8)
    rows = []
    for B in batches:
        n = max(B, images)
        for method in methods:
            runner = grad_cam_package_runner(method, model, device, mean, std, S)
            impl = "pytorch-grad-cam" if runner else "hooks + NumPy"
            if runner is None:
                def runner(u8, m=method):
                    return explain_batch(m, hooked, u8, device, mean, std, S)

            def run_all():
                maps = [runner(pixels[i:min(i + B, n)]) for i in range(0, n, B)]
                return np.concatenate(maps)

            maps = run_all()
            if maps.shape != (n, S, S) or not np.all(np.isfinite(maps)):
                raise SystemExit(f"torch explain {method}: maps of shape {maps.shape} or not finite")
            t = timer.median(run_all, 0, args.repeats)
            rows.append({"method": method, "batch": B, "images": n, "implementation": impl,
                         "ms_per_run": round(t * 1e3, 3), "images_per_s": round(n / t, 2)})
            print(f"  {method:11s} batch {B:4d}: {n / t:9.1f} images/s ({impl})", file=sys.stderr)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("part", choices=["train", "kernels", "conv", "explain"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--classes", type=int, default=6)
    p.add_argument("--batch", default="", help="list (train, kernels, explain) or one (conv)")
    p.add_argument("--input", default="", help="side in pixels; kernels takes a list")
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--repeats", type=int, default=0)
    p.add_argument("--flush-mib", type=int, default=None)
    p.add_argument("--images", type=int, default=0)
    p.add_argument("--methods", default="gradcam,gradcam++,xgradcam,hirescam,layercam,cam,"
                                        "saliency,smoothgrad,occlusion")
    p.add_argument("--threads", type=int, default=0, help="0: every core")
    p.add_argument("--json", default="")
    args = p.parse_args()
    args.input_list = args.input or "150,224"
    args.input = int(args.input) if args.input and args.part != "kernels" else 0
    if args.part == "explain" and not args.repeats:
        args.repeats = 3
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("torch_baseline.py: --device cuda, but this PyTorch sees no GPU")
    torch.set_num_threads(args.threads or os.cpu_count())
    torch.backends.cudnn.benchmark = False
    timer = Timer(device)
    rows = {"train": bench_train, "kernels": bench_kernels, "conv": bench_conv,
            "explain": bench_explain}[args.part](args, device, timer)
    info = {"bench": args.part, "framework": f"torch {torch.__version__}", "device": str(device),
            "threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "",
            "rows": rows}
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(info, f, indent=1)
        os.replace(tmp, args.json)
    else:
        json.dump(info, sys.stdout, indent=1)
        print()


if __name__ == "__main__":
    main()
