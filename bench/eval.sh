#!/bin/sh
# bench/eval.sh — evaluation speed: mAP@5 over QUERIES queries with IDS ids,
# and top-5 kNN of QUERIES x GALLERY DIM-d embeddings; flukewatch
# (bench/bench_eval) against numpy and faiss (bench/eval_peers.py) on the same
# data, in one invocation.
#
#   bench/eval.sh [BUILD_DIR]      (needs `make bench` in BUILD_DIR)
#
# Environment: QUERIES (8000), IDS (5000), GALLERY (25000), DIM (512),
# THREADS (2: flukewatch's threads, OMP/OpenBLAS threads, faiss's threads),
# REPEAT (3), PEER_QUERIES (1000: the kNN peers run on this many queries and
# are scaled linearly to QUERIES; Debian's numpy and faiss use the reference
# BLAS here, which makes the full run take minutes), PYTHON (/usr/bin/python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-.}" && pwd)
python=${PYTHON:-/usr/bin/python3}
nq=${QUERIES:-8000} ids=${IDS:-5000} ng=${GALLERY:-25000} dim=${DIM:-512}
threads=${THREADS:-2} repeat=${REPEAT:-3} peer_q=${PEER_QUERIES:-1000}
ours="$build/bench/bench_eval"
[ -x "$ours" ] || { echo "eval.sh: $ours missing: run 'make bench' in $build" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fw-eval.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
echo "# $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
echo "# $(date -u '+%H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# queries $nq, ids $ids, gallery $ng, dim $dim, threads $threads, repeat $repeat, kNN peers on $peer_q queries"
echo "# numpy BLAS: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)"
"$ours" --dir "$tmp" --queries "$nq" --ids "$ids" --gallery "$ng" --dim "$dim" \
    --threads "$threads" --repeat "$repeat" >"$tmp/ours.txt"
"$python" "$here/eval_peers.py" "$tmp" "$nq" "$ids" "$ng" "$dim" "$threads" "$repeat" "$peer_q" >"$tmp/peers.txt"
cat "$tmp/ours.txt" "$tmp/peers.txt"
echo
awk -v nq="$nq" '
$1 == "flukewatch" { ours[$2] = $4 }
$3 == "missing:" { print "faiss: MISSING (" $0 "); no faiss comparison in this run"; next }
$1 != "flukewatch" {
    best = (NF >= 8) ? $7 : $4
    printf "%-6s %-5s best %.3f s%s; flukewatch best %.3f s: flukewatch %.1fx faster%s\n",
        $1, $2, best, (NF >= 8 ? " (scaled to " nq " queries)" : ""), ours[$2],
        best / ours[$2], (NF >= 8 ? "; top-5 sets agree on " $8 * 100 "% of the queries" : "")
}' "$tmp/ours.txt" "$tmp/peers.txt"
