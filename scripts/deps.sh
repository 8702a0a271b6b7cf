#!/bin/sh
# deps.sh — make sure the Debian packages frame-alloc-audit needs are here.
# As root it installs what is missing (apt-get); otherwise it prints the
# exact command and exits 3 (the audit's "required tool missing" status).
# FAA_DEPS_OPTIONAL=0 skips the optional packages (report.html, Valgrind,
# xmllint and cmark-gfm that the JUnit and report.md tests check with,
# clang + libFuzzer for `make fuzz`); an optional package apt-get cannot
# install is reported and skipped, never fatal.
# FAA_DEPS_DRY_RUN=1 never installs: it answers as for a non-root user (the
# apt-get line, exit 3), even as root — for tests and for a look first.
set -eu

required="gcc make meson ninja-build pkg-config libcriterion-dev python3 python3-pytest python3-jsonschema python3-yaml libunwind-dev libdw-dev binutils"
optional="valgrind python3-jinja2 clang libclang-rt-14-dev libxml2-utils cmark-gfm"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

have_rustc() {
    command -v rustc >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/rustc" ] || [ -x /usr/bin/rustc ]
}

# cargo runs the Rust binding's tests and its example (bindings/rust,
# examples/own-tests/rust); rustup brings its own, Debian's is `cargo`.
have_cargo() {
    command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ] || [ -x /usr/bin/cargo ]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian system; install by hand: $required $optional rustc cargo" >&2
    exit 0
fi

need=""
for p in $required; do installed "$p" || need="$need $p"; done
have_rustc || need="$need rustc"
have_cargo || need="$need cargo"
extra=""
if [ "${FAA_DEPS_OPTIONAL:-1}" != 0 ]; then
    for p in $optional; do installed "$p" || extra="$extra $p"; done
fi
want="$need$extra"

if [ -z "$want" ]; then
    echo "deps: all packages present"
    exit 0
fi
if [ "$(id -u)" = 0 ] && [ "${FAA_DEPS_DRY_RUN:-0}" = 0 ]; then
    echo "deps: installing:$want"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    if [ -n "$need" ]; then
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $need
    fi
    for p in $extra; do
        apt-get install -y -q --no-install-recommends "$p" ||
            echo "deps: could not install optional package $p (the checks that need it will say SKIP)" >&2
    done
else
    echo "deps: missing Debian packages; run as root:" >&2
    echo "    apt-get update && apt-get install -y --no-install-recommends$want" >&2
    exit 3
fi
