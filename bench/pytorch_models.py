"""PyTorch baseline for mriseg's benchmarks: the three architectures of BRIEF §4 (U-Net in M. Buda's layout, Attention
U-Net, UNet++ with deep supervision; PyTorch key names as in mriseg's state dicts) trained with Adam and the
batch-pooled soft Dice loss on random data, timed on the same card as mriseg's own numbers.

Prints one JSON line per (model, mode): train-step and forward img/s (median over timed steps, each followed by a
synchronisation, and sustained: steps queued back to back) and the peak GPU memory of a training step. On the GPU box:
  python3 bench/pytorch_models.py --batch 16 --size 256 [--models unet,attention-unet,unet++] [--modes fp32,tf32]
`--check-golden DIR` instead checks each model against the golden fixtures `DIR/{UNet,AttentionUNet,UNetPlusPlus}_f4`
(float64 on the CPU: the parameters, train-mode logits and loss) and its parameter count at f 32, so that what is
timed here is the architecture mriseg implements.
"""
import argparse
from collections import OrderedDict
import json
import statistics
import time

import torch
import torch.nn as nn


def block(cin, f, name):
    return nn.Sequential(
        OrderedDict(
            [
                (name + "conv1", nn.Conv2d(cin, f, 3, padding=1, bias=False)),
                (name + "norm1", nn.BatchNorm2d(f)),
                (name + "relu1", nn.ReLU(inplace=True)),
                (name + "conv2", nn.Conv2d(f, f, 3, padding=1, bias=False)),
                (name + "norm2", nn.BatchNorm2d(f)),
                (name + "relu2", nn.ReLU(inplace=True)),
            ]
        )
    )


class UNet(nn.Module):
    def __init__(self, cin=3, cout=1, f=32):
        super().__init__()
        self.encoder1 = block(cin, f, "enc1")
        self.encoder2 = block(f, 2 * f, "enc2")
        self.encoder3 = block(2 * f, 4 * f, "enc3")
        self.encoder4 = block(4 * f, 8 * f, "enc4")
        self.pool = nn.MaxPool2d(2, 2)
        self.bottleneck = block(8 * f, 16 * f, "bottleneck")
        self.upconv4 = nn.ConvTranspose2d(16 * f, 8 * f, 2, stride=2)
        self.decoder4 = block(16 * f, 8 * f, "dec4")
        self.upconv3 = nn.ConvTranspose2d(8 * f, 4 * f, 2, stride=2)
        self.decoder3 = block(8 * f, 4 * f, "dec3")
        self.upconv2 = nn.ConvTranspose2d(4 * f, 2 * f, 2, stride=2)
        self.decoder2 = block(4 * f, 2 * f, "dec2")
        self.upconv1 = nn.ConvTranspose2d(2 * f, f, 2, stride=2)
        self.decoder1 = block(2 * f, f, "dec1")
        self.conv = nn.Conv2d(f, cout, 1)

    def forward(self, x):
        e1 = self.encoder1(x)
        e2 = self.encoder2(self.pool(e1))
        e3 = self.encoder3(self.pool(e2))
        e4 = self.encoder4(self.pool(e3))
        b = self.bottleneck(self.pool(e4))
        d4 = self.decoder4(torch.cat((self.upconv4(b), e4), 1))
        d3 = self.decoder3(torch.cat((self.upconv3(d4), e3), 1))
        d2 = self.decoder2(torch.cat((self.upconv2(d3), e2), 1))
        d1 = self.decoder1(torch.cat((self.upconv1(d2), e1), 1))
        return [self.conv(d1)]




class AttentionGate(nn.Module):
    """x · psi(relu(W_g(g) + W_x(x))): g the up-sampled decoder feature, x the skip."""

    def __init__(self, f_g, f_l, f_int):
        super().__init__()
        self.W_g = nn.Sequential(nn.Conv2d(f_g, f_int, 1), nn.BatchNorm2d(f_int))
        self.W_x = nn.Sequential(nn.Conv2d(f_l, f_int, 1), nn.BatchNorm2d(f_int))
        self.psi = nn.Sequential(nn.Conv2d(f_int, 1, 1), nn.BatchNorm2d(1), nn.Sigmoid())

    def forward(self, g, x):
        return x * self.psi(torch.relu(self.W_g(g) + self.W_x(x)))


class AttentionUNet(nn.Module):
    def __init__(self, cin=3, cout=1, f=32):
        super().__init__()
        widths = [f, 2 * f, 4 * f, 8 * f]
        for i, w in enumerate(widths):
            setattr(self, f"encoder{i + 1}", block(cin if i == 0 else widths[i - 1], w, f"enc{i + 1}"))
        self.pool = nn.MaxPool2d(2, 2)
        self.bottleneck = block(8 * f, 16 * f, "bottleneck")
        for i in range(3, -1, -1):
            c = widths[i]
            setattr(self, f"upconv{i + 1}", nn.ConvTranspose2d(2 * c, c, 2, stride=2))
            setattr(self, f"attention{i + 1}", AttentionGate(c, c, c))
            setattr(self, f"decoder{i + 1}", block(2 * c, c, f"dec{i + 1}"))
        self.conv = nn.Conv2d(f, cout, 1)

    def forward(self, x):
        skips = []
        h = x
        for i in range(4):
            h = getattr(self, f"encoder{i + 1}")(h if i == 0 else self.pool(h))
            skips.append(h)
        h = self.bottleneck(self.pool(h))
        for i in range(3, -1, -1):
            u = getattr(self, f"upconv{i + 1}")(h)
            h = getattr(self, f"decoder{i + 1}")(torch.cat((u, getattr(self, f"attention{i + 1}")(u, skips[i])), 1))
        return [self.conv(h)]


class UNetPlusPlus(nn.Module):
    """Nested skips x{i}_{j}; four 1×1 heads on x0_1..x0_4 (deep supervision: all four in training)."""

    DEPTH = 4

    def __init__(self, cin=3, cout=1, f=32):
        super().__init__()
        F = [f * 2**i for i in range(self.DEPTH + 1)]
        for i in range(self.DEPTH + 1):
            setattr(self, f"x{i}_0", block(cin if i == 0 else F[i - 1], F[i], ""))
        for j in range(1, self.DEPTH + 1):
            for i in range(self.DEPTH + 1 - j):
                setattr(self, f"up{i}_{j}", nn.ConvTranspose2d(F[i + 1], F[i], 2, stride=2))
                setattr(self, f"x{i}_{j}", block(F[i] * (j + 1), F[i], ""))
        for k in range(1, self.DEPTH + 1):
            setattr(self, f"head{k}", nn.Conv2d(F[0], cout, 1))
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x):
        grid = []
        for i in range(self.DEPTH + 1):
            grid.append([getattr(self, f"x{i}_0")(x if i == 0 else self.pool(grid[i - 1][0]))])
        for j in range(1, self.DEPTH + 1):
            for i in range(self.DEPTH + 1 - j):
                up = getattr(self, f"up{i}_{j}")(grid[i + 1][j - 1])
                grid[i].append(getattr(self, f"x{i}_{j}")(torch.cat(grid[i][:j] + [up], 1)))
        heads = range(1, self.DEPTH + 1) if self.training else [self.DEPTH]
        return [getattr(self, f"head{k}")(grid[0][k]) for k in heads]


MODELS = {"unet": UNet, "attention-unet": AttentionUNet, "unet++": UNetPlusPlus}
GOLDEN = {"unet": "UNet_f4", "attention-unet": "AttentionUNet_f4", "unet++": "UNetPlusPlus_f4"}


def dice_loss(logits, target, smooth=1.0):
    p = torch.sigmoid(logits)
    return 1 - (2 * (p * target).sum() + smooth) / (p.sum() + target.sum() + smooth)


def heads_loss(heads, target):
    """The mean over the heads of the batch-pooled Dice loss (one head but for UNet++ in training)."""
    return sum(dice_loss(h, target) for h in heads) / len(heads)


DEVICE = "cuda"


def sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def timed(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def sustained(fn, iters):
    """Seconds per call with calls queued back to back and one synchronisation at the end (as training runs)."""
    sync()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    sync()
    return (time.perf_counter() - t0) / iters


def run(name, mode, batch, size, f, warmup, iters):
    # fp32: strict FP32 (the brief's figure); tf32: PyTorch's default TF32 convolutions; fp32-bench: strict FP32
    # with cudnn.benchmark, cuDNN's own autotuning (the counterpart of mriseg's --autotune).
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.benchmark = mode == "fp32-bench"
    torch.manual_seed(0)
    model = MODELS[name](f=f).to(DEVICE)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, size, size, device=DEVICE)
    y = (torch.rand(batch, 1, size, size, device=DEVICE) > 0.9).float()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = heads_loss(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    cuda = DEVICE == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t_train = timed(step, warmup, iters)
    t_train_sustained = sustained(step, iters)
    peak = torch.cuda.max_memory_allocated() if cuda else None
    reserved = torch.cuda.max_memory_reserved() if cuda else None
    model.eval()
    with torch.no_grad():
        t_fwd = timed(lambda: model(x), warmup, iters)
        t_fwd_sustained = sustained(lambda: model(x), iters)
    return {
        "framework": "pytorch " + torch.__version__,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "mode": mode,
        "model": name,
        "features": f,
        "batch": batch,
        "size": size,
        "train_step_ms": round(t_train * 1e3, 2),
        "train_img_s": round(batch / t_train, 1),
        "forward_img_s": round(batch / t_fwd, 1),
        "train_img_s_sustained": round(batch / t_train_sustained, 1),
        "forward_img_s_sustained": round(batch / t_fwd_sustained, 1),
        "peak_train_mib": round(peak / 2**20, 1) if cuda else None,
        "peak_train_reserved_mib": round(reserved / 2**20, 1) if cuda else None,
        "params": sum(p.numel() for p in model.parameters()),
    }


def load_safetensors(path):
    """name -> float64 tensor, for the f32 entries of a safetensors file (the golden fixtures)."""
    import struct

    import numpy as np

    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    out = {}
    for key, e in header.items():
        if key == "__metadata__" or e["dtype"] not in ("F32", "I64"):
            continue
        a, b = e["data_offsets"]
        dtype = np.float32 if e["dtype"] == "F32" else np.int64
        arr = np.frombuffer(data[8 + n + a : 8 + n + b], dtype=dtype).reshape(e["shape"])
        out[key] = torch.from_numpy(arr.astype(np.float64 if dtype == np.float32 else np.int64))
    return out


def check_golden(name, folder, lr=1e-3, eps=1e-8):
    """Relative L2 differences of this script's model from the golden fixture: train-mode logits, loss, gradients."""
    g = load_safetensors(f"{folder}/{GOLDEN[name]}.safetensors")
    model = MODELS[name](f=4).double()
    # The fixture's param.* hold the values after its Adam step (lr 1e-3); at step 1 that step is
    # lr·grad/(|grad| + eps) whatever the bias corrections, so the weights before it are recovered exactly.
    params = {}
    for key, v in g.items():
        if not key.startswith("param."):
            continue
        k = key[len("param.") :]
        grad = g.get("grad." + k)
        params[k] = v if grad is None else v + lr * grad / (grad.abs() + eps)
    missing, unexpected = model.load_state_dict(params, strict=False)
    if missing or unexpected:
        raise SystemExit(f"{name}: state dict keys differ from the golden: missing {missing}, unexpected {unexpected}")
    model.train()
    heads = model(g["input"])
    loss = heads_loss(heads, g["target"])
    loss.backward()
    rel = lambda a, b: float((a.detach() - b).norm() / b.norm())
    # A convolution's bias followed by BatchNorm gets a gradient that is zero but for rounding; those are compared
    # to the size of the gradients of the whole model rather than to their own.
    scale = max(float(g["grad." + k].norm()) for k, _ in model.named_parameters())
    grads = [
        rel(p.grad, g["grad." + k]) if float(g["grad." + k].norm()) > 1e-6 * scale
        else float((p.grad - g["grad." + k]).norm()) / scale
        for k, p in model.named_parameters()
    ]
    return {
        "model": name,
        "heads": len(heads),
        "logits_rel_l2": max(rel(h, g[f"logits{i}"]) for i, h in enumerate(heads)),
        "loss_rel_diff": abs(loss.item() - float(g["loss"])) / abs(float(g["loss"])),
        "grads_checked": len(grads),
        "grads_max_rel_l2": max(grads),
        "params_f4": sum(p.numel() for p in model.parameters()),
        "params_f32": sum(p.numel() for p in MODELS[name](f=32).parameters()),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--models", default="unet")
    ap.add_argument("--modes", default="fp32,tf32,fp32-bench")
    ap.add_argument("--check-golden", metavar="DIR")
    ap.add_argument("--device", default="cuda", help="cuda, or cpu for a dry run of the script")
    a = ap.parse_args()
    DEVICE = a.device
    for name in a.models.split(","):
        if name not in MODELS:
            raise SystemExit(f"--models: unknown model {name!r} (known: {', '.join(MODELS)})")
        if a.check_golden:
            print(json.dumps(check_golden(name, a.check_golden)), flush=True)
            continue
        for m in a.modes.split(","):
            print(json.dumps(run(name, m, a.batch, a.size, a.features, a.warmup, a.iters)), flush=True)
