#!/usr/bin/python3
"""optim_ref.py — reference values for the optimizer, clipping, schedules and
LR finder, written to tests/fixtures/ref/optim.bin.

Run from the repository root with Debian's python3 (torch 1.13, numpy):
    /usr/bin/python3 tests/ref/optim_ref.py
Deterministic (fixed seeds); rerunning rewrites the same bytes.

File format (little endian):
    magic  b"FWOPTREF"   8 bytes
    version u32 (= 1), count u32
    count records: name_len u16, name bytes, dtype u8 (0 = f32, 1 = f64),
                   ndim u8, dims u32[ndim], data (prod dims elements)

Sources of truth:
  * torch.optim.SGD / torch.optim.AdamW (foreach=False) with one param group
    per (decay, head) combination, lr and momentum/beta1 changed every step;
  * torch.nn.utils.clip_grad_norm_;
  * torch's CosineAnnealingLR (closed form), CosineAnnealingWarmRestarts,
    StepLR;
  * fastai's combined_cos / SchedCos, fit_one_cycle defaults and lr_find
    suggestions (valley, steep, minimum), reimplemented here in numpy from
    fastai/callback/schedule.py because fastai is not installed.
"""
import math
import os
import struct
import sys

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "ref", "optim.bin")
records = []


def put(name, arr, dtype=np.float32):
    a = np.array(arr, dtype=dtype, copy=True)  # a copy: torch tensors change in place later
    records.append((name, a))


# ---------------------------------------------------------------- optimizers
# name, shape, flags (1 = no decay, 2 = head); FW_PARAM_* values of src/param.h
PARAMS = [
    ("conv.weight", (4, 3, 2, 2), 0),
    ("bn.weight", (4,), 1),
    ("bn.bias", (4,), 1),
    ("fc.weight", (5, 4), 0),
    ("head.weight", (3, 5), 2),
    ("head.bias", (3,), 3),
]
STEPS = 5
HEAD_MULT = 3.0
HYPER = [(0.05, 0.9), (0.08, 0.88), (0.1, 0.85), (0.03, 0.9), (0.01, 0.95)]  # (lr, momentum)

gen = torch.Generator().manual_seed(1234)
init = {n: torch.randn(s, generator=gen) for n, s, _ in PARAMS}
grads = [{n: torch.randn(s, generator=gen) for n, s, _ in PARAMS} for _ in range(STEPS)]
for n, s, f in PARAMS:
    put("init." + n, init[n])
    put("flags." + n, [f])
    for k in range(STEPS):
        put("grad.%d.%s" % (k, n), grads[k][n])
put("hyper", HYPER, np.float64)
put("head_mult", [HEAD_MULT], np.float64)

CASES = [
    # name, kind, weight decay, nesterov, scale of adam lr
    ("sgd", "sgd", 1e-2, False),
    ("nesterov", "sgd", 5e-3, True),
    ("adamw", "adamw", 5e-2, False),
]
for case, kind, wd, nesterov in CASES:
    params = {n: init[n].clone().requires_grad_(True) for n, _, _ in PARAMS}
    groups = []
    for decay in (True, False):
        for head in (False, True):
            ps = [params[n] for n, _, f in PARAMS if bool(f & 1) != decay and bool(f & 2) == head]
            if ps:
                groups.append({"params": ps, "weight_decay": wd if decay else 0.0,
                               "mult": HEAD_MULT if head else 1.0})
    if kind == "sgd":
        opt = torch.optim.SGD([{"params": g["params"], "weight_decay": g["weight_decay"]} for g in groups],
                              lr=0.1, momentum=0.9, nesterov=nesterov, foreach=False)
    else:
        opt = torch.optim.AdamW([{"params": g["params"], "weight_decay": g["weight_decay"]} for g in groups],
                                lr=1e-3, betas=(0.9, 0.999), eps=1e-8, foreach=False)
    put(case + ".weight_decay", [wd], np.float64)
    for k in range(STEPS):
        lr, mom = HYPER[k]
        if kind == "adamw":
            lr = lr / 10  # AdamW-sized steps
        for pg, g in zip(opt.param_groups, groups):
            pg["lr"] = lr * g["mult"]
            if kind == "sgd":
                pg["momentum"] = mom
            else:
                pg["betas"] = (mom, 0.999)
        for n, _, _ in PARAMS:
            params[n].grad = grads[k][n].clone()
        opt.step()
        for n, _, _ in PARAMS:
            p = params[n]
            put("%s.%d.%s" % (case, k, n), p.detach())
            st = opt.state[p]
            if kind == "sgd":
                put("%s.%d.optim.%s.momentum_buffer" % (case, k, n), st["momentum_buffer"])
            else:
                put("%s.%d.optim.%s.exp_avg" % (case, k, n), st["exp_avg"])
                put("%s.%d.optim.%s.exp_avg_sq" % (case, k, n), st["exp_avg_sq"])
                put("%s.%d.optim.%s.step" % (case, k, n), [float(st["step"])])

# ---------------------------------------------------------------- clipping
for c, max_norm in enumerate((0.5, 1e3)):
    ts = [torch.randn(s, generator=gen) * 0.3 for _, s, _ in PARAMS]
    ps = []
    for t in ts:
        p = torch.zeros_like(t, requires_grad=True)
        p.grad = t.clone()
        ps.append(p)
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    put("clip.%d.max_norm" % c, [max_norm], np.float64)
    put("clip.%d.total" % c, [float(total)], np.float64)
    for (n, _, _), t, p in zip(PARAMS, ts, ps):
        put("clip.%d.before.%s" % (c, n), t)
        put("clip.%d.after.%s" % (c, n), p.grad)

# ---------------------------------------------------------------- schedules
def sched_cos(start, end, pos):  # fastai SchedCos
    return start + (1 + np.cos(np.pi * (1 - pos))) * (end - start) / 2


def combined_cos(pct, start, middle, end, pos):  # fastai combine_scheds([pct, 1-pct], ...)
    pcts = np.array([0.0, pct, 1.0])
    idx = min(int(np.nonzero(pos >= pcts)[0].max()), 1)
    actual = (pos - pcts[idx]) / (pcts[idx + 1] - pcts[idx])
    return sched_cos(*((start, middle) if idx == 0 else (middle, end)), actual)


def one_cycle(lr_max, total, div=25.0, div_final=1e5, pct=0.25, moms=(0.95, 0.85, 0.95)):
    lrs, ms = [], []
    for s in range(total):  # fastai's pct_train = iteration / total iterations
        pos = s / total
        lrs.append(combined_cos(pct, lr_max / div, lr_max, lr_max / div_final, pos))
        ms.append(combined_cos(pct, *moms, pos))
    return np.array(lrs), np.array(ms)


lr, mom = one_cycle(1e-2, 200)
put("sched.onecycle.lr", lr, np.float64)
put("sched.onecycle.mom", mom, np.float64)
# one-cycle after a 20-step linear warm-up (start factor 0.1), total 220
W, F = 20, 0.1
wl = [lr[0] * (F + (1 - F) * s / W) for s in range(W)]
put("sched.warm_onecycle.lr", np.concatenate([wl, lr]), np.float64)
put("sched.warm_onecycle.mom", np.concatenate([[mom[0]] * W, mom]), np.float64)


def torch_lrs(make, steps, closed_form):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sch = make(opt)
    out = []
    for s in range(steps):
        if closed_form:
            sch.last_epoch = s
            out.append(sch._get_closed_form_lr()[0])
        else:
            sch.step(s)
            out.append(opt.param_groups[0]["lr"])
    return np.array(out)


put("sched.cosine.lr", torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 100, eta_min=1e-5),
                                  101, True), np.float64)
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    put("sched.sgdr2.lr", torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        o, T_0=10, T_mult=2, eta_min=1e-4), 160, False), np.float64)
    put("sched.sgdr1.lr", torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        o, T_0=7, T_mult=1, eta_min=0.0), 50, False), np.float64)
put("sched.step.lr", torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5),
                               40, True), np.float64)

# ---------------------------------------------------------------- LR finder
def fastai_suggest(lrs, losses, num_it):
    """fastai lr_find's slicing and its valley / steep / minimum, on float32."""
    lrs = np.asarray(lrs, np.float32)[num_it // 10:-5]
    losses = np.asarray(losses, np.float32)[num_it // 10:-5]
    begin = num_it // 10
    nan = np.nonzero(np.isnan(losses))[0]
    if len(nan):
        lrs, losses = lrs[:nan[0]], losses[:nan[0]]
    n = len(losses)
    # valley
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    vidx = max_start + int(sections) + int(sections / 2)
    vidx = vidx % n  # Python negative index
    # steep
    grads = (losses[1:] - losses[:-1]) / (np.log(lrs[1:]) - np.log(lrs[:-1]))
    sidx = int(np.argmin(grads))
    midx = int(np.argmin(losses))
    return [float(lrs[vidx]), float(lrs[sidx]), float(lrs[midx]) / 10,
            begin + vidx, begin + sidx, begin + midx]


rng = np.random.default_rng(7)
curves = []
num_it = 100
lrs = 1e-7 * (10 / 1e-7) ** (np.arange(num_it) / (num_it - 1))
x = np.log10(lrs)
base = 2.3 - 1.5 / (1 + np.exp(-(x + 3.5) * 2.0)) + 0.02 * np.maximum(x + 1.5, 0) ** 4
curves.append(("classic", lrs, base + rng.normal(0, 0.01, num_it), num_it))
nan_curve = base.copy()
nan_curve[70:] = np.nan
curves.append(("nan", lrs, nan_curve, num_it))
curves.append(("noisy", lrs, 1.0 + rng.normal(0, 0.05, num_it), num_it))
curves.append(("early", lrs[:40], (base + rng.normal(0, 0.01, num_it))[:40], num_it))
curves.append(("short", lrs[:18], np.concatenate([np.ones(10) * 9, [3, 2, 5], np.ones(5) * 9]), num_it))
curves.append(("decreasing", lrs, 1 + 2 * np.exp(-np.arange(num_it) / 30.0), num_it))
curves.append(("flat", lrs, np.ones(num_it), num_it))
lrs50 = 1e-5 * (1 / 1e-5) ** (np.arange(50) / 49)
curves.append(("fifty", lrs50, 1.5 - np.sin(np.linspace(0, 3, 50)) + rng.normal(0, 0.02, 50), 50))
put("lrf.count", [len(curves)], np.float64)
for k, (name, l, s, it) in enumerate(curves):
    put("lrf.%d.lrs" % k, l, np.float64)
    put("lrf.%d.smoothed" % k, s, np.float64)
    put("lrf.%d.num_it" % k, [it], np.float64)
    put("lrf.%d.expect" % k, fastai_suggest(l, s, it), np.float64)

# ---------------------------------------------------------------- write
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "wb") as f:
    f.write(b"FWOPTREF")
    f.write(struct.pack("<II", 1, len(records)))
    for name, a in records:
        nb = name.encode()
        f.write(struct.pack("<H", len(nb)) + nb)
        f.write(struct.pack("<BB", 0 if a.dtype == np.float32 else 1, max(a.ndim, 1)))
        dims = a.shape if a.ndim else (1,)
        f.write(struct.pack("<%dI" % len(dims), *dims))
        f.write(a.astype("<f4" if a.dtype == np.float32 else "<f8").tobytes())
print("wrote %s (%d records, %d bytes)" % (os.path.normpath(OUT), len(records), os.path.getsize(OUT)))
