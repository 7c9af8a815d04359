#!/usr/bin/python3
"""make_safetensors.py OUTDIR — write the .safetensors files test_safetensors reads.

The format is written by hand (struct + json: torch 1.13 on Debian has no
safetensors package), which also lets us write malformed files. Expected
float32 values come from torch/numpy conversions, never from the C code.
Deterministic: fixed seeds. Files:
  model_{f32,f16,bf16}.safetensors  a small ResNet-like state dict in each dtype
  expect_{f16,bf16}.safetensors     torch's .half()/.bfloat16() -> .float() of it (F32)
  expect_gray.safetensors           conv1.weight summed over RGB, (w0 + w1) + w2 in f32
  all_{f16,bf16}.safetensors        every 16-bit pattern, and all_*_expect (F32)
  odd.safetensors                   a U8 tensor, an empty tensor, metadata, padding
  bad/NNN-name.safetensors          malformed files; bad/manifest.txt lists
                                    "file<TAB>error code<TAB>message substring"
"""
import json
import os
import struct
import sys

import numpy as np
import torch

DT = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
      torch.int64: "I64", torch.uint8: "U8", torch.float64: "F64"}


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write(path, tensors, metadata=None, pad=0):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = raw_bytes(t)
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode() + b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_raw(path, header_bytes, data=b"", n=None):
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes) if n is None else n) + header_bytes + data)


def model_state():
    g = torch.Generator().manual_seed(1234)
    sd = {
        "conv1.weight": torch.randn(8, 3, 7, 7, generator=g),
        "bn1.weight": torch.rand(8, generator=g) + 0.5,
        "bn1.bias": torch.randn(8, generator=g),
        "bn1.running_mean": torch.randn(8, generator=g),
        "bn1.running_var": torch.rand(8, generator=g) + 0.1,
        "bn1.num_batches_tracked": torch.tensor(12345, dtype=torch.int64),
        "layer1.0.conv1.weight": torch.randn(8, 8, 3, 3, generator=g) * 1e-3,
        "fc.weight": torch.randn(10, 8, generator=g),
        "fc.bias": torch.randn(10, generator=g),
    }
    # Values that stress the conversions: tiny (f16 subnormal/underflow), huge, -0.
    sd["bn1.bias"][:4] = torch.tensor([-0.0, 3e-6, 7e4, -1e-8])
    return sd


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "bad"), exist_ok=True)
    sd = model_state()
    meta = {"format": "pt"}
    write(os.path.join(out, "model_f32.safetensors"), sd, meta)
    for dt, name in ((torch.float16, "f16"), (torch.bfloat16, "bf16")):
        conv = {k: (v.to(dt) if v.is_floating_point() else v) for k, v in sd.items()}
        write(os.path.join(out, "model_%s.safetensors" % name), conv, meta, pad=5)
        expect = {k: v.float() for k, v in conv.items() if v.is_floating_point()}
        write(os.path.join(out, "expect_%s.safetensors" % name), expect)
    w = sd["conv1.weight"].numpy()
    gray = (w[:, 0:1] + w[:, 1:2]) + w[:, 2:3]
    assert np.allclose(gray, sd["conv1.weight"].sum(dim=1, keepdim=True).numpy(), rtol=1e-6,
                       atol=1e-6)
    write(os.path.join(out, "expect_gray.safetensors"), {"conv1.weight": torch.from_numpy(gray)})

    bits = np.arange(65536, dtype=np.uint16)
    f16 = torch.from_numpy(bits.view(np.float16).copy())
    write(os.path.join(out, "all_f16.safetensors"), {"x": f16})
    write(os.path.join(out, "all_f16_expect.safetensors"),
          {"x": torch.from_numpy(bits.view(np.float16).astype(np.float32))})
    bf = torch.from_numpy(bits.view(np.int16).copy()).view(torch.bfloat16)
    write(os.path.join(out, "all_bf16.safetensors"), {"x": bf})
    write(os.path.join(out, "all_bf16_expect.safetensors"), {"x": bf.float()})

    write(os.path.join(out, "odd.safetensors"),
          {"conv1.weight": sd["conv1.weight"].to(torch.float64),
           "mask": torch.arange(6, dtype=torch.uint8),
           "empty": torch.zeros(0, 4)},
          {"note": "odd \u001b[31mone"}, pad=7)

    bad = []

    def add(name, code, msg, header=None, data=b"\0" * 16, n=None, raw=None):
        path = os.path.join(out, "bad", "%03d-%s.safetensors" % (len(bad), name))
        if raw is not None:
            with open(path, "wb") as f:
                f.write(raw)
        else:
            hb = header if isinstance(header, bytes) else json.dumps(header).encode()
            write_raw(path, hb, data, n)
        bad.append("%s\t%s\t%s" % (os.path.basename(path), code, msg))

    ok = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
    add("empty-file", "EFORMAT", "too short", raw=b"")
    add("five-bytes", "EFORMAT", "too short", raw=b"\x05\0\0\0\0")
    add("length-beyond-file", "EFORMAT", "runs past the end", {"a": ok}, n=1000)
    add("length-2^64-1", "EFORMAT", "runs past the end", {"a": ok}, n=2**64 - 1)
    add("length-2^63", "EFORMAT", "runs past the end", {"a": ok}, n=2**63)
    add("length-1", "EFORMAT", "cannot hold", b"{", n=1)
    add("not-json", "EFORMAT", "not valid JSON", b"{not json}")
    add("truncated-json", "EFORMAT", "not valid JSON", json.dumps({"a": ok}).encode()[:-3])
    add("array-root", "EFORMAT", "not a JSON object", b"[1, 2, 3]")
    add("string-root", "EFORMAT", "not a JSON object", b'"hello"')
    add("number-root", "EFORMAT", "not a JSON object", b"42")
    add("deep-nesting", "EFORMAT", "not valid JSON", b"[" * 5000 + b"]" * 5000)
    add("tensor-is-number", "EFORMAT", "not a JSON object", {"a": 5})
    add("no-dtype", "EFORMAT", "needs a dtype", {"a": {"shape": [2, 2], "data_offsets": [0, 16]}})
    add("dtype-number", "EFORMAT", "needs a dtype", {"a": dict(ok, dtype=4)})
    add("unknown-dtype", "EFORMAT", "unknown dtype 'F31'", {"a": dict(ok, dtype="F31")})
    add("shape-not-array", "EFORMAT", "needs a dtype", {"a": dict(ok, shape=4)})
    add("negative-dim", "EFORMAT", "shape entry 0", {"a": dict(ok, shape=[-4])})
    add("fractional-dim", "EFORMAT", "shape entry 1", {"a": dict(ok, shape=[2, 1.5])})
    add("string-dim", "EFORMAT", "shape entry 0", {"a": dict(ok, shape=["4"])})
    add("dim-1e300", "EFORMAT", "shape entry 0", {"a": dict(ok, shape=[1e300])})
    add("17-dims", "EFORMAT", "17 dimensions", {"a": dict(ok, shape=[1] * 17)})
    add("huge-dims-overflow", "EFORMAT", "need", {"a": dict(ok, shape=[2**53, 2**53, 2**53, 2**53])})
    add("offsets-beyond-data", "EFORMAT", "outside the 16 data bytes",
        {"a": dict(ok, data_offsets=[0, 1000], shape=[250])})
    add("offsets-reversed", "EFORMAT", "outside", {"a": dict(ok, data_offsets=[16, 0])})
    add("offsets-three", "EFORMAT", "two non-negative", {"a": dict(ok, data_offsets=[0, 8, 16])})
    add("offsets-one", "EFORMAT", "two non-negative", {"a": dict(ok, data_offsets=[16])})
    add("offsets-negative", "EFORMAT", "two non-negative", {"a": dict(ok, data_offsets=[-16, 0])})
    add("offsets-strings", "EFORMAT", "two non-negative", {"a": dict(ok, data_offsets=["0", "16"])})
    add("offsets-2^64", "EFORMAT", "two non-negative",
        {"a": dict(ok, data_offsets=[0, 2**64])})
    add("offsets-inf", "EFORMAT", "two non-negative", b'{"a": {"dtype": "F32", "shape": [4], '
        b'"data_offsets": [0, 1e999]}}')
    add("f16-size-mismatch", "EFORMAT", "16 bytes in data_offsets", {"a": dict(ok, dtype="F16")})
    add("f64-size-mismatch", "EFORMAT", "need 32", {"a": dict(ok, dtype="F64")})
    add("overlap", "EFORMAT", "overlap",
        {"a": dict(ok, shape=[2], data_offsets=[0, 8]), "b": dict(ok, shape=[2], data_offsets=[4, 12])})
    add("same-range", "EFORMAT", "overlap",
        {"a": dict(ok, shape=[2], data_offsets=[0, 8]), "b": dict(ok, shape=[2], data_offsets=[0, 8])})
    add("duplicate-name", "EFORMAT", "appears twice",
        b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
        b'"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}')
    add("metadata-array", "EFORMAT", "__metadata__", {"__metadata__": [1, 2], "a": ok})
    add("empty-name", "EFORMAT", "empty name", {"": ok})
    add("control-chars-in-name", "EFORMAT", "unknown dtype",
        {"x\u001b[2J\u202eevil": dict(ok, dtype="Q8")})
    # A 200 MB header claimed in a sparse file of that size: refused before reading it.
    path = os.path.join(out, "bad", "%03d-huge-header.safetensors" % len(bad))
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", 200 << 20) + b"{")
        f.truncate(8 + (200 << 20))
    bad.append("%s\tETOOBIG\theader of" % os.path.basename(path))

    with open(os.path.join(out, "bad", "manifest.txt"), "w") as f:
        f.write("\n".join(bad) + "\n")


if __name__ == "__main__":
    main()
