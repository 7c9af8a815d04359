#!/bin/sh
# data_inspect.sh — `flukewatch data inspect` on a small dataset written with
# PIL (colour and grayscale JPEGs, one truncated, one not a JPEG, one listed
# but missing). Python computes the expected counts, histogram, sizes and
# grayscale share on its own; the report must contain them, list each bad
# file with its reason, never echo a control character, and exit 1 with
# file:line for a malformed CSV.
. "${TOP_SRCDIR:-.}/tests/tap.sh"

PY=${PYTHON_REF:-/usr/bin/python3}
if ! "$PY" -c 'import PIL' 2>/dev/null; then
    skip "data inspect on a PIL-written dataset" "python3 with PIL not found ($PY)"
    tap_done
    exit 0
fi

DS=$TMP_ROOT/ds
mkdir -p "$DS"
"$PY" - "$DS" >"$TMP_ROOT/expected" <<'EOF'
import os, sys
from PIL import Image

root = sys.argv[1]
os.makedirs(os.path.join(root, "train"))
os.makedirs(os.path.join(root, "test"))
esc_id = "w_\x1b[31mred"
# whale -> number of images (12 -> ">10", 5 and 4 -> "4-10", 3, 2, 1, 1)
whales = {"w_big": 12, "w_mid": 5, esc_id: 4, "w_three": 3, "w_two": 2, "w_one1": 1, "w_one2": 1}
rows, n = [], 0
for whale, count in whales.items():
    for _ in range(count):
        rows.append(("img%02d.jpg" % n, whale)); n += 1
for _ in range(4):
    rows.append(("img%02d.jpg" % n, "new_whale")); n += 1
missing, truncated = "img03.jpg", "img07.jpg"   # both w_big
sizes, gray = {}, set()
for i, (name, _) in enumerate(rows):
    w, h = 64 + 8 * (i % 5), 32 + 4 * (i % 3)
    if i == 10: w, h = 200, 100
    if i == 20: w, h = 30, 20
    mode = "L" if i in (5, 15) else "RGB"
    img = Image.new(mode, (w, h), 90 if mode == "L" else (20 * (i % 9), 100, 160))
    for x in range(0, w, 7):   # some detail so the entropy data is not trivial
        for y in range(h):
            img.putpixel((x, y), 200 if mode == "L" else (255, 255 - x % 256, y % 256))
    if name == missing:
        continue
    path = os.path.join(root, "train", name)
    img.save(path, quality=90)
    if name == truncated:
        data = open(path, "rb").read()
        open(path, "wb").write(data[: len(data) // 2])
        continue
    sizes[name] = (w, h)
    if mode == "L":
        gray.add(name)
with open(os.path.join(root, "train.csv"), "w", newline="") as f:
    f.write("Image,Id\r\n")
    for name, whale in rows:
        f.write("%s,%s\r\n" % (name, whale))
# test: one colour, one grayscale, one that is not a JPEG at all
Image.new("RGB", (96, 48), (1, 2, 3)).save(os.path.join(root, "test", "t1.jpg"))
Image.new("L", (90, 45), 7).save(os.path.join(root, "test", "t2.jpg"))
open(os.path.join(root, "test", "t3.jpg"), "wb").write(b"this is not a jpeg\n" * 20)
sizes["t1.jpg"], sizes["t2.jpg"] = (96, 48), (90, 45)
gray.add("t2.jpg")
open(os.path.join(root, "sample_submission.csv"), "w").write(
    "Image,Id\nt1.jpg,new_whale\nt2.jpg,new_whale\nt3.jpg,new_whale\n")
open(os.path.join(root, "test_truth.csv"), "w").write(
    "Image,Id\nt1.jpg,w_big\nt2.jpg,new_whale\nt3.jpg,w_never_seen\n")

# the expected report lines
n_train, n_test = len(rows), 3
print("train images     %d" % n_train)
print("test images      %d" % n_test)
print("known whales     %d" % len(whales))
nw = sum(1 for _, w in rows if w == "new_whale")
print("new_whale        %d of %d train images (%.1f%%)" % (nw, n_train, 100.0 * nw / n_train))
print("                 2 of 3 test images (66.7%, from test_truth.csv; 1 with ids not in train.csv)")
bins = [("1", 1, 1), ("2", 2, 2), ("3", 3, 3), ("4-10", 4, 10), (">10", 11, 10**9)]
for label, lo, hi in bins:
    counts = [c for c in whales.values() if lo <= c <= hi]
    print("  %-14s %8d %8d" % (label, len(counts), sum(counts)))
ws = sorted(w for w, _ in sizes.values()); hs = sorted(h for _, h in sizes.values())
m = len(ws)
print("image size       width %d-%d (median %d), height %d-%d (median %d)"
      % (ws[0], ws[-1], ws[(m - 1) // 2], hs[0], hs[-1], hs[(m - 1) // 2]))
print("grayscale        %d of %d readable images (%.1f%%)" % (len(gray), m, 100.0 * len(gray) / m))
small = sum(1 for w, h in sizes.values() if w < 70 or h < 35)
print("smaller than 70x35  %d of %d readable images (enlarged when cached)" % (small, m))
print("unreadable       3 of %d images" % (n_train + n_test))
print("  train/%s: missing" % missing)
EOF
gen_rc=$?
ok_if "the reference dataset is written" test "$gen_rc" -eq 0

"$FLUKEWATCH" data inspect "$DS" --threads 2 --size 70x35 >"$TMP_ROOT/out" 2>"$TMP_ROOT/err"
rc=$?
ok_if "exit 0 although three images are unreadable" test "$rc" -eq 0
missing_lines=$(grep -Fxv -f "$TMP_ROOT/out" "$TMP_ROOT/expected")
ok_if "counts, histogram, sizes and grayscale share match Python's" test -z "$missing_lines"
[ -n "$missing_lines" ] && printf '%s\n' "$missing_lines" | sed 's/^/# missing: /'
ok_if "the truncated file is listed with a reason" grep -Eq '^  train/img07\.jpg: .{3,}' "$TMP_ROOT/out"
ok_if "the non-JPEG test file is listed with a reason" grep -Eq '^  test/t3\.jpg: .{3,}' "$TMP_ROOT/out"
ok_if "readable files are not listed" sh -c "! grep -Eq '^  (train/img0[0-2]|test/t[12])' '$TMP_ROOT/out'"
ok_if "the largest whales are named" grep -q '^most images      w_big (12), w_mid (5), w_\[31mred (4), w_three (3), w_two (2)$' "$TMP_ROOT/out"
esc=$(printf '\033')
ok_if "no control character reaches the terminal" sh -c "! grep -q '$esc' '$TMP_ROOT/out' '$TMP_ROOT/err'"
ok_if "progress goes to stderr" grep -q 'checking images' "$TMP_ROOT/err"

"$FLUKEWATCH" data inspect --threads 1 --size 70x35 "$DS" >"$TMP_ROOT/out1" 2>/dev/null
ok_if "the report does not depend on the thread count" cmp -s "$TMP_ROOT/out" "$TMP_ROOT/out1"

# malformed CSVs: exit 1, file:line on stderr, nothing raw
BAD=$TMP_ROOT/bad
mkdir -p "$BAD/train"
printf 'Image,Id\na.jpg,w_1\nb.jpg,w_1\n\nc.jpg,w_2,oops\n' >"$BAD/train.csv"
"$FLUKEWATCH" data inspect "$BAD" >/dev/null 2>"$TMP_ROOT/bad_err"
rc=$?
ok_if "a malformed train.csv exits 1" test "$rc" -eq 1
ok_if "the error names train.csv and the line" grep -q "train.csv:5: expected 2 fields, got 3" "$TMP_ROOT/bad_err"
printf 'Image,Id\nx\033]0;pwned\007.jpg,w_1\n' >"$BAD/train.csv"
"$FLUKEWATCH" data inspect "$BAD" >/dev/null 2>"$TMP_ROOT/bad_err"
rc=$?
ok_if "an image name with control characters exits 1" test "$rc" -eq 1
ok_if "its error is sanitised and names the line" sh -c "grep -q 'train.csv:2: Image .x]0;pwned.jpg. contains a control character' '$TMP_ROOT/bad_err' && ! grep -q '$esc' '$TMP_ROOT/bad_err'"
printf 'Image,Id\na.jpg,"w_1\n' >"$BAD/train.csv"
"$FLUKEWATCH" data inspect "$BAD" >/dev/null 2>"$TMP_ROOT/bad_err"
ok_if "an unterminated quote is reported with its line" grep -q "train.csv:2: unterminated quoted field" "$TMP_ROOT/bad_err"
rm -r "$BAD/train"
printf 'Image,Id\na.jpg,w_1\n' >"$BAD/train.csv"
"$FLUKEWATCH" data inspect "$BAD" >/dev/null 2>"$TMP_ROOT/bad_err"
rc=$?
ok_if "a missing train/ directory exits 1 with a clear message" sh -c "test $rc -eq 1 && grep -q 'train/: directory not found' '$TMP_ROOT/bad_err'"

# usage
"$FLUKEWATCH" data inspect >/dev/null 2>&1
ok_if "no DIR is a usage error (exit 2)" test $? -eq 2
"$FLUKEWATCH" data inspect "$DS" --threads 0 >/dev/null 2>&1
ok_if "--threads 0 is a usage error" test $? -eq 2
"$FLUKEWATCH" data inspect "$DS" --size 12 >/dev/null 2>&1
ok_if "--size without WxH is a usage error" test $? -eq 2
"$FLUKEWATCH" data inspect "$DS" --frob >/dev/null 2>&1
ok_if "an unknown option is a usage error" test $? -eq 2
tap_done
