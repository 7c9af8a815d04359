#!/bin/sh
# synth_cli.sh — `flukewatch synth` end to end on a tiny dataset: the Kaggle
# layout and CSVs, ids and names, byte-identical reruns for any thread count,
# JPEGs checked with PIL ($PYTHON_REF), and usage errors (exit 2).
. "${TOP_SRCDIR:-.}/tests/tap.sh"

A=$TMP_ROOT/a
B=$TMP_ROOT/b
V=$TMP_ROOT/varied

ok_if "synth writes a tiny dataset" "$FLUKEWATCH" synth --out "$A" --whales 10 --size 96x48 --seed 5 --threads 2

layout_ok() {
    test -d "$A/train" && test -d "$A/test" && test -f "$A/train.csv" &&
        test -f "$A/sample_submission.csv" && test -f "$A/test_truth.csv"
}
ok_if "Kaggle layout: train/ test/ and three CSVs" layout_ok

headers_ok() {
    for f in train.csv sample_submission.csv test_truth.csv; do
        test "$(head -n 1 "$A/$f")" = "Image,Id" || { echo "$f header: $(head -n 1 "$A/$f")"; return 1; }
    done
}
ok_if "CSV headers are exactly Image,Id" headers_ok

# The names in a CSV (sorted) against the files in a directory (sorted).
same_names() { # csv dir
    tail -n +2 "$1" | cut -d, -f1 | sort >"$TMP_ROOT/csv.names"
    (cd "$2" && ls) | sort >"$TMP_ROOT/dir.names"
    diff "$TMP_ROOT/csv.names" "$TMP_ROOT/dir.names"
}
ok_if "train.csv names exactly the files in train/" same_names "$A/train.csv" "$A/train"
ok_if "sample_submission.csv names exactly the files in test/" same_names "$A/sample_submission.csv" "$A/test"
ok_if "test_truth.csv names exactly the files in test/" same_names "$A/test_truth.csv" "$A/test"

disjoint() {
    (cd "$A/train" && ls) | sort >"$TMP_ROOT/train.names"
    (cd "$A/test" && ls) | sort >"$TMP_ROOT/test.names"
    test -z "$(comm -12 "$TMP_ROOT/train.names" "$TMP_ROOT/test.names")"
}
ok_if "no image is in both train and test" disjoint

names_ok() {
    bad=$(cat "$A/train.csv" "$A/test_truth.csv" | grep -v '^Image,Id$' | cut -d, -f1 | grep -Evx '[0-9a-f]{8}\.jpg')
    test -z "$bad" || { echo "bad names: $bad"; return 1; }
}
ok_if "image names are 8 hex digits + .jpg" names_ok

ids_ok() {
    bad=$(cat "$A/train.csv" "$A/test_truth.csv" | grep -v '^Image,Id$' | cut -d, -f2 | grep -Evx 'w_[0-9a-f]{7}|new_whale')
    test -z "$bad" || { echo "bad ids: $bad"; return 1; }
    grep -q ',new_whale$' "$A/train.csv" && grep -q ',w_' "$A/train.csv" && grep -q ',new_whale$' "$A/test_truth.csv"
}
ok_if "ids are w_ + 7 hex or new_whale, both present" ids_ok

placeholder_ok() {
    bad=$(tail -n +2 "$A/sample_submission.csv" | cut -d, -f2 | grep -Evx 'new_whale( w_[0-9a-f]{7}){4}')
    test -z "$bad" || { echo "bad predictions: $bad"; return 1; }
}
ok_if "sample_submission holds a placeholder prediction" placeholder_ok

known_test_ids() { # every known id in test_truth appears in train.csv
    tail -n +2 "$A/train.csv" | cut -d, -f2 | sort -u >"$TMP_ROOT/train.ids"
    missing=$(tail -n +2 "$A/test_truth.csv" | cut -d, -f2 | grep -v new_whale | sort -u | comm -23 - "$TMP_ROOT/train.ids")
    test -z "$missing" || { echo "test ids not in train: $missing"; return 1; }
}
ok_if "known test whales are whales of train.csv" known_test_ids

ok_if "the same seed with 1 thread writes the same files" "$FLUKEWATCH" synth --out "$B" --whales 10 --size 96x48 --seed 5 --threads 1
ok_if "... byte for byte (diff -r)" diff -r "$A" "$B"
sums() { (cd "$1" && find . -type f | sort | xargs sha256sum); }
same_sums() { test "$(sums "$A")" = "$(sums "$B")"; }
ok_if "... and sha256sum agrees" same_sums
ok_if "rerunning over a previous output works" "$FLUKEWATCH" synth --out "$A" --whales 10 --size 96x48 --seed 5 --threads 2
ok_if "... and gives the same bytes again" diff -r "$A" "$B"
other_seed_differs() {
    "$FLUKEWATCH" synth --out "$TMP_ROOT/c" --whales 10 --size 96x48 --seed 6 >/dev/null 2>&1 || return 1
    ! diff -rq "$A" "$TMP_ROOT/c" >/dev/null
}
ok_if "another seed gives other files" other_seed_differs

# A run killed (SIGKILL) half-way leaves no CSV naming a missing image, and
# the next run over that directory completes it into a consistent dataset.
K=$TMP_ROOT/killed
csv_rows_exist() { # dir: every row of every CSV present names an existing file
    for f in train.csv sample_submission.csv test_truth.csv; do
        test -f "$1/$f" || continue
        sub=test
        test "$f" = train.csv && sub=train
        for n in $(tail -n +2 "$1/$f" | cut -d, -f1); do
            test -f "$1/$sub/$n" || { echo "$f names missing $sub/$n"; return 1; }
        done
    done
}
killed_run() {
    "$FLUKEWATCH" synth --out "$K" --whales 100 --size 96x48 --threads 1 >/dev/null 2>&1 &
    pid=$!
    i=0
    while [ $i -lt 200 ] && [ "$(ls "$K/train" 2>/dev/null | wc -l)" -lt 20 ]; do
        sleep 0.02
        i=$((i + 1))
    done
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    csv_rows_exist "$K"
}
ok_if "a killed run leaves no CSV naming a missing image" killed_run
resumed_run() {
    "$FLUKEWATCH" synth --out "$K" --whales 100 --size 96x48 >/dev/null 2>&1 || return 1
    same_names "$K/train.csv" "$K/train" && same_names "$K/test_truth.csv" "$K/test" && csv_rows_exist "$K"
}
ok_if "the next run over it completes a consistent dataset" resumed_run

ok_if "synth with varied sizes" "$FLUKEWATCH" synth --out "$V" --whales 4 --seed 9

if test -n "$PYTHON_REF" && "$PYTHON_REF" -c 'import PIL' 2>/dev/null; then
    check_jpegs() { # dir fixed_w fixed_h
        "$PYTHON_REF" - "$@" <<'PY'
import glob, os, sys
from PIL import Image
d, fw, fh = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
files = sorted(glob.glob(os.path.join(d, "train", "*.jpg")) + glob.glob(os.path.join(d, "test", "*.jpg")))
assert files, "no images"
gray = 0
for f in files:
    im = Image.open(f)
    im.load()
    assert im.format == "JPEG", f
    assert im.mode in ("L", "RGB"), (f, im.mode)
    gray += im.mode == "L"
    w, h = im.size
    if fw:
        assert (w, h) == (fw, fh), (f, w, h)
    else:
        assert 320 <= w <= 1000 and 100 <= h <= w, (f, w, h)
    px = im.getextrema()
    lo, hi = (px if im.mode == "L" else (min(p[0] for p in px), max(p[1] for p in px)))
    assert hi - lo > 40, (f, "nearly constant", px)
share = gray / len(files)
print("%d images, %.2f grayscale" % (len(files), share))
if len(files) >= 50:
    assert 0.18 <= share <= 0.5, share
PY
    }
    ok_if "PIL opens every JPEG: fixed size, about 1/3 mode L" check_jpegs "$A" 96 48
    ok_if "PIL opens every JPEG: varied sizes within 320..1000 wide" check_jpegs "$V" 0 0
else
    skip "PIL opens every JPEG: fixed size, about 1/3 mode L" "no python3 with PIL (PYTHON_REF=$PYTHON_REF)"
    skip "PIL opens every JPEG: varied sizes within 320..1000 wide" "no python3 with PIL (PYTHON_REF=$PYTHON_REF)"
fi

# Usage errors: exit 2 and a message naming the command.
usage_error() {
    out=$("$FLUKEWATCH" synth "$@" 2>&1 >/dev/null)
    rc=$?
    test $rc -eq 2 || { echo "exit $rc for: $*"; return 1; }
    printf '%s\n' "$out" | grep -q '^flukewatch synth: ' || { echo "message: $out"; return 1; }
}
for args in "--whales 0" "--whales 100001" "--whales abc" "--whales" "--size 63x32" \
    "--size 64x31" "--size 4097x100" "--size 100" "--size 0x0" "--seed -1" "--seed abc" \
    "--seed 18446744073709551616" "--threads -1" "--threads 257" "--frobnicate" "extra"; do
    # shellcheck disable=SC2086
    ok_if "usage error: $args" usage_error --out "$TMP_ROOT/never" $args
done
ok_if "usage error: --out missing" usage_error --whales 3
ok_if "nothing written after usage errors" test ! -e "$TMP_ROOT/never"

ok_if "the largest u64 seed is accepted" "$FLUKEWATCH" synth --out "$TMP_ROOT/maxseed" --whales 1 --size 64x32 --seed 18446744073709551615

refuses_nonempty() {
    mkdir -p "$TMP_ROOT/mine" && echo data >"$TMP_ROOT/mine/notes.txt"
    out=$("$FLUKEWATCH" synth --out "$TMP_ROOT/mine" --whales 2 --size 64x32 2>&1 >/dev/null)
    rc=$?
    test $rc -eq 1 && printf '%s\n' "$out" | grep -q "mine" && printf '%s\n' "$out" | grep -q -- "--force"
}
ok_if "a non-empty directory is refused (exit 1) unless --force" refuses_nonempty
ok_if "--force writes into it" "$FLUKEWATCH" synth --out "$TMP_ROOT/mine" --whales 2 --size 64x32 --force

unwritable() {
    out=$("$FLUKEWATCH" synth --out "$A/train.csv/sub" --whales 2 --size 64x32 2>&1 >/dev/null)
    rc=$?
    test $rc -eq 1 && printf '%s\n' "$out" | grep -q "train.csv"
}
ok_if "an unwritable --out is an error naming the path (exit 1)" unwritable

help_lists_options() {
    h=$("$FLUKEWATCH" synth --help) || return 1
    for o in --out --whales --seed --size --threads --force; do
        printf '%s\n' "$h" | grep -q -- "^  $o " || { echo "help lacks $o"; return 1; }
    done
    test "$(printf '%s\n' "$h" | grep -c 'default')" -ge 4
}
ok_if "help lists every option with its default" help_lists_options

tap_done
