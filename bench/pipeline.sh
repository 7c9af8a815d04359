#!/bin/sh
# bench/pipeline.sh — input-pipeline throughput, flukewatch against torchvision,
# on the same synthetic JPEG files in one invocation: read + decode + resize to
# 512x256 + augment into float batches of 32, 1 and 2 threads.
#
#   bench/pipeline.sh [BUILD_DIR]      (run from anywhere; BUILD_DIR defaults to .)
#
# Environment: WHALES (default 60: ~400 images at synth's default sizes),
# PASSES (timed passes, default 3), THREADS (default 1,2), DATA (dataset dir;
# default: a temp dir, generated with `flukewatch synth`), PYTHON (default
# /usr/bin/python3, Debian's, which has torch/torchvision).
# Needs `make bench` (bench/bench_pipeline) and `make` (flukewatch) in BUILD_DIR.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-.}" && pwd)
whales=${WHALES:-60}
passes=${PASSES:-3}
threads=${THREADS:-1,2}
python=${PYTHON:-/usr/bin/python3}
ours="$build/bench/bench_pipeline"
[ -x "$ours" ] || { echo "pipeline.sh: $ours missing: run 'make bench' in $build" >&2; exit 1; }
[ -x "$build/flukewatch" ] || { echo "pipeline.sh: $build/flukewatch missing" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fw-pipeline.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
data=${DATA:-$tmp/data}
if [ ! -d "$data/train" ]; then
    "$build/flukewatch" synth --out "$data" --whales "$whales" --seed 7 >/dev/null
fi
n=$(ls "$data"/train/*.jpg "$data"/test/*.jpg 2>/dev/null | wc -l)
echo "# $n JPEG files in $data (flukewatch synth --whales $whales --seed 7); $(nproc) CPUs"
echo "# $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"

"$ours" "$data" --threads "$threads" --passes "$passes" | tee "$tmp/ours.txt"
if "$python" -c 'import torch, torchvision' 2>/dev/null; then
    "$python" "$here/torchvision_pipeline.py" "$data" --threads "$threads" --passes "$passes" |
        tee "$tmp/peer.txt"
else
    echo "# $python has no torch/torchvision: peer skipped" > "$tmp/peer.txt"
fi

echo
echo "| threads | flukewatch img/s | torchvision img/s | ratio |"
echo "|--------:|-----------------:|------------------:|------:|"
awk '
    function val(line, key,    i, f) {
        for (i = 1; i <= NF; i++) { split($i, f, "="); if (f[1] == key) return f[2] }
        return ""
    }
    FNR == NR && /^flukewatch/ { ours[val($0, "threads")] = val($0, "images_per_s"); order[++n] = val($0, "threads"); next }
    /^torchvision/ { peer[val($0, "threads")] = val($0, "images_per_s") }
    END {
        for (k = 1; k <= n; k++) {
            t = order[k]; p = peer[t]
            r = (p != "" && p > 0) ? sprintf("%.2fx", ours[t] / p) : "n/a"
            printf "| %7s | %16s | %17s | %5s |\n", t, ours[t], (p != "" ? p : "n/a"), r
        }
    }' "$tmp/ours.txt" "$tmp/peer.txt"
