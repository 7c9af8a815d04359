#!/usr/bin/python3
"""losses_ref.py — PyTorch reference values for tests/test_losses.c.

Writes tests/fixtures/ref/losses.bin: the inputs of a small P x K batch with
new_whale rows, and for each loss (written here in torch directly from its
definition in src/loss.h) the mean loss and its gradients with respect to the
embeddings and the class weights, from autograd in float64 on the float32
inputs. Deterministic; rerun with `/usr/bin/python3 tests/ref/losses_ref.py`.

File format (little-endian): magic b"FWLOSREF", u32 version, u32 tensor count,
then per tensor: u32 name length, name (ASCII), u32 dtype (0 float32,
1 int32, 2 float64), u32 ndim, i64 dims[ndim], the data in row-major order.
"""
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

MAGIC = b"FWLOSREF"
VERSION = 1
NEW_WHALE = -1

P, K, NEW, D, C, SUB = 4, 3, 2, 16, 10, 3


def make_inputs():
    g = torch.Generator().manual_seed(20261129)
    classes = torch.randperm(C, generator=g)[:P]
    base = torch.randn(P, D, generator=g)
    rows, labels = [], []
    for p in range(P):
        for _ in range(K):
            rows.append(base[p] + 0.6 * torch.randn(D, generator=g))
            labels.append(int(classes[p]))
    for _ in range(NEW):
        rows.append(torch.randn(D, generator=g))
        labels.append(NEW_WHALE)
    order = torch.randperm(len(rows), generator=g)
    emb = torch.stack(rows)[order].float() * 1.7
    labels = torch.tensor(labels, dtype=torch.int32)[order]
    w_soft = (torch.rand(C, D, generator=g) * 2 - 1) / math.sqrt(D)
    b_soft = (torch.rand(C, generator=g) * 2 - 1) / math.sqrt(D)
    # Plain ArcFace weights: class[0] points away from its whale's cluster (so
    # theta + m > pi on those rows: the fallback branch), class[1] towards it.
    w_arc1 = torch.randn(C, D, generator=g)
    w_arc1[classes[0]] = -base[0] + 0.05 * torch.randn(D, generator=g)
    w_arc1[classes[1]] = base[1] + 0.05 * torch.randn(D, generator=g)
    w_arc3 = torch.randn(C * SUB, D, generator=g) * 0.3
    return (emb.float(), labels, w_soft.float(), b_soft.float(), w_arc1.float(), w_arc3.float())


def softmax_ce(emb, labels, w, b, eps):
    logits = emb @ w.T + (b if b is not None else 0)
    return F.cross_entropy(logits, labels, ignore_index=NEW_WHALE, label_smoothing=eps)


def arcface(emb, labels, w, s, m, k, eps, branches=None):
    e = F.normalize(emb, dim=1)
    wn = F.normalize(w, dim=1)
    cos_all = e @ wn.T
    n = emb.shape[0]
    cos = cos_all.view(n, -1, k).max(dim=2).values
    known = labels >= 0
    th, mm = math.cos(math.pi - m), math.sin(math.pi - m) * m
    sine = torch.sqrt((1.0 - cos * cos).clamp(0, 1))
    phi = torch.where(cos > th, cos * math.cos(m) - sine * math.sin(m), cos - mm)
    onehot = F.one_hot(labels.clamp(min=0), cos.shape[1]).bool() & known[:, None]
    if branches is not None:
        tgt = cos[onehot]
        branches.append((int((tgt > th).sum()), int((tgt <= th).sum())))
    logits = s * torch.where(onehot, phi, cos)
    return F.cross_entropy(logits, labels, ignore_index=NEW_WHALE, label_smoothing=eps)


def distances(emb):
    e = F.normalize(emb, dim=1)
    diff = e[:, None, :] - e[None, :, :]
    d2 = (diff * diff).sum(-1)
    return d2, d2.clamp_min(1e-12).sqrt()


def triplet(emb, labels, margin, soft, stats=None):
    _, d = distances(emb)
    lab = labels.tolist()
    n = len(lab)
    terms = []
    for i in range(n):
        if lab[i] < 0:
            continue
        pos = [j for j in range(n) if j != i and lab[j] == lab[i]]
        neg = [j for j in range(n) if lab[j] != lab[i]]
        if not pos or not neg:
            continue
        dv = d[i].detach()
        p = max(pos, key=lambda j: float(dv[j]))
        q = min(neg, key=lambda j: float(dv[j]))
        x = d[i, p] - d[i, q]
        terms.append(F.softplus(x) if soft else F.relu(x + margin))
    loss = torch.stack(terms).mean()
    if stats is not None:
        stats.append(sum(int(t.item() > 0) for t in terms))
    return loss


def contrastive(emb, labels, margin):
    d2, d = distances(emb)
    lab = labels.tolist()
    n = len(lab)
    terms = []
    for i in range(n):
        for j in range(i + 1, n):
            if lab[i] >= 0 and lab[i] == lab[j]:
                terms.append(d2[i, j])
            else:
                terms.append(F.relu(margin - d[i, j]) ** 2)
    return torch.stack(terms).mean()


def grads_of(fn, *tensors):
    leaves = [t.double().clone().requires_grad_(True) for t in tensors]
    loss = fn(*leaves)
    loss.backward()
    return [loss.detach()] + [t.grad for t in leaves]


def main():
    emb, labels, w_soft, b_soft, w_arc1, w_arc3 = make_inputs()
    lab = labels.long()
    out = [("emb", emb), ("labels", labels), ("softmax.weight", w_soft), ("softmax.bias", b_soft),
           ("arcface1.weight", w_arc1), ("arcface3.weight", w_arc3)]

    def add(prefix, values, names):
        for name, v in zip(names, values):
            out.append((prefix + "." + name, v.double().reshape(-1) if v.dim() == 0 else v.double()))

    add("softmax_ls", grads_of(lambda e, w, b: softmax_ce(e, lab, w, b, 0.1), emb, w_soft, b_soft),
        ["loss", "d_emb", "d_weight", "d_bias"])
    add("softmax_nobias", grads_of(lambda e, w: softmax_ce(e, lab, w, None, 0.0), emb, w_soft),
        ["loss", "d_emb", "d_weight"])
    branches = []
    add("arcface", grads_of(lambda e, w: arcface(e, lab, w, 30.0, 0.5, 1, 0.0, branches),
                            emb, w_arc1), ["loss", "d_emb", "d_weight"])
    assert branches[0][0] > 0 and branches[0][1] > 0, branches  # both phi branches in use
    add("subcenter", grads_of(lambda e, w: arcface(e, lab, w, 16.0, 0.3, SUB, 0.1), emb, w_arc3),
        ["loss", "d_emb", "d_weight"])
    stats = []
    add("triplet", grads_of(lambda e: triplet(e, lab, 0.3, False, stats), emb), ["loss", "d_emb"])
    assert 0 < stats[0] < P * K, stats  # some anchors satisfied, some not
    add("triplet_soft", grads_of(lambda e: triplet(e, lab, 0.0, True), emb), ["loss", "d_emb"])
    add("contrastive", grads_of(lambda e: contrastive(e, lab, 1.0), emb), ["loss", "d_emb"])

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "ref",
                        "losses.bin")
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<II", VERSION, len(out)))
        for name, t in out:
            a = t.detach().numpy()
            dtype = {np.dtype("float32"): 0, np.dtype("int32"): 1, np.dtype("float64"): 2}[a.dtype]
            nb = name.encode("ascii")
            f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<II", dtype, a.ndim))
            f.write(struct.pack("<%dq" % a.ndim, *a.shape))
            f.write(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())
    print("wrote %s (%d tensors, %d bytes); arcface branches %s, triplet active %d" %
          (os.path.normpath(path), len(out), os.path.getsize(path), branches[0], stats[0]))


if __name__ == "__main__":
    main()
