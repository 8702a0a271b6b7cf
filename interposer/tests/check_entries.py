#!/usr/bin/env python3
"""Check that the entry-point table (interposer/entries.c) has one row per hook.

The harness's calibration and the interposer's tests call every row of
that table; a hook without a row would go uncalibrated and untested.  The
hooks are the exports of audit.map except the window API (audit_*) and
the pass-throughs below, with `syscall` standing for each memory number
preload.c's syscall_kind() counts (a row `syscall(SYS_mmap)` per number).
Exit 0 when LISTER (list_entries) prints exactly those names, each once;
1 with the differences; 2 on usage errors.
"""
import argparse
import re
import subprocess
import sys
from collections import Counter

# Exported but forwarded uncounted (audit.map's comment says which).
PASS_THROUGH = {"malloc_usable_size"}


def exported_hooks(map_text: str) -> set[str]:
    """The global names of the version script, without the window API."""
    text = re.sub(r"/\*.*?\*/", "", map_text, flags=re.S)
    m = re.search(r"global:(.*?)local:", text, flags=re.S)
    if not m:
        sys.exit("check_entries: no global: ... local: section in the map")
    names = {n.strip() for n in m.group(1).split(";") if n.strip()}
    return {n for n in names if not n.startswith("audit_")} - PASS_THROUGH


def syscall_numbers(preload_text: str) -> list[str]:
    """The SYS_ numbers in preload.c's syscall_kind() switch."""
    m = re.search(r"\bsyscall_kind\s*\(long nr\)\s*\{(.*?)\n\}", preload_text, flags=re.S)
    if not m:
        sys.exit("check_entries: no syscall_kind(long nr) in preload.c")
    return re.findall(r"case\s+(SYS_\w+)\s*:", m.group(1))


def expected_rows(map_text: str, preload_text: str) -> set[str]:
    hooks = exported_hooks(map_text)
    rows = hooks - {"syscall"}
    if "syscall" in hooks:
        rows |= {f"syscall({n})" for n in syscall_numbers(preload_text)}
    return rows


def compare(rows: list[str], expected: set[str]) -> list[str]:
    problems = [f"hook without a row in entries.c: {n}" for n in sorted(expected - set(rows))]
    problems += [f"row for no hook: {n}" for n in sorted(set(rows) - expected)]
    problems += [f"row twice: {n}" for n, k in sorted(Counter(rows).items()) if k > 1]
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--map", required=True, help="interposer/audit.map")
    ap.add_argument("--preload", required=True, help="interposer/preload.c")
    ap.add_argument("lister", help="the list_entries program")
    args = ap.parse_args()
    with open(args.map) as f, open(args.preload) as g:
        expected = expected_rows(f.read(), g.read())
    res = subprocess.run([args.lister], capture_output=True, text=True)
    if res.returncode != 0:
        print(f"check_entries: {args.lister} failed:\n{res.stderr}")
        return 1
    rows = res.stdout.splitlines()
    problems = compare(rows, expected)
    for p in problems:
        print(p)
    if problems:
        print("entries.c differs from the hooks of audit.map and preload.c")
        return 1
    print(f"entries.c: one row for each of the {len(expected)} hooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
