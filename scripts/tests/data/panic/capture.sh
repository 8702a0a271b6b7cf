#!/bin/sh
# Regenerates the samples for one rustc: RUSTC=/usr/bin/rustc ./capture.sh
# writes rustc-VERSION/CASE.txt (stderr of panics.rs CASE, no backtrace)
# and CASE.bt.txt (RUST_BACKTRACE=1) for the cases test_panic.py reads.
# The harness samples (harness.txt) are faa-harness's output for
# generated/port_reset/noalloc.rs with `panic!("connect refused on purpose")`
# as connect()'s first line, see test_panic.py.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rustc=${RUSTC:-rustc}
ver=$("$rustc" --version | cut -d' ' -f2)
out="$here/rustc-$ver"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
cp "$here/panics.rs" "$tmp/p.rs"
(cd "$tmp" && "$rustc" -g -o p p.rs)
for c in simple multi quote named unnamed unwrap empty trailing blank fmt assert two; do
    (cd "$tmp" && env -u RUST_BACKTRACE ./p "$c" 2>"$out/$c.txt" >/dev/null) || true
done
for c in simple multi two; do
    (cd "$tmp" && RUST_BACKTRACE=1 ./p "$c" 2>"$out/$c.bt.txt" >/dev/null) || true
done
echo "$out"
