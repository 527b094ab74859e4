#!/usr/bin/env python3
"""scenecam against PyTorch itself: the same weights and images through both, compared.

    parity.py SCENECAM WORK_DIR predict|cams|many|guided|step|reverse|convert

  predict  torchvision ResNet-18/34/50 with random weights and batch-norm statistics, as a
           scenecam checkpoint: `scenecam predict` probabilities = PyTorch's, 1e-5, 64 and 150 px
  cams     Grad-CAM, Grad-CAM++, XGradCAM, HiResCAM, LayerCAM, GradCAMElementWise, EigenCAM and
           EigenGradCAM maps from `scenecam explain` = pytorch-grad-cam 1.5's arithmetic on hooks
           in PyTorch, 1e-5
  many     ScoreCAM, AblationCAM (pytorch-grad-cam 1.5's arithmetic) and Integrated Gradients
           (Captum's riemann_trapezoid from black) on ResNet-18's layer4 at 64 px, 1e-5
  guided   Guided Backprop and Guided Grad-CAM (GuidedBackpropReLU in every ReLU): maps 1e-5,
           deprocessed images within one byte; FullGrad (pytorch-grad-cam 1.5's), 1e-5
  step     one `scenecam train` step from the same weights and batch (SGD with Nesterov momentum
           and weight decay, and AdamW; label smoothing; batch norm in training mode) = one
           torch.optim step: the loss, every parameter and running statistic, 1e-4 relative
  reverse  a scenecam-trained checkpoint in torchvision's load_state_dict: the same
           probabilities as `scenecam predict`
  convert  scripts/torch_to_safetensors.py on a DataParallel .pth, used as model.init

Each prints its largest differences; any beyond the tolerance fails (exit 1).
"""
import json
import math
import os
import subprocess
import sys

import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
from torch_to_safetensors import read_safetensors, write_safetensors  # noqa: E402

CLASSES = ["buildings", "forest", "glacier", "mountain", "sea", "street"]
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
failures = []


def check(what, diff, tolerance):
    ok = diff <= tolerance
    print(f"{'ok  ' if ok else 'FAIL'} {what}: largest difference {diff:.3g} (tolerance {tolerance:g})")
    if not ok:
        failures.append(what)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


# ------------------------------------------------------------------ models, files and images

def torchvision_model(arch, seed):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(num_classes=len(CLASSES))
    with torch.no_grad():  # batch norm as a trained network has it, not at its identity
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def scenecam_state(model):
    return {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def config_yaml(arch, size, root, out_dir, batch=8, val_root=None, train=""):
    lines = [f"model: {{arch: {arch}, classes: {len(CLASSES)}}}",
             "data:", "  source: folder", f"  root: {root}", f"  image_size: {size}",
             "  augment: {crop: none, flip: false}"]
    if val_root:
        lines.append(f"  val_root: {val_root}")
    lines += ["train:", "  epochs: 1", f"  batch_size: {batch}", "  log_every: 1",
              "  schedule: {name: constant}"] + ["  " + t for t in train.splitlines() if t]
    lines += ["runtime: {device: cpu, seed: 1, threads: 2}", f"output: {{dir: {out_dir}}}"]
    return "\n".join(lines) + "\n"


def write_checkpoint(path, model, arch, size, work):
    """A scenecam checkpoint (trainer.hpp's format) holding the torchvision model's tensors."""
    state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "best_val_accuracy": 0, "seed": 1}
    meta = {"format": "scenecam-checkpoint-1", "arch": arch,
            "config": config_yaml(arch, size, work, os.path.join(work, "run")),
            "classes": json.dumps(CLASSES), "state": json.dumps(state)}
    write_safetensors(path, scenecam_state(model), meta)


def write_images(folder, count, size, seed, per_class=False, unsaturated=False):
    """Smooth random RGB images (low-resolution noise, upsampled), as PNG; returns the paths.
    unsaturated: within [0.1, 0.9] before quantisation, with no flat clipped patches."""
    from PIL import Image
    g = torch.Generator().manual_seed(seed)
    paths = []
    for i in range(count):
        sub = os.path.join(folder, CLASSES[i % len(CLASSES)]) if per_class else folder
        os.makedirs(sub, exist_ok=True)
        low = torch.rand(1, 3, 6, 6, generator=g)
        img = F.interpolate(low, size=(size, size), mode="bicubic", align_corners=False)
        img = (img + 0.15 * torch.rand(1, 3, size, size, generator=g)).clamp(0, 1)
        if unsaturated:
            img = 0.1 + 0.8 * img
        pixels = (img[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        path = os.path.join(sub, f"img{i:02d}.png")
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def load_images(paths):
    """The batch scenecam builds from these files: RGB / 255, normalised, NCHW float32."""
    from PIL import Image
    import numpy as np
    x = torch.stack([torch.from_numpy(np.array(Image.open(p).convert("RGB"))) for p in paths])
    x = x.permute(0, 3, 1, 2).float() / 255
    return (x - MEAN) / STD


def calibrate_head(model, x):
    """Scales fc so the logits spread over a few units: probabilities far from 0 and 1."""
    with torch.no_grad():
        spread = model(x).std().item()
        model.fc.weight.mul_(2.0 / spread)
        model.fc.bias.mul_(2.0 / spread)


def scenecam_probabilities(sc, checkpoint, paths):
    out = json.loads(run([sc, "predict", "--checkpoint", checkpoint, "--images", *paths,
                          "--top-k", str(len(CLASSES)), "--format", "json"]))
    probs = torch.zeros(len(paths), len(CLASSES), dtype=torch.float64)
    for i, record in enumerate(out):
        assert record["file"] == paths[i], (record["file"], paths[i])
        for p in record["predictions"]:
            probs[i, CLASSES.index(p["class"])] = p["probability"]
    return probs


# ------------------------------------------------------------------ the parts

def predict(sc, work):
    for arch in ("resnet18", "resnet34", "resnet50"):
        for size in (64, 150):
            folder = os.path.join(work, f"{arch}_{size}")
            paths = write_images(folder, 3, size, seed=size)
            model = torchvision_model(arch, seed=len(arch) + size)
            x = load_images(paths)
            calibrate_head(model, x)
            checkpoint = os.path.join(work, f"{arch}_{size}.safetensors")
            write_checkpoint(checkpoint, model, arch, size, work)
            with torch.no_grad():
                expected = model(x).softmax(1).double()
            got = scenecam_probabilities(sc, checkpoint, paths)
            assert expected.max() < 0.999, "saturated probabilities would compare nothing"
            check(f"predict {arch} {size}px", (got - expected).abs().max().item(), 1e-5)


def cam_weights(method, A, G):
    """pytorch-grad-cam 1.5's per-method arithmetic (base_cam.get_cam_image), in float32."""
    if method == "gradcam":
        return (G.mean(dim=(2, 3), keepdim=True) * A).sum(1)
    if method == "gradcam++":
        g2, g3 = G ** 2, G ** 3
        sum_a = A.sum(dim=(2, 3), keepdim=True)
        aij = g2 / (2 * g2 + sum_a * g3 + 1e-6)
        aij = torch.where(G != 0, aij, torch.zeros_like(aij))
        w = (torch.clamp(G, min=0) * aij).sum(dim=(2, 3), keepdim=True)
        return (w * A).sum(1)
    if method == "xgradcam":
        sum_a = A.sum(dim=(2, 3), keepdim=True)
        w = (G * A / (sum_a + 1e-7)).sum(dim=(2, 3), keepdim=True)
        return (w * A).sum(1)
    if method == "hirescam":
        return (G * A).sum(1)
    if method == "layercam":
        return (torch.clamp(G, min=0) * A).sum(1)
    if method == "gradcam-elementwise":
        return torch.clamp(G * A, min=0).sum(1)
    if method in ("eigencam", "eigengradcam"):
        return projection_2d(A if method == "eigencam" else G * A)
    raise ValueError(method)


def projection_2d(batch):
    """get_2d_projection: pixels as samples of channels, centred, onto the first right singular
    vector (in float64 here); the sign as scenecam documents it (pytorch-grad-cam leaves it to
    LAPACK): the projection correlates positively with the centred channel sum."""
    out = []
    for planes in batch.double():
        x = planes.reshape(planes.shape[0], -1).T
        x = x - x.mean(dim=0)
        _, _, vt = torch.linalg.svd(x, full_matrices=False)
        p = x @ vt[0]
        agreement = (p * x.sum(dim=1)).sum()
        if agreement < 0 or (agreement == 0 and p[p.abs().argmax()] < 0):
            p = -p
        out.append(p.reshape(planes.shape[1:]).float())
    return torch.stack(out)


def scale_cam(cam, size):
    """scale_cam_image twice, as BaseCAM does: min-max, resize (cv2's bilinear), ReLU, min-max."""
    cam = torch.clamp(cam, min=0)
    lo = cam.amin(dim=(1, 2), keepdim=True)
    cam = cam - lo
    cam = cam / (1e-7 + cam.amax(dim=(1, 2), keepdim=True))
    cam = F.interpolate(cam[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]
    cam = torch.clamp(cam, min=0)
    cam = cam - cam.amin(dim=(1, 2), keepdim=True)
    return cam / (1e-7 + cam.amax(dim=(1, 2), keepdim=True))


def cams(sc, work):
    import numpy as np
    methods = ["gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "gradcam-elementwise",
               "eigencam", "eigengradcam"]
    for arch, size, layer in (("resnet18", 150, "layer4"), ("resnet18", 150, "layer3"),
                              ("resnet50", 96, "layer4")):
        folder = os.path.join(work, f"cam_{arch}_{size}_{layer}")
        paths = write_images(folder, 4, size, seed=7)
        model = torchvision_model(arch, seed=11)
        x = load_images(paths)
        calibrate_head(model, x)
        checkpoint = folder + ".safetensors"
        write_checkpoint(checkpoint, model, arch, size, work)
        out = folder + "_out"
        run([sc, "explain", "--checkpoint", checkpoint, "--images", *paths, "--out", out,
             "--method", ",".join(methods), "--layer", layer, "--target", "pred"])
        manifest = json.load(open(os.path.join(out, "manifest.json")))

        saved = {}
        target_layer = getattr(model, layer)
        target_layer.register_forward_hook(lambda m, i, o: saved.update(A=o))
        target_layer.register_full_backward_hook(lambda m, gi, go: saved.update(G=go[0]))
        xg = x.clone().requires_grad_(True)  # as pytorch-grad-cam: gradients flow to the input
        logits = model(xg)
        pred = logits.argmax(1)
        model.zero_grad()
        logits.gather(1, pred[:, None]).sum().backward()
        A, G = saved["A"].detach(), saved["G"].detach()
        for method in methods:
            expected = scale_cam(cam_weights(method, A, G), size)
            worst = 0.0
            for i, item in enumerate(manifest["images"]):
                assert item["predicted"] == CLASSES[pred[i]], (item["predicted"], pred[i])
                got = np.load(os.path.join(out, item["outputs"][method]["map"]))
                worst = max(worst, (torch.from_numpy(got) - expected[i]).abs().max().item())
            check(f"{method} {arch} {layer} {size}px", worst, 1e-5)


def many_forward_maps(model, layer, x, pred, steps):
    """ScoreCAM and AblationCAM as pytorch-grad-cam 1.5 computes them, and Integrated Gradients
    with Captum's riemann_trapezoid rule from a black image, all in float32: raw maps."""
    saved, ablate = {}, {}

    def hook(module, inputs, output):
        saved["A"] = output.detach()
        if "channel" in ablate:  # AblationCAM's layer: copy c has channel c set to 0
            output = output.clone()
            for c in range(output.shape[0]):
                output[c, ablate["channel"] + c] = 0
            return output
        return None

    handle = getattr(model, layer).register_forward_hook(hook)
    n, size = x.shape[0], x.shape[-1]
    with torch.no_grad():
        logits = model(x)
        A = saved["A"]
        up = torch.nn.UpsamplingBilinear2d(size=(size, size))(A)
        lo = up.amin(dim=(2, 3), keepdim=True)
        hi = up.amax(dim=(2, 3), keepdim=True)
        masks = torch.where(hi > lo, (up - lo) / (hi - lo), torch.zeros_like(up))
        score_w, ablation_w = [], []
        for i in range(n):
            target = pred[i].item()
            scores = torch.cat([model(x[i:i + 1] * masks[i, c:c + 32, None])[:, target]
                                for c in range(0, A.shape[1], 32)])
            score_w.append(torch.softmax(scores, 0))
            ablated = []
            for c in range(0, A.shape[1], 32):
                ablate["channel"] = c
                count = min(32, A.shape[1] - c)
                ablated.append(model(x[i:i + 1].expand(count, -1, -1, -1))[:, target])
                del ablate["channel"]
            y = logits[i, target]
            ablation_w.append((y - torch.cat(ablated)) / y)
    handle.remove()
    out = {"scorecam": (torch.stack(score_w)[:, :, None, None] * A).sum(1),
           "ablationcam": (torch.stack(ablation_w)[:, :, None, None] * A).sum(1)}
    # In float64: PyTorch's own float32 run differs from it by up to 1e-2 here (see below).
    import copy
    exact, x64 = copy.deepcopy(model).double(), x.double()
    black = ((0 - MEAN) / STD).double()
    total = torch.zeros_like(x64)
    for k in range(steps):
        alpha = k / (steps - 1)
        weight = (0.5 if k in (0, steps - 1) else 1.0) / (steps - 1)
        point = (black + alpha * (x64 - black)).requires_grad_(True)
        exact(point).gather(1, pred[:, None]).sum().backward()
        total += weight * point.grad
    out["integrated-gradients"] = ((x64 - black) * total).sum(1).abs().float()
    return out


class GuidedReLU(torch.autograd.Function):
    """pytorch-grad-cam's GuidedBackpropReLU: the gradient passes where the input and the
    incoming gradient are both positive."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x > 0).float() * (grad > 0).float()


class GuidedReLUModule(torch.nn.Module):
    def forward(self, x):
        return GuidedReLU.apply(x)


def guided_gradients(model, x, pred):
    """Guided Backprop: every ReLU of a copy of the model replaced by GuidedReLU."""
    import copy
    guided = copy.deepcopy(model)
    for module in guided.modules():
        for name, child in module.named_children():
            if isinstance(child, torch.nn.ReLU):
                setattr(module, name, GuidedReLUModule())
    xg = x.clone().requires_grad_(True)
    guided(xg).gather(1, pred[:, None]).sum().backward()
    return xg.grad


def deprocess(g):
    """pytorch-grad-cam's deprocess_image of one image's gradients [3, S, S], as HWC bytes."""
    img = g.permute(1, 2, 0).double()
    img = (img - img.mean()) / (img.std(unbiased=False) + 1e-5) * 0.1 + 0.5
    return (img.clamp(0, 1) * 255).to(torch.uint8)


def scale_planes(t, size):
    """scale_accross_batch_and_channels: each [h, w] plane min-max scaled, then resized."""
    flat = t.reshape(-1, 1, *t.shape[2:])
    lo = flat.amin(dim=(2, 3), keepdim=True)
    flat = flat - lo
    flat = flat / (1e-7 + flat.amax(dim=(2, 3), keepdim=True))
    if flat.shape[-1] != size:
        flat = F.interpolate(flat, size=(size, size), mode="bilinear", align_corners=False)
    return flat.reshape(t.shape[0], t.shape[1], size, size)


def fullgrad_map(model, x, pred):
    """pytorch-grad-cam 1.5's FullGrad: |dy/dx x| per channel and, for every BatchNorm2d, |b dy|
    with b its folded bias and dy the gradient of its output, each plane scaled; summed, min-max."""
    grads = {}

    def keep_gradient(module, inputs, output):
        output.register_hook(lambda g: grads.__setitem__(module, g))
        return output.clone()  # the block's in-place add and ReLU then act on the copy

    handles = [m.register_forward_hook(keep_gradient) for m in model.modules()
               if isinstance(m, torch.nn.BatchNorm2d)]
    xg = x.clone().requires_grad_(True)
    model(xg).gather(1, pred[:, None]).sum().backward()
    for h in handles:
        h.remove()
    size = x.shape[-1]
    total = scale_planes((xg.grad * x).abs(), size).sum(1)
    for m, g in grads.items():
        bias = m.bias - m.running_mean * m.weight / torch.sqrt(m.running_var + m.eps)
        total += scale_planes((bias.detach()[None, :, None, None] * g).abs(), size).sum(1)
    total = total - total.amin(dim=(1, 2), keepdim=True)
    return total / (1e-7 + total.amax(dim=(1, 2), keepdim=True))


def explained(sc, work, tag, count, seed, arch, size, flags):
    """A random torchvision model as a checkpoint and `scenecam explain FLAGS` of `count` images
    (unsaturated: no clipped flat patches, where two inputs of a max pool tie and an input
    gradient jumps on a last-bit difference); returns the model, the batch, the output folder
    and the manifest."""
    folder = os.path.join(work, f"{tag}_{arch}_{size}")
    paths = write_images(folder, count, size, seed=seed, unsaturated=True)
    model = torchvision_model(arch, seed=seed + 8)
    x = load_images(paths)
    calibrate_head(model, x)
    checkpoint = folder + ".safetensors"
    write_checkpoint(checkpoint, model, arch, size, work)
    out = folder + "_out"
    run([sc, "explain", "--checkpoint", checkpoint, "--images", *paths, "--out", out, *flags])
    return model, x, out, json.load(open(os.path.join(out, "manifest.json")))


def guided_cams(sc, work):
    import numpy as np
    from PIL import Image
    arch, size, layer = "resnet18", 64, "layer4"
    model, x, out, manifest = explained(
        sc, work, "guided", 3, 9, arch, size,
        ["--method", "guided-backprop,guided-gradcam,fullgrad", "--layer", layer])
    saved = {}
    target_layer = getattr(model, layer)
    target_layer.register_forward_hook(lambda m, i, o: saved.update(A=o))
    target_layer.register_full_backward_hook(lambda m, gi, go: saved.update(G=go[0]))
    xg = x.clone().requires_grad_(True)
    logits = model(xg)
    pred = logits.argmax(1)
    logits.gather(1, pred[:, None]).sum().backward()
    cam = scale_cam(cam_weights("gradcam", saved["A"].detach(), saved["G"].detach()), size)
    gb = guided_gradients(model, x, pred)
    for method, g in (("guided-backprop", gb), ("guided-gradcam", gb * cam[:, None])):
        expected = scale_cam(g.abs().amax(1), size)
        worst_map, worst_rgb = 0.0, 0
        for i, item in enumerate(manifest["images"]):
            got = torch.from_numpy(np.load(os.path.join(out, item["outputs"][method]["map"])))
            worst_map = max(worst_map, (got - expected[i]).abs().max().item())
            rgb = torch.from_numpy(np.array(Image.open(os.path.join(out, item["outputs"][method]["image"]))))
            worst_rgb = max(worst_rgb, (rgb.int() - deprocess(g[i]).int()).abs().max().item())
        check(f"{method} {arch} {size}px map", worst_map, 1e-5)
        check(f"{method} {arch} {size}px image (bytes)", worst_rgb, 1)
    expected = fullgrad_map(model, x, pred)
    worst = max((torch.from_numpy(np.load(os.path.join(out, item["outputs"]["fullgrad"]["map"])))
                 - expected[i]).abs().max().item() for i, item in enumerate(manifest["images"]))
    check(f"fullgrad {arch} {size}px", worst, 1e-5)


def many_forward_cams(sc, work):
    import numpy as np
    arch, size, layer, steps = "resnet18", 64, "layer4", 12
    methods = ["scorecam", "ablationcam", "integrated-gradients"]
    model, x, out, manifest = explained(
        sc, work, "many", 2, 5, arch, size,
        ["--method", ",".join(methods), "--layer", layer, "--ig-steps", str(steps)])
    with torch.no_grad():
        pred = model(x).argmax(1)
    raw = many_forward_maps(model, layer, x, pred, steps)
    for method in methods:
        expected = scale_cam(raw[method], size)
        got = torch.stack([torch.from_numpy(np.load(os.path.join(out, item["outputs"][method]["map"])))
                           for item in manifest["images"]])
        if method == "integrated-gradients":
            check_up_to_a_few_ties(f"{method} {arch} {size}px", got, expected)
            continue
        # AblationCAM's weights are differences of nearly equal logits (y - y_k) / y: two float32
        # computations of them agree to a few 1e-5 only. ScoreCAM's are a softmax over 512
        # channel scores: 4.5e-6 in the optimised build, 1.05e-5 in the debug build (whose matrix
        # products sum in another order).
        tolerance = {"ablationcam": 3e-4, "scorecam": 2e-5}[method]
        check(f"{method} {arch} {layer} {size}px", (got - expected).abs().max().item(), tolerance)


def check_up_to_a_few_ties(what, got, expected):
    """Integrated Gradients sums input gradients at many points, and an input gradient of a ReLU
    network jumps where two inputs of a max pool (or a ReLU's input and 0) come within rounding
    of each other: a float32 run can route a receptive field differently from the exact one,
    which also moves the min-max scaling of the whole map (on these images PyTorch's float32
    result is 1e-2 from its float64 one). So scenecam is compared with PyTorch in float64, per
    image: the maps must agree, up to an affine map fitted by least squares, to 1e-5 on 95% of the
    pixels, and the fitted scale must be within 5% of 1 (a wrong formula misses both by far)."""
    for i in range(got.shape[0]):
        g, e = got[i].flatten().double(), expected[i].flatten().double()
        design = torch.stack([e, torch.ones_like(e)], 1)
        fit = torch.linalg.lstsq(design, g[:, None]).solution[:, 0]
        residual = (g - design @ fit).abs()
        check(f"{what} image {i}: 95th percentile of the residual", residual.quantile(0.95).item(), 1e-5)
        check(f"{what} image {i}: the fitted scale's distance from 1", abs(fit[0].item() - 1), 0.05)


def relative(a, b):
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp(min=1e-12)).item()


def step(sc, work):
    """One training step in each tool from the same weights on the same 12 images."""
    size, batch = 64, 12
    root, val = os.path.join(work, "step_train"), os.path.join(work, "step_val")
    paths = write_images(root, batch, size, seed=3, per_class=True)
    write_images(val, 6, size, seed=4, per_class=True)
    optimizers = {
        "sgd": ("optimizer: {name: sgd, lr: 0.05, momentum: 0.9, nesterov: true, "
                "weight_decay: 0.001}", lambda groups: torch.optim.SGD(
                    groups, lr=0.05, momentum=0.9, nesterov=True)),
        # AdamW's first step moves a weight by lr * g / (|g| + eps): where |g| is far below the
        # gradient's scale (5e-10 seen, against a median of 2e-3), float32 summation noise in
        # the gradient (about 1e-7 of its scale, in either tool) decides that weight's move; at
        # eps = 1e-8 by up to lr. eps = 1e-4 bounds that amplification, so that 1e-4 compares
        # the arithmetic rather than the noise; the moves themselves are compared at 1e-2.
        "adamw": ("optimizer: {name: adamw, lr: 0.0001, weight_decay: 0.05, eps: 0.0001}",
                  lambda groups: torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.999),
                                                   eps=1e-4)),
    }
    for name, (yaml_line, make) in optimizers.items():
        model = torchvision_model("resnet18", seed=21)
        init = os.path.join(work, f"step_{name}.safetensors")
        write_safetensors(init, model.state_dict())  # num_batches_tracked (I64) included
        out = os.path.join(work, f"step_{name}_run")
        config = os.path.join(work, f"step_{name}.yaml")
        with open(config, "w") as f:
            f.write(config_yaml("resnet18", size, root, out, batch=batch, val_root=val,
                                train=f"label_smoothing: 0.1\n{yaml_line}"))
        run([sc, "train", config, "--set", f"model.init={init}", "--overwrite"])

        # PyTorch: weight decay on convolution and dense weights only, as scenecam groups them.
        decay = 0.001 if name == "sgd" else 0.05
        decayed = [p for n, p in model.named_parameters() if p.dim() > 1]
        others = [p for n, p in model.named_parameters() if p.dim() <= 1]
        opt = make([{"params": decayed, "weight_decay": decay},
                    {"params": others, "weight_decay": 0.0}])
        model.train()
        x = load_images(sorted(paths))
        y = torch.tensor([CLASSES.index(os.path.basename(os.path.dirname(p)))
                          for p in sorted(paths)])
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()

        first = json.loads(open(os.path.join(out, "metrics.jsonl")).readline())
        check(f"step {name}: loss", abs(first["loss"] - loss.item()) / abs(loss.item()), 1e-4)
        trained, _ = read_safetensors(os.path.join(out, "last.safetensors"))
        worst, worst_name = 0.0, ""
        for key, t in scenecam_state(model).items():
            d = relative(trained[key], t)
            if d > worst:
                worst, worst_name = d, key
        check(f"step {name}: every parameter and running statistic (worst {worst_name})",
              worst, 1e-4)
        # The update itself, not only the values it moved: relative to its own size.
        before, _ = read_safetensors(init)
        moved = max(relative(trained[k] - before[k], t - before[k])
                    for k, t in scenecam_state(model).items() if k.endswith("weight"))
        check(f"step {name}: the updates (weights)", moved, 1e-3 if name == "sgd" else 1e-2)


def reverse(sc, work):
    """A run trained by scenecam, read by torchvision."""
    size = 48
    root = os.path.join(work, "reverse_data")
    paths = write_images(root, 24, size, seed=5, per_class=True)
    out = os.path.join(work, "reverse_run")
    config = os.path.join(work, "reverse.yaml")
    with open(config, "w") as f:
        f.write(config_yaml("resnet18", size, root, out, batch=8,
                            train="optimizer: {name: sgd, lr: 0.02, momentum: 0.9}"))
    run([sc, "train", config, "--overwrite"])
    checkpoint = os.path.join(out, "last.safetensors")
    tensors, meta = read_safetensors(checkpoint)
    weights = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    model = torchvision.models.resnet18(num_classes=len(json.loads(meta["classes"])))
    result = model.load_state_dict(weights, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys
    assert all(k.endswith("num_batches_tracked") for k in result.missing_keys), result.missing_keys
    model.eval()
    with torch.no_grad():
        expected = model(load_images(paths)).softmax(1).double()
    got = scenecam_probabilities(sc, checkpoint, paths)
    check("reverse: torchvision load_state_dict of a scenecam checkpoint",
          (got - expected).abs().max().item(), 1e-5)


def convert(sc, work):
    """A DataParallel checkpoint (.pth) through the converter into model.init."""
    model = torch.nn.DataParallel(torchvision_model("resnet34", seed=2))
    pth = os.path.join(work, "resnet34_dp.pth")
    torch.save({"epoch": 3, "state_dict": model.state_dict()}, pth)
    converted = os.path.join(work, "resnet34.safetensors")
    run([sys.executable, os.path.join(HERE, "..", "..", "scripts", "torch_to_safetensors.py"),
         pth, converted])
    tensors, _ = read_safetensors(converted)
    assert not any(k.startswith("module.") or "num_batches_tracked" in k for k in tensors)
    expected = scenecam_state(model.module)
    assert sorted(tensors) == sorted(expected)
    check("convert: tensors equal", max((tensors[k] - v).abs().max().item()
                                        for k, v in expected.items()), 0.0)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sc, work, part = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    {"predict": predict, "cams": cams, "many": many_forward_cams, "guided": guided_cams,
     "step": step,
     "reverse": reverse, "convert": convert}[part](sc, work)
    if failures:
        sys.exit(f"{len(failures)} comparison(s) beyond tolerance: {', '.join(failures)}")


if __name__ == "__main__":
    main()
