#!/bin/sh
# train_cli.sh — the run life cycle through the CLI, as a user scripts it:
# config refusals (exit 2, nothing created), synth -> train (tiny) -> eval ->
# predict -> score end to end, kill -9 of a detached training process then
# `resume` continuing from the last checkpoint to the same final step and
# loss as an uninterrupted run, pause / resume / stop from other processes
# (no CPU used while paused), SIGTERM stopping with a checkpoint, and lr-find.
. "${TOP_SRCDIR:-.}/tests/tap.sh"

data=$TMP_ROOT/data
ws=$TMP_ROOT/ws
out=$TMP_ROOT/out
export FLUKEWATCH_HOME="$ws"
export XDG_CACHE_HOME="$TMP_ROOT/cache"
"$FLUKEWATCH" synth --out "$data" --whales 24 --size 128x64 --threads 2 >/dev/null 2>&1
ok_if "synth a tiny dataset" test -f "$data/train.csv"

# A tiny model: ResNet-18 at a quarter width on 64x32 grey images.
tiny="input=64x32 width=0.25 embedding=32 sampler.p=4 sampler.k=2 threads=2 eval_every=1"

# sqlite3 through Python (read-only queries on the run store).
q() {
    "$PYTHON_REF" - "$ws/runs.sqlite" "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=30)
for row in db.execute(sys.argv[2]):
    print(" ".join(str(v) for v in row))
EOF
}
status() { q "SELECT status FROM runs WHERE id = '$1'"; }
wait_for() { # wait_for SECONDS COMMAND...: poll every 0.2 s
    n=$(($1 * 5)); shift
    while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
    return 1
}

# ---- config refusals: exit 2, the key named, no run created -------------------
refuse() { # refuse "what" "pattern" args...
    what=$1 pattern=$2; shift 2
    "$FLUKEWATCH" train --dataset "$data" "$@" >"$out" 2>&1
    rc=$?
    ok_if "refused: $what (exit 2)" test $rc -eq 2
    ok_if "refused: $what (message)" grep -q -- "$pattern" "$out"
}
refuse "unknown key" "unknown key 'lrr'" lrr=0.1
refuse "suggestion" "did you mean 'lr'" lrr=0.1
refuse "malformed number" "lr" lr=fast
refuse "out of range" "epochs" epochs=0
refuse "bad enum" "backbone" backbone=vgg16
refuse "bad size" "input" input=64
refuse "bf16 on the CPU" "precision" precision=bf16
refuse "not key=value" "key=value" epochs
printf 'epochs = 3\nwarmup = 2\n' >"$TMP_ROOT/bad.conf"
refuse "unknown key in a file (FILE:LINE)" "bad.conf:2" --config "$TMP_ROOT/bad.conf"
"$FLUKEWATCH" train >"$out" 2>&1
ok_if "no dataset: exit 2" test $? -eq 2
ok_if "nothing was created by refused configs" test ! -e "$ws/runs.sqlite" -o -z "$(q 'SELECT id FROM runs' 2>/dev/null)"
"$FLUKEWATCH" train --dataset "$TMP_ROOT/nowhere" >"$out" 2>&1
ok_if "missing dataset: exit 1" test $? -eq 1

# ---- end to end: train -> eval -> predict -> score -----------------------------
# shellcheck disable=SC2086
"$FLUKEWATCH" train --dataset "$data" --name e2e $tiny epochs=3 >"$out" 2>"$out.err"
rc=$?
ok_if "train: exit 0" test $rc -eq 0 || cat "$out" "$out.err" >&2
run=$(head -n 1 "$out")
ok_if "train prints the run id first" test "$run" = r0001
ok_if "train prints one line per epoch" test "$(grep -c '^epoch [0-9]*/3 ' "$out")" -eq 3
ok_if "run finished" test "$(status r0001)" = finished
ckpt=$ws/runs/r0001/checkpoints
ok_if "best.fwc and last checkpoints kept" test -f "$ckpt/best.fwc" -a "$(ls "$ckpt" | grep -c '^ckpt-[0-9]*\.fwc$')" -ge 1
ok_if "three evaluations stored" test "$(q "SELECT count(*) FROM evaluations WHERE run_id = 'r0001'")" -eq 3
ok_if "train.loss per step" test "$(q "SELECT count(*) FROM metrics WHERE run_id = 'r0001' AND name = 'train.loss'")" -gt 3

"$FLUKEWATCH" eval r0001 >"$out" 2>"$out.err"
ok_if "eval: exit 0" test $? -eq 0
ok_if "eval prints mAP@5" grep -q '^r0001 best.fwc: mAP@5 [0-9.]*  top-1' "$out"
"$FLUKEWATCH" eval e2e --checkpoint last --no-tta >"$out" 2>"$out.err"
ok_if "eval by run name, last checkpoint" grep -q '^r0001 ckpt-.*mAP@5' "$out"
ok_if "eval stored" test "$(q "SELECT count(*) FROM evaluations WHERE run_id = 'r0001'")" -eq 5

"$FLUKEWATCH" predict r0001 --out "$TMP_ROOT/sub.csv" >"$out" 2>"$out.err"
ok_if "predict: exit 0" test $? -eq 0
n_test=$(($(wc -l <"$data/sample_submission.csv") - 1))
ok_if "submission header" test "$(head -n 1 "$TMP_ROOT/sub.csv")" = "Image,Id"
ok_if "one row per test image" test "$(($(wc -l <"$TMP_ROOT/sub.csv") - 1))" -eq "$n_test"
ok_if "five ids per row" test "$(tail -n +2 "$TMP_ROOT/sub.csv" | cut -d, -f2 | awk '{print NF}' | sort -u)" = 5
"$FLUKEWATCH" score "$TMP_ROOT/sub.csv" --truth "$data/test_truth.csv" >"$out" 2>&1
ok_if "score the submission" grep -q '^mAP@5 [0-9]' "$out"
mkdir -p "$TMP_ROOT/imgs"
cp "$data/test/$(sed -n 2p "$data/sample_submission.csv" | cut -d, -f1)" "$TMP_ROOT/imgs/a.jpg"
printf 'not a jpeg' >"$TMP_ROOT/imgs/b.jpg"
"$FLUKEWATCH" predict 1 --images "$TMP_ROOT/imgs" --threshold 0.5 --out "$TMP_ROOT/sub2.csv" >"$out" 2>"$out.err"
ok_if "predict --images: exit 0 with an unreadable image" test $? -eq 0
ok_if "the unreadable image is reported" grep -q 'b.jpg' "$out.err"
ok_if "the unreadable image is predicted new_whale first" grep -q '^b.jpg,new_whale ' "$TMP_ROOT/sub2.csv"

# ---- kill -9, then resume: same final step and loss as run r0001's twin ----------
# 16 epochs (~5 s), so that the kill at the first checkpoint lands mid-run even
# when the polling shell is slow (a busy machine).
# r0002: uninterrupted reference with the same config and seed.
# shellcheck disable=SC2086
"$FLUKEWATCH" train --dataset "$data" --name ref $tiny epochs=16 eval_every=0 >"$out" 2>&1
ok_if "reference run" test "$(status r0002)" = finished
# shellcheck disable=SC2086
"$FLUKEWATCH" train --dataset "$data" --name killed $tiny epochs=16 eval_every=0 --detach >"$out" 2>&1
ok_if "detach: exit 0, id first" test "$(head -n 1 "$out")" = r0003
pid=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' "$out")
ok_if "detach reports the pid" test -n "$pid"
has_ckpt() { ls "$ws/runs/r0003/checkpoints" 2>/dev/null | grep -q '^ckpt-[0-9]*\.fwc$'; } # (not a .tmp- being written)
wait_for 120 has_ckpt
ok_if "a checkpoint appears" has_ckpt
kill -9 "$pid" 2>/dev/null
wait_for 10 sh -c "! kill -0 $pid 2>/dev/null"
"$FLUKEWATCH" resume r0003 >"$out" 2>"$out.err"
ok_if "resume after kill -9: exit 0" test $? -eq 0 || cat "$out" "$out.err" >&2
ok_if "resumed from a checkpoint" test -n "$(q "SELECT id FROM events WHERE run_id = 'r0003' AND message LIKE 'resumed from %'")"
ok_if "killed+resumed run finished" test "$(status r0003)" = finished
last_loss() { q "SELECT step, value FROM metrics WHERE run_id = '$1' AND name = 'train.loss' ORDER BY step DESC, rowid DESC LIMIT 1"; }
ok_if "same final step and loss as the uninterrupted run" test "$(last_loss r0003)" = "$(last_loss r0002)"
[ "$(last_loss r0003)" = "$(last_loss r0002)" ] || echo "# r0002: $(last_loss r0002); r0003: $(last_loss r0003)"

# ---- pause / resume / stop from other processes ------------------------------------
# shellcheck disable=SC2086
"$FLUKEWATCH" train --dataset "$data" --name steer $tiny epochs=200 eval_every=0 --detach >"$out" 2>&1
run=$(head -n 1 "$out")
pid=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' "$out")
has_steps() { test -n "$(q "SELECT 1 FROM metrics WHERE run_id = '$run' AND name = 'train.loss' LIMIT 1")"; }
wait_for 60 has_steps
"$FLUKEWATCH" pause "$run" >"$out" 2>&1
ok_if "pause: exit 0" test $? -eq 0
ok_if "paused" test "$(status "$run")" = paused
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # utime + stime, all threads (ticks)
c0=$(cpu); sleep 2; c1=$(cpu)
ok_if "no CPU while paused ($((c1 - c0)) ticks in 2 s)" test $((c1 - c0)) -le 10
steps0=$(q "SELECT count(*) FROM metrics WHERE run_id = '$run' AND name = 'train.loss'")
"$FLUKEWATCH" resume "$run" >"$out" 2>&1
ok_if "resume of a paused run asks its owner" test $? -eq 0
running() { test "$(status "$run")" = running; }
wait_for 10 running
ok_if "running again" running
more_steps() { test "$(q "SELECT count(*) FROM metrics WHERE run_id = '$run' AND name = 'train.loss'")" -gt "$steps0"; }
wait_for 30 more_steps
ok_if "training goes on after resume" more_steps
"$FLUKEWATCH" stop "$run" >"$out" 2>&1
ok_if "stop: exit 0" test $? -eq 0
stopped() { test "$(status "$run")" = interrupted; }
wait_for 30 stopped
ok_if "stopped runs are interrupted (resumable)" stopped
ok_if "stop saved a checkpoint" test -n "$(q "SELECT id FROM events WHERE run_id = '$run' AND kind = 'checkpoint'")"
wait_for 10 sh -c "! kill -0 $pid 2>/dev/null"
ok_if "the owner process exited" sh -c "! kill -0 $pid 2>/dev/null"

# ---- SIGTERM on a foreground run: checkpoint, interrupted, exit 1 -------------------
# $out is emptied first: the background job's own `>"$out"` may run after the
# wait below has started, which would otherwise read the previous command's
# output (the old flake of this part).
: >"$out"
# shellcheck disable=SC2086
"$FLUKEWATCH" train --dataset "$data" --name term $tiny epochs=200 eval_every=0 >"$out" 2>&1 &
tpid=$!
wait_for 120 sh -c "head -n 1 '$out' | grep -q '^r'"
run=$(head -n 1 "$out")
ok_if "SIGTERM: the foreground run printed its id" test -n "$run"
wait_for 120 has_steps
kill -TERM $tpid
wait $tpid
rc=$?
ok_if "SIGTERM: exit 1" test $rc -eq 1
st=$(status "$run")
ok_if "SIGTERM: interrupted" test "$st" = interrupted
if [ "$st" != interrupted ]; then
    echo "# run '$run' status '$st'; events:"
    q "SELECT kind, message FROM events WHERE run_id = '$run'" | sed 's/^/#   /'
    sed 's/^/# out: /' "$out"
fi
ok_if "SIGTERM: says how to resume" grep -q "flukewatch resume $run" "$out"
"$FLUKEWATCH" resume r0001 >"$out" 2>&1
ok_if "resume of a finished run: exit 1" test $? -eq 1

# ---- lr-find ------------------------------------------------------------------------
# shellcheck disable=SC2086
"$FLUKEWATCH" lr-find --dataset "$data" $tiny >"$out" 2>&1
ok_if "lr-find: exit 0" test $? -eq 0
run=$(head -n 1 "$out")
ok_if "lr-find stores its curve" test "$(q "SELECT count(*) FROM lr_curves WHERE run_id = '$run'")" -eq 1
ok_if "lr-find prints suggestions" grep -q -e '^suggestions: valley' -e '^no suggestion' "$out"

# ---- augment_on=device: the backend makes the batches (here the CPU backend's
# augment_batch from the loader's parameters) — the same bits as the loader's ----
# shellcheck disable=SC2086
"$FLUKEWATCH" train --dataset "$data" --name ondevice $tiny epochs=16 eval_every=0 \
    augment_on=device >"$out" 2>&1
ok_if "augment_on=device: exit 0" test $? -eq 0 || cat "$out" >&2
run=$(head -n 1 "$out")
losses() { q "SELECT step, value FROM metrics WHERE run_id = '$1' AND name = 'train.loss' ORDER BY step, rowid"; }
ok_if "augment_on=device: every step's loss equals the loader run's (r0002)" \
    test "$(losses "$run")" = "$(losses r0002)" -a -n "$(losses r0002)"

tap_done
