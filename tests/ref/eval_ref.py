#!/usr/bin/env python3
"""eval_ref.py — plain numpy reference for src/eval.c, run at test time by
tests/test_eval.c through $PYTHON_REF.

Input (argv[1], little-endian binary): int32 nq, ng, d, n_whales; float32
queries (nq, d); float32 gallery (ng, d); int32 gallery_whale (ng) (-1 =
new_whale image); int32 truth (nq) (-1 = new_whale); float32 threshold.
Output (stdout, text):
  top Q w0..w4 s0..s4   per-whale top five (max over a whale's images; ties by
                        the smaller whale index; -2 / -inf for empty slots)
  pred Q p0..p4         predictions with new_whale (-1) at the threshold
  map60 N               60 * nq * mAP@5 at the threshold (Kaggle's apk)
  best60 N T            the same maximised over thresholds (+inf and every
                        finite top-5 similarity; ties: the larger threshold)
"""
import sys

import numpy as np


def apk(actual, predicted, k=5):
    """Kaggle's average precision at k (ml_metrics), one true id per image."""
    score, hits = 0.0, 0
    for i, p in enumerate(predicted[:k]):
        if p in actual and p not in predicted[:i]:
            hits += 1
            score += hits / (i + 1.0)
    return score / min(len(actual), k)


def predict(whales, sims, t):
    out = []
    inserted = False
    for w, s in zip(whales, sims):
        if not inserted and (w == -2 or t == np.inf or not s >= t):
            out.append(-1)
            inserted = True
        out.append(w)
    return out[:5]


def main():
    raw = open(sys.argv[1], "rb").read()
    nq, ng, d, nw = (int(v) for v in np.frombuffer(raw, "<i4", 4, 0))
    off = 16
    q = np.frombuffer(raw, "<f4", nq * d, off).reshape(nq, d); off += 4 * nq * d
    g = np.frombuffer(raw, "<f4", ng * d, off).reshape(ng, d); off += 4 * ng * d
    gw = np.frombuffer(raw, "<i4", ng, off); off += 4 * ng
    truth = np.frombuffer(raw, "<i4", nq, off); off += 4 * nq
    thr = float(np.frombuffer(raw, "<f4", 1, off)[0])

    sim = q.astype(np.float64) @ g.astype(np.float64).T  # (nq, ng)
    per_whale = np.full((nq, nw), -np.inf)
    present = []
    for w in range(nw):
        mask = gw == w
        if mask.any():
            per_whale[:, w] = sim[:, mask].max(axis=1)
            present.append(w)
    tops = []
    for i in range(nq):
        ranked = sorted(present, key=lambda w: (-per_whale[i, w], w))[:5]
        s = [per_whale[i, w] for w in ranked]
        ranked += [-2] * (5 - len(ranked))
        s += [-np.inf] * (5 - len(s))
        tops.append((ranked, s))
        print("top", i, *ranked, *("%.17g" % v for v in s))

    def map60(t):
        total = 0.0
        for i in range(nq):
            total += apk([int(truth[i])], predict(*tops[i], t))
        return int(round(total * 60))

    for i in range(nq):
        print("pred", i, *predict(*tops[i], thr))
    print("map60", map60(thr))
    cands = sorted({v for _, s in tops for v in s if np.isfinite(v)} | {np.inf}, reverse=True)
    best, best_t = None, None
    for t in cands:
        m = map60(t)
        if best is None or m > best:
            best, best_t = m, t
    print("best60", best, "%.17g" % best_t)


if __name__ == "__main__":
    main()
