#!/bin/sh
# deps.sh — make sure the Debian packages frame-alloc-audit needs are here.
# As root it installs what is missing (apt-get); otherwise it prints the
# exact command and exits 3 (the audit's "required tool missing" status).
# FAA_DEPS_OPTIONAL=0 skips the optional packages (report charts, Valgrind).
set -eu

required="gcc make meson ninja-build pkg-config libcriterion-dev python3 python3-pytest libunwind-dev libdw-dev binutils"
optional="valgrind python3-jinja2 python3-matplotlib"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

have_rustc() {
    command -v rustc >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/rustc" ] || [ -x /usr/bin/rustc ]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian system; install by hand: $required $optional rustc" >&2
    exit 0
fi

want=""
for p in $required; do installed "$p" || want="$want $p"; done
if [ "${FAA_DEPS_OPTIONAL:-1}" != 0 ]; then
    for p in $optional; do installed "$p" || want="$want $p"; done
fi
have_rustc || want="$want rustc"

if [ -z "$want" ]; then
    echo "deps: all packages present"
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing:$want"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -q $want
else
    echo "deps: missing Debian packages; run as root:" >&2
    echo "    apt-get update && apt-get install -y$want" >&2
    exit 3
fi
