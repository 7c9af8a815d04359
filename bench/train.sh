#!/bin/sh
# bench/train.sh — training and inference images/s of the flukewatch model
# (ResNet + GeM neck) against PyTorch 1.13 on the CPU, in one invocation.
#
#   bench/train.sh [BUILD_DIR]      (run from anywhere; BUILD_DIR defaults to .)
#
# Runs bench/bench_train once per conv algorithm in ALGOS (FLUKEWATCH_CONV_ALGO,
# src/backend.h), then /usr/bin/python3 bench/torch_train.py with the same
# arguments, and prints one table row per step and algorithm: mean img/s over
# ITERS steps, and the fastest single step of each side (on a shared machine
# the least disturbed one). Both sides do
# zero-grad + forward + backward from a fixed d_embedding + SGD step (momentum
# 0.9, weight decay 5e-4 off BN/biases/GeM p, lr 1e-4).
#
# Environment: ARCH (18), THREADS (2), BATCH (32), HEIGHT (128), WIDTH (256),
# DIM (512), ITERS (8), WARMUP (2), ALGOS ("direct auto"), CEILING (GEMM GFLOP/s
# on THREADS threads for the "% of ceiling" column, default 470: oneDNN sgemm
# 1024^3 on 2 threads on a quiet machine here; the sgemm measured in this run
# is printed too), PROFILE (1: per-op tables), PYTHON (/usr/bin/python3,
# Debian's, with torch). OMP_WAIT_POLICY and the like are passed through
# unchanged to both sides. Needs `make bench` (bench/bench_train) in BUILD_DIR.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-.}" && pwd)
python=${PYTHON:-/usr/bin/python3}
ceiling=${CEILING:-470}
algos=${ALGOS:-direct auto}
args="--arch ${ARCH:-18} --threads ${THREADS:-2} --batch ${BATCH:-32} --height ${HEIGHT:-128}
 --width ${WIDTH:-256} --dim ${DIM:-512} --iters ${ITERS:-8} --warmup ${WARMUP:-2}"
ours="$build/bench/bench_train"
[ -x "$ours" ] || { echo "train.sh: $ours missing: run 'make bench' in $build" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fw-train.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "# $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
echo "# $(date -u '+%H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)}"
prof=
[ "${PROFILE:-0}" = 1 ] && prof=--profile
for algo in $algos; do
    # shellcheck disable=SC2086
    FLUKEWATCH_CONV_ALGO=$algo "$ours" $args $prof | sed "s/^flukewatch /flukewatch algo=$algo /" |
        tee "$tmp/ours-$algo.txt"
done
if "$python" -c 'import torch' 2>/dev/null; then
    # shellcheck disable=SC2086
    "$python" "$here/torch_train.py" $args | tee "$tmp/peer.txt"
else
    echo "# $python has no torch: peer skipped" | tee "$tmp/peer.txt"
fi
echo "# end $(date -u '+%H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
cat "$tmp"/ours-*.txt "$tmp/peer.txt" | awk -v ceiling="$ceiling" -v algos="$algos" '
    function val(line, key,    i, f) {
        for (i = 1; i <= NF; i++) { split($i, f, "="); if (f[1] == key) return f[2] }
        return ""
    }
    /^flukewatch algo=.* kind=/ { ours[val($0, "algo"), val($0, "kind")] = val($0, "images_per_s")
                                  obest[val($0, "algo"), val($0, "kind")] = val($0, "best_images_per_s") }
    /^flukewatch algo=.* flops/ { fwd = val($0, "conv_fwd_gflop_per_image"); trn = val($0, "train_gflop_per_image") }
    /^flukewatch algo=.* sgemm/ { gemm[val($0, "algo")] = val($0, "gflops") }
    /^torch best/ { peer["train"] = val($0, "train_images_per_s"); peer["infer"] = val($0, "infer_images_per_s")
                    fmt["train"] = val($0, "train_format"); fmt["infer"] = val($0, "infer_format")
                    pbest["train"] = val($0, "train_best_batch_images_per_s")
                    pbest["infer"] = val($0, "infer_best_batch_images_per_s") }
    END {
        print "| step | conv algo | flukewatch img/s | PyTorch img/s (best format) | ratio | % of ceiling | fastest batch: ours / PyTorch, ratio |"
        print "|------|-----------|-----------------:|----------------------------:|------:|-------------:|-------------------------------------:|"
        n = split(algos, al, " ")
        split("train infer", kinds, " ")
        for (k = 1; k <= 2; k++)
            for (a = 1; a <= n; a++) {
                t = kinds[k]; p = peer[t]; o = ours[al[a], t]
                r = (p != "" && p > 0) ? sprintf("%.2fx", o / p) : "n/a"
                g = (t == "train") ? trn : fwd
                c = (g > 0) ? sprintf("%.0f%%", 100 * o * g / ceiling) : "n/a"
                fb = (pbest[t] > 0) ? sprintf("%s / %s, %.2fx", obest[al[a], t], pbest[t], obest[al[a], t] / pbest[t]) : "n/a"
                printf "| %s | %s | %s | %s (%s) | %s | %s | %s |\n", t, al[a], o, (p != "" ? p : "n/a"), fmt[t], r, c, fb
            }
        printf "\nconv GFLOP per image (direct-convolution count): forward %s, training %s\n", fwd, trn
        printf "ceiling %d GFLOP/s: %.1f img/s training, %.1f img/s inference\n", ceiling, ceiling / trn, ceiling / fwd
        for (a = 1; a <= n; a++)
            printf "sgemm 1024^3 after the %s run: %s GFLOP/s\n", al[a], gemm[al[a]]
    }'
