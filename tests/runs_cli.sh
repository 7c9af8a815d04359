#!/bin/sh
# runs_cli.sh — the run commands against a workspace that tests/runs_fixture
# made through the store API: runs (table, --status, --json, width fitting),
# show, compare, export, pause and stop across processes (the fixture acting
# as the run's owner), dead owners, run references, sanitised names and
# usage errors.
. "${TOP_SRCDIR:-.}/tests/tap.sh"

FIXTURE=${TOP_BUILDDIR:-.}/tests/runs_fixture
PY=${PYTHON_REF:-/usr/bin/python3}
WS=$TMP_ROOT/ws
EXPECT=$TMP_ROOT/expect.json
out=$TMP_ROOT/out
err=$TMP_ROOT/err
FLUKEWATCH_HOME=$WS
export FLUKEWATCH_HOME
unset CI

fw() { "$FLUKEWATCH" "$@" >"$out" 2>"$err"; }
# Run python (the reference) on a script given as the first argument.
py() { "$PY" -c "$@"; }

# ---- an empty workspace ----------------------------------------------------
fw runs
rc=$?
ok_if "empty workspace: runs exits 0" test $rc -eq 0
ok_if "empty workspace: says there are no runs" grep -q "^No runs in " "$out"
ok_if "empty workspace: nothing is created" test ! -e "$WS/runs.sqlite"
fw runs --json
ok_if "empty workspace: --json is []" py 'import json,sys; assert json.load(open(sys.argv[1])) == []' "$out"
fw show r0001
rc=$?
ok_if "empty workspace: show exits 1" test $rc -eq 1

ok_if "the fixture populates the workspace" "$FIXTURE" populate "$WS" "$EXPECT"

# ---- runs ------------------------------------------------------------------
fw runs --all --json
rc=$?
ok_if "runs --json exits 0" test $rc -eq 0
cp "$out" "$TMP_ROOT/runs.json"
ok_if "runs --json matches the fixture" py '
import json, sys
got = {r["id"]: r for r in json.load(open(sys.argv[1]))}
exp = json.load(open(sys.argv[2]))
assert sorted(got) == sorted(r["id"] for r in exp), (sorted(got), [r["id"] for r in exp])
for e in exp:
    g = got[e["id"]]
    for k in ("name", "status", "parent", "epochs"):
        assert g[k] == e[k], (e["id"], k, g[k], e[k])
    if e["best_map5"] is None:
        assert g["best_map5"] is None and g["epoch"] is None, g
    else:
        for k in ("best_map5", "last_loss"):
            assert abs(g[k] - e[k]) < 1e-12, (e["id"], k, g[k], e[k])
        for k in ("best_epoch", "best_step", "steps", "epoch", "evaluations"):
            assert g[k] == e[k], (e["id"], k, g[k], e[k])
    assert g["live"] is False
' "$TMP_ROOT/runs.json" "$EXPECT"

fw runs --all
ok_if "runs: one line per run under a header" py '
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
exp = json.load(open(sys.argv[2]))
assert lines[0].split()[:3] == ["ID", "NAME", "STATUS"], lines[0]
assert len(lines) == 1 + len(exp), len(lines)
for e in exp:
    row = [l for l in lines if l.startswith(e["id"] + " ")]
    assert len(row) == 1, (e["id"], row)
    cols = row[0].split()
    assert e["status"] in cols, (e, row)
    best = "-" if e["best_map5"] is None else "%.4f" % e["best_map5"]
    assert best in cols, (best, row)
' "$out" "$EXPECT"
fw runs --status interrupted,failed
ok_if "runs --status lists only those statuses" py '
import json, sys
lines = open(sys.argv[1]).read().splitlines()[1:]
want = sorted(e["id"] for e in json.load(open(sys.argv[2])) if e["status"] in ("interrupted", "failed"))
assert sorted(l.split()[0] for l in lines) == want, (lines, want)
' "$out" "$EXPECT"

# On a terminal (a pty of 72 columns) the table fits and long names end in "…".
if script -qec "true" /dev/null >/dev/null 2>&1; then
    script -qec "stty cols 72 rows 40; '$FLUKEWATCH' runs --all" /dev/null >"$out" 2>&1
    ok_if "runs on a 72-column terminal: every line fits" py '
import sys
lines = open(sys.argv[1], encoding="utf-8").read().replace("\r", "").splitlines()
rows = [l for l in lines if l.startswith("r0")]
assert len(rows) >= 10, lines
assert all(len(l) <= 72 for l in lines), max(len(l) for l in lines)
assert any("\u2026" in l for l in rows), "no name was cut"
' "$out"
else
    skip "runs on a 72-column terminal" "script(1) cannot open a pseudo-terminal"
fi

# ---- show ------------------------------------------------------------------
fw show baseline
rc=$?
ok_if "show: exits 0" test $rc -eq 0
ok_if "show: the changed keys with their values, and only them" py '
import json, sys, re
text = open(sys.argv[1]).read()
e = [r for r in json.load(open(sys.argv[2])) if r["name"] == "baseline"][0]
section = text.split("changed from defaults:")[1].split("\n  (")[0]
got = {}
for l in section.strip().splitlines():
    m = re.match(r"\s*(\S+)\s+= (.*?)\s+\(default: ", l)
    assert m, l
    got[m.group(1)] = m.group(2)
assert got == e["changed"], (got, e["changed"])
' "$out" "$EXPECT"
ok_if "show: best metrics" py '
import json, sys, re
text = open(sys.argv[1]).read()
e = [r for r in json.load(open(sys.argv[2])) if r["name"] == "baseline"][0]
m = re.search(r"best val.map5\s+(\S+) at epoch (\S+) \(step (\d+)\)", text)
assert m, text
assert m.group(1) == "%.4f" % e["best_map5"] and float(m.group(2)) == e["best_epoch"] and int(m.group(3)) == e["best_step"], m.groups()
assert re.search(r"top-1\s+%.4f" % e["best_top1"], text), text
assert re.search(r"steps\s+%d\n" % e["steps"], text), text
assert "evaluations (%d)" % e["evaluations"] in text
' "$out" "$EXPECT"
ok_if "show: LR-finder suggestions of a run with a curve" grep -q "^  valley " "$out"
ok_if "show: the newest 10 events" sh -c "grep -q '^events (last 10 of ' '$out'"
fw show crashy --events 3
ok_if "show: no LR finder section without a curve" sh -c "! grep -q '^LR finder' '$out'"
ok_if "show --events 3" grep -q "^events (last 3 of " "$out"
fw show 1 --full
ok_if "show --full lists every key" py '
import sys, re
text = open(sys.argv[1]).read()
section = text.split("\nconfig\n")[1].split("\n\n")[0]
keys = [l for l in section.splitlines() if re.match(r"    \S+\s+= ", l)]
assert len(keys) > 5 and len(keys) == len(set(k.split()[0] for k in keys)), keys
assert "changed from defaults" not in section
' "$out"

fw show odd-config
rc=$?
ok_if "show of a config that does not parse: exit 0, says why, shows the text" sh -c "test $rc -eq 0 && grep -q 'does not parse' '$out' && grep -q '^  no_such_key = 1$' '$out'"
fw compare odd-config 1
rc=$?
ok_if "compare of a config that does not parse: exit 1 naming the run" sh -c "test $rc -eq 1 && grep -q 'r0013' '$err'"

# ---- run references ----------------------------------------------------------
for ref in 3 r3 r0003 crashy; do
    fw show "$ref"
    ok_if "run reference '$ref' is r0003" grep -q "^run r0003  crashy$" "$out"
done
fw show twin
rc=$?
ok_if "an ambiguous name is refused (exit 1)" test $rc -eq 1
ok_if "an ambiguous name lists the candidates" grep -q "ambiguous.*r0007, r0008" "$err"
fw show nosuch
rc=$?
ok_if "an unknown run: exit 1 naming it" sh -c "test $rc -eq 1 && grep -q \"no run 'nosuch'\" '$err'"

# ---- compare -----------------------------------------------------------------
# The keys whose values differ: a key changed in some runs differs when the
# runs' values (the default where unchanged) are not all the same.
expect_diff='
import json, sys, re
text = open(sys.argv[1]).read()
exp = {r["id"]: r for r in json.load(open(sys.argv[2]))}
ids = sys.argv[3:]
keys = set().union(*(exp[i]["changed"] for i in ids))
want = sorted(k for k in keys if len({exp[i]["changed"].get(k, "<default>") for i in ids}) > 1)
block = text.split("config keys that differ")[1].split("\n\n")[0].splitlines()[1:]
assert block[0].split() == ids, block[0]
got = sorted(l.split()[0] for l in block[2:])
assert got == want, (got, want)
for l in block[2:]:
    k, vals = l.split()[0], l.split()[1:]
    for i, v in zip(ids, vals):
        if k in exp[i]["changed"]:
            assert v == exp[i]["changed"][k], (k, i, v)
'
fw compare r0001 r0002
rc=$?
ok_if "compare 2 runs: exits 0" test $rc -eq 0
ok_if "compare 2 runs: exactly the differing keys" py "$expect_diff" "$out" "$EXPECT" r0001 r0002
fw compare 1 2 3 12
ok_if "compare 4 runs: exactly the differing keys" py "$expect_diff" "$out" "$EXPECT" r0001 r0002 r0003 r0012
ok_if "compare: best metrics side by side" py '
import json, sys
text = open(sys.argv[1]).read()
exp = {r["id"]: r for r in json.load(open(sys.argv[2]))}
best = [l for l in text.split("best metrics:")[1].splitlines() if l.startswith("best val.map5")][0]
assert best.split()[2:] == ["%.4f" % exp[i]["best_map5"] for i in ("r0001", "r0002", "r0003", "r0012")], best
status = [l for l in text.splitlines() if l.startswith("status")][0]
assert status.split()[1:] == [exp[i]["status"] for i in ("r0001", "r0002", "r0003", "r0012")], status
' "$out" "$EXPECT"
fw compare 7 8
ok_if "compare identical configs says so" grep -q "none: the configs are the same" "$out"

# ---- export ------------------------------------------------------------------
csv_check='
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
exp = {r["id"]: r for r in json.load(open(sys.argv[2]))}
run, want = sys.argv[3], sys.argv[4]
assert rows[0] == ["run", "step", "epoch", "name", "value", "wall_time"], rows[0]
n = exp[run]["metric_points"] if want == "all" else exp[run][want]
assert len(rows) - 1 == n, (len(rows) - 1, n)
for r in rows[1:]:
    assert r[0] == run and len(r) == 6, r
    int(r[1]); float(r[2]); float(r[4]); float(r[5])
if want == "evaluations":
    vals = [float(r[4]) for r in rows[1:]]
    assert all(r[3] == "val.map5" for r in rows[1:])
    assert abs(max(vals) - exp[run]["best_map5"]) < 1e-12, (max(vals), exp[run]["best_map5"])
'
fw export r0001
rc=$?
ok_if "export to stdout: exits 0" test $rc -eq 0
ok_if "export: a CSV row per metric point" py "$csv_check" "$out" "$EXPECT" r0001 all
fw export baseline --metric val.map5 --out "$TMP_ROOT/map5.csv"
rc=$?
ok_if "export --metric --out: exits 0" test $rc -eq 0
ok_if "export --metric: only that metric, exact values" py "$csv_check" "$TMP_ROOT/map5.csv" "$EXPECT" r0001 evaluations
ok_if "export --out leaves no temporary file" sh -c "test \$(ls '$TMP_ROOT' | grep -c 'map5.csv') -eq 1"
fw export 1 --metric val.mAP
rc=$?
ok_if "export of an unknown metric: exit 1 naming the ones there" sh -c "test $rc -eq 1 && grep -q 'no metric .val.mAP. (it has: .*val.map5' '$err'"

# ---- pause / stop against a live owner ----------------------------------------
status_of() { # RUN -> its status in `runs --json`
    "$FLUKEWATCH" runs --all --json | "$PY" -c 'import json,sys; print([r["status"] for r in json.load(sys.stdin) if r["id"] == sys.argv[1]][0])' "$1"
}
wait_ready() { # FILE: wait (up to 10 s) for the owner's "ready" line
    for _ in $(seq 100); do grep -q '^ready' "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
"$FIXTURE" owner "$WS" r0009 60 >"$TMP_ROOT/owner9" 2>&1 &
owner9=$!
ok_if "owner of r0009 is ready" wait_ready "$TMP_ROOT/owner9"
ok_if "runs --json shows r0009 running" test "$(status_of r0009)" = running
fw runs --status running
ok_if "runs shows the live owner pid@host" grep -q "^r0009 .* $owner9@" "$out"
fw pause live-a
rc=$?
ok_if "pause: exits 0" test $rc -eq 0
ok_if "pause: prints the answer and the new status" grep -q "^run r0009: pause ok; status paused$" "$out"
ok_if "runs --json shows r0009 paused" test "$(status_of r0009)" = paused
fw stop 9
rc=$?
ok_if "stop: exits 0" test $rc -eq 0
ok_if "stop: prints the new status" grep -q "^run r0009: stop ok; status interrupted$" "$out"
ok_if "runs --json shows r0009 interrupted" test "$(status_of r0009)" = interrupted
wait $owner9
ok_if "the owner ended on stop" test $? -eq 0
fw stop r0009
rc=$?
ok_if "stop on a stopped run: exit 1" test $rc -eq 1
ok_if "stop on a stopped run: says it can be resumed" grep -q "already stopped.*flukewatch resume r0009" "$err"

fw stop baseline
rc=$?
ok_if "stop on a finished run: exit 1" test $rc -eq 1
ok_if "stop on a finished run: says so" grep -q "run r0001 has already finished" "$err"
fw pause waiting
rc=$?
ok_if "pause on a queued run: exit 1 saying it has not started" sh -c "test $rc -eq 1 && grep -q 'is queued' '$err'"

# An owner killed with SIGKILL: the run shows interrupted, stop says resume.
"$FIXTURE" owner "$WS" r0010 60 >"$TMP_ROOT/owner10" 2>&1 &
owner10=$!
ok_if "owner of r0010 is ready" wait_ready "$TMP_ROOT/owner10"
kill -9 $owner10
wait $owner10 2>/dev/null
fw runs --all
ok_if "runs shows the killed owner's run interrupted" grep -q "^r0010 .* interrupted " "$out"
fw stop live-b
rc=$?
ok_if "stop on it: exit 1, resumable" sh -c "test $rc -eq 1 && grep -q \"can be resumed with 'flukewatch resume r0010'\" '$err'"

# An owner that never answers: pause times out.
"$FIXTURE" owner "$WS" r0011 60 silent >"$TMP_ROOT/owner11" 2>&1 &
owner11=$!
ok_if "silent owner of r0011 is ready" wait_ready "$TMP_ROOT/owner11"
fw pause r0011 --timeout 0.5
rc=$?
ok_if "pause with a silent owner: exit 1" test $rc -eq 1
ok_if "pause with a silent owner: names it and the wait" grep -q "the owner (pid $owner11 on .*) did not answer within 0.5 s" "$err"
fw stop r0011 --no-wait
ok_if "stop --no-wait returns after posting" grep -q "asked the owner of run r0011 (pid $owner11 on " "$out"
kill $owner11 2>/dev/null
wait $owner11 2>/dev/null

# ---- names with control characters --------------------------------------------
no_raw_controls='
import sys
data = open(sys.argv[1], "rb").read()
bad = [b for b in data if b < 0x20 and b not in (0x0a, 0x0d, 0x09)]
assert not bad, bad[:5]
assert b"\xc2\x9b" not in data and b"\x1b" not in data
'
fw runs --all
ok_if "runs: no raw control bytes from run names" py "$no_raw_controls" "$out"
ok_if "runs: the sanitised name is shown" grep -q "^r0006  evil\[2J\]0;pwned31mname " "$out"
fw runs --all --json
ok_if "runs --json: no raw control bytes" py "$no_raw_controls" "$out"
fw show r0006
ok_if "show: no raw control bytes (name, events)" py "$no_raw_controls" "$out"
fw compare 6 1
ok_if "compare: no raw control bytes" py "$no_raw_controls" "$out"
fw show "$(printf 'x\033[2Jy')"
ok_if "an unknown reference is printed sanitised" sh -c "grep -q \"no run 'x\\[2Jy'\" '$err' && ! grep -q \"\$(printf '\\033')\" '$err'"

# ---- without --all: live runs and the 20 newest others ----------------------
ok_if "the fixture adds 15 finished runs" "$FIXTURE" many "$WS" 15
"$FLUKEWATCH" runs --all --json >"$TMP_ROOT/all.json"
fw runs
ok_if "runs without --all: the 20 newest, and a note on the others" py '
import json, sys
runs = json.load(open(sys.argv[2]))
assert not any(r["live"] for r in runs)
lines = open(sys.argv[1]).read().splitlines()
shown = [l.split()[0] for l in lines[1:] if l.startswith("r0")]
assert shown == [r["id"] for r in runs][-20:], shown
assert lines[-1] == "(%d older runs not shown: --all lists every run)" % (len(runs) - 20), lines[-1]
' "$out" "$TMP_ROOT/all.json"
fw runs --json
ok_if "runs --json without --all: the same 20" py 'import json, sys; assert len(json.load(open(sys.argv[1]))) == 20' "$out"

# ---- usage errors: exit 2 ------------------------------------------------------
usage() {
    what=$1
    shift
    "$FLUKEWATCH" "$@" >"$out" 2>&1
    rc=$?
    ok_if "usage: $what exits 2" test $rc -eq 2
}
usage "runs --bogus" runs --bogus
usage "runs --status nonsense" runs --status nonsense
usage "runs with an argument" runs r0001
usage "show without RUN" show
usage "show two runs" show 1 2
usage "show --events -1" show 1 --events -1
usage "compare one run" compare r0001
usage "compare nine runs" compare 1 2 3 4 5 6 7 8 9
usage "compare a run twice" compare 1 r0001
usage "export without RUN" export
usage "export --metric without a name" export 1 --metric
usage "pause without RUN" pause
usage "stop --timeout x" stop 1 --timeout x
usage "stop --frobnicate" stop 1 --frobnicate
tap_done
