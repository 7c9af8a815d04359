#!/bin/sh
# score_cli.sh — `flukewatch score FILE --truth FILE`: the mAP@5 of a small
# case worked out by hand, file:line errors (sanitised) exiting 1, and usage
# errors exiting 2.
. "${TOP_SRCDIR:-.}/tests/tap.sh"

sub=$TMP_ROOT/submission.csv
truth=$TMP_ROOT/test_truth.csv
printf 'Image,Id\na.jpg,w_1 w_2 w_3 w_4 w_5\nb.jpg,w_9 w_8 w_7 new_whale w_6\nc.jpg,w_1 w_2\nd.jpg,w_3 new_whale w_1\n' >"$sub"
printf 'Image,Id\nd.jpg,new_whale\nc.jpg,w_7\nb.jpg,w_7\na.jpg,w_1\n' >"$truth"
# a: rank 1 -> 1; b: w_7 at rank 3 -> 1/3; c: absent -> 0; d: new_whale at rank 2 -> 1/2
# mAP@5 = (1 + 1/3 + 0 + 1/2) / 4 = 0.458333...
out=$TMP_ROOT/out
"$FLUKEWATCH" score "$sub" --truth "$truth" >"$out" 2>&1
rc=$?
ok_if "hand-computed case: exit 0" test $rc -eq 0
ok_if "hand-computed case: mAP@5 0.458333" grep -qx 'mAP@5 0.458333' "$out"
"$FLUKEWATCH" score "$truth" --truth="$truth" >"$out" 2>&1
ok_if "truth scored against itself is 1" grep -qx 'mAP@5 1.000000' "$out"

# Bad files: exit 1, FILE:LINE in the message, control bytes sanitised.
expect_fail() {
    what=$1 pattern=$2
    "$FLUKEWATCH" score "$sub" --truth "$truth" >"$out" 2>&1
    rc=$?
    ok_if "$what: exit 1" test $rc -eq 1
    ok_if "$what: message" grep -q "$pattern" "$out"
}
printf 'Image,Id\na.jpg,w_1\nb.jpg,w_2\na.jpg,w_3\n' >"$sub"
expect_fail "duplicate image" "submission.csv:4: image 'a.jpg' already on line 2"
printf 'Image,Id\na.jpg,w_1\nb.jpg,w_2\nc.jpg,w_2\n' >"$sub"
expect_fail "missing image" "no row for image 'd.jpg' (.*test_truth.csv:2)"
printf 'Image,Id\na.jpg,w_1\nb.jpg,w_2\nc.jpg,w_2\nd.jpg,w_1\ne.jpg,w_1\n' >"$sub"
expect_fail "image not in the truth" "submission.csv:6: image 'e.jpg' is not in"
printf 'Image,Id\na.jpg,1 2 3 4 5 6\n' >"$sub"
expect_fail "six ids" "submission.csv:2: more than 5 ids"
printf 'Image,Prediction\na.jpg,w_1\n' >"$sub"
expect_fail "bad header" "submission.csv:1: expected the header"
printf 'Image,Id\nx\033[2Jy.jpg,w_1\nx\033[2Jy.jpg,w_1\n' >"$sub"
expect_fail "control bytes" "submission.csv:3: image 'x\[2Jy.jpg' already on line 2"
ok_if "control bytes: no escape reaches the terminal" sh -c "! grep -q \"\$(printf '\\033')\" '$out'"
"$FLUKEWATCH" score "$TMP_ROOT/none.csv" --truth "$truth" >"$out" 2>&1
rc=$?
ok_if "missing file: exit 1" test $rc -eq 1
ok_if "missing file: named" grep -q "none.csv" "$out"

# Usage errors: exit 2.
usage() {
    what=$1
    shift
    "$FLUKEWATCH" score "$@" >"$out" 2>&1
    rc=$?
    ok_if "$what: exit 2" test $rc -eq 2
}
usage "no arguments"
usage "no --truth" "$sub"
usage "--truth without a value" "$sub" --truth
usage "two files" "$sub" "$sub" --truth "$truth"
usage "unknown option" "$sub" --truth "$truth" --frobnicate
ok_if "unknown option named" grep -q "unknown option '--frobnicate'" "$out"

tap_done
