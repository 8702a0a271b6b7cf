"""The variant maker: one fixture source -> the two sources the audit compiles.

RFC-0036: "the attribute is the only difference".  No line moves in
either variant, so the compiler's diagnostics and the generated code's
mapping comments give the fixture's own line numbers:

* the allocating variant blanks every `@@[no_alloc...]` attribute that
  starts a line (alone on its line, or ahead of other attributes or of
  `@@system` on the same line); a line left empty becomes an empty line;
* the no_alloc variant keeps the fixture's own attribute (with its
  `state_stack = N`); a `@@system` without one gets a plain `@@[no_alloc]`
  on the line above when that line is empty or holds only attributes, else
  at the start of the `@@system` line itself (only then do the columns of
  that one line move).

The path the compiler sees is the fixture's too: see build.compile_variant.
"""

import re

# The attributes that start a line, then the rest of it.
_LEAD = re.compile(r"([ \t]*)((?:@@\[[^\]\n]*\][ \t]*)*)(.*)")
_LINES = re.compile(r"[^\n]*\n|[^\n]+\Z")
_ONE = re.compile(r"@@\[[^\]\n]*\]")
_NO_ALLOC = re.compile(r"@@\[\s*no_alloc\b")
_SYSTEM = re.compile(r"@@system\b")

MODES = ("alloc", "noalloc")


def make(source, mode):
    """Returns the `mode` variant ('alloc' or 'noalloc') of a .frs source."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    lines = _LINES.findall(source)
    if mode == "alloc":
        return "".join(_without_attr(l) for l in lines)
    out = []
    for line in lines:
        indent, attrs, rest, nl = _split(line)
        if _SYSTEM.match(rest) and not _NO_ALLOC.search(attrs) and not _attr_above(out):
            if out and not _split(out[-1])[2]:
                above = out[-1].rstrip("\r\n")
                out[-1] = (above + " " if above.strip() else indent) + "@@[no_alloc]" + out[-1][len(above):]
            else:
                line = f"{indent}@@[no_alloc] {attrs}{rest}{nl}"
        out.append(line)
    return "".join(out)


def _without_attr(line):
    """The line without its leading no_alloc attributes (columns kept)."""
    indent, attrs, rest, nl = _split(line)
    if not _NO_ALLOC.search(attrs):
        return line
    kept = _ONE.sub(lambda m: " " * len(m.group(0)) if _NO_ALLOC.match(m.group(0)) else m.group(0), attrs)
    if not kept.strip() and not rest.strip():
        return nl
    return f"{indent}{kept}{rest}".rstrip() + nl


def _split(line):
    """(indent, leading attributes, rest, line end) of one line."""
    body = line.rstrip("\r\n")
    indent, attrs, rest = _LEAD.fullmatch(body).groups()
    return indent, attrs, rest, line[len(body):]


def _attr_above(lines):
    """True when the attribute-only lines directly above (empty lines
    between them allowed) hold no_alloc."""
    for line in reversed(lines):
        indent, attrs, rest, nl = _split(line)
        if rest.strip() and not rest.startswith("//"):
            return False
        if _NO_ALLOC.search(attrs):
            return True
    return False
