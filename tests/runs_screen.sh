#!/bin/sh
# runs_screen.sh — the workbench's Runs screen driven through tmux on a
# workspace made by tests/runs_fixture (finished, failed, queued,
# interrupted runs, a config that does not parse): the table lists them with
# status words, the selection moves with keys and mouse clicks and the
# details follow it (config against the defaults, parent), R renames, D
# deletes a stopped run with its files and refuses a live one, p/p/s pause,
# resume and stop a run another process owns, and the new-run form refuses a
# bad value while typing, starts a run with the typed config, and clones it
# with the parent recorded; the layout holds at 80x24 and 200x60.
. "${TOP_SRCDIR:-.}/tests/tap.sh"

if ! command -v tmux >/dev/null 2>&1; then
    skip "Runs screen through tmux" "tmux is not installed (scripts/deps.sh installs it)"
    tap_done
    exit 0
fi

PY=${PYTHON_REF:-/usr/bin/python3}
FIXTURE=${TOP_BUILDDIR:-.}/tests/runs_fixture
WS=$TMP_ROOT/ws
DATA=$TMP_ROOT/data
SOCK=fwruns$$
export LC_ALL=C.UTF-8 HOME=$TMP_ROOT/home XDG_CONFIG_HOME=$TMP_ROOT/config
mkdir -p "$HOME"
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
cleanup() {
    tm kill-server 2>/dev/null
    [ -n "${owner_pid:-}" ] && kill "$owner_pid" 2>/dev/null
    rm -rf "$TMP_ROOT"
}
trap cleanup EXIT

screen_of() { tm capture-pane -p -t "$1"; }
wait_for() { # SESSION REGEX [SECONDS]
    i=0
    while [ $i -lt $((${3:-10} * 10)) ]; do
        screen_of "$1" 2>/dev/null | grep -q -E -- "$2" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "waited for '$2'; the screen:"
    screen_of "$1" 2>&1 | head -60
    return 1
}
json_field() { # RUN FIELD -> the field of the run in runs --json, "none" without the run
    "$FLUKEWATCH" --workspace "$WS" runs --all --json 2>/dev/null | "$PY" -c '
import json, sys
r = [x for x in json.load(sys.stdin) if x["id"] == sys.argv[1]]
print(r[0][sys.argv[2]] if r else "none")' "$1" "$2"
}
wait_field() { # RUN FIELD VALUE [SECONDS]
    i=0
    while [ $i -lt $((${4:-10} * 4)) ]; do
        [ "$(json_field "$1" "$2")" = "$3" ] && return 0
        sleep 0.25
        i=$((i + 1))
    done
    echo "run $1: $2 is $(json_field "$1" "$2"), not $3"
    return 1
}
run_config() { # RUN -> its stored config text
    "$PY" -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT config FROM runs WHERE id = ?", (sys.argv[2],)).fetchone()[0])' \
        "$WS/runs.sqlite" "$1"
}
# Click (an X10 mouse report: press, then release) on the table row of RUN.
click_run() { # SESSION RUN
    y=$(screen_of "$1" | grep -n -E "^.$2 " | head -1 | cut -d: -f1)
    [ -n "$y" ] || return 1
    report() { printf '\033[M%b%b%b' "\\0$(printf %o $((32 + $1)))" \
        "\\0$(printf %o $((32 + 11)))" "\\0$(printf %o $((32 + $2)))"; }
    tm send-keys -t "$1" -l "$(report 0 "$y")"
    sleep 0.3
    tm send-keys -t "$1" -l "$(report 3 "$y")"
}
# In the form: move the selection to the row of KEY (paging down until the
# row is on screen).
goto_key() { # SESSION KEY
    tries=0
    while :; do
        screen_of "$1" >"$TMP_ROOT/form"
        sel=$(grep -n '^▸' "$TMP_ROOT/form" | head -1 | cut -d: -f1)
        at=$(grep -n -E "^(▸| ) $2 " "$TMP_ROOT/form" | head -1 | cut -d: -f1)
        [ -n "$sel" ] && [ -n "$at" ] && break
        tries=$((tries + 1))
        [ $tries -gt 12 ] && { echo "no row $2 in the form"; return 1; }
        tm send-keys -t "$1" NPage
        sleep 0.2
    done
    while [ "$sel" -lt "$at" ]; do tm send-keys -t "$1" Down; sel=$((sel + 1)); done
    while [ "$sel" -gt "$at" ]; do tm send-keys -t "$1" Up; sel=$((sel - 1)); done
    wait_for "$1" "^▸ $2 " 3
}
set_key() { # SESSION KEY VALUE
    goto_key "$1" "$2" || return 1
    tm send-keys -t "$1" -l "$3"
    tm send-keys -t "$1" Enter
}

"$FLUKEWATCH" synth --out "$DATA" --whales 12 --size 128x64 --threads 2 >/dev/null 2>&1
"$FIXTURE" populate "$WS" "$TMP_ROOT/expect.json" >/dev/null
mkdir -p "$WS/runs/r0005/checkpoints"
echo data >"$WS/runs/r0005/checkpoints/ckpt-00000001.fwc"

tm new-session -d -s A -x 80 -y 24 \
    "env FLUKEWATCH_HOME='$WS' TERM=tmux-256color '$FLUKEWATCH' workbench --graphics text"

# ------------------------------------------------------------ table, selection
table_lists() {
    wait_for A "r0013 odd-config" || return 1
    screen_of A >"$TMP_ROOT/t1"
    grep -q -E 'r0003 crashy +failed' "$TMP_ROOT/t1" &&
        grep -q -E 'r0005 cut-short +interrupted +3/8' "$TMP_ROOT/t1" &&
        grep -q -E 'r0002 wide-lr +finished +6/6 .* 0.5225' "$TMP_ROOT/t1"
}
ok_if "the table lists the runs with their status words" table_lists
ok_if "the newest run is selected; its unparseable config is reported" \
    wait_for A "unknown key 'no_such_key'"
tm send-keys -t A g
ok_if "g selects the first run and the details show it" wait_for A "── r0001  baseline"
tm send-keys -t A j
ok_if "j moves down; the details show the parent and the changed keys" sh -c "
    sleep 0.6; tmux -L $SOCK capture-pane -p -t A > '$TMP_ROOT/t2'
    grep -q '── r0002  wide-lr' '$TMP_ROOT/t2' && grep -q 'parent r0001' '$TMP_ROOT/t2' &&
    grep -q 'embedding=128' '$TMP_ROOT/t2' && grep -q 'lr=0.003' '$TMP_ROOT/t2'"
click_run A r0004
ok_if "a click on a row selects its run" wait_for A "^.r0004 .*"
# (app.c's mouse mask leaves out BUTTON1_RELEASED, so ncurses blocks reading
# after the release until the next key: the next key goes on.)

# ------------------------------------------------------------ rename, delete
tm send-keys -t A R
ok_if "R asks for the new name, prefilled" wait_for A "Rename r0004: waiting"
tm send-keys -t A C-u
tm send-keys -t A -l "renamed run"
tm send-keys -t A Enter
ok_if "the store has the new name" wait_field r0004 name "renamed run"
ok_if "the table shows it" wait_for A "r0004 renamed run"

tm send-keys -t A j
wait_for A "── r0005  cut-short" >/dev/null
tm send-keys -t A D
ok_if "D asks before deleting" wait_for A "Delete r0005 \(cut-short\).*\[y/N\]"
tm send-keys -t A y
ok_if "y deletes the run from the store" wait_field r0005 status none
ok_if "and its files" test ! -e "$WS/runs/r0005"
ok_if "the selection moves to the next run" wait_for A "── r0006 "
ok_if "the table no longer lists it" sh -c "! tmux -L $SOCK capture-pane -p -t A | grep -q '^.r0005 '"

# ------------------------------------------------------------ a run another process trains
"$FIXTURE" owner "$WS" r0009 60 >"$TMP_ROOT/owner9" 2>&1 &
owner_pid=$!
ok_if "the fixture owns r0009" wait_field r0009 status running
ok_if "the table shows it running, trained by the owner's pid" \
    wait_for A "r0009 live-a +running .* pid $owner_pid"
tm send-keys -t A j j j
wait_for A "── r0009  live-a" >/dev/null
tm send-keys -t A D
ok_if "D on a live run is refused with a reason" wait_for A "r0009 is running: stop it first"
ok_if "and the run stays" test "$(json_field r0009 status)" = running
tm send-keys -t A p
ok_if "p pauses it through the store" wait_field r0009 status paused
ok_if "the table shows it paused" wait_for A "r0009 live-a +paused"
tm send-keys -t A p
ok_if "p again resumes it" wait_field r0009 status running
tm send-keys -t A s
ok_if "s asks before stopping" wait_for A "Stop r0009 \(live-a\)\?"
tm send-keys -t A y
ok_if "y stops it (interrupted)" wait_field r0009 status interrupted
wait "$owner_pid" 2>/dev/null
owner_pid=

# ------------------------------------------------------------ the new-run form
tm resize-window -t A -x 200 -y 60
ok_if "at 200x60 the details show the config and events side by side" \
    wait_for A "config \(differs from the defaults\) +events"
tm send-keys -t A g j n
ok_if "n opens the form prefilled from the selected run" wait_for A "New run \(from r0002's config\)"
ok_if "with that run's values" wait_for A "^  embedding +128 "
tm send-keys -t A Escape
ok_if "Esc closes the form" wait_for A "new run cancelled"
tm send-keys -t A G n
ok_if "a config that does not parse: the form starts from the defaults, saying why" \
    wait_for A "r0013's config: unknown key 'no_such_key'.*defaults"
ok_if "the form lists every config key with its documentation" \
    wait_for A "^  epochs +[0-9]+ +training epochs"
set_key A epochs abc
ok_if "a bad value is refused while typing, with the reason" \
    wait_for A "epochs: expected an integer in \[1, 100000\], got 'abc'"
tm send-keys -t A F2
ok_if "the form cannot start with a refused value" wait_for A "cannot start: 1 value refused"
goto_key A epochs
tm send-keys -t A Enter C-u
tm send-keys -t A -l 1000
tm send-keys -t A Enter
set_key A name formrun
set_key A dataset "$DATA"
set_key A input 64x32
set_key A width 0.25
set_key A embedding 32
set_key A sampler.p 4
set_key A sampler.k 2
set_key A threads 1
set_key A eval_every 0
tm send-keys -t A F2
ok_if "F2 starts the run" wait_for A "started r0014 \(formrun\)" 20
ok_if "this process trains it" wait_for A "r0014 formrun .* here"
config_has() { # RUN LINE... -> every LINE is a line of the run's stored config
    run=$1
    shift
    run_config "$run" >"$TMP_ROOT/config"
    for line in "$@"; do
        grep -q -x -F -- "$line" "$TMP_ROOT/config" || { echo "no '$line' in:"; cat "$TMP_ROOT/config"; return 1; }
    done
}
ok_if "the store has the typed config" config_has r0014 "epochs = 1000" "input = 64x32" \
    "width = 0.25" "embedding = 32" "sampler.p = 4" "sampler.k = 2" "eval_every = 0" \
    "dataset = $(cd "$DATA" && pwd -P)"
tm send-keys -t A c
ok_if "c opens the form as a clone of the selected run" wait_for A "Clone r0014 \(formrun\) with changes"
tm send-keys -t A C-s
ok_if "Ctrl-S starts the clone" wait_for A "started r0015 \(formrun\), a clone of r0014" 20
ok_if "the clone records its parent" wait_field r0015 parent r0014

# ------------------------------------------------------------ 80x24 again
tm resize-window -t A -x 80 -y 24
layout_80() { # the redraw after the resize can lag under load: poll for 10 s
    tries=0
    while :; do
        sleep 0.5
        screen_of A >"$TMP_ROOT/t3"
        grep -q -E '^ id +name +status +epoch progress +ETA +mAP@5' "$TMP_ROOT/t3" &&
            grep -q -E '^.r0015 formrun .* here' "$TMP_ROOT/t3" &&
            grep -q -E 'n new  c clone  p pause/resume .* \? help' "$TMP_ROOT/t3" &&
            test "$(wc -L <"$TMP_ROOT/t3")" -le 80 && return 0
        tries=$((tries + 1))
        [ $tries -lt 20 ] || { cat "$TMP_ROOT/t3"; return 1; }
    done
}
ok_if "at 80x24 the header, the rows and the hint line fit" layout_80
tm send-keys -t A q
ok_if "q asks what to do with the two runs training here" wait_for A "2 runs training here"
tm send-keys -t A s
ok_if "s stops them (interrupted) and quits" sh -c "
    i=0; while tmux -L $SOCK has-session -t A 2>/dev/null && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i+1)); done
    ! tmux -L $SOCK has-session -t A 2>/dev/null &&
    test \"\$('$FLUKEWATCH' --workspace '$WS' runs --status interrupted | grep -c '^r001[45] ')\" = 2"
tap_done
