#!/bin/sh
# workbench_blocks.sh — the workbench's Matches screen in half-block and text
# mode, driven through tmux on the matches fixture (a synth dataset, one run,
# one evaluation with hostile ids and a new_whale query): every half-block
# cell of the six tiles has the xterm colours match_view's thumbnails give
# (tests/blocks_expect), the marks and the table agree with a Python reader
# of the store and train.csv, keys j/w/n/g/Esc do what the hints say, the
# screen fits 80x24, and no raw control byte reaches the terminal.
. "${TOP_SRCDIR:-.}/tests/tap.sh"

BUILD=${TOP_BUILDDIR:-.}
PY=${PYTHON_REF:-/usr/bin/python3}
FIXTURE=$BUILD/tests/matches_fixture
EXPECT=$BUILD/tests/blocks_expect
export FLUKEWATCH_HOME="$TMP_ROOT/ws"
export XDG_CONFIG_HOME="$TMP_ROOT/config" HOME="$TMP_ROOT"
export LANG=C.UTF-8 LC_ALL=C.UTF-8
unset COLORTERM FLUKEWATCH_GRAPHICS TMUX

if ! command -v tmux >/dev/null 2>&1; then
    skip "Matches screen through tmux" "tmux is not installed"
    tap_done
    exit 0
fi

"$FLUKEWATCH" synth --out "$TMP_ROOT/data" --whales 20 --size 256x128 --threads 2 >/dev/null 2>&1
RUN=$("$FIXTURE" "$FLUKEWATCH_HOME" "$TMP_ROOT/data")
ok_if "fixture run and evaluation" test "$RUN" = r0001

SOCK=none
n_sock=0
T() { tmux -L "$SOCK" -f /dev/null "$@"; }
trap 'T kill-server 2>/dev/null; rm -rf "$TMP_ROOT"' EXIT
start() { # W H GRAPHICS: a new tmux server each time (no race with the old one)
    T kill-server 2>/dev/null
    n_sock=$((n_sock + 1))
    SOCK="fwmatch$$-$n_sock"
    T -u new-session -d -x "$1" -y "$2" \
        "env TERM=xterm-256color '$FLUKEWATCH' workbench --graphics $3 2>'$TMP_ROOT/err.txt'"
    wait_for "Runs" >/dev/null
    T send-keys 5
    wait_for "query 1 of" >/dev/null
    settle
}
screen() { T capture-pane -p "$@"; }
settle() { # until two captures 0.3 s apart are the same (the frame is complete)
    n=30
    screen -e >"$TMP_ROOT/settle.a"
    while [ $n -gt 0 ]; do
        sleep 0.3
        screen -e >"$TMP_ROOT/settle.b"
        cmp -s "$TMP_ROOT/settle.a" "$TMP_ROOT/settle.b" && return 0
        mv "$TMP_ROOT/settle.b" "$TMP_ROOT/settle.a"
        n=$((n - 1))
    done
}
wait_for() { # TEXT: poll the screen for up to 10 s, then let the frame finish
    n=50
    while [ $n -gt 0 ]; do
        if screen | grep -qF -- "$1"; then
            settle
            return 0
        fi
        sleep 0.2
        n=$((n - 1))
    done
    echo "never saw '$1' on:"
    screen
    return 1
}

# ---- half-blocks at 120x40 -------------------------------------------------
start 120 40 blocks
screen -e >"$TMP_ROOT/blocks.txt"
"$EXPECT" "$FLUKEWATCH_HOME" "$RUN" 0 40 120 >"$TMP_ROOT/expect.txt"
cat >"$TMP_ROOT/cells.py" <<'EOF'
import re, sys
# Parse tmux's capture-pane -e into cells (char, fg, bg) and compare the tiles'
# cells with blocks_expect's colours.
screen = open(sys.argv[1], encoding="utf-8").read().split("\n")
tok = re.compile(r"\x1b\[([0-9;:]*)m|(.)", re.S)
grid = []
for line in screen:
    fg = bg = None
    row = []
    for m in tok.finditer(line):
        if m.group(2) is not None:
            row.append((m.group(2), fg, bg))
            continue
        p = [int(x) if x else 0 for x in re.split("[;:]", m.group(1) or "0")]
        i = 0
        while i < len(p):
            v = p[i]
            if v == 0: fg = bg = None
            elif v == 38 and p[i + 1] == 5: fg = p[i + 2]; i += 2
            elif v == 48 and p[i + 1] == 5: bg = p[i + 2]; i += 2
            elif v == 39: fg = None
            elif v == 49: bg = None
            elif 30 <= v <= 37: fg = v - 30
            elif 40 <= v <= 47: bg = v - 40
            elif 90 <= v <= 97: fg = v - 82
            elif 100 <= v <= 107: bg = v - 92
            i += 1
    grid.append(row)
exp = open(sys.argv[2]).read().split("\n")
n, rows, cols = (int(x) for x in exp[0].split()[1::2])
k, bad, cells = 1, 0, 0
for t in range(n):
    _, ti, y, x = exp[k].split(); y, x = int(y), int(x); k += 1
    for r in range(rows):
        want = exp[k].split(); k += 1
        for c in range(cols):
            ch, fg, bg = grid[y + r][x + c]
            wfg, wbg = (int(v) for v in want[c].split("/"))
            cells += 1
            if (ch, fg, bg) != ("\u2580", wfg, wbg):
                bad += 1
                if bad <= 5:
                    print("tile %s cell %d,%d: %r fg %s bg %s, expected fg %d bg %d"
                          % (ti, r, c, ch, fg, bg, wfg, wbg))
print("%d of %d cells differ" % (bad, cells))
sys.exit(1 if bad or cells == 0 else 0)
EOF
ok_if "every half-block cell has the colours of match_view's thumbnails" \
    "$PY" "$TMP_ROOT/cells.py" "$TMP_ROOT/blocks.txt" "$TMP_ROOT/expect.txt"
ok_if "no raw control byte besides SGR (hostile ids are sanitised)" "$PY" -c "
import re, sys
t = open(sys.argv[1], encoding='utf-8').read()
t = re.sub(r'\x1b\[[0-9;:]*m', '', t)
bad = re.findall(r'[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]', t)
assert not bad, bad[:5]
assert 'w_[31mEVIL]0;pwned[2J' in t
" "$TMP_ROOT/blocks.txt"

# The reference: the query shown, its ids, similarities and marks.
cat >"$TMP_ROOT/ref.py" <<'EOF'
import csv, re, sqlite3, sys
screen_file, db, run, train_csv, qi, mode = sys.argv[1:7]
qi = int(qi)
clean = lambda s: "".join(c for c in s if not (ord(c) < 32 or 127 <= ord(c) < 160))
con = sqlite3.connect(db)
eid, = con.execute("SELECT max(id) FROM evaluations WHERE run_id = ?", (run,)).fetchone()
qs = con.execute("SELECT image, true_id, m1, s1, m2, s2, m3, s3, m4, s4, m5, s5 "
                 "FROM eval_queries WHERE eval_id = ? ORDER BY q", (eid,)).fetchall()
rows = list(csv.DictReader(open(train_csv, newline="", encoding="utf-8")))
q = qs[qi]
lines = open(screen_file, encoding="utf-8").read().split("\n")
text = "\n".join(lines)
head = "query %d of %d: %s  true id %s" % (qi + 1, len(qs), q[0], clean(q[1]))
assert any(l.startswith(head) for l in lines), "no line starts with %r" % head
for k in range(5):
    mid, sim = q[2 + 2 * k], q[3 + 2 * k]
    mark = "\u2713" if mid == q[1] else "\u2717"
    gallery = next((r["Image"] for r in rows if r["Id"] == mid and r["Image"] != q[0]), "-")
    if mid == "new_whale":
        gallery = "-"
    if mode == "text":
        want = [str(k + 1), clean(mid), "%.4f" % sim, mark]
        got = [l.split() for l in lines if l.split()[:1] == [str(k + 1)]]
        assert any(g[:4] == want and (gallery == "-" or gallery in g) for g in got), (want, got)
    else:
        assert ("%d %s" % (k + 1, clean(mid))[:20]) in text, "label %d" % (k + 1)
        assert ("%.4f %s" % (sim, mark)) in text, "similarity %d" % (k + 1)
print("query", qi + 1, "ok")
EOF
ref() { # QUERY MODE
    screen >"$TMP_ROOT/screen.txt"
    "$PY" "$TMP_ROOT/ref.py" "$TMP_ROOT/screen.txt" "$FLUKEWATCH_HOME/runs.sqlite" "$RUN" \
        "$TMP_ROOT/data/train.csv" "$@"
}
ok_if "labels: ids, similarities and marks of query 1" ref 0 blocks
T send-keys j
ok_if "j: query 2" wait_for "query 2 of 7"
ok_if "j: query 2's labels" ref 1 blocks
T send-keys w
ok_if "w: the worst query (true id missing: query 6)" wait_for "query 6 of 7"
ok_if "w: the message says where the true id is" wait_for "worst #1: the true id is not in the top 5"
T send-keys NPage
ok_if "PgDn: the last query (new_whale)" wait_for "query 7 of 7"
T send-keys n
ok_if "n: new_whale queries hidden" wait_for "query 6 of 6 (new_whale hidden)"
T send-keys PPage h h h h l g
ok_if "h l g: the gallery of rank 2's whale" wait_for "gallery of "
gal_ok() {
    id=$(screen | sed -n 's/^gallery of \(.*\): \([0-9]*\) train image.*/\1 \2/p')
    set -- $id
    n=$(awk -F, -v id="$1" '$2 == id' "$TMP_ROOT/data/train.csv" | wc -l)
    test "$2" -eq "$n" || { echo "gallery of $1: $2 images, train.csv has $n"; return 1; }
}
ok_if "the gallery counts the whale's train.csv images" gal_ok
T send-keys Escape
ok_if "Esc: back to the query" wait_for "query 1 of 6 (new_whale hidden)"

# ---- the table (text mode) and 80x24 ---------------------------------------
start 120 40 text
ok_if "text: the table's rows match the reference" ref 0 text
start 80 24 blocks
fits() {
    screen >"$TMP_ROOT/small.txt"
    test "$(wc -l <"$TMP_ROOT/small.txt")" -le 24 &&
        test "$(grep -c '▀' "$TMP_ROOT/small.txt")" -ge 2 &&
        ! sed -n '22,24p' "$TMP_ROOT/small.txt" | grep -q '▀' &&
        tail -n 1 "$TMP_ROOT/small.txt" | grep -q '? help'
}
ok_if "80x24: tiles drawn, none in the message and hint rows" fits
"$EXPECT" "$FLUKEWATCH_HOME" "$RUN" 0 24 80 >"$TMP_ROOT/expect80.txt"
screen -e >"$TMP_ROOT/blocks80.txt"
ok_if "80x24: half-block cells match the thumbnails" \
    "$PY" "$TMP_ROOT/cells.py" "$TMP_ROOT/blocks80.txt" "$TMP_ROOT/expect80.txt"
T send-keys q
sleep 0.3
ok_if "nothing on stderr" test ! -s "$TMP_ROOT/err.txt"
tap_done
