#!/bin/sh
# matches_cli.sh — `flukewatch matches` on a fixture run (tests/matches_fixture:
# a synth dataset, one run, one evaluation): the table names the ids, marks and
# gallery images that a Python reference reads from the store and train.csv;
# hostile ids print without raw control bytes; half-block output holds only
# the renderer's SGR sequences; sixel output is one DCS per tile row; a
# missing image is reported and exits 0; bad runs and options exit 1 and 2.
. "${TOP_SRCDIR:-.}/tests/tap.sh"

PY=${PYTHON_REF:-/usr/bin/python3}
FIXTURE=${TOP_BUILDDIR:-.}/tests/matches_fixture
DATA=$TMP_ROOT/data
export FLUKEWATCH_HOME="$TMP_ROOT/ws"
export LC_ALL=C.UTF-8
unset FLUKEWATCH_GRAPHICS COLORTERM
export TERM=xterm

"$FLUKEWATCH" synth --out "$DATA" --whales 20 --size 256x128 --threads 2 >/dev/null 2>&1
RUN=$("$FIXTURE" "$FLUKEWATCH_HOME" "$DATA")
ok_if "fixture run and evaluation are created" test "$RUN" = r0001

# The reference: reads the newest evaluation of the run and train.csv itself
# and checks the table printed by `matches --text`.
cat >"$TMP_ROOT/ref.py" <<'EOF'
import csv, re, sqlite3, sys
out_file, db, run, train_csv, select, marks = sys.argv[1:7]
def clean(s):  # what fw_sanitize does to these ids: drop control characters
    return "".join(c for c in s if not (ord(c) < 32 or 127 <= ord(c) < 160))
con = sqlite3.connect(db)
eid, = con.execute("SELECT max(id) FROM evaluations WHERE run_id = ?", (run,)).fetchone()
qs = con.execute("SELECT image, true_id, m1, s1, m2, s2, m3, s3, m4, s4, m5, s5 "
                 "FROM eval_queries WHERE eval_id = ? ORDER BY q", (eid,)).fetchall()
rows = list(csv.DictReader(open(train_csv, newline="", encoding="utf-8")))
def rank(q):
    ids = [q[2 + 2 * k] for k in range(5)]
    return ids.index(q[1]) + 1 if q[1] in ids else 6
if select == "first":
    qi = 0
elif select == "worst":
    qi = max(range(len(qs)), key=lambda i: (rank(qs[i]), -i))
else:
    qi = [q[0] for q in qs].index(select)
q = qs[qi]
text = open(out_file, encoding="utf-8").read()
assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]", text), "control bytes in the output"
lines = text.splitlines()
want_head = "query %d of %d: %s  true id %s" % (qi + 1, len(qs), q[0], clean(q[1]))
assert lines[1].startswith(want_head), (lines[1], want_head)
assert lines[2].split()[:2] == ["rank", "whale"], lines[2]
ok, bad = ("\u2713", "\u2717") if marks == "utf8" else ("ok", "--")
for k in range(5):
    mid, sim = q[2 + 2 * k], q[3 + 2 * k]
    gallery = next((r["Image"] for r in rows if r["Id"] == mid and r["Image"] != q[0]), "-")
    if mid == "new_whale":
        gallery = "-"
    got = lines[3 + k].split()
    want = [str(k + 1), clean(mid), "%.4f" % sim, ok if mid == q[1] else bad, gallery]
    assert got[:5] == want, ("row %d" % (k + 1), got, want)
print("query", qi + 1, "checked")
EOF

text_ok() { # select marks [options...]
    sel=$1 marks=$2
    shift 2
    "$FLUKEWATCH" matches "$RUN" "$@" >"$TMP_ROOT/out.txt" &&
        "$PY" "$TMP_ROOT/ref.py" "$TMP_ROOT/out.txt" "$FLUKEWATCH_HOME/runs.sqlite" "$RUN" \
            "$DATA/train.csv" "$sel" "$marks"
}
ok_if "--text: the first query's ids, similarities, marks and gallery images" text_ok first utf8 --text
ok_if "a pipe gets the table without --text" text_ok first utf8
ok_if "--worst picks the query whose true id is missing" text_ok worst utf8 --text --worst
ascii_marks() { LC_ALL=C; export LC_ALL; text_ok first ascii --text; }
ok_if "a non-UTF-8 locale marks ok/--" ascii_marks

every_query() {
    for img in $(sed -n '2,$p' "$DATA/train.csv" | cut -d, -f1); do
        if "$FLUKEWATCH" matches "$RUN" --text --query "$img" >"$TMP_ROOT/q.txt" 2>/dev/null; then
            "$PY" "$TMP_ROOT/ref.py" "$TMP_ROOT/q.txt" "$FLUKEWATCH_HOME/runs.sqlite" "$RUN" \
                "$DATA/train.csv" "$img" utf8 || return 1
            n=$((n + 1))
        fi
    done
    test "$n" -eq 7 || { echo "checked $n queries, expected 7"; return 1; }
}
n=0
ok_if "--query IMAGE: all seven queries match the reference" every_query

ok_if "the escape-sequence id prints sanitised in --text" sh -c \
    "'$FLUKEWATCH' matches '$RUN' --text | grep -qF 'w_[31mEVIL]0;pwned[2J'"
ok_if "--text output holds no ESC byte" sh -c \
    "! '$FLUKEWATCH' matches '$RUN' --text | od -An -tx1 | grep -qw 1b"

# Half-blocks: after removing the renderer's own SGR sequences (colours, reset,
# bold green/red marks) no ESC or other control byte is left.
cat >"$TMP_ROOT/sgr.py" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read().decode("utf-8")
sgr = re.compile(r"\x1b\[(?:(?:38|48);(?:2;\d{1,3};\d{1,3};\d{1,3}|5;\d{1,3})"
                 r"(?:;(?:38|48);(?:2;\d{1,3};\d{1,3};\d{1,3}|5;\d{1,3}))?|0|1;3[12])m")
n_sgr = len(sgr.findall(data))
rest = sgr.sub("", data)
bad = re.findall(r"[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]", rest)
assert n_sgr > 100, "only %d SGR sequences" % n_sgr
assert not bad, "stray control bytes: %r" % bad[:5]
assert "\u2580" in rest and "w_[31mEVIL]0;pwned[2J" in rest
print(n_sgr, "SGR sequences, nothing else")
EOF
ok_if "--blocks: only the renderer's SGR sequences" sh -c \
    "COLUMNS=200 '$FLUKEWATCH' matches '$RUN' --blocks >'$TMP_ROOT/b.txt' && '$PY' '$TMP_ROOT/sgr.py' '$TMP_ROOT/b.txt'"
ok_if "--blocks in true colour with COLORTERM=truecolor" sh -c \
    "COLORTERM=truecolor '$FLUKEWATCH' matches '$RUN' --blocks | grep -q '38;2;' &&
     ! '$FLUKEWATCH' matches '$RUN' --blocks | grep -q '38;2;'"
ok_if "--blocks marks one right and four wrong for the first query" sh -c \
    "test \$('$FLUKEWATCH' matches '$RUN' --blocks | grep -o '✓' | wc -l) -eq 1 &&
     test \$('$FLUKEWATCH' matches '$RUN' --blocks | grep -o '✗' | wc -l) -eq 4"
ok_if "--cols sets the thumbnail width in cells" sh -c \
    "'$FLUKEWATCH' matches '$RUN' --blocks --cols 16 | sed -n 3p | sed 's/\x1b\[[0-9;]*m//g' |
     grep -qx '\\(▀\\{16\\}  \\)\\{3\\}▀\\{16\\}'"
ok_if "FLUKEWATCH_GRAPHICS=blocks draws half-blocks into a pipe" sh -c \
    "FLUKEWATCH_GRAPHICS=blocks '$FLUKEWATCH' matches '$RUN' | grep -q '▀'"
ok_if "--text overrides FLUKEWATCH_GRAPHICS=sixel" sh -c \
    "FLUKEWATCH_GRAPHICS=sixel '$FLUKEWATCH' matches '$RUN' --text | grep -q '^rank '"

cat >"$TMP_ROOT/sixel.py" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read().decode("utf-8")
dcs = re.findall(r"\x1bPq(.*?)\x1b\\", data, re.S)
assert len(dcs) == int(sys.argv[2]), "%d sixel images" % len(dcs)
for body in dcs:  # raster attributes, colour registers, sixel data only
    assert re.fullmatch(r'"\d+;\d+;\d+;\d+[#!$\-0-9;?-~]*', body), body[:80]
print(len(dcs), "sixel images")
EOF
ok_if "--sixel: one sixel image per row of tiles" sh -c \
    "COLUMNS=200 '$FLUKEWATCH' matches '$RUN' --sixel >'$TMP_ROOT/s.txt' && '$PY' '$TMP_ROOT/sixel.py' '$TMP_ROOT/s.txt' 1 &&
     COLUMNS=80 '$FLUKEWATCH' matches '$RUN' --sixel --cols 20 >'$TMP_ROOT/s.txt' && '$PY' '$TMP_ROOT/sixel.py' '$TMP_ROOT/s.txt' 2"

ok_if "unknown run exits 1 with a message" sh -c \
    "'$FLUKEWATCH' matches r0042 2>'$TMP_ROOT/e.txt'; test \$? -eq 1 && grep -q \"no run 'r0042'\" '$TMP_ROOT/e.txt'"
ok_if "unknown query image exits 1" sh -c \
    "'$FLUKEWATCH' matches '$RUN' --query nope.jpg 2>/dev/null; test \$? -eq 1"
ok_if "unknown evaluation exits 1" sh -c \
    "'$FLUKEWATCH' matches '$RUN' --evaluation 99 2>/dev/null; test \$? -eq 1"
usage() { "$FLUKEWATCH" matches "$@" >/dev/null 2>&1; test $? -eq 2; }
ok_if "bad option exits 2" usage "$RUN" --frobnicate
ok_if "missing RUN exits 2" usage --text
ok_if "--cols out of range exits 2" usage "$RUN" --cols 1
ok_if "--query with --worst exits 2" usage "$RUN" --worst --query x.jpg
ok_if "two output modes exit 2" usage "$RUN" --text --sixel

# Last (it changes the dataset): the gallery image of rank 2 of the first
# query disappears; the tile is empty with the reason and the command succeeds.
gone=$("$FLUKEWATCH" matches "$RUN" --text | awk '$1 == 2 { print $5 }')
rm -f "$DATA/train/$gone"
ok_if "a missing image is drawn empty with its reason, exit 0" sh -c \
    "'$FLUKEWATCH' matches '$RUN' --blocks >'$TMP_ROOT/m.txt' && grep -q 'no image \[1\]' '$TMP_ROOT/m.txt' &&
     grep -q '^\[1\] .*$gone: .*\(No such file\|not found\|does not exist\)' '$TMP_ROOT/m.txt'"
ok_if "the table says the missing image is unreadable" sh -c \
    "'$FLUKEWATCH' matches '$RUN' --text | grep -q '$gone (unreadable: No such file'"
mv "$DATA" "$TMP_ROOT/moved"
ok_if "a dataset that is gone: the table with the reason, a warning, exit 0" sh -c \
    "'$FLUKEWATCH' matches '$RUN' --text >'$TMP_ROOT/g.txt' 2>'$TMP_ROOT/g.err' &&
     grep -q '^1 .* - (.*$DATA' '$TMP_ROOT/g.txt' && grep -q 'warning: no images: .*$DATA' '$TMP_ROOT/g.err' &&
     '$FLUKEWATCH' matches '$RUN' --blocks >/dev/null 2>&1"
tap_done
