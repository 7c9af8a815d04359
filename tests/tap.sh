# tap.sh — TAP helpers for shell tests (sourced).
#   ok_if "name" command args...   -> one test point, passing when the command succeeds
#   skip "name" "reason"
#   retry SECONDS command args...  -> the command's success within SECONDS (polled)
#   tap_done
# Tests find the program in $FLUKEWATCH and sources in $TOP_SRCDIR (set by make check).
tap_n=0
tap_fail=0
FLUKEWATCH=${FLUKEWATCH:-./flukewatch}
TOP_SRCDIR=${TOP_SRCDIR:-.}
TMP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/fwtest.XXXXXX")
trap 'rm -rf "$TMP_ROOT"' EXIT

ok_if() {
    name=$1
    shift
    tap_n=$((tap_n + 1))
    if tap_out_=$("$@" 2>&1); then
        echo "ok $tap_n - $name"
    else
        tap_fail=$((tap_fail + 1))
        echo "not ok $tap_n - $name"
        printf "%s\n" "$tap_out_" | head -20 | sed 's/^/#   /'
    fi
}

skip() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $1 # SKIP $2"
}

retry() { # for screens that redraw when they can: poll every 0.25 s
    retry_end_=$(($(date +%s) + $1))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$retry_end_" ] || { "$@"; return; } # the last try speaks
        sleep 0.25
    done
}

tap_done() {
    echo "1..$tap_n"
}
