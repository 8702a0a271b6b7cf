"""The variant maker: one fixture source -> the two sources the audit compiles.

RFC-0036: "the attribute is the only difference".  The allocating variant
blanks every `@@[no_alloc...]` line (blanking, not deleting, keeps every
other line where it was, so diagnostics and the generated code's line
comments still point into the fixture).  The no_alloc variant keeps the
fixture's own attribute (with its `state_stack = N`), or inserts a plain
`@@[no_alloc]` line before each `@@system` that lacks one; only then do
lines after the insertion move down by one.
"""

import re

ATTR = re.compile(r"^\s*@@\[\s*no_alloc\b.*\]\s*$")
SYSTEM = re.compile(r"^\s*@@system\b")
ANY_ATTR = re.compile(r"^\s*@@\[")

MODES = ("alloc", "noalloc")


def make(source, mode):
    """Returns the `mode` variant ('alloc' or 'noalloc') of a .frs source."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    lines = source.splitlines(keepends=True)
    if mode == "alloc":
        return "".join(("\n" if ATTR.match(l) else l) for l in lines)
    out = []
    for i, line in enumerate(lines):
        if SYSTEM.match(line) and not _has_attr_before(lines, i):
            indent = line[:len(line) - len(line.lstrip())]
            out.append(f"{indent}@@[no_alloc]\n")
        out.append(line)
    return "".join(out)


def _has_attr_before(lines, i):
    """True when the attribute lines directly above line i hold no_alloc."""
    j = i - 1
    while j >= 0 and ANY_ATTR.match(lines[j]):
        if ATTR.match(lines[j]):
            return True
        j -= 1
    return False
