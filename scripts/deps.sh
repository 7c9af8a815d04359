#!/bin/sh
# deps.sh — install the Debian 12 packages flukewatch needs, only those missing.
# Idempotent: with everything present it runs no apt-get at all.
# Uses sudo when not root. Sourced or run by scripts/quickstart and scripts/test.
set -eu

PACKAGES="gcc make autoconf automake libtool pkg-config
libncurses-dev libsixel-dev libsixel-bin libturbojpeg0-dev libdnnl-dev libsqlite3-dev
libcsv-dev libcjson-dev openmpi-bin libopenmpi-dev
python3 python3-numpy python3-pil python3-torch python3-torchvision python3-faiss
tmux xterm xvfb x11-apps imagemagick ncurses-term"

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *" installed") ;;
    *) missing="$missing $p" ;;
    esac
done

if [ -z "$missing" ]; then
    echo "deps: all $(echo $PACKAGES | wc -w) packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "deps: missing packages:$missing — run as root or install sudo" >&2
        exit 1
    fi
fi
echo "deps: installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
echo "deps: done"
