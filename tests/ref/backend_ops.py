#!/usr/bin/python3
"""backend_ops.py — PyTorch reference values for the CPU backend's ops.

Writes tests/fixtures/ref/backend_ops.bin (read by tests/test_backend_cpu.c):
conv2d, batch_norm (train + eval, running stats), relu, max/avg pooling,
linear, F.normalize and GeM, forward and backward, on small random shapes
(odd sizes, stride 2, padding, channel counts on and off multiples of 8/16).
References are computed in float64 and stored as float32.

File format (little endian): b"FWBK", u32 version (1), u32 entry count; per
entry: u16 name length, name (ASCII), u8 ndim, i32 dims[ndim], f32 data.
Deterministic: rerun with /usr/bin/python3 tests/ref/backend_ops.py
"""
import os
import struct
import sys

import torch
import torch.nn.functional as F

VERSION = 1
torch.manual_seed(20261129)
torch.set_default_dtype(torch.float64)
entries = []


def put(name, t):
    t = torch.as_tensor(t, dtype=torch.float64).detach()
    entries.append((name, list(t.shape), t.to(torch.float32).contiguous().numpy().tobytes()))


def rand(*shape):
    # values exactly representable in fp32, so the C side sees the same inputs
    return torch.randn(*shape).to(torch.float32).to(torch.float64)


def grads(out, inputs, dy):
    return torch.autograd.grad(out, inputs, dy)


# ---- conv2d: name, (N, C, H, W), O, k, stride, pad, bias
CONVS = [
    ("conv0", (2, 3, 9, 11), 8, 3, 1, 1, 1),
    ("conv1", (2, 16, 8, 7), 24, 3, 2, 1, 0),
    ("conv2", (3, 13, 7, 6), 17, 1, 2, 0, 1),
    ("conv3", (2, 1, 12, 10), 16, 7, 2, 3, 0),
    ("conv4", (1, 32, 4, 5), 16, 3, 1, 1, 0),
    ("conv5", (1, 64, 3, 3), 48, 1, 1, 0, 1),
]
for name, xs, o, k, s, p, has_bias in CONVS:
    x = rand(*xs).requires_grad_()
    w = (rand(o, xs[1], k, k) / (xs[1] * k * k) ** 0.5).requires_grad_()
    b = rand(o).requires_grad_() if has_bias else None
    y = F.conv2d(x, w, b, stride=s, padding=p)
    dy = rand(*y.shape)
    g = grads(y, [x, w] + ([b] if has_bias else []), dy)
    put(name + ".cfg", [o, k, s, p, has_bias])
    put(name + ".x", x); put(name + ".w", w); put(name + ".y", y); put(name + ".dy", dy)
    put(name + ".dx", g[0]); put(name + ".dw", g[1])
    if has_bias:
        put(name + ".b", b); put(name + ".db", g[2])

# ---- batch norm (momentum 0.1, eps 1e-5)
BNS = [("bn0", (4, 8, 5, 3)), ("bn1", (3, 13, 4, 4)), ("bn2", (16, 24, 1, 1)), ("bn3", (2, 32, 3, 3))]
for name, xs in BNS:
    c = xs[1]
    x = (rand(*xs) * 2 + 0.5).requires_grad_()
    gamma = (1 + 0.3 * rand(c)).requires_grad_()
    beta = (0.3 * rand(c)).requires_grad_()
    rm = 0.2 * rand(c)
    rv = 1 + 0.2 * torch.rand(c).to(torch.float32).to(torch.float64)
    put(name + ".x", x); put(name + ".gamma", gamma); put(name + ".beta", beta)
    put(name + ".rm", rm); put(name + ".rv", rv)
    rm_t, rv_t = rm.clone(), rv.clone()
    y = F.batch_norm(x, rm_t, rv_t, gamma, beta, training=True, momentum=0.1, eps=1e-5)
    dy = rand(*xs)
    g = grads(y, [x, gamma, beta], dy)
    put(name + ".y", y); put(name + ".rm_after", rm_t); put(name + ".rv_after", rv_t)
    put(name + ".dy", dy); put(name + ".dx", g[0]); put(name + ".dgamma", g[1]); put(name + ".dbeta", g[2])
    ye = F.batch_norm(x, rm, rv, gamma, beta, training=False, eps=1e-5)
    g = grads(ye, [x, gamma, beta], dy)
    put(name + ".y_eval", ye); put(name + ".dx_eval", g[0])
    put(name + ".dgamma_eval", g[1]); put(name + ".dbeta_eval", g[2])

# ---- relu
x = rand(2, 13, 5, 6).requires_grad_()
y = F.relu(x)
dy = rand(*y.shape)
put("relu.x", x); put("relu.y", y); put("relu.dy", dy); put("relu.dx", grads(y, [x], dy)[0])

# ---- pooling: name, (N, C, H, W), kind (0 max, 1 avg), k, stride, pad, global
POOLS = [
    ("pool0", (1, 16, 9, 11), 0, 3, 2, 1, 0),
    ("pool1", (2, 13, 7, 7), 0, 2, 2, 0, 0),
    ("pool2", (1, 16, 9, 8), 1, 3, 2, 1, 0),
    ("pool3", (2, 13, 7, 5), 1, 2, 2, 0, 0),
    ("pool4", (2, 24, 5, 7), 1, 0, 0, 0, 1),
    ("pool5", (2, 8, 6, 6), 0, 3, 1, 1, 0),
]
for name, xs, kind, k, s, p, glob in POOLS:
    x = rand(*xs).requires_grad_()
    if glob:
        y = F.avg_pool2d(x, (xs[2], xs[3]))
    elif kind == 0:
        y = F.max_pool2d(x, k, s, p)
    else:
        y = F.avg_pool2d(x, k, s, p)  # count_include_pad=True
    dy = rand(*y.shape)
    put(name + ".cfg", [kind, k, s, p, glob])
    put(name + ".x", x); put(name + ".y", y); put(name + ".dy", dy)
    put(name + ".dx", grads(y, [x], dy)[0])

# ---- linear: name, x shape, out, bias
LINEARS = [("lin0", (5, 24, 1, 1), 10, 1), ("lin1", (4, 8, 2, 3), 7, 0), ("lin2", (8, 64, 1, 1), 33, 1)]
for name, xs, o, has_bias in LINEARS:
    x = rand(*xs).requires_grad_()
    fin = xs[1] * xs[2] * xs[3]
    w = (rand(o, fin) / fin ** 0.5).requires_grad_()
    b = rand(o).requires_grad_() if has_bias else None
    y = F.linear(torch.flatten(x, 1), w, b)
    dy = rand(*y.shape)
    g = grads(y, [x, w] + ([b] if has_bias else []), dy)
    put(name + ".cfg", [o, has_bias])
    put(name + ".x", x); put(name + ".w", w); put(name + ".y", y); put(name + ".dy", dy)
    put(name + ".dx", g[0]); put(name + ".dw", g[1])
    if has_bias:
        put(name + ".b", b); put(name + ".db", g[2])

# ---- F.normalize(dim=1, eps=1e-12); row 2 is tiny to hit the eps clamp? no: keep regular
x = rand(6, 20).requires_grad_()
y = F.normalize(x, dim=1, eps=1e-12)
dy = rand(*y.shape)
put("l2.x", x); put("l2.y", y); put("l2.dy", dy); put("l2.dx", grads(y, [x], dy)[0])


# ---- GeM (the usual PyTorch module's math)
def gem(x, p, eps=1e-6):
    return F.avg_pool2d(x.clamp(min=eps).pow(p), (x.size(-2), x.size(-1))).pow(1.0 / p)


GEMS = [("gem0", (2, 13, 4, 5), 3.0), ("gem1", (3, 32, 3, 3), 2.2), ("gem2", (2, 24, 1, 1), 1.5)]
for name, xs, pv in GEMS:
    x = rand(*xs)
    x = torch.where(torch.rand(*xs) < 0.7, x.abs(), x).requires_grad_()  # some clamped values
    p = torch.tensor([pv]).requires_grad_()
    y = gem(x, p)
    dy = rand(*y.shape)
    g = grads(y, [x, p], dy)
    put(name + ".x", x); put(name + ".p", p); put(name + ".y", y); put(name + ".dy", dy)
    put(name + ".dx", g[0]); put(name + ".dp", g[1])

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "ref", "backend_ops.bin")
with open(out, "wb") as f:
    f.write(b"FWBK")
    f.write(struct.pack("<II", VERSION, len(entries)))
    for name, shape, data in entries:
        nb = name.encode("ascii")
        f.write(struct.pack("<H", len(nb)))
        f.write(nb)
        f.write(struct.pack("<B", len(shape)))
        f.write(struct.pack("<%di" % len(shape), *shape))
        f.write(data)
print("wrote %s (%d entries)" % (out, len(entries)))
