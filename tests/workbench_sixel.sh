#!/bin/sh
# workbench_sixel.sh — the workbench's Matches screen in sixel mode on a
# pseudo-terminal (tests/pty_capture: 40x120 cells of 10x20 pixels, nothing
# answered): a tiny run is trained on a synth dataset, the screen is opened
# (key 5), and every sixel image it writes is decoded with libsixel and
# compared with the thumbnails match_view composes for the same query
# (tests/sixel_check: size, cell position, nothing reaching the message and
# hint rows, pixels within the palette's quantisation). A key that changes
# no image writes no sixel; j, w and a resize write the new query's images.
. "${TOP_SRCDIR:-.}/tests/tap.sh"

BUILD=${TOP_BUILDDIR:-.}
PTY=$BUILD/tests/pty_capture
CHECK=$BUILD/tests/sixel_check
PY=${PYTHON_REF:-/usr/bin/python3}
export FLUKEWATCH_HOME="$TMP_ROOT/ws"
export XDG_CACHE_HOME="$TMP_ROOT/cache"
export XDG_CONFIG_HOME="$TMP_ROOT/config" # no user config: the defaults
export HOME="$TMP_ROOT"
export TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8
unset COLORTERM FLUKEWATCH_GRAPHICS

if [ ! -x "$PTY" ] || [ ! -x "$CHECK" ]; then
    skip "sixel images of the Matches screen" "tests/pty_capture or tests/sixel_check not built"
    tap_done
    exit 0
fi

"$FLUKEWATCH" synth --out "$TMP_ROOT/data" --whales 24 --size 128x64 --threads 2 >/dev/null 2>&1
"$FLUKEWATCH" train --dataset "$TMP_ROOT/data" input=64x32 width=0.25 embedding=32 \
    sampler.p=4 sampler.k=2 threads=2 eval_every=1 epochs=1 >"$TMP_ROOT/train.txt" 2>&1
RUN=r0001
nq=$("$PY" -c "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute('SELECT count(*) FROM eval_queries WHERE eval_id = '
                 '(SELECT max(id) FROM evaluations WHERE run_id = ?)', (sys.argv[2],)).fetchone()[0])
" "$FLUKEWATCH_HOME/runs.sqlite" "$RUN" 2>/dev/null)
ok_if "a trained run with an evaluation of at least 2 queries" test "${nq:-0}" -ge 2

# The worst query as the reference reads it: the true id's rank (6 when
# missing) highest, then the first in evaluation order.
worst=$("$PY" - "$FLUKEWATCH_HOME/runs.sqlite" "$RUN" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
eid, = db.execute("SELECT max(id) FROM evaluations WHERE run_id = ?", (sys.argv[2],)).fetchone()
qs = db.execute("SELECT true_id, m1, m2, m3, m4, m5 FROM eval_queries WHERE eval_id = ? "
                "ORDER BY q", (eid,)).fetchall()
rank = lambda q: list(q[1:]).index(q[0]) + 1 if q[0] in q[1:] else 6
print(max(range(len(qs)), key=lambda i: (rank(qs[i]), -i)))
EOF
)

# One session: open Matches, a key that moves only the selected match (l),
# the next query (j), the worst (w), a resize to 30x100, quit. A mark after
# each step splits the capture; count:6 waits for the six images.
SIX='count:6:\e\\'
"$PTY" -o "$TMP_ROOT/cap" -s 40x120 -p 1200x800 -k \
    "settle:500 key:5 $SIX settle:600 mark key:l settle:600 mark key:j $SIX settle:600 mark key:w settle:600 mark resize:30x100 $SIX settle:600 mark key:q" \
    -- "$FLUKEWATCH" workbench --graphics sixel >"$TMP_ROOT/pty.txt" 2>&1
rc=$?
ok_if "the workbench ran on the pseudo-terminal and quit on q (exit $rc)" test $rc -eq 0
set -- $(cat "$TMP_ROOT/cap.marks" 2>/dev/null) 0 0 0 0 0
m1=$1 m2=$2 m3=$3 m4=$4 m5=$5

check() { "$CHECK" "$TMP_ROOT/cap" "$@"; }
ok_if "key 5: six sixel images equal to match_view's tiles of query 1" \
    check 0 "$m1" "$FLUKEWATCH_HOME" "$RUN" 0 40 120 10 20 1
dcs_count() { # FROM TO: sixel sequences in that part of the capture
    "$PY" -c "
import sys
data = open(sys.argv[1], 'rb').read()[int(sys.argv[2]):int(sys.argv[3])]
print(data.count(b'\x1bP'))" "$TMP_ROOT/cap" "$1" "$2"
}
no_rewrite() {
    n=$(dcs_count "$m1" "$m2")
    test "$m2" -gt "$m1" || { echo "nothing was redrawn after l"; return 1; }
    test "$n" -eq 0 || { echo "$n sixel images written again"; return 1; }
}
ok_if "l (another match, same images) redraws text but writes no sixel" no_rewrite
ok_if "j: the images of query 2" check "$m2" "$m3" "$FLUKEWATCH_HOME" "$RUN" 1 40 120 10 20 0
w_ok() {
    if [ "$worst" -eq 1 ]; then # already shown: nothing to write
        test "$(dcs_count "$m3" "$m4")" -eq 0
    else
        check "$m3" "$m4" "$FLUKEWATCH_HOME" "$RUN" "$worst" 40 120 10 20
    fi
}
ok_if "w: the images of the worst query ($((worst + 1)))" w_ok
ok_if "a resize to 30x100: the same query's images laid out again, above the bottom rows" \
    check "$m4" "$m5" "$FLUKEWATCH_HOME" "$RUN" "$worst" 30 100 10 20
tap_done
