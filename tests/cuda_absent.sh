#!/bin/sh
# cuda_absent.sh — device=cuda on a machine the CUDA backend cannot use fails
# plainly: a 1-step `flukewatch train device=cuda` exits non-zero and says why
# ("no usable NVIDIA GPU (cudaGetDeviceCount: ...)" when the build has the
# CUDA backend but the machine has no GPU/driver; "built without the CUDA
# toolkit" when the build has none). On a machine with a usable GPU the
# no-GPU case cannot be shown and is skipped (tests/gpu/check covers it).
. "${TOP_SRCDIR:-.}/tests/tap.sh"

export FLUKEWATCH_HOME="$TMP_ROOT/ws"
export XDG_CACHE_HOME="$TMP_ROOT/cache"
devices=$("$FLUKEWATCH" devices 2>&1)
"$FLUKEWATCH" synth --out "$TMP_ROOT/data" --whales 8 --size 128x64 --threads 2 >/dev/null 2>&1
ok_if "synth a tiny dataset" test -f "$TMP_ROOT/data/train.csv"

train_cuda() {
    "$FLUKEWATCH" train --dataset "$TMP_ROOT/data" input=64x32 width=0.25 embedding=32 \
        sampler.p=4 sampler.k=2 threads=2 epochs=1 device=cuda >"$TMP_ROOT/out" 2>&1
    echo $? >"$TMP_ROOT/rc"
}

if printf '%s\n' "$devices" | grep -q '^gpu *not compiled in'; then
    skip "device=cuda without a GPU: plain message" "this build has no CUDA backend"
    train_cuda
    ok_if "device=cuda in a build without CUDA: non-zero exit" test "$(cat "$TMP_ROOT/rc")" -ne 0
    ok_if "device=cuda in a build without CUDA: says so" \
        grep -q 'device=cuda: this flukewatch was built without the CUDA toolkit' "$TMP_ROOT/out"
elif printf '%s\n' "$devices" | grep -q '^cuda:0 '; then
    skip "device=cuda without a GPU: plain message" "this machine has a usable GPU"
else
    train_cuda
    ok_if "device=cuda without a GPU: non-zero exit" test "$(cat "$TMP_ROOT/rc")" -ne 0
    ok_if "device=cuda without a GPU: plain message" \
        grep -q 'error: device=cuda: no usable NVIDIA GPU (cudaGetDeviceCount: ' "$TMP_ROOT/out"
    reason=$(printf '%s\n' "$devices" | sed -n 's/^gpu *none (\(.*\))$/\1/p')
    ok_if "the message gives the runtime's reason ($reason)" \
        grep -qF "$reason" "$TMP_ROOT/out"
fi
tap_done
