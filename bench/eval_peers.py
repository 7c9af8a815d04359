#!/usr/bin/env python3
"""eval_peers.py — the peers of bench/bench_eval on the files it wrote:

    eval_peers.py DIR QUERIES IDS GALLERY DIM THREADS REPEAT PEER_QUERIES

numpy map5: top-5 of each score row (argpartition, then order the five) and
    the vectorised compare with the truth, as the PyTorch baseline did with
    topk; result = mAP@5.
numpy knn5: scores = queries @ gallery.T in blocks of 1024 queries, then the
    same top-5; result = sum of top-1 similarities.
faiss knn5: IndexFlatIP over the gallery, search(queries, 5) (Debian's
    python3-faiss; a line says so when it is missing).
The kNN peers run on the first PEER_QUERIES queries (both are linear in the
number of queries for a fixed gallery); their times are printed as measured
and scaled to QUERIES ("scaled_s"). Each line: "IMPL TASK mean_s best_s result
[scaled_mean_s scaled_best_s agree]" where agree is the share of queries whose
top-5 set equals flukewatch's.
"""
import os
import sys
import time

import numpy as np


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return sum(times) / len(times), min(times), out


def top5(s):
    part = np.argpartition(-s, 4, axis=1)[:, :5]
    vals = np.take_along_axis(s, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def map5(scores, truth):
    idx, _ = top5(scores)
    hit = idx == truth[:, None]  # (Q, 5)
    return float((hit / np.arange(1, 6)).sum(axis=1).mean())


def main():
    d = sys.argv[1]
    nq, n_ids, ng, dim, threads, repeat, peer_q = (int(v) for v in sys.argv[2:9])
    scores = np.fromfile(os.path.join(d, "map_scores.f32"), np.float32).reshape(nq, n_ids)
    truth = np.fromfile(os.path.join(d, "map_truth.i32"), np.int32)
    mean, best, m = timed(lambda: map5(scores, truth), repeat)
    print("numpy map5 %.6f %.6f %.6f" % (mean, best, m))
    del scores

    q = np.fromfile(os.path.join(d, "knn_queries.f32"), np.float32).reshape(nq, dim)[:peer_q]
    g = np.fromfile(os.path.join(d, "knn_gallery.f32"), np.float32).reshape(ng, dim)
    ours = np.fromfile(os.path.join(d, "knn_ours.i64"), np.int64).reshape(nq, 5)[:peer_q]
    scale = nq / peer_q

    def agree(idx):
        return float(np.mean([set(a) == set(b) for a, b in zip(idx.tolist(), ours.tolist())]))

    def numpy_knn():
        outs_i, outs_s = [], []
        for i in range(0, len(q), 1024):
            i5, s5 = top5(q[i:i + 1024] @ g.T)
            outs_i.append(i5)
            outs_s.append(s5)
        return np.concatenate(outs_i), np.concatenate(outs_s)

    mean, best, (idx, sims) = timed(numpy_knn, repeat)
    print("numpy knn5 %.6f %.6f %.6f %.6f %.6f %.4f" % (
        mean, best, sims[:, 0].sum(), mean * scale, best * scale, agree(idx)))
    try:
        import faiss
    except ImportError:
        print("faiss knn5 missing: python3-faiss is not installed (apt-get install python3-faiss)")
        return
    faiss.omp_set_num_threads(threads)
    index = faiss.IndexFlatIP(dim)
    index.add(g)
    mean, best, (sims, idx) = timed(lambda: index.search(q, 5), repeat)
    print("faiss knn5 %.6f %.6f %.6f %.6f %.6f %.4f" % (
        mean, best, sims[:, 0].sum(), mean * scale, best * scale, agree(idx)))


if __name__ == "__main__":
    main()
