"""rustc's errors at .frs positions, for the audit's `[build]` finding.

frc copies native Rust through unparsed, so a handler whose native
statements are not Rust (a missing `;`, a misspelt name) is accepted by
the compiler under audit and rejected by rustc, against the generated
module in the work directory, at every opt-level and in both shapes.
This module turns those rustc failures into one finding per fixture that
names the .frs position first, then rustc's message and the generated
line, and says which shapes and opt-levels failed:

    fixtures/bad.frs:10:42: error: expected `;`, found keyword `let`: help: add `;` here
          (rustc, alloc and noalloc shapes, O0 and O3)
       10 |                 @@:self.n = @@:self.n + 1
          |                                          ^
          = generated …/bad/gen/alloc/bad.rs:226:28: self.n = self.n + 1 // frs:10

The .frs line comes from the compiler's mapping, read as `frc check`
(compiler/check_native.c) reads it: the `// frs:N` marker that ends every
generated body line; the mapping comment (`// fixtures/bad.frs:9
$Idle.tick`) above a handler's or method's `fn` line, for that line; for
native text outside the systems, the lines it keeps (two down before the
first system banner, counted from the system's closing brace after it).
The column is recovered by finding the text around rustc's column in the
.frs line (map_col).  An error in the shim, or in generated code without
a mapping (another compiler's output, frc's own machinery), keeps its
generated location and says so.

bundle.rustc_cached records a failed crate as a RustcFailure (a str, the
text the log always held, that also keeps rustc's own output);
build.build_libraries calls once_per_fixture() after every crate is built.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import attribute, rustlex

_HEADER = re.compile(r"^(error(?:\[\w+\])?): (.*)$")
_ARROW = re.compile(r"^\s*--> (.+):(\d+):(\d+)$")
_LABEL = re.compile(r"^\s*\|[\s\-]*\^+ ?(.*)$")
_MARKER = re.compile(r" // frs:(\d+)(?::\d+)?\s*$")
_MAX_ERRORS = 10         # per finding; the rest are counted


class RustcFailure(str):
    """A crate rustc rejected: the text a build log always held ("rustc
    failed on SRC:" and rustc's output), with .stderr and the opt-level
    (from `-C opt-level=N` in its arguments, None without) kept apart."""

    def __new__(cls, src, stderr, args=()):
        self = super().__new__(cls, f"rustc failed on {src}:\n{stderr.strip()}")
        self.src = str(src)
        self.stderr = stderr
        levels = [a.split("=", 1)[1] for a in map(str, args) if a.startswith("opt-level=")]
        self.opt = int(levels[-1]) if levels and levels[-1].isdigit() else None
        return self


@dataclass
class Diagnostic:
    """One error of rustc's human-readable output."""
    message: str             # "error[E0425]: cannot find …", its primary label appended
    file: str | None = None  # its primary location, None when it has none
    line: int = 0
    col: int = 0
    labelled: bool = False


def parse(stderr):
    """[Diagnostic]: the errors of rustc's output, each with its primary
    location and the label under it (not the "aborting due to" summary,
    not warnings or notes)."""
    out, cur = [], None
    for text in stderr.splitlines():
        m = _HEADER.match(text)
        if m:
            cur = None
            if not m.group(2).startswith("aborting due to"):
                cur = Diagnostic(f"{m.group(1)}: {m.group(2)}")
                out.append(cur)
            continue
        if cur is None:
            continue
        if re.match(r"^(warning|note|help)\b", text):
            cur = None
            continue
        a = _ARROW.match(text)
        if a and cur.file is None:
            cur.file, cur.line, cur.col = a.group(1), int(a.group(2)), int(a.group(3))
            continue
        lab = _LABEL.match(text)
        if lab and cur.file and not cur.labelled:
            cur.labelled = True
            if lab.group(1).strip():
                cur.message += f": {lab.group(1).strip()}"
    return out


@dataclass
class Mapped:
    """One rustc error, located."""
    message: str
    frs: str | None          # "fixtures/bad.frs" (None: no .frs line)
    line: int                # .frs line (0: none)
    col: int                 # .frs column (0: not recovered)
    gen: str                 # "PATH:LINE:COL" of the generated code
    gen_text: str            # that line
    source_line: str = ""    # the .frs line
    note: str = ""           # what the location is, when it is not plain
    where: set = field(default_factory=set)   # {(mode, opt)}

    def key(self):
        if self.line:
            return (self.frs, self.line, self.col, _base(self.message))
        return (self.gen_text.strip(), _base(self.message))


def _base(message):
    """The message without rustc's label (rustc words one error with and
    without it, depending on the code around it)."""
    parts = message.split(": ")
    return ": ".join(parts[:2])


def _lines(text):
    """The lines as rustc counts them (at '\n' only), without '\r'."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [l[:-1] if l.endswith("\r") else l for l in lines]


def system_ends(source):
    """The line of each `@@system`'s closing brace in a .frs source, in
    order (0 when the file ends first)."""
    code = rustlex.blank(source, tolerant=True)
    ends = []
    for m in re.finditer(r"@@system\b", code):
        i, depth = code.find("{", m.end()), 0
        while 0 <= i < len(code):
            depth += {"{": 1, "}": -1}.get(code[i], 0)
            if depth == 0:
                break
            i += 1
        ends.append(code.count("\n", 0, i) + 1 if 0 <= i < len(code) else 0)
    return ends


def _outside(gl, l, ends):
    """The .frs line of native text outside the systems at generated line
    l (1-based), or 0: it keeps its lines, two down before the first
    system banner, counted from the system's closing brace after one."""
    inside, nsys, after = 0, 0, 0
    for k in range(l - 1):
        if attribute._SYSTEM.match(gl[k]):
            inside += 1
        elif attribute._END_SYSTEM.match(gl[k]):
            inside, nsys, after = inside - 1, nsys + 1, k + 1
    if inside or l <= 2 or attribute._SYSTEM.match(gl[l - 1]) or attribute._END_SYSTEM.match(gl[l - 1]):
        return 0
    if nsys == 0:
        return l - 2
    return ends[nsys - 1] + (l - after - 1) if nsys <= len(ends) and ends[nsys - 1] else 0


def map_line(mm, l, ends):
    """(.frs line or 0, note) of generated line l of the module (ModuleMap
    mm): its `// frs:N` marker; the mapping comment above the `fn` it is
    the header of; native text outside the systems (_outside)."""
    gl = mm.lines
    m = _MARKER.search(gl[l - 1])
    if m:
        return int(m.group(1)), ""
    fn = mm.enclosing_fn(l)
    mapped = mm.mapping_above(fn[1]) if fn and fn[1] == l else None
    if mapped:
        return int(mapped[0].rsplit(":", 1)[1]), f"the signature generated for {mapped[1]}"
    n = _outside(gl, l, ends)
    if n:
        return n, ""
    near = mm.nearest_mapping(l) if fn else ""
    above = mm.mapping_above(fn[1]) if fn else None
    if above and not above[1].startswith("state "):
        return 0, (f"generated code with no .frs line, in the function generated for {above[1]} "
                   f"({near})")
    return 0, "generated code with no .frs line"


def _mid(s, i):
    return 0 < i < len(s) and _word(s[i - 1]) and _word(s[i])


def _word(ch):
    return ch.isalnum() or ch == "_" or ord(ch) >= 0x80


def _fits(g, start, n, k, s, at):
    """g[start:start+n] found at s[at]: it holds the whole word at the
    error column k, and starts and ends inside a word only where s's copy
    does too (a part of `Strng` is not `String`)."""
    a, b = k, k
    while a > 0 and _mid(g, a):
        a -= 1
    while b < len(g) and _word(g[b]):
        b += 1
    if k < len(g) and _word(g[k]) and (start > a or start + n < b):
        return False
    back = k
    while back > 0 and _word(g[back - 1]):
        back -= 1
    if start + n == k and start > back:
        return False
    return _mid(g, start) == _mid(s, at) and _mid(g, start + n) == _mid(s, at + n)


def _find_fit(s, g, start, n, k):
    """Index in s of the occurrence of g[start:start+n] that fits, the one
    with as many occurrences before it in g if there are that many."""
    sub = g[start:start + n]
    idx = sum(1 for i in range(start) if g.startswith(sub, i))
    hits = [i for i in range(len(s)) if s.startswith(sub, i) and _fits(g, start, n, k, s, i)]
    if not hits:
        return -1
    return hits[idx] if idx < len(hits) else hits[0]


def map_col(g, s, gcol):
    """The .frs column (1-based) of rustc's column gcol on generated line g,
    or 0: the longest stretch (up to 40 characters) of g starting at that
    column, or ending there, that the .frs line s holds too (_fits).  As
    compiler/check_native.c's check_map_col."""
    m = _MARKER.search(g)
    g = g[:m.start()] if m else g
    k = min(max(gcol - 1, 0), len(g))
    best, pos = 0, -1
    for n in range(min(40, len(g) - k), 1, -1):
        at = _find_fit(s, g, k, n, k) if g[k:k + n].strip() else -1
        if at >= 0:
            best, pos = n, at
            break
    for n in range(min(40, k), max(best, 1), -1):
        at = _find_fit(s, g, k - n, n, k) if g[k - n:k].strip() else -1
        if at >= 0:
            pos = at + n
            break
    return pos + 1 if pos >= 0 else 0


def _frs_path(mm):
    """The .frs path the module's mapping comments name, or None."""
    for text in mm.lines[:200]:
        m = re.match(r"^// generated by .* from (\S+\.frs) ", text) or attribute._MAPPING.match(text)
        if m:
            return m.group(1)
    return None


def locate(d, module, shim=None, source=None):
    """Mapped for Diagnostic d of a build of `module` (the generated Rust);
    `shim`: the fixture's shim; `source(frs_path)`: the text of the .frs
    the module names, or None."""
    if not d.file:
        return Mapped(d.message, None, 0, 0, "", "", note="rustc gave no location")
    file = Path(d.file)
    text = ""
    try:
        text = _lines(file.read_text(encoding="utf-8", errors="replace"))[d.line - 1]
    except (OSError, IndexError):
        pass
    gen = f"{d.file}:{d.line}:{d.col}"
    if shim and _same(file, shim):
        return Mapped(d.message, None, 0, 0, gen, text,
                      note="in the shim the audit generated for the fixture, not in the compiler's output")
    if not _same(file, module):
        return Mapped(d.message, None, 0, 0, gen, text, note=f"in {d.file}, not in the compiler's output")
    mm = attribute.ModuleMap(module)
    mm.lines = _lines("\n".join(mm.lines))
    frs = _frs_path(mm)
    src = source(frs) if frs and source else None
    slines = _lines(src) if src is not None else []
    line, note = map_line(mm, d.line, system_ends(src) if src is not None else []) if frs else (0, "")
    if not frs:
        note = "in generated code without a .frs mapping"
    if not line or line > len(slines):
        return Mapped(d.message, None, 0, 0, gen, text, note=note or "generated code with no .frs line")
    s = slines[line - 1]
    return Mapped(d.message, frs, line, map_col(text, s, d.col), gen, text, source_line=s, note=note)


def _same(a, b):
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _where(pairs):
    """"alloc and noalloc shapes, O0 and O3", or the pairs one by one."""
    modes = sorted({m for m, _ in pairs})
    opts = sorted({o for _, o in pairs if o is not None})
    if len(pairs) == len(modes) * max(1, len(opts)):
        shapes = " and ".join(modes) + (" shapes" if len(modes) > 1 else " shape")
        return shapes + (", O" + " and O".join(map(str, opts)) if opts else "")
    return ", ".join(f"{m} O{o}" for m, o in sorted(pairs, key=lambda p: (p[0], p[1] or 0)))


def render(name, mapped):
    """One finding's text: each error at its .frs position (or, unmapped,
    at its generated one, saying so), rustc's message, where it failed,
    the .frs line with a caret and the generated line."""
    out = []
    for m in mapped[:_MAX_ERRORS]:
        where = f"(rustc, {_where(m.where)})"
        if m.line:
            at = f"{m.frs}:{m.line}:{m.col}" if m.col else f"{m.frs}:{m.line}"
            out += [f"{at}: {m.message} {where}", f"{m.line:5d} | {m.source_line}"]
            if m.col:
                pad = "".join("\t" if ch == "\t" else " " for ch in m.source_line[:m.col - 1])
                out.append(f"      | {pad}^")
            if m.note:
                out.append(f"      = note: in {m.note}")
            out.append(f"      = generated {m.gen}: {m.gen_text.strip()}")
        else:
            out += [f"{name}: {m.gen or 'rustc'}: {m.message} {where}", f"      = note: {m.note}"]
            if m.gen_text:
                out.append(f"      | {m.gen_text.strip()}")
    if len(mapped) > _MAX_ERRORS:
        out.append(f"      … and {len(mapped) - _MAX_ERRORS} more rustc error(s)")
    return "\n".join(out)


def _fixture_errors(fails):
    """[Mapped] of one fixture's failures [(mode, RustcFailure, module,
    shim, source)], each error once, with every (mode, opt) it failed in."""
    merged, raw = {}, []
    for mode, f, module, shim, source in fails:
        diags = parse(f.stderr)
        if not diags:
            raw.append(Mapped(f.strip(), None, 0, 0, "", "", note="rustc failed without an error we could read",
                              where={(mode, f.opt)}))
        for d in diags:
            m = locate(d, module, shim, source)
            m.where.add((mode, f.opt))
            merged.setdefault(m.key(), m).where.add((mode, f.opt))
    return sorted(merged.values(), key=lambda m: (not m.line, m.frs or "", m.line, m.col)) + raw


def once_per_fixture(results, sources):
    """Replaces the rustc failures in results ({(name, mode): Outcome}) by
    one error per fixture, in its first shape's Outcome, that names each
    rustc error's .frs position (render).  sources[(name, mode)]: (shim,
    source(frs_path) -> text or None) of that build."""
    by_fixture = {}
    for (name, mode), o in results.items():
        fails = [e for e in o.errors if isinstance(e, RustcFailure)]
        if not fails:
            continue
        o.errors = [e for e in o.errors if not isinstance(e, RustcFailure)]
        shim, source = sources.get((name, mode), (None, None))
        by_fixture.setdefault(name, (o, []))[1].extend((mode, f, o.module, shim, source) for f in fails)
    for name, (first, fails) in by_fixture.items():
        first.errors.append(render(name, _fixture_errors(fails)))
