"""Rust panics in a program's output: where each one happened and what it said.

Rust's default panic hook prints one of two layouts, depending on the
rustc that built the library (not on the harness):

  Rust < 1.73    thread 'NAME' panicked at 'MESSAGE', FILE:LINE:COL
  Rust >= 1.73   thread 'NAME' panicked at FILE:LINE:COL:
                 MESSAGE

(Rust >= 1.89 adds the thread id: `thread 'main' (1234) panicked at`.)
Either may be followed by `note: run with `RUST_BACKTRACE=1` ...` or by
`stack backtrace:` and the frames; a thread Rust did not start (the C
harness's own) is named `<unnamed>`.

The pitfalls, each pinned by scripts/tests/test_panic.py over text that
both compilers really printed (scripts/tests/data/panic/):

* A message may span lines, and in the old layout it is closed by the
  *last* `', ` on the line that ends with `FILE:LINE:COL`, not the first:
  `panicked at 'it's 'odd', isn't it: a:b:c', src.rs:7:20`.
* A message may contain blank lines and colons, so in the new layout it
  runs until the note, the backtrace, the next panic or a line Criterion
  wrote -- not to the first blank line.  Rust >= 1.73 prints a blank line
  before every panic header; trailing blank lines are not the message's.
* Several processes write to one stderr: a panic header may start in the
  middle of a line, so headers are searched anywhere, not at line starts.

What cannot be told apart is left alone: an old-layout message with a line
that itself ends in `', FILE:LINE:COL` ends there.
"""

import re
from dataclasses import dataclass
from pathlib import Path

# `thread 'NAME' (ID) panicked at ` -- the thread id only from Rust 1.89.
_HEADER = re.compile(r"thread '(?P<thread>[^\n]*?)'(?: \(\d+\))? panicked at ")
_LOC = r"(?P<file>[^\n]+?):(?P<line>\d+):(?P<col>\d+)"
# Old layout: the end of the quoted message and the location, one line.
_OLD_END = re.compile(r"^(?P<msg>[^\n]*)', " + _LOC + r"$")
# New layout: the rest of the header line is only the location and a colon.
_NEW_LOC = re.compile(r"^" + _LOC + r":$")
# Lines that end a new-layout message: Rust's own note and backtrace, and
# what else shares the harness's stderr (Criterion, Valgrind).
_AFTER = re.compile(r"note: run with `RUST_BACKTRACE|stack backtrace:$"
                    r"|\[(?:-{4}|={4}|RUN |PASS|FAIL|SKIP|WARN|ERR )\]|==\d+== ")


@dataclass(frozen=True)
class Panic:
    """One panic: the thread, the source location, the message (its
    lines joined with newlines, no trailing newline)."""
    thread: str
    file: str
    line: int
    col: int
    message: str

    @property
    def location(self):
        """FILE:LINE:COL, as rustc wrote it."""
        return f"{self.file}:{self.line}:{self.col}"

    def one_line(self):
        """`FILE:LINE:COL: MESSAGE` on one line (a newline shown as \\n)."""
        return f"{self.location}: {self.message}".replace("\n", "\\n")


def parse(text):
    """Every panic in `text`, in the order printed, in either layout."""
    panics = []
    for h in _HEADER.finditer(text):
        rest = text[h.end():]
        p = _old_layout(h["thread"], rest) if rest.startswith("'") else None
        p = p or _new_layout(h["thread"], rest)
        if p:
            panics.append(p)
    return panics


def pick(panics, fixture, mode=None):
    """The panic to report for `fixture`'s library of shape `mode`: the
    first in a file named after the fixture (`port_reset.rs`) or under a
    directory of its name (its work dir), else the first of all -- the
    text itself does not say which library printed it, and several
    measuring processes share one stderr.  With `mode`, a panic in the
    other shape's module or shim (_shape_of) is never the one: a no_alloc
    finding must not quote the allocating module's line (None when only
    the other shape panicked where it can be seen)."""
    rest = []
    for p in panics:
        shape = _shape_of(p.file)
        if mode and shape and shape != mode:
            continue
        path = Path(p.file)
        if path.stem == fixture or fixture in path.parts[:-1]:
            return p
        rest.append(p)
    return rest[0] if rest else None


SHAPES = ("alloc", "noalloc")


def _shape_of(file):
    """The shape a panic's file belongs to in the work directory's layout
    (build.py): `NAME/gen/MODE/NAME.rs` (the module) or
    `NAME/shim/NAME_MODE.rs` (its shim); None for any other file."""
    parts = Path(file).parts
    if len(parts) >= 3 and parts[-3] == "gen" and parts[-2] in SHAPES:
        return parts[-2]
    m = re.search(r"_(alloc|noalloc)\.rs$", parts[-1]) if len(parts) >= 2 and parts[-2] == "shim" else None
    return m.group(1) if m else None


def _make(thread, m, message):
    return Panic(thread=thread, file=m["file"], line=int(m["line"]), col=int(m["col"]),
                 message=message)


def _old_layout(thread, rest):
    """`'MESSAGE', FILE:LINE:COL` (rest starts at the opening quote): the
    message ends on the first line that ends with `', FILE:LINE:COL`.
    None when no line does (the new layout, a file name starting with ')."""
    lines = rest[1:].split("\n")
    for i, ln in enumerate(lines):
        if _HEADER.search(ln):
            return None                 # another panic began: not this layout
        m = _OLD_END.match(ln)
        if m:
            return _make(thread, m, "\n".join(lines[:i] + [m["msg"]]).rstrip("\n"))
    return None


def _new_layout(thread, rest):
    """`FILE:LINE:COL:` then the message on the following lines."""
    first, _, body = rest.partition("\n")
    m = _NEW_LOC.match(first)
    if not m:
        return None
    msg = []
    for ln in body.split("\n"):
        if _AFTER.match(ln) or _HEADER.search(ln):
            break
        msg.append(ln)
    return _make(thread, m, "\n".join(msg).rstrip("\n"))
