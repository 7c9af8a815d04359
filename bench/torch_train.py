#!/usr/bin/python3
"""torch_train.py — the PyTorch peer of bench/bench_train.c: training and inference
images/s of the flukewatch model (tests/ref/fwmodel.py: ResNet + GeM neck) on the CPU
or a CUDA GPU.

    python3 bench/torch_train.py [--arch 18] [--threads 2] [--batch 32]
        [--height 128] [--width 256] [--channels 1] [--dim 512] [--iters 8] [--warmup 2]
        [--device cpu|cuda[:N]] [--precision fp32|bf16|fp16]

On a GPU, bf16/fp16 is eager PyTorch AMP: the forward under torch.autocast with
that dtype (fp16 with torch.cuda.amp.GradScaler), fp32 master weights; every
step ends with torch.cuda.synchronize() so its wall time is its cost.

Training step = zero grads + forward (train mode) + loss-free backward from a fixed
d_embedding (torch.autograd.backward(emb, grad), the same work as a loss's gradient)
+ torch.optim.SGD step (lr 1e-4, momentum 0.9, weight decay 5e-4 on the conv and fc
weights, none on 1-d tensors: BN, biases, GeM p; flukewatch's FW_PARAM_NO_DECAY set).
Inference = eval mode under torch.no_grad.
Each is measured in the default (NCHW) and in channels-last memory format; one line
per measurement, `key=value` fields (the mean over --iters steps and the fastest
step, best_*), then a `torch best` line with the faster format of each.
"""
import argparse
import contextlib
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
import fwmodel  # noqa: E402


def measure(fn, iters, warmup):
    """Total seconds of `iters` calls and the fastest call's seconds."""
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    fastest = float("inf")
    for _ in range(iters):
        tb = time.perf_counter()
        fn()
        fastest = min(fastest, time.perf_counter() - tb)
    return time.perf_counter() - t0, fastest


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", type=int, default=18)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--iters", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--channels", type=int, default=1, choices=(1, 3))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    amp = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[a.precision]
    if amp is not None and dev.type != "cuda":
        sys.exit("torch_train.py: --precision %s needs --device cuda" % a.precision)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        print("# torch %s on %s, AMP %s" % (torch.__version__, torch.cuda.get_device_name(dev),
                                           a.precision), flush=True)
    scaler = torch.cuda.amp.GradScaler() if amp == torch.float16 else None

    def autocast():
        if amp is None:
            return contextlib.nullcontext()
        return torch.autocast(dev.type, dtype=amp)
    best = {}
    fbest = {}
    for fmt_name, fmt in (("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)):
        model = fwmodel.FwModel(a.arch, a.channels, 1.0, a.dim, gem=True).to(dev, memory_format=fmt)
        x = torch.randn(a.batch, a.channels, a.height, a.width).to(dev, memory_format=fmt)
        g = torch.randn(a.batch, a.dim, device=dev)
        decay = [p for p in model.parameters() if p.dim() > 1]
        no_decay = [p for p in model.parameters() if p.dim() <= 1]
        opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4},
                               {"params": no_decay, "weight_decay": 0.0}],
                              lr=1e-4, momentum=0.9)

        def train_step():
            model.train()
            opt.zero_grad(set_to_none=True)
            with autocast():
                emb = model(x)
            if scaler is not None:
                torch.autograd.backward(scaler.scale(emb.float()), g)
                scaler.step(opt)
                scaler.update()
            else:
                torch.autograd.backward(emb, g)
                opt.step()
            synchronize(dev)

        def infer_step():
            model.eval()
            with torch.no_grad(), autocast():
                model(x)
            synchronize(dev)

        for kind, fn in (("train", train_step), ("infer", infer_step)):
            s, fastest = measure(fn, a.iters, a.warmup)
            ips = a.iters * a.batch / s
            print("torch kind=%s format=%s threads=%d batch=%d images_per_s=%.2f ms_per_batch=%.1f"
                  " best_images_per_s=%.2f best_ms_per_batch=%.1f"
                  % (kind, fmt_name, a.threads, a.batch, ips, 1000 * s / a.iters,
                     a.batch / fastest, 1000 * fastest), flush=True)
            if ips > best.get(kind, (0, ""))[0]:
                best[kind] = (ips, fmt_name)
            if a.batch / fastest > fbest.get(kind, 0):
                fbest[kind] = a.batch / fastest
    print("torch best train_images_per_s=%.2f train_format=%s infer_images_per_s=%.2f infer_format=%s"
          " train_best_batch_images_per_s=%.2f infer_best_batch_images_per_s=%.2f"
          % (best["train"][0], best["train"][1], best["infer"][0], best["infer"][1],
             fbest["train"], fbest["infer"]))


if __name__ == "__main__":
    main()
