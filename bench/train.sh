#!/bin/sh
# bench/train.sh — training and inference images/s of the flukewatch model
# (ResNet + GeM neck) against PyTorch 1.13 on the CPU, in one invocation.
#
#   bench/train.sh [BUILD_DIR]      (run from anywhere; BUILD_DIR defaults to .)
#
# Environment: ARCH (18), THREADS (2), BATCH (32), HEIGHT (128), WIDTH (256),
# DIM (512), ITERS (8), WARMUP (2), CEILING (GEMM GFLOP/s on THREADS threads,
# default 470: oneDNN sgemm on 2 threads here), PROFILE (1: per-op table),
# PYTHON (/usr/bin/python3, Debian's, with torch).
# Needs `make bench` (bench/bench_train) in BUILD_DIR.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-.}" && pwd)
python=${PYTHON:-/usr/bin/python3}
ceiling=${CEILING:-470}
args="--arch ${ARCH:-18} --threads ${THREADS:-2} --batch ${BATCH:-32} --height ${HEIGHT:-128}
 --width ${WIDTH:-256} --dim ${DIM:-512} --iters ${ITERS:-8} --warmup ${WARMUP:-2}"
ours="$build/bench/bench_train"
[ -x "$ours" ] || { echo "train.sh: $ours missing: run 'make bench' in $build" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fw-train.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "# $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
prof=
[ "${PROFILE:-0}" = 1 ] && prof=--profile
# shellcheck disable=SC2086
"$ours" $args $prof | tee "$tmp/ours.txt"
if "$python" -c 'import torch' 2>/dev/null; then
    # shellcheck disable=SC2086
    "$python" "$here/torch_train.py" $args | tee "$tmp/peer.txt"
else
    echo "# $python has no torch: peer skipped" | tee "$tmp/peer.txt"
fi
echo
awk -v ceiling="$ceiling" '
    function val(line, key,    i, f) {
        for (i = 1; i <= NF; i++) { split($i, f, "="); if (f[1] == key) return f[2] }
        return ""
    }
    /^flukewatch kind=/ { ours[val($0, "kind")] = val($0, "images_per_s") }
    /^flukewatch flops/ { fwd = val($0, "conv_fwd_gflop_per_image"); trn = val($0, "train_gflop_per_image") }
    /^torch best/ { peer["train"] = val($0, "train_images_per_s"); peer["infer"] = val($0, "infer_images_per_s")
                    fmt["train"] = val($0, "train_format"); fmt["infer"] = val($0, "infer_format") }
    END {
        print "| step | flukewatch img/s | PyTorch img/s (best format) | ratio | flukewatch % of ceiling |"
        print "|------|-----------------:|----------------------------:|------:|------------------------:|"
        split("train infer", kinds, " ")
        for (k = 1; k <= 2; k++) {
            t = kinds[k]; p = peer[t]
            r = (p != "" && p > 0) ? sprintf("%.2fx", ours[t] / p) : "n/a"
            g = (t == "train") ? trn : fwd
            c = (g > 0) ? sprintf("%.0f%% (%.1f img/s at %d GFLOP/s)", 100 * ours[t] * g / ceiling, ceiling / g, ceiling) : "n/a"
            printf "| %s | %s | %s (%s) | %s | %s |\n", t, ours[t], (p != "" ? p : "n/a"), fmt[t], r, c
        }
        printf "\nconv GFLOP per image: forward %s, training %s\n", fwd, trn
    }' "$tmp/ours.txt" "$tmp/peer.txt"
