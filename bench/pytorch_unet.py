"""PyTorch baseline for mriseg's benchmarks: the reference U-Net (M. Buda's layout, BRIEF §4) trained with Adam and
the batch-pooled soft Dice loss on random data, timed on the same card as mriseg's own numbers.

Prints one JSON line per configuration: train-step and forward img/s (median over timed steps, each followed by a
synchronisation, and sustained: steps queued back to back) and the peak GPU memory of a training step. Run on the GPU box: `python3 bench/pytorch_unet.py --batch 16 --size 256`.
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
        return self.conv(d1)


def dice_loss(logits, target, smooth=1.0):
    p = torch.sigmoid(logits)
    return 1 - (2 * (p * target).sum() + smooth) / (p.sum() + target.sum() + smooth)


def timed(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def sustained(fn, iters):
    """Seconds per call with calls queued back to back and one synchronisation at the end (as training runs)."""
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / iters


def run(mode, batch, size, f, warmup, iters):
    # fp32: strict FP32 (the brief's figure); tf32: PyTorch's default TF32 convolutions; fp32-bench: strict FP32
    # with cudnn.benchmark, cuDNN's own autotuning (the counterpart of mriseg's --autotune).
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.benchmark = mode == "fp32-bench"
    torch.manual_seed(0)
    model = UNet(f=f).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, size, size, device="cuda")
    y = (torch.rand(batch, 1, size, size, device="cuda") > 0.9).float()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = dice_loss(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    torch.cuda.reset_peak_memory_stats()
    t_train = timed(step, warmup, iters)
    t_train_sustained = sustained(step, iters)
    peak = torch.cuda.max_memory_allocated()
    model.eval()
    with torch.no_grad():
        t_fwd = timed(lambda: model(x), warmup, iters)
        t_fwd_sustained = sustained(lambda: model(x), iters)
    return {
        "framework": "pytorch " + torch.__version__,
        "device": torch.cuda.get_device_name(),
        "mode": mode,
        "model": "unet",
        "features": f,
        "batch": batch,
        "size": size,
        "train_step_ms": round(t_train * 1e3, 2),
        "train_img_s": round(batch / t_train, 1),
        "forward_img_s": round(batch / t_fwd, 1),
        "train_img_s_sustained": round(batch / t_train_sustained, 1),
        "forward_img_s_sustained": round(batch / t_fwd_sustained, 1),
        "peak_train_mib": round(peak / 2**20, 1),
        "params": sum(p.numel() for p in model.parameters()),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--modes", default="fp32,tf32,fp32-bench")
    a = ap.parse_args()
    for m in a.modes.split(","):
        print(json.dumps(run(m, a.batch, a.size, a.features, a.warmup, a.iters)), flush=True)
