#!/bin/sh
# dist_learner.sh — data-parallel training equals one process: the tiny model
# of tests/test_dist_learner.c trained 6 steps on the whole batch in one
# process, and under `mpirun -np 2` (halves 5+5, and an uneven 7+3 split)
# and `-np 3` (3+3+4); every tensor (weights, BN running statistics, head)
# must match within 1e-4 of the tensor's scale, the losses and gradient
# norms within 1e-4, and the ranks must hold bitwise identical weights.
# With SyncBatchNorm turned off the comparison must fail (it can tell).
# Skips when mpirun is missing.
. "$TOP_SRCDIR/tests/tap.sh"
. "$TOP_SRCDIR/tests/mpi_env.sh"
BIN=${TOP_BUILDDIR:-.}/tests/test_dist_learner
T=$TMP_ROOT

names="single-process reference
2 ranks, 5+5 rows: same weights as one process
2 ranks, 5+5 rows: same losses and gradient norms
2 ranks: both ranks hold identical weights
2 ranks, 7+3 rows: same weights as one process
3 ranks, 3+3+4 rows: same weights as one process
2 ranks without SyncBatchNorm: the comparison notices"
if [ -z "$MPI_SKIP" ] && ! "$BIN" has-mpi; then
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

train_np() { # NP OUT ROWS0 (exit status in OUT.rc)
    $MPI_LAUNCH -np "$1" "$BIN" train "$2" "$3"
    echo $? >"$2.rc"
}
not() { ! "$@"; }
nosync() {
    FW_TEST_NO_BN_SYNC=1 $MPI_LAUNCH -x FW_TEST_NO_BN_SYNC -np 2 "$BIN" train "$T/nosync" 5 &&
        not "$BIN" compare "$T/nosync.rank0" "$T/single.rank0" 1e-4
}

ok_if "single-process reference" "$BIN" train "$T/single"
train_np 2 "$T/even" 5 >"$T/even.log" 2>&1
ok_if "2 ranks, 5+5 rows: same weights as one process" \
    sh -c 'cat "$1"; test "$(cat "$3.rc")" = 0 && "$2" compare "$3.rank0" "$4.rank0" 1e-4' _ "$T/even.log" "$BIN" "$T/even" "$T/single"
ok_if "2 ranks, 5+5 rows: same losses and gradient norms" \
    "$BIN" compare-losses "$T/even.loss" "$T/single.loss" 1e-4 1e-4
ok_if "2 ranks: both ranks hold identical weights" \
    "$BIN" compare "$T/even.rank1" "$T/even.rank0" 0
train_np 2 "$T/odd" 7 >"$T/odd.log" 2>&1
ok_if "2 ranks, 7+3 rows: same weights as one process" \
    sh -c 'cat "$1"; test "$(cat "$3.rc")" = 0 && "$2" compare "$3.rank0" "$4.rank0" 1e-4' _ "$T/odd.log" "$BIN" "$T/odd" "$T/single"
train_np 3 "$T/three" 0 >"$T/three.log" 2>&1
ok_if "3 ranks, 3+3+4 rows: same weights as one process" \
    sh -c 'cat "$1"; test "$(cat "$3.rc")" = 0 && "$2" compare "$3.rank0" "$4.rank0" 1e-4 &&
           "$2" compare "$3.rank2" "$3.rank0" 0' \
    _ "$T/three.log" "$BIN" "$T/three" "$T/single"
ok_if "2 ranks without SyncBatchNorm: the comparison notices" nosync
tap_done
