#!/usr/bin/python3
"""learner_ref.py — end-to-end PyTorch references for tests/test_learner_ref.c:
the tiny flukewatch model (fwmodel.py) with each head, two SGD steps.

    /usr/bin/python3 tests/ref/learner_ref.py [OUT_DIR]   (default tests/fixtures/ref)

Per case (one file learner_<case>.bin): a ResNet-18 of base width 1 (1 input
channel, GeM, D 16; 3.1k parameters, so six cases of every gradient and every
final tensor fit in ~230 KB — base width 2 would need ~660 KB) with weights from the shared test pattern
(fwmodel.set_pattern_weights(seed): the C test generates the same values, so they
are not stored) and a head whose tensors are stored ("init.head.*"), on a P x K
batch with new_whale rows (labels -1: skipped by the classification losses,
negatives for the pair losses, as src/loss.h says). The losses are those of
tests/ref/losses_ref.py (written from src/loss.h's definitions). Then, as
fw_learner_step does with a constant schedule and no clipping:

    step 1 on batch x1: forward (train: BN batch statistics, running stats
        updated), loss = sum_t weight_t * loss_t, backward, SGD step
    step 2 on batch x2: the same

SGD: lr LR, momentum 0.9, no Nesterov, dampening 0, weight decay WD except on
FW_PARAM_NO_DECAY tensors (1-d: BN weights/biases, biases, GeM p; the head's
classifier bias), head tensors at lr * HEAD_LR_MULT (four torch param groups).
Everything runs in float64 on the fp32 inputs/weights (the exact answer the C
fp32 code approximates). Seeds are tried from the case's seed up until every
ReLU input / max-pool tie is KINK_MARGIN from its kink (model_ref.kink_hooks),
the losses' arg max / hinge branch points are LOSS_MARGIN from theirs, and
PyTorch's own fp32 runs (contiguous and channels_last: two sets of kernels, two
roundings) are within FP32_WORST of the float64 one on every compared tensor, the
changes of the weights over the two steps included (so the fixture tests
arithmetic, not coin flips or ill-conditioned sums). Written, as fp32:

    cfg.seed, cfg.batch, cfg.height, cfg.width_px, cfg.dim, cfg.classes, cfg.width
    labels           (N)     class index or -1
    (x1, x2          not stored: pattern_uniform(seed, 1000 / 1002, N*H*W))
    init.NAME        the head's tensors before training
    emb1             (N, D)  step 1's embedding (train mode)
    d_emb1           (N, D)  dLoss/demb of step 1
    loss1, loss2     (1)     the two steps' losses
    grad.NAME        step 1's gradient of every model and head parameter
    final.NAME       every model and head tensor after the two steps (params and
                     BN buffers: running stats, num_batches_tracked)

File format (little endian): magic "FWREFLRN", u32 version (1), u32 count, then per
tensor: u32 name length, name bytes, u32 ndim, i64 dims[ndim], f32 data[numel]
(the layout of model_ref.py's files). Deterministic: rerunning writes identical files.
"""
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwmodel  # noqa: E402
import losses_ref  # noqa: E402
import model_ref  # noqa: E402

MAGIC = b"FWREFLRN"
VERSION = 1

ARCH, BASE, CIN, H, W, D, C = 18, 1, 1, 32, 64, 16, 6
# P = 4 whales x K = 2 images + 2 new_whale rows, interleaved
LABELS = [0, 3, 0, -1, 2, 3, 1, 2, -1, 1]
N = len(LABELS)
LR, MOMENTUM, WD, HEAD_LR_MULT = 0.02, 0.9, 0.01, 4.0
KINK_MARGIN = 1e-5
LOSS_MARGIN = 1e-4
FP32_WORST = 2e-5

# name, seed, terms: (kind, weight, options)
CASES = [
    ("softmax", 101, [("softmax", 1.0, {"eps": 0.1})]),
    ("arcface", 201, [("arcface", 1.0, {"s": 16.0, "m": 0.3, "k": 1, "eps": 0.0})]),
    ("subcenter", 301, [("arcface", 1.0, {"s": 16.0, "m": 0.3, "k": 3, "eps": 0.1})]),
    ("triplet", 401, [("triplet", 1.0, {"margin": 0.3})]),
    ("contrastive", 501, [("contrastive", 1.0, {"margin": 1.0})]),
    ("arcface_triplet", 601, [("arcface", 1.0, {"s": 16.0, "m": 0.3, "k": 2, "eps": 0.0}),
                              ("triplet", 0.5, {"margin": 0.3})]),
]


def head_init(terms, seed):
    """The head's tensors (the C head's names and shapes), from the test pattern."""
    out = []
    for kind, _, o in terms:
        if kind == "softmax":
            b = 1.0 / math.sqrt(D)
            out.append(("head.classifier.weight",
                        fwmodel.pattern_uniform(seed, 501, C * D).reshape(C, D) * np.float32(b)))
            out.append(("head.classifier.bias",
                        fwmodel.pattern_uniform(seed, 502, C) * np.float32(b)))
    for kind, _, o in terms:
        if kind == "arcface":
            rows = C * o["k"]
            b = math.sqrt(6.0 / (D + rows))
            out.append(("head.arcface.weight",
                        fwmodel.pattern_uniform(seed, 503, rows * D).reshape(rows, D) *
                        np.float32(b)))
    return [(k, np.ascontiguousarray(v, dtype=np.float32)) for k, v in out]


def loss_margin(emb, labels, head, terms):
    """The smallest distance of a loss's branch point (relative): the triplet's
    hardest positive / negative against the runner-up and its hinge against 0,
    the sub-centre arg max, ArcFace's cos > th switch."""
    e = torch.nn.functional.normalize(emb.detach(), dim=1)
    m = [1.0]
    lab = labels.tolist()
    for kind, _, o in terms:
        if kind == "triplet":
            d = torch.cdist(e, e)
            for i in range(N):
                if lab[i] < 0:
                    continue
                pos = sorted(float(d[i, j]) for j in range(N) if j != i and lab[j] == lab[i])
                neg = sorted(float(d[i, j]) for j in range(N) if lab[j] != lab[i])
                if len(pos) > 1:
                    m.append(pos[-1] - pos[-2])
                if len(neg) > 1:
                    m.append(neg[1] - neg[0])
                m.append(abs(pos[-1] - neg[0] + o["margin"]))
        if kind == "arcface":
            w = torch.nn.functional.normalize(head["head.arcface.weight"].detach(), dim=1)
            cos = (e @ w.T).view(N, C, o["k"])
            if o["k"] > 1:
                top = cos.topk(2, dim=2).values
                m.append(float((top[..., 0] - top[..., 1]).min()))
            th = math.cos(math.pi - o["m"])
            m.append(float((cos.max(dim=2).values - th).abs().min()))
    return min(m)


def head_loss(emb, labels, head, terms):
    total = 0
    for kind, weight, o in terms:
        if kind == "softmax":
            t = losses_ref.softmax_ce(emb, labels, head["head.classifier.weight"],
                                      head["head.classifier.bias"], o["eps"])
        elif kind == "arcface":
            t = losses_ref.arcface(emb, labels, head["head.arcface.weight"], o["s"], o["m"],
                                   o["k"], o["eps"])
        elif kind == "triplet":
            t = losses_ref.triplet(emb, labels, o["margin"], False)
        else:
            t = losses_ref.contrastive(emb, labels, o["margin"])
        total = total + weight * t
    return total


def run(seed, terms, dtype, check_margins=False, channels_last=False):
    """Two training steps; returns a dict of everything the fixture holds, plus the
    smallest kink / branch margins seen."""
    torch.manual_seed(0)
    model = fwmodel.FwModel(ARCH, CIN, BASE / 64.0, D, True)
    fwmodel.set_pattern_weights(model, seed)
    model = model.to(dtype)
    if channels_last:  # other conv kernels: other fp32 rounding
        model = model.to(memory_format=torch.channels_last)
    model.train()
    head = {k: torch.tensor(v, dtype=dtype, requires_grad=True)
            for k, v in head_init(terms, seed)}
    labels = torch.tensor(LABELS, dtype=torch.long)
    init = {k: p.detach().clone() for k, p in list(model.named_parameters()) + list(head.items())}
    groups = [[], [], [], []]  # model decay, model no-decay, head decay, head no-decay
    for _, p in model.named_parameters():
        groups[1 if p.dim() == 1 else 0].append(p)
    for k, p in head.items():
        groups[3 if k.endswith(".bias") else 2].append(p)
    opt = torch.optim.SGD([{"params": g, "lr": LR * (HEAD_LR_MULT if i >= 2 else 1.0),
                            "weight_decay": 0.0 if i % 2 else WD}
                           for i, g in enumerate(groups) if g],
                          lr=LR, momentum=MOMENTUM, nesterov=False, dampening=0)
    out, margins = {}, []
    for step, index in ((1, 1000), (2, 1002)):
        x = torch.from_numpy(fwmodel.pattern_uniform(seed, index, N * CIN * H * W)
                             .reshape(N, CIN, H, W)).to(dtype)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        opt.zero_grad()
        hooks = model_ref.kink_hooks(model, margins) if check_margins else []
        emb = model(x)
        for hk in hooks:
            hk.remove()
        emb.retain_grad()
        loss = head_loss(emb, labels, head, terms)
        if check_margins:
            margins.append(loss_margin(emb, labels, head, terms) / LOSS_MARGIN * KINK_MARGIN)
        loss.backward()
        out["loss%d" % step] = loss.detach().reshape(1)
        if step == 1:
            out["emb1"] = emb.detach()
            out["d_emb1"] = emb.grad.detach()
            for k, p in model.named_parameters():
                out["grad." + k] = p.grad.detach().clone()
            for k, p in head.items():
                out["grad." + k] = p.grad.detach().clone()
        opt.step()
    for k, t in model.state_dict().items():
        out["final." + k] = t.detach().clone()
    for k, p in head.items():
        out["final." + k] = p.detach().clone()
    # the two steps' change of each parameter (compared, not stored: the C test
    # subtracts the initial weights it generated)
    for k, p in list(model.named_parameters()) + list(head.items()):
        out["update." + k] = p.detach() - init[k]
    return out, (min(margins) if margins else None)


def group_floor(ref, key):
    """The floor for tensors that are (nearly) zero: a fraction of the largest norm
    among the tensors of key's group (grad., final., update.): 1e-3, but 1e-2 for
    gradients. (A gradient that BN makes nearly zero is a sum over the whole batch
    that cancels: with base width 1, layer2.0.downsample.0.weight (2, 1, 1, 1) feeds
    each BN channel one input scaled by one weight, so BN undoes the weight and its
    gradient is ~1e-6 of the largest, only BN's eps away from 0; fp32's rounding
    noise on it is ~1e-7 of the largest.)"""
    g = key.split(".")[0]
    frac = 1e-2 if g == "grad" else 1e-3
    return frac * max(v.double().norm().item() for n, v in ref.items() if n.split(".")[0] == g)


def floor_of(ref, key):
    """group_floor, and for an update also 1e-2 x the norm of the weights it
    changed: fp32 weights hold the update only to their own rounding (a GeM p of
    3 moved by 1e-4 keeps ~4 digits of the move), so an update is compared to
    1e-6 of its weights' norm (~16 fp32 ulps) at best."""
    f = group_floor(ref, key)
    if key.startswith("update."):
        f = max(f, 1e-2 * ref["final." + key[7:]].double().norm().item())
    return f


def worst_rel(a, b):
    """The worst ||a - b|| / max(||b||, floor) over b's tensors (the C test's measure)."""
    worst = 0.0
    for k in b:
        ref = b[k].double()
        err = (a[k].double() - ref).norm().item() / max(ref.norm().item(), floor_of(b, k), 1e-30)
        worst = max(worst, err)
    return worst


def make_case(case):
    name, seed0, terms = case
    for seed in range(seed0, seed0 + 400):
        exact, margin = run(seed, terms, torch.float64, check_margins=True)
        if margin < KINK_MARGIN:
            continue
        worst32 = 0.0
        for cl in (False, True):
            f32, _ = run(seed, terms, torch.float32, channels_last=cl)
            worst32 = max(worst32, worst_rel(f32, exact))
        if worst32 <= FP32_WORST:
            break
    else:
        raise SystemExit("%s: no seed in [%d, %d) is kink-free and well conditioned" %
                         (name, seed0, seed0 + 400))
    print("%s: seed %d (tried %d), smallest kink distance %.2g, PyTorch fp32 worst rel "
          "err %.2g, losses %.6g %.6g" % (name, seed, seed - seed0 + 1, margin, worst32,
                                          exact["loss1"].item(), exact["loss2"].item()))
    t = [("cfg.seed", [seed]), ("cfg.batch", [N]), ("cfg.height", [H]), ("cfg.width_px", [W]),
         ("cfg.dim", [D]), ("cfg.classes", [C]), ("cfg.width", [BASE]), ("labels", LABELS)]
    t = [(k, np.array(v, dtype=np.float32)) for k, v in t]
    t += [("init." + k, v) for k, v in head_init(terms, seed)]
    t += [(k, v.numpy().astype(np.float32)) for k, v in exact.items()
          if not k.startswith("update.")]
    return name, t


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "fixtures", "ref")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    for case in CASES:
        name, tensors = make_case(case)
        path = os.path.join(out_dir, "learner_%s.bin" % name)
        with open(path, "wb") as f:
            f.write(MAGIC)
            f.write(struct.pack("<II", VERSION, len(tensors)))
            for tname, arr in tensors:
                arr = np.ascontiguousarray(arr, dtype="<f4")
                nb = tname.encode()
                f.write(struct.pack("<I", len(nb)))
                f.write(nb)
                f.write(struct.pack("<I", arr.ndim))
                f.write(struct.pack("<%dq" % arr.ndim, *arr.shape))
                f.write(arr.tobytes())
        print("%s: %d tensors, %d bytes" % (os.path.normpath(path), len(tensors),
                                            os.path.getsize(path)))


if __name__ == "__main__":
    main()
