#!/bin/sh
# cli_help.sh — `flukewatch --help`, `CMD --help`, `--version` and the man page
# describe the same commands; bad usage gets a clear message and exit code 2.
. "${TOP_SRCDIR:-.}/tests/tap.sh"

commands=$("$FLUKEWATCH" --help | sed -n 's/^  \([a-z-]*\( [a-z-]*\)\?\)  .*/\1/p' | sed 's/ *$//')

ok_if "--help lists commands" test -n "$commands"
ok_if "--version prints the version" sh -c "'$FLUKEWATCH' --version | grep -Eq '^flukewatch [0-9]+\.[0-9]+\.[0-9]+$'"

IFS='
'
for cmd in $commands; do
    # shellcheck disable=SC2086
    ok_if "'$cmd --help' shows its usage" sh -c "'$FLUKEWATCH' $cmd --help | grep -q '^usage: flukewatch $cmd'"
    ok_if "man page documents '$cmd'" grep -q "^\\.B flukewatch $cmd\$" "$TOP_SRCDIR/man/flukewatch.1"
    # Every long option of the command's --help is in the man page (as \-\-name).
    opts=$("$FLUKEWATCH" $cmd --help | grep -o -- '--[a-z][a-z-]*' | sort -u | grep -v -- '^--help$')
    undocumented=""
    for o in $opts; do
        grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$TOP_SRCDIR/man/flukewatch.1" || undocumented="$undocumented $o"
    done
    ok_if "man page has every option of '$cmd'" sh -c "test -z '$undocumented' || { echo 'missing:$undocumented'; false; }"
done
unset IFS

# Every command in the man page exists in --help (no stale documentation).
man_cmds=$(sed -n 's/^\.B flukewatch \(.*\)$/\1/p' "$TOP_SRCDIR/man/flukewatch.1")
stale=""
IFS='
'
for m in $man_cmds; do
    printf '%s\n' "$commands" | grep -qx "$m" || stale="$stale $m"
done
unset IFS
ok_if "man page has no commands missing from --help" test -z "$stale"

ok_if "unknown command exits 2 with a hint" sh -c "'$FLUKEWATCH' frobnicate 2>&1 >/dev/null; test \$? -eq 2 && '$FLUKEWATCH' frobnicate 2>&1 | grep -q 'unknown command'"
ok_if "unknown command name is sanitised" sh -c "'$FLUKEWATCH' \"\$(printf 'x\\033[2Jy')\" 2>&1 | grep -q \"unknown command 'x\\[2Jy'\""
ok_if "devices runs without a GPU" "$FLUKEWATCH" devices
tap_done
