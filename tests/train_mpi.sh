#!/bin/sh
# train_mpi.sh — `mpirun -np 2 flukewatch train` on a tiny synth dataset next
# to a one-process run of the same config: the MPI run's store has exactly
# one run, written by rank 0 (one run id line on stdout, one row, one set of
# per-step metrics, devices "cpu x2 ranks (MPI)", a start event naming the
# ranks), and its final checkpoint's weights equal the one-process run's
# within 1e-4 of each tensor's scale. --detach is refused under mpirun
# without creating a run. Pause and stop requests from another process
# reach every rank (the run pauses, then stops with a checkpoint and exit 0),
# and `mpirun -np 2 flukewatch resume` continues it from that checkpoint.
# Skips when mpirun is missing.
#
# The config (softmax head, SGD at a low lr, one epoch of 6 steps of 16
# images) keeps training smooth: the MPI run's fp32 rounding differs from one
# process's (BN statistics summed per rank), and in a livelier regime (AdamW,
# higher lr, more steps, 8-image batches) such a 1e-7 difference can tip a
# near-tie (a max-pool or ReLU decision) and grow past any tolerance within
# a few steps in either direction; tests/dist_learner.sh checks the exact
# data-parallel arithmetic more tightly.
. "${TOP_SRCDIR:-.}/tests/tap.sh"
. "$TOP_SRCDIR/tests/mpi_env.sh"

names="synth a tiny dataset
one-process run: exit 0
mpirun -np 2 train: exit 0
rank 0 alone prints (one run id, one finish line)
the store has exactly one run, finished
the run's devices say cpu x2 ranks (MPI)
a start event names the ranks
one train.loss point per step (not per rank)
one evaluation stored
final checkpoint equals the one-process run's
--detach under mpirun: refused (exit 2), no run created
pause from another process: the MPI run pauses
stop from another process: every rank stops (exit 0), run interrupted
stopped with a checkpoint at its step
mpirun resume: continues from the checkpoint
mpirun resume: stops again on request, later step"
if [ -z "$MPI_SKIP" ] && ! "${TOP_BUILDDIR:-.}/tests/test_dist_learner" has-mpi; then
    MPI_SKIP="flukewatch was built without MPI (configure did not find ompi-c)"
fi
if [ -n "$MPI_SKIP" ]; then
    printf '%s\n' "$names" | while IFS= read -r n; do
        tap_n=$((tap_n + 1))
        echo "ok $tap_n - $n # SKIP $MPI_SKIP"
    done
    echo "1..$(printf '%s\n' "$names" | wc -l)"
    exit 0
fi

. "$TOP_SRCDIR/tests/train_tiny_env.sh"

# shellcheck disable=SC2086
FLUKEWATCH_HOME=$TMP_ROOT/ws1 "$FLUKEWATCH" train --dataset "$data" $tiny >"$out.1" 2>&1
ok_if "one-process run: exit 0" test $? -eq 0
# shellcheck disable=SC2086
FLUKEWATCH_HOME=$TMP_ROOT/ws2 timeout 300 $MPI_LAUNCH -x FLUKEWATCH_HOME -x XDG_CACHE_HOME \
    -np 2 "$FLUKEWATCH" train --dataset "$data" $tiny >"$out.2" 2>"$out.2err"
rc=$?
ok_if "mpirun -np 2 train: exit 0" sh -c 'test "$1" -eq 0 || { cat "$2" "$3"; false; }' _ \
    "$rc" "$out.2" "$out.2err"
ok_if "rank 0 alone prints (one run id, one finish line)" \
    sh -c 'test "$(grep -c "^r0001\$" "$1")" -eq 1 && test "$(grep -c "finished in" "$1")" -eq 1' _ "$out.2"
db=$TMP_ROOT/ws2/runs.sqlite
ok_if "the store has exactly one run, finished" \
    test "$(q "$db" "SELECT count(*), min(status) FROM runs")" = "1 finished"
ok_if "the run's devices say cpu x2 ranks (MPI)" \
    test "$(q "$db" "SELECT devices FROM runs WHERE id = 'r0001'")" = "cpu x2 ranks (MPI)"
ok_if "a start event names the ranks" \
    sh -c 'echo "$1" | grep -q "as rank 0 of 2 ranks"' _ \
    "$(q "$db" "SELECT message FROM events WHERE run_id = 'r0001' AND kind = 'status'")"
steps=$(q "$TMP_ROOT/ws1/runs.sqlite" "SELECT count(*) FROM metrics WHERE name = 'train.loss'")
ok_if "one train.loss point per step (not per rank)" \
    test "$(q "$db" "SELECT count(*), count(DISTINCT step) FROM metrics WHERE name = 'train.loss'")" = "$steps $steps"
ok_if "one evaluation stored" test "$(q "$db" "SELECT count(*) FROM evaluations")" -eq 1
last=$(ls "$TMP_ROOT/ws1/runs/r0001/checkpoints" | grep '^ckpt-[0-9]*\.fwc$' | sort | tail -n 1)
ok_if "final checkpoint equals the one-process run's" \
    "${TOP_BUILDDIR:-.}/tests/test_dist_learner" compare-ckpt \
    "$TMP_ROOT/ws2/runs/r0001/checkpoints/$last" "$TMP_ROOT/ws1/runs/r0001/checkpoints/$last" 1e-4
# shellcheck disable=SC2086
FLUKEWATCH_HOME=$TMP_ROOT/ws3 timeout 120 $MPI_LAUNCH -x FLUKEWATCH_HOME -x XDG_CACHE_HOME \
    -np 2 "$FLUKEWATCH" train --detach --dataset "$data" $tiny >"$out.3" 2>&1
rc=$?
runs3=0
if [ -e "$TMP_ROOT/ws3/runs.sqlite" ]; then
    runs3=$(q "$TMP_ROOT/ws3/runs.sqlite" "SELECT count(*) FROM runs")
fi
ok_if "--detach under mpirun: refused (exit 2), no run created" \
    sh -c 'test "$1" -eq 2 && grep -q -- "--detach does not work under mpirun" "$2" &&
           test "$3" -eq 0' _ "$rc" "$out.3" "$runs3"

# ---- control from another process, resume ------------------------------------
ws4=$TMP_ROOT/ws4
db4=$ws4/runs.sqlite
long="$tiny epochs=500 eval_every=0 checkpoint_every=100"
st4() { q "$db4" "SELECT status FROM runs WHERE id = 'r0001'" 2>/dev/null; }
steps4() { q "$db4" "SELECT coalesce(max(step), 0) FROM metrics WHERE name = 'train.loss'" 2>/dev/null; }
wait_for() { # wait_for SECONDS COMMAND...: poll every 0.2 s
    n=$(($1 * 5)); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
    return 1
}
is4() { test "$(st4)" = "$1"; }
stepped4() { s4=$(steps4); test "${s4:-0}" -gt "$1"; }
resumed4() { # the resume event names the checkpoint of step $1
    q "$db4" "SELECT message FROM events WHERE kind = 'status'" 2>/dev/null |
        grep -q "^resumed from .*ckpt-$(printf %08d "$1")"
}
# shellcheck disable=SC2086
FLUKEWATCH_HOME=$ws4 timeout 300 $MPI_LAUNCH -x FLUKEWATCH_HOME -x XDG_CACHE_HOME \
    -np 2 "$FLUKEWATCH" train --dataset "$data" $long >"$out.4" 2>&1 &
pid=$!
wait_for 120 stepped4 2 && FLUKEWATCH_HOME=$ws4 "$FLUKEWATCH" pause r0001 >/dev/null 2>&1
ok_if "pause from another process: the MPI run pauses" wait_for 30 is4 paused
FLUKEWATCH_HOME=$ws4 "$FLUKEWATCH" stop r0001 >/dev/null 2>&1
wait $pid
rc=$?
ok_if "stop from another process: every rank stops (exit 0), run interrupted" \
    sh -c 'test "$1" -eq 0 && test "$2" = interrupted || { cat "$3"; false; }' _ "$rc" "$(st4)" "$out.4"
stopped_at=$(steps4)
ckpt4=$(printf '%s/runs/r0001/checkpoints/ckpt-%08d.fwc' "$ws4" "$stopped_at")
ok_if "stopped with a checkpoint at its step" test -f "$ckpt4"
FLUKEWATCH_HOME=$ws4 timeout 300 $MPI_LAUNCH -x FLUKEWATCH_HOME -x XDG_CACHE_HOME \
    -np 2 "$FLUKEWATCH" resume r0001 >"$out.5" 2>&1 &
pid=$!
ok_if "mpirun resume: continues from the checkpoint" wait_for 120 resumed4 "$stopped_at"
wait_for 120 stepped4 $((stopped_at + 2))
FLUKEWATCH_HOME=$ws4 "$FLUKEWATCH" stop r0001 >/dev/null 2>&1
wait $pid
rc=$?
ok_if "mpirun resume: stops again on request, later step" \
    sh -c 'test "$1" -eq 0 && test "$2" = interrupted && test "$3" -gt "$4" || { cat "$5"; false; }' _ \
    "$rc" "$(st4)" "$(steps4)" "$stopped_at" "$out.5"
tap_done
