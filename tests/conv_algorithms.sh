#!/bin/sh
# conv_algorithms.sh — the backend ops against PyTorch with every convolution
# path: oneDNN's direct kernels (FLUKEWATCH_CONV_ALGO=direct), and the fallback
# when Winograd has no kernel for the CPU (ONEDNN_MAX_CPU_ISA=AVX2 has none).
. "${TOP_SRCDIR:-.}/tests/tap.sh"

ops=${TOP_BUILDDIR:-.}/tests/test_backend_cpu
clean_run() {
    out=$("$@" 2>&1)
    printf '%s\n' "$out" | grep -q '^1\.\.[1-9]' || { printf '%s\n' "$out" | tail -5; return 1; }
    if printf '%s\n' "$out" | grep -q '^not ok'; then
        printf '%s\n' "$out" | grep -A3 '^not ok' | head -20
        return 1
    fi
}
ok_if "backend ops match PyTorch with direct convolutions" \
    clean_run env FLUKEWATCH_CONV_ALGO=direct "$ops"
ok_if "backend ops match PyTorch when Winograd falls back (AVX2 only)" \
    clean_run env ONEDNN_MAX_CPU_ISA=AVX2 "$ops"
tap_done
