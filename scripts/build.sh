#!/bin/sh
# build.sh — configure (once) and build flukewatch out of tree in DIR.
#   scripts/build.sh DIR [configure options...]
# Regenerates the autotools files when configure.ac or a Makefile.am changed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
    autoreconf -fi >/dev/null
fi
mkdir -p "$dir"
cd "$dir"
if [ ! -f Makefile ] || [ "$top/configure" -nt config.status ]; then
    "$top/configure" "$@"
fi
make -j"$(nproc)"
