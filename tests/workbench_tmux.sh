#!/bin/sh
# workbench_tmux.sh — the workbench driven as a person would, through tmux
# (new-session -d, send-keys, capture-pane): it opens and starts a tiny run,
# every screen shows, the help overlay opens and closes, the loss plot grows
# while the run trains, p pauses and resumes it, the layout holds at 80x24
# and 200x60 and says so below 80x24; killing the tmux server (SIGHUP) leaves
# the run training headless with an event saying why, and a second workbench
# attaches, pauses, resumes and stops it through the store; q with a run
# training can leave it in the background (the pane's command exits, the run
# goes on); hostile whale ids and run names reach the screen without raw
# control bytes (capture-pane -e) and without changing the pane's title.
. "${TOP_SRCDIR:-.}/tests/tap.sh"

if ! command -v tmux >/dev/null 2>&1; then
    skip "workbench through tmux" "tmux is not installed (scripts/deps.sh installs it)"
    tap_done
    exit 0
fi

PY=${PYTHON_REF:-/usr/bin/python3}
WS=$TMP_ROOT/ws
DATA=$TMP_ROOT/data
SOCK=fwtest$$
export LC_ALL=C.UTF-8 HOME=$TMP_ROOT/home XDG_CONFIG_HOME=$TMP_ROOT/config
mkdir -p "$HOME"
# Sanitizer reports of the programs in the panes go to files (checked at the end).
export ASAN_OPTIONS="log_path=$TMP_ROOT/sanitizer${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$TMP_ROOT/sanitizer${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
cleanup() {
    tm kill-server 2>/dev/null
    # Headless workbenches this test left training (when it stops early).
    for p in ${ui_pid:-} ${bg_pid:-}; do kill -TERM "$p" 2>/dev/null; done
    rm -rf "$TMP_ROOT"
}
trap cleanup EXIT

# A session running the workbench in a W x H window.
open_ui() { # NAME W H ARGS...
    name=$1 w=$2 h=$3
    shift 3
    tm new-session -d -s "$name" -x "$w" -y "$h" \
        "env FLUKEWATCH_HOME='$WS' TERM=tmux-256color '$FLUKEWATCH' workbench $*"
}
screen_of() { tm capture-pane -p -t "$1"; }
# Wait (up to $3 s, default 10) until the pane shows text matching $2.
wait_for() {
    i=0
    limit=$((${3:-10} * 10))
    while [ $i -lt $limit ]; do
        if screen_of "$1" 2>/dev/null | grep -q -- "$2"; then
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "waited for '$2'; the screen:"
    screen_of "$1" 2>&1 | head -40
    return 1
}
run_status() { "$FLUKEWATCH" --workspace "$WS" runs --json 2>/dev/null |
    "$PY" -c 'import json,sys; r=[x for x in json.load(sys.stdin) if x["id"]==sys.argv[1]]; print(r[0]["status"] if r else "none")' "$1"; }
wait_status() { # RUN STATUS [SECONDS]
    i=0
    while [ $i -lt $((${3:-15} * 4)) ]; do
        [ "$(run_status "$1")" = "$2" ] && return 0
        sleep 0.25
        i=$((i + 1))
    done
    echo "run $1 is $(run_status "$1"), not $2"
    return 1
}
owner_pid() { "$FLUKEWATCH" --workspace "$WS" runs --json |
    "$PY" -c 'import json,sys; print([x for x in json.load(sys.stdin) if x["id"]==sys.argv[1]][0]["owner_pid"])' "$1"; }
# Braille cells in the pane (the loss plot's dots).
braille_cells() { screen_of "$1" | "$PY" -c 'import sys; print(sum(0x2800 < ord(c) <= 0x28ff for c in sys.stdin.read()))'; }

"$FLUKEWATCH" synth --out "$DATA" --whales 24 --size 128x64 --threads 2 >/dev/null 2>&1
cat >"$TMP_ROOT/tiny.conf" <<'EOF'
input = 64x32
width = 0.25
embedding = 32
sampler.p = 4
sampler.k = 2
threads = 1
eval_every = 2
epochs = 100000
EOF

# ------------------------------------------------------------ open, screens
open_ui A 120 40 --train "$DATA" --config "$TMP_ROOT/tiny.conf" --name tiny --graphics text
ok_if "the workbench opens with its tab bar and hint line" wait_for A "1 Runs.*7 Log"
ok_if "--train starts a run that this process trains" wait_for A "1 training" 20
ok_if "the run is running in the store" wait_status r0001 running
ui_pid=$(owner_pid r0001)

for key in 1 2 3 4 5 6 7; do
    case $key in
    1) marker="tiny" ;;
    2) marker="loss" ;;
    3) marker="LR" ;;
    4) marker="CPU" ;;
    5) marker="r0001" ;;
    6) marker="r0001" ;;
    7) marker="r0001" ;;
    esac
    tm send-keys -t A "$key"
    ok_if "screen $key shows (marker '$marker') and no stand-in" \
        retry 10 sh -c "tmux -L '$SOCK' capture-pane -p -t A | sed -n '2,38p' > '$TMP_ROOT/s$key';
               grep -q -- '$marker' '$TMP_ROOT/s$key' && ! grep -q 'being written' '$TMP_ROOT/s$key'"
done

tm send-keys -t A 1 '?'
ok_if "? opens the help overlay" wait_for A "Help"
tm send-keys -t A x
ok_if "any key closes it" retry 10 sh -c "! tmux -L '$SOCK' capture-pane -p -t A | grep -q '── Help'"

# ------------------------------------------------------------ live loss plot
tm send-keys -t A 2
sleep 2
before=$(braille_cells A)
sleep 4
after=$(braille_cells A)
ok_if "the loss plot grows while the run trains ($before -> $after braille cells)" \
    test "$after" -gt "$before"

# ------------------------------------------------------------ pause / resume
tm send-keys -t A 1 p
ok_if "p on the Runs screen pauses the run" wait_status r0001 paused
wait_for A "paused" >/dev/null # the UI has seen it (p toggles what it shows)
tm send-keys -t A p
ok_if "p again resumes it" wait_status r0001 running

# ------------------------------------------------------------ sizes
tm resize-window -t A -x 80 -y 24
ok_if "at 80x24 the tab bar and hint line stay" retry 10 sh -c "
    s=\$(tmux -L '$SOCK' capture-pane -p -t A);
    [ \$(printf '%s\n' \"\$s\" | wc -l) -eq 24 ] &&
    printf '%s\n' \"\$s\" | head -1 | grep -q 'flukewatch' &&
    printf '%s\n' \"\$s\" | tail -1 | grep -q 'q quit'"
for key in 2 3 4 5 6 7 1; do
    tm send-keys -t A "$key"
    sleep 0.3
done
ok_if "every screen draws at 80x24 without losing the hint line" \
    retry 10 sh -c "tmux -L '$SOCK' capture-pane -p -t A | tail -1 | grep -q 'q quit'"
tm resize-window -t A -x 200 -y 60
ok_if "at 200x60 the screen is redrawn to the full size" retry 10 sh -c "
    tmux -L '$SOCK' capture-pane -p -t A | sed -n 60p | grep -q 'q quit'"
tm resize-window -t A -x 60 -y 20
ok_if "below 80x24 it says how large it needs to be" wait_for A "needs 80x24"
tm resize-window -t A -x 120 -y 40
ok_if "and comes back when the window grows" wait_for A "1 Runs.*7 Log"

# ------------------------------------------------------------ SIGHUP, attach
tm kill-server
sleep 2
ok_if "after SIGHUP (tmux killed) the workbench process still runs" kill -0 "$ui_pid"
ok_if "and its run is still running" wait_status r0001 running 5
ok_if "the store records that the UI went away" "$PY" -c '
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
n, = con.execute("SELECT count(*) FROM events WHERE run_id = ? AND message LIKE ?",
                 ("r0001", "%hung up (SIGHUP)%")).fetchone()
sys.exit(0 if n == 1 else 1)' "$WS/runs.sqlite"
open_ui B 120 40 --graphics text
ok_if "a new workbench attaches and lists the run with its owner" wait_for B "pid $ui_pid"
tm send-keys -t B p
ok_if "the attached UI pauses the other process's run" wait_status r0001 paused
wait_for B "paused" >/dev/null
tm send-keys -t B p
ok_if "and resumes it" wait_status r0001 running
tm send-keys -t B s
ok_if "s asks before stopping" wait_for B "y/N"
tm send-keys -t B y
ok_if "y stops it (checkpoint, interrupted)" wait_status r0001 interrupted 30
i=0
while kill -0 "$ui_pid" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
ok_if "the headless process ends when its run has stopped" sh -c "! kill -0 $ui_pid 2>/dev/null"
tm send-keys -t B q
ok_if "q without runs training here quits at once" \
    retry 10 sh -c "! tmux -L '$SOCK' has-session -t B 2>/dev/null"

# ------------------------------------------------------------ q: leave training
open_ui C 120 40 --train "$DATA" --config "$TMP_ROOT/tiny.conf" --name bg --graphics text
wait_for C "1 training" 20 >/dev/null
tm send-keys -t C q
ok_if "q with a run training asks what to do" wait_for C "leave them training"
tm send-keys -t C b
ok_if "b gives the terminal back (the pane's command exits)" \
    retry 10 sh -c "! tmux -L '$SOCK' has-session -t C 2>/dev/null"
ok_if "and the run goes on training in the background" wait_status r0002 running 5
bg_pid=$(owner_pid r0002)
"$FLUKEWATCH" --workspace "$WS" stop r0002 >/dev/null 2>&1
ok_if "the background run stops on request (flukewatch stop)" wait_status r0002 interrupted 30

# ------------------------------------------------------------ terminals
# A non-UTF-8 locale on a monochrome vt100: ASCII only, every screen draws.
tm new-session -d -s M -x 100 -y 30 \
    "env FLUKEWATCH_HOME='$WS' LC_ALL=C TERM=vt100 '$FLUKEWATCH' workbench --graphics text"
wait_for M "1 Runs" >/dev/null
: >"$TMP_ROOT/mono"
for key in 1 2 3 4 5 6 7; do
    tm send-keys -t M "$key"
    sleep 0.4
    tm capture-pane -p -t M >>"$TMP_ROOT/mono"
done
ok_if "with LC_ALL=C on a vt100 every screen is plain ASCII" \
    "$PY" -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(any(b > 126 for b in d) or d.count(b"q quit") != 7)' "$TMP_ROOT/mono"
tm send-keys -t M q
# True colour (xterm-direct) and a theme switch at run time.
tm new-session -d -s D -x 120 -y 40 \
    "env FLUKEWATCH_HOME='$WS' TERM=xterm-direct '$FLUKEWATCH' workbench --graphics text --theme light"
wait_for D "1 Runs" >/dev/null
tm send-keys -t D T
ok_if "T switches the theme at run time (xterm-direct, from light)" wait_for D "theme monochrome"
tm send-keys -t D q

# A terminal that cannot move the cursor: a clear message, exit 1.
tm new-session -d -s Z -x 100 -y 30 \
    "env FLUKEWATCH_HOME='$WS' TERM=dumb '$FLUKEWATCH' workbench; echo exit=\$?; sleep 30"
ok_if "TERM=dumb is refused with what to do" wait_for Z "set TERM to your terminal"
ok_if "and exit status 1" wait_for Z "exit=1"
tm kill-session -t Z

# ------------------------------------------------------------ hostile strings
HWS=$TMP_ROOT/hostile
HDATA=$TMP_ROOT/hdata
"$FLUKEWATCH" synth --out "$HDATA" --whales 20 --size 128x64 --threads 2 >/dev/null 2>&1
HRUN=$("${TOP_BUILDDIR:-.}/tests/matches_fixture" "$HWS" "$HDATA")
"$PY" - "$HWS/runs.sqlite" "$HRUN" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("UPDATE runs SET name = ? WHERE id = ?",
            ("bad\x1b]2;TITLED\x07\x1b[2J\u202e\x9bname", sys.argv[2]))
con.commit()
EOF
tm new-session -d -s H -x 160 -y 48 \
    "env FLUKEWATCH_HOME='$HWS' TERM=tmux-256color '$FLUKEWATCH' workbench --graphics text"
wait_for H "1 Runs" >/dev/null
tm send-keys -t H 1
sleep 0.8
tm capture-pane -p -e -t H >"$TMP_ROOT/h1"
tm send-keys -t H 5
sleep 1.5
tm capture-pane -p -e -t H >"$TMP_ROOT/h5"
tm send-keys -t H 7
sleep 0.8
tm capture-pane -p -e -t H >"$TMP_ROOT/h7"
cat >"$TMP_ROOT/clean.py" <<'EOF'
import re, sys
data = b"".join(open(p, "rb").read() for p in sys.argv[1:]).decode("utf-8")
data = re.sub(r"\x1b\[[0-9;:]*m", "", data)  # capture-pane -e's own attributes
bad = [c for c in data if (ord(c) < 32 and c != "\n") or 127 <= ord(c) < 160
       or ord(c) in (0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069)]
sys.exit(1 if bad else 0)
EOF
ok_if "hostile run names and whale ids show no raw control bytes" \
    "$PY" "$TMP_ROOT/clean.py" "$TMP_ROOT/h1" "$TMP_ROOT/h5" "$TMP_ROOT/h7"
ok_if "the hostile run name shows as text" grep -q "TITLED" "$TMP_ROOT/h1"
ok_if "the hostile whale id shows as text on the Matches screen" grep -q "EVIL" "$TMP_ROOT/h5"
ok_if "the pane's title was not changed by them" \
    sh -c "! tmux -L '$SOCK' display -p -t H '#{pane_title}' | grep -q -e TITLED -e pwned"
tm kill-server
ok_if "no sanitizer reports from any workbench (ASan/UBSan builds)" \
    sh -c "! ls '$TMP_ROOT'/sanitizer* 2>/dev/null | grep -q . || { cat '$TMP_ROOT'/sanitizer* | head -30; false; }"

tap_done
