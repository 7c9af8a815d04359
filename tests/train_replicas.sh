#!/bin/sh
# train_replicas.sh — data parallel inside one process (replicas=N; one per
# GPU of device=cuda:A,B): N trainer threads, each on its shard of every batch,
# meeting in an in-process group. Two replicas against one on the same config:
# the final checkpoints agree within fp32 tolerance; three replicas against
# three MPI ranks: the same bits (the transports differ, the arithmetic does
# not); the store holds one
# run with one train.loss point per step; a stop from another process ends
# every replica; and a replica that cannot start (device=cuda:0,1 on a
# machine without a usable GPU) fails the run plainly instead of leaving the
# others waiting. The replicas share one decoded copy of the images.
. "${TOP_SRCDIR:-.}/tests/tap.sh"

. "$TOP_SRCDIR/tests/train_tiny_env.sh"
compare() { # compare WS_A WS_B LIMIT: final checkpoints within LIMIT
    last=$(ls "$1/runs/r0001/checkpoints" | grep '^ckpt-[0-9]*\.fwc$' | sort | tail -n 1)
    "${TOP_BUILDDIR:-.}/tests/test_dist_learner" compare-ckpt \
        "$1/runs/r0001/checkpoints/$last" "$2/runs/r0001/checkpoints/$last" "$3"
}

# shellcheck disable=SC2086
FLUKEWATCH_HOME=$TMP_ROOT/ws1 "$FLUKEWATCH" train --dataset "$data" $tiny >"$out.1" 2>&1
ok_if "one replica: exit 0" test $? -eq 0
for n in 2 3; do
    # shellcheck disable=SC2086
    FLUKEWATCH_HOME=$TMP_ROOT/ws$n timeout 300 "$FLUKEWATCH" train --dataset "$data" $tiny \
        replicas=$n >"$out.$n" 2>&1
    ok_if "replicas=$n: exit 0" sh -c 'test "$1" -eq 0 || { cat "$2"; false; }' _ $? "$out.$n"
done
ok_if "replicas=2: final checkpoint equals one replica's (1e-4)" \
    compare "$TMP_ROOT/ws2" "$TMP_ROOT/ws1" 1e-4
# Three shards of 5, 5 and 6 images: SyncBN's double sums and one process's
# float statistics part by up to ~5e-4 in the last BN's running variance in
# the sanitizer build (the same with mpirun -np 3), so the exact peer of
# three replicas is three MPI ranks: the same bits.
. "$TOP_SRCDIR/tests/mpi_env.sh"
if [ -n "$MPI_SKIP" ] || ! "${TOP_BUILDDIR:-.}/tests/test_dist_learner" has-mpi; then
    skip "replicas=3: the same bits as mpirun -np 3" "${MPI_SKIP:-built without MPI}"
else
    # shellcheck disable=SC2086
    FLUKEWATCH_HOME=$TMP_ROOT/wsm timeout 300 $MPI_LAUNCH -x FLUKEWATCH_HOME -x XDG_CACHE_HOME \
        -np 3 "$FLUKEWATCH" train --dataset "$data" $tiny >"$out.m" 2>&1
    ok_if "replicas=3: the same bits as mpirun -np 3" compare "$TMP_ROOT/ws3" "$TMP_ROOT/wsm" 0
fi
db=$TMP_ROOT/ws2/runs.sqlite
ok_if "the store has exactly one run, finished" \
    test "$(q "$db" "SELECT count(*), min(status) FROM runs")" = "1 finished"
steps=$(q "$TMP_ROOT/ws1/runs.sqlite" "SELECT count(*) FROM metrics WHERE name = 'train.loss'")
ok_if "one train.loss point per step (not per replica)" \
    test "$(q "$db" "SELECT count(*), count(DISTINCT step) FROM metrics WHERE name = 'train.loss'")" = "$steps $steps"
ok_if "the start event names the replicas" \
    sh -c 'echo "$1" | grep -q "as rank 0 of 2 replicas in one process"' _ \
    "$(q "$db" "SELECT message FROM events WHERE run_id = 'r0001' AND kind = 'status'")"
ok_if "the images are decoded once for both replicas" \
    sh -c 'echo "$1" | grep -q "decoded once for 2 replicas"' _ \
    "$(q "$db" "SELECT message FROM events WHERE run_id = 'r0001' AND message LIKE 'data:%'")"

# ---- a stop from another process ends every replica -------------------------
ws=$TMP_ROOT/ws4
: >"$out.4"
# shellcheck disable=SC2086
FLUKEWATCH_HOME=$ws timeout 300 "$FLUKEWATCH" train --dataset "$data" $tiny epochs=400 \
    replicas=2 >"$out.4" 2>&1 &
pid=$!
n=0
while [ $n -lt 600 ] && [ -z "$(q "$ws/runs.sqlite" "SELECT 1 FROM metrics WHERE name = 'train.loss' LIMIT 1" 2>/dev/null)" ]; do
    sleep 0.2
    n=$((n + 1))
done
FLUKEWATCH_HOME=$ws "$FLUKEWATCH" stop r0001 >"$out.4s" 2>&1
ok_if "stop from another process: answered" test $? -eq 0
wait $pid
ok_if "every replica stopped: the process exits 0, run interrupted" \
    sh -c 'test "$1" -eq 0 && test "$2" = interrupted' _ $? \
    "$(q "$ws/runs.sqlite" "SELECT status FROM runs WHERE id = 'r0001'")"

# ---- a replica that cannot start fails the run, nobody waits -----------------
# shellcheck disable=SC2086
if "$FLUKEWATCH" devices | grep -q '^cuda:1 '; then
    skip "device=cuda:0,1 without a usable GPU: plain failure" "this machine has two GPUs"
else
    FLUKEWATCH_HOME=$TMP_ROOT/ws5 timeout 120 "$FLUKEWATCH" train --dataset "$data" $tiny \
        device=cuda:0,1 >"$out.5" 2>&1
    rc=$?
    ok_if "device=cuda:0,1 without a usable GPU: exit 1 with the reason, no hang" \
        sh -c 'test "$1" -eq 1 && grep -q -e "no usable NVIDIA GPU" -e "built without the CUDA toolkit" "$2" ||
               { echo "rc $1"; cat "$2"; false; }' _ "$rc" "$out.5"
fi

tap_done
