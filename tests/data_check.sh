#!/bin/sh
# data_check.sh — `flukewatch data check` runs the whole pipeline on a small
# synthetic dataset: ready on good data, unreadable images listed and skipped,
# the second start served from the on-disk cache, clear failures otherwise.
. "${TOP_SRCDIR:-.}/tests/tap.sh"

ds=$TMP_ROOT/ds
cache=$TMP_ROOT/cache
"$FLUKEWATCH" synth --out "$ds" --whales 24 --seed 5 --size 160x80 >/dev/null 2>&1
n_train=$(($(wc -l <"$ds/train.csv") - 1))

out=$TMP_ROOT/out1
"$FLUKEWATCH" data check "$ds" --size 128x64 --p 4 --k 2 --m 2 --epochs 2 --cache-dir "$cache" >"$out" 2>&1
rc=$?
ok_if "good dataset is ready (exit 0)" sh -c "test $rc -eq 0 && grep -q '^ready' '$out'"
ok_if "reports every train image" grep -q "^dataset .*: $n_train train images, 24 whales" "$out"
ok_if "decodes all of them, none unreadable" sh -c "grep -q '^cache .* $n_train images at 128x64x3.*decoded' '$out' && grep -q '^ *0 unreadable' '$out'"
ok_if "draws two epochs of P x K + M batches" grep -q '^loader .*2 epoch(s), .* batches of 10 (P 4 x K 2 + 2 new_whale)' "$out"
ok_if "augmented values are finite" grep -q 'non-finite 0' "$out"

out2=$TMP_ROOT/out2
"$FLUKEWATCH" data check "$ds" --size 128x64 --p 4 --k 2 --m 2 --cache-dir "$cache" >"$out2" 2>&1
ok_if "second start loads the on-disk cache" grep -q 'loaded from the disk cache' "$out2"

"$FLUKEWATCH" data check "$ds" --size 128x64 --p 4 --k 2 --cache-dir "$cache" --seed 9 --channels 1 >"$out2" 2>&1
ok_if "another channel count does not reuse the cache" sh -c "grep -q '128x64x1.*decoded' '$out2'"

# Damage two images: one truncated, one replaced by text.
bad1=$(sed -n 2p "$ds/train.csv" | cut -d, -f1)
bad2=$(sed -n 3p "$ds/train.csv" | cut -d, -f1)
head -c 300 "$ds/train/$bad1" >"$TMP_ROOT/cut" && mv "$TMP_ROOT/cut" "$ds/train/$bad1"
echo "not a jpeg" >"$ds/train/$bad2"
out3=$TMP_ROOT/out3
"$FLUKEWATCH" data check "$ds" --size 128x64 --p 4 --k 2 --cache-dir "$cache" >"$out3" 2>&1
rc=$?
ok_if "damaged images are skipped, the rest is ready" sh -c "test $rc -eq 0 && grep -q '^ *2 unreadable' '$out3' && grep -q '^ready' '$out3'"
ok_if "each damaged file is named with its reason" sh -c "grep -q \"unreadable: .*$bad1.*\\(corrupt\\|Premature\\)\" '$out3' && grep -q \"unreadable: .*$bad2.*not a JPEG\" '$out3'"

# Too few whales for the batch shape: a clear failure, exit 1.
"$FLUKEWATCH" data check "$ds" --size 128x64 --p 500 --no-disk-cache >"$out3" 2>&1
rc=$?
ok_if "P larger than the whale count fails with a reason" sh -c "test $rc -eq 1 && grep -q 'error: sampler: ' '$out3'"

# Malformed CSV: exit 1 naming file and line.
printf 'Image,Id\nx.jpg,w_1,extra\n' >"$ds/train.csv"
"$FLUKEWATCH" data check "$ds" --no-disk-cache >"$out3" 2>&1
rc=$?
ok_if "malformed train.csv fails naming file:line" sh -c "test $rc -eq 1 && grep -q 'train.csv:2' '$out3'"

"$FLUKEWATCH" data check "$ds" --size 12 >/dev/null 2>&1
ok_if "bad --size is a usage error (exit 2)" test $? -eq 2
"$FLUKEWATCH" data check >/dev/null 2>&1
ok_if "missing DIR is a usage error (exit 2)" test $? -eq 2
"$FLUKEWATCH" data check "$ds" --bogus >/dev/null 2>&1
ok_if "unknown option is a usage error (exit 2)" test $? -eq 2
tap_done
