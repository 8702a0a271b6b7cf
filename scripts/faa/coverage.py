"""Coverage of the Frame source: which handlers, and which .frs lines, ran.

A zero must not hide behind an untested path.  The O0 library of each
shape (no inlining: every handler keeps its own function, every line its
own code) is run once under Callgrind by faa-run, with line-level output.

Handlers.  frc writes a mapping comment above every handler it emits
(`// FILE.frs:LINE $State.event`, `$>` / `<$` for enter / exit; `// FILE.frs:LINE
action NAME` above an action) followed by its `fn`.  A handler whose
function appears in Callgrind's profile was executed: that gives the
(state x event) matrix.

Lines.  frc ends every line of a handler or action body with a marker
`// frs:N` (`// frs:N:C` when the generated line starts at column C), the
.frs line that generated line starts on; a line that ends inside a
multi-line string has none and maps one for one to the lines above the next
marker.  A statement form (transition, push$, => $^, @@:return(e), @@:(e))
sharing its .frs line with other code gets a generated line of its own.
The lines of the generated module that have code are the rows of the
library's DWARF line table (readelf's decoded line table); the lines that
ran are those Callgrind charged an instruction to.  A .frs body line is
uncovered when some of its code never ran: entirely, or in part (`if c {
-> $S }` where the transition never happened).  Code inside a handler's
function that carries no marker (frc's own prologue, or anything written
into the module afterwards) is reported by its generated line when it
never ran.

What line coverage cannot see: two branches of native code on one .frs
line (`if c { a() } else { b() }`) count as run once the line ran; frc's
own branches inside an expansion (push$ on a full stack, -> pop$ on an
empty one) are not asked for.

Compilers that write no such comments get no matrix (reported as
unavailable, never as covered).  A scenario lists what it cannot reach, with
the reason, under [uncovered] (scenario.py): handler keys
(`"$Fault.reset" = "..."`) and line keys (`"line 42"`, `"lines 42-45"`).
An entry naming something that is not there, or that ran in every shape,
is a finding of its own (a stale exception).
"""

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_HANDLER = re.compile(r"//\s*\S+\.frs:\d+\s+\$(\w+)\.(\$>|<\$|\w+)\s*\n\s*(?:pub\s+)?fn\s+(\w+)")
_FN = re.compile(r"^c?fn=(?:\(\d+\)\s*)?(.+)$")
_MAPPING = re.compile(r"^\s*//\s*(\S+\.frs):(\d+)\s+(.*?)\s*$")
_BODY_OWNER = re.compile(r"^(\$\w+\.(?:\$>|<\$|\w+)|action \w+)$")
_REGION_END = re.compile(r"^(// ---- end of system|\})")
_DL_HEADER = re.compile(r"^(?:CU: )?(\S.*?):(?:\[\+\+\])?$")
_MARKER = re.compile(r"\s// frs:(\d+)(?::(\d+))?\s*$")
TIMEOUT = 600
FORMAT = 3          # of the cached Callgrind/DWARF results
SHAPE = {"alloc": "allocating", "noalloc": "no_alloc"}


# ---- the module: handlers, bodies, the generated -> .frs line map --------

def handlers(module_text):
    """{function name: (state, event)} from frc's mapping comments."""
    return {m.group(3): (m.group(1), m.group(2)) for m in _HANDLER.finditer(module_text)}


@dataclass
class Region:
    """The function frc emitted for one handler or action."""
    key: str            # "$State.event" or "action NAME"
    fn: str             # its Rust name ("" when no `fn` follows the comment)
    frs: str            # the .frs path the mapping comment names
    frs_line: int       # the header line of the handler / action
    first: int          # generated lines first..last (1-based, inclusive)
    last: int
    lines: dict = field(default_factory=dict)   # generated line -> .frs line
    cols: dict = field(default_factory=dict)    # generated line -> .frs column it starts at


def regions(module_text):
    """The handler and action functions of a generated module, with the
    .frs line of every body line (see the module docstring)."""
    lines = module_text.splitlines()
    out, cur = [], None
    for n, text in enumerate(lines, 1):
        m = _MAPPING.match(text)
        if cur and (m or _REGION_END.match(text)):
            cur.last = n - 1
            out.append(cur)
            cur = None
        if m and _BODY_OWNER.match(m.group(3)):
            fn = re.search(r"\bfn\s+(\w+)", lines[n]) if n < len(lines) else None
            cur = Region(key=m.group(3), fn=fn.group(1) if fn else "", frs=m.group(1),
                         frs_line=int(m.group(2)), first=n + 1, last=n + 1)
    if cur:
        cur.last = len(lines)
        out.append(cur)
    for r in out:
        r.lines = line_map(lines, r.first, r.last)
        r.cols = {n: int(m.group(2)) for n in r.lines
                  if (m := _MARKER.search(lines[n - 1])) and m.group(2)}
    return out


def line_map(lines, first, last):
    """{generated line: .frs line} for lines first..last of a module.

    Marked lines map to their marker.  A run of unmarked lines right above a
    marked one maps one for one when each of them ends inside a string
    literal that the marked line closes (a multi-line string in the body);
    any other unmarked line is not Frame source.
    """
    marked = {}
    for n in range(first, last + 1):
        m = _MARKER.search(lines[n - 1])
        if m:
            marked[n] = int(m.group(1))
    out = dict(marked)
    n = first
    while n <= last:
        if n in marked:
            n += 1
            continue
        end = n
        while end <= last and end not in marked:
            end += 1
        if end <= last:
            for start in range(n, end):
                if _all_end_in_string(lines[start - 1:end - 1]):
                    for k in range(start, end):
                        out[k] = marked[end] - (end - k)
                    break
        n = end + 1
    return out


def _all_end_in_string(seq):
    """True when, lexed from the start of seq[0], every line of seq ends
    inside a string literal ("...", b"...", r#"..."#)."""
    close = None            # what ends the open string: '"' or '"##..'
    for text in seq:
        i = 0
        while i < len(text):
            if close:
                if close == '"' and text[i] == "\\":
                    i += 2
                    continue
                if text.startswith(close, i):
                    i += len(close)
                    close = None
                    continue
                i += 1
                continue
            ch = text[i]
            if text.startswith("//", i):
                break
            m = re.match(r"b?r(#*)\"", text[i:])
            if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
                close = '"' + m.group(1)
                i += m.end()
                continue
            if ch == '"':
                close = '"'
            elif ch == "'":
                m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
                if m:
                    i += m.end()
                    continue
            i += 1
        if not close:
            return False
    return True


# ---- what ran and what has code ------------------------------------------

def same_file(path, module):
    """True when a path from DWARF or Callgrind (absolute, or relative to
    rustc's working directory) names the module file."""
    if not path or Path(path).name != Path(module).name:
        return False
    p = str(path)
    for mod in {str(Path(module)), str(Path(module).resolve())}:
        if p == mod or mod.endswith("/" + p.lstrip("./")):
            return True
    return False


def parse_callgrind(text, module):
    """(names of every function that ran, lines of `module` that ran) from a
    Callgrind profile written with --dump-line=yes --compress-pos=no
    --compress-strings=no."""
    names, ran = set(), set()
    fl = fi = None
    for line in text.splitlines():
        if line.startswith("fl="):
            fl = fi = line[3:].strip()
        elif line.startswith(("fi=", "fe=")):
            fi = line[3:].strip()
        elif line.startswith("fn="):
            fi = fl
            m = _FN.match(line)
            names.add(m.group(1).strip())
        elif line.startswith("cfn="):
            m = _FN.match(line)
            names.add(m.group(1).strip())
        elif line[:1].isdigit():
            pos = line.split(None, 1)[0]
            if pos.isdigit() and int(pos) > 0 and same_file(fi, module):
                ran.add(int(pos))
    return names, ran


def parse_decodedline(text, module):
    """Lines of `module` with code, from `readelf -W --debug-dump=decodedline`."""
    lines, cur = set(), None
    for row in text.splitlines():
        # a file header: "CU: path:", "path:", or "path:[++]" (readelf's mark
        # for a name it had to qualify with its directory)
        head = _DL_HEADER.match(row)
        if head:
            cur = head.group(1).strip()
            continue
        parts = row.split()
        if (cur and len(parts) >= 3 and parts[1].isdigit() and parts[2].startswith("0x")
                and int(parts[1]) > 0 and same_file(cur, module)):
            lines.add(int(parts[1]))
    return lines


def code_lines(lib, module, readelf=None):
    """Lines of the generated module that have code in the library."""
    readelf = readelf or shutil.which("readelf")
    if not readelf:
        raise RuntimeError("readelf (binutils) is needed for line coverage")
    r = subprocess.run([readelf, "-W", "--debug-dump=decodedline", str(lib)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError(f"readelf failed on {lib} (exit {r.returncode}): {r.stderr[-400:]}")
    return parse_decodedline(r.stdout, module)


def callgrind(valgrind, runner, lib, module, outdir):
    """Runs faa-run over lib under Callgrind: (functions that ran, lines of
    the module that ran)."""
    outdir.mkdir(parents=True, exist_ok=True)
    out = outdir / (Path(lib).stem + ".callgrind.out")
    cmd = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
           "--compress-strings=no", "--compress-pos=no", "--dump-line=yes",
           runner, "--repeat", "1", str(lib)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0 or not out.exists():
        raise RuntimeError(f"callgrind failed on {lib} (exit {r.returncode}): {r.stderr[-400:]}")
    return parse_callgrind(out.read_text(errors="replace"), module)


@dataclass
class Run:
    """One shape of one fixture, as Callgrind and DWARF saw it."""
    module: Path
    functions: set
    ran: set             # generated lines that ran
    code: set            # generated lines with code


def measure(valgrind, runner, lib, module, outdir, key, reuse=True):
    """A Run for one O0 library, cached in outdir under `key` (what the
    library and the runner were built from)."""
    cache = Path(outdir) / f"{Path(lib).stem}.lines.json"
    key = [FORMAT, str(module)] + list(key)
    if reuse:
        try:
            saved = json.loads(cache.read_text())
            if saved["key"] == key:
                return Run(Path(module), set(saved["functions"]), set(saved["ran"]), set(saved["code"]))
        except (OSError, ValueError, KeyError):
            pass
    names, ran = callgrind(valgrind, runner, lib, module, Path(outdir))
    code = code_lines(lib, module)
    cache.write_text(json.dumps({"key": key, "functions": sorted(names), "ran": sorted(ran),
                                 "code": sorted(code)}))
    return Run(Path(module), names, ran, code)


# ---- the matrix ------------------------------------------------------------

def ran(fn, names):
    """True when a Callgrind function name is the handler `fn`."""
    pat = re.compile(r"(^|::)" + re.escape(fn) + r"($|[<(\s])")
    return any(pat.search(n) for n in names)


def matrix(per_mode):
    """per_mode: {mode: ({fn: (state, event)}, executed names)} -> matrix dict."""
    cells, states, events = {}, [], []
    for mode, (hs, names) in per_mode.items():
        for fn, (st, ev) in hs.items():
            if st not in states:
                states.append(st)
            if ev not in events:
                events.append(ev)
            cells.setdefault(f"{st}.{ev}", {})[mode] = ran(fn, names)
    lifecycle = [e for e in ("$>", "<$") if e in events]
    events = lifecycle + [e for e in events if e not in lifecycle]
    return {"states": states, "events": events, "cells": cells}


def unexercised(mx, allowed):
    """Handlers some shape never ran, minus the scenario's declared exceptions."""
    out = []
    for key, modes in mx["cells"].items():
        if all(modes.values()):
            continue
        if f"${key}" in allowed:
            continue
        missing = [m for m, v in modes.items() if not v]
        out.append((f"${key}", missing))
    return out


# ---- lines -------------------------------------------------------------------

@dataclass
class Line:
    """A line with code in a handler or action function, in one shape."""
    owner: str           # region key
    gen: int             # generated line
    frs: int | None      # .frs line, None when it is not Frame source
    ran: bool
    owner_ran: bool
    col: int = 0         # .frs column the generated line starts at (0: the line's start)
    end: int = 0         # .frs column the next generated line of that .frs line starts at (0: none)


def shape_lines(run):
    """(every line with code inside a handler or action function of the
    run's module, with whether it ran; the module's lines)."""
    text = run.module.read_text(errors="replace")
    out = []
    for r in regions(text):
        owner_ran = bool(r.fn) and ran(r.fn, run.functions)
        starts = {}
        for n, frs in r.lines.items():
            starts.setdefault(frs, set()).add(r.cols.get(n, 0))
        for n in range(r.first, r.last + 1):
            if n in run.code:
                frs, col = r.lines.get(n), r.cols.get(n, 0)
                end = min((c for c in starts.get(frs, ()) if c > col), default=0)
                out.append(Line(r.key, n, frs, n in run.ran, owner_ran, col, end))
    return out, text.splitlines()


def _shapes(modes):
    names = [SHAPE.get(m, m) for m in modes]
    return f"{' and '.join(names)} shape{'s' if len(names) > 1 else ''}"


def display(path, root):
    """A .frs path as the user knows it: the fixture, relative to the
    project, not the audit's copy of it (variants/MODE/NAME.frs)."""
    p = Path(path)
    try:
        p = p.resolve().relative_to(Path(root).resolve())
    except (OSError, ValueError):
        pass
    return re.sub(r"^(?:.*/)?variants/(?:alloc|noalloc)/", "fixtures/", str(p))


class Source:
    """The fixture's .frs: its display path and the text of its lines."""

    def __init__(self, fx, module_lines, root):
        named = next((m.group(1) for m in map(_MAPPING.match, module_lines) if m), f"{fx.name}.frs")
        self.path = display(fx.frs or named, root)
        self.lines = []
        for p in ([fx.frs] if fx.frs else []) + [Path(root) / self.path]:
            try:
                self.lines = Path(p).read_text(errors="replace").splitlines()
                break
            except OSError:
                continue

    def text(self, n):
        return self.lines[n - 1].strip() if 0 < n <= len(self.lines) else ""

    def part(self, n, col, end):
        """Line n from column col (1-based; 0: its start) up to column end (0: its end)."""
        if not 0 < n <= len(self.lines):
            return ""
        return self.lines[n - 1][max(col - 1, 0):end - 1 if end else None].strip()


def _by_frs(lines):
    """{.frs line: {owner, ran, owner_ran, gen, unran}}: a line ran when all
    its code did; `unran` are the .frs columns of the generated pieces of it
    that never ran, each with the column where the next piece starts."""
    out = {}
    for ln in lines:
        if ln.frs is None:
            continue
        d = out.setdefault(ln.frs, {"owner": ln.owner, "ran": True, "owner_ran": ln.owner_ran,
                                    "gen": ln.gen, "pieces": {}})
        d["ran"] = d["ran"] and ln.ran
        ran_, _ = d["pieces"].get(ln.col, (True, 0))
        d["pieces"][ln.col] = (ran_ and ln.ran, ln.end)
    for d in out.values():
        pieces = sorted(d.pop("pieces").items())
        d["partly"] = not d["ran"] and any(r for _, (r, _) in pieces)
        d["unran"] = [(c, end) for c, (r, end) in pieces if not r]
    return out


def evaluate(fx, runs, root):
    """Line coverage of one fixture: (report {mode: {...}}, finding messages).

    runs: {mode: Run}.  A handler that never ran is the matrix's finding
    (handler_findings); its lines appear in the report only.
    """
    scen, toml = fx.scenario, display(fx.toml, root)
    per = {mode: shape_lines(run) for mode, run in runs.items()}
    src = Source(fx, next(iter(per.values()))[1] if per else [], root)
    excused = line_exceptions(scen)
    report, failing, actions, unmapped = {}, {}, {}, []
    code_any, ran_all = set(), None
    for mode, (lines, gen_text) in per.items():
        frs = _by_frs(lines)
        code_any |= set(frs)
        ran_here = {n for n, d in frs.items() if d["ran"]}
        ran_all = ran_here if ran_all is None else ran_all & ran_here
        unc = []
        for n, d in sorted(frs.items()):
            if d["ran"]:
                continue
            why = excused.get(n) or scen.uncovered.get(d["owner"])
            parts = tuple(src.part(n, c, e) for c, e in d["unran"]) if d["partly"] else ()
            unc.append({"line": n, "where": f"{src.path}:{n}", "in": d["owner"], "text": src.text(n),
                        "generated": d["gen"], "handler_ran": d["owner_ran"], "excused": why,
                        "never_ran": list(parts)})
            if why:
                pass
            elif d["owner_ran"]:
                failing.setdefault((n, d["owner"], parts), []).append(mode)
            elif d["owner"].startswith("action "):
                actions.setdefault(d["owner"], {}).setdefault(mode, []).append(n)
        gone = [{"generated": ln.gen, "in": ln.owner, "text": _MARKER.sub("", gen_text[ln.gen - 1]).strip()}
                for ln in lines
                if ln.frs is None and ln.owner_ran and not ln.ran and ln.owner not in scen.uncovered]
        unmapped += [(mode, item) for item in gone]
        report[mode] = {"total": len(frs), "covered": len(ran_here), "uncovered": unc, "unmapped": gone}

    out = []
    for (n, owner, parts), modes in sorted(failing.items()):
        what = (f"never ran in part in the {_shapes(modes)}: {' and '.join(f'`{p}`' for p in parts)} "
                f"of `{src.text(n)}`") if parts else f"never ran in the {_shapes(modes)}: `{src.text(n)}`"
        out.append(f"{src.path}:{n} ({owner}) {what}; extend {toml} or list it under [uncovered] "
                   f"with the reason")
    for owner, modes in actions.items():
        lines = sorted({n for v in modes.values() for n in v})
        out.append(f"{src.path}:{lines[0]} ({owner}) never ran in the {_shapes(list(modes))}: "
                   f"{_span(lines)} never ran; extend {toml} or list {_entry(lines)} under "
                   f"[uncovered] with the reason")
    for mode, item in unmapped:
        out.append(f"{runs[mode].module}:{item['generated']} (in {item['in']} of {src.path}) has code "
                   f"that never ran in the {_shapes([mode])} and no `// frs:N` line marker, so it is "
                   f"not Frame source: `{item['text']}`")
    out += stale_lines(scen, src, toml, code_any, ran_all or set(), list(runs))
    return report, out


def _span(lines):
    return f"line {lines[0]}" if len(lines) == 1 else f"lines {', '.join(map(str, lines))}"


def _entry(lines):
    if len(lines) == 1:
        return f'"line {lines[0]}"'
    if lines == list(range(lines[0], lines[-1] + 1)):
        return f'"lines {lines[0]}-{lines[-1]}"'
    return ", ".join(f'"line {n}"' for n in lines)


def line_exceptions(scen):
    """{.frs line: reason} from the scenario's line entries."""
    out = {}
    for lo, hi, why in scen.uncovered_lines.values():
        for n in range(lo, hi + 1):
            out[n] = why
    return out


def stale_lines(scen, src, toml, code_any, ran_all, modes):
    """[uncovered] line entries that name no body line with code, or a line
    that ran in every shape."""
    out = []
    every = "every shape" if len(modes) > 1 else f"the {_shapes(modes)}"
    for key, (lo, hi, _) in scen.uncovered_lines.items():
        named = [n for n in range(lo, hi + 1) if n in code_any]
        if not named:
            out.append(f"{toml}: [uncovered] \"{key}\" names no line with code in a handler or "
                       f"action body of {scen.system} ({src.path}:{lo}: `{src.text(lo)}`); remove it")
            continue
        done = [n for n in named if n in ran_all]
        if done:
            out.append(f"{toml}: [uncovered] \"{key}\" is stale: {src.path}:"
                       f"{','.join(map(str, done))} ran in {every} (`{src.text(done[0])}`); "
                       f"remove {'the entry' if len(done) == len(named) else 'those lines from it'}")
    return out


def handler_findings(name, scen, mx, toml):
    """Handlers some shape never ran (minus [uncovered]), and [uncovered]
    handler entries that are no handler or ran in every shape."""
    out = []
    for handler, modes in unexercised(mx, scen.uncovered):
        out.append(f"{name}: handler {handler} never ran in the {_shapes(modes)}; "
                   f"extend {toml}, or list it under [uncovered] with the reason")
    for handler in scen.uncovered:
        cell = mx["cells"].get(handler[1:])
        if cell is None:
            out.append(f"{toml}: [uncovered] names {handler}, which is not a handler of {scen.system}")
        elif all(cell.values()):
            out.append(f"{toml}: [uncovered] \"{handler}\" is stale: the handler ran in every "
                       f"shape; remove it")
    return out


def _sees_bodies(run):
    """Did DWARF and Callgrind both see lines of the module's bodies?  A
    module with marked body lines of which none has code, or none ran, was
    not measured (a path that matched nothing), never covered."""
    marked = set()
    for r in regions(run.module.read_text(errors="replace")):
        marked |= set(r.lines)
    return not marked or bool(marked & run.code and marked & run.ran)


# ---- the audit step ----------------------------------------------------------

def audit(fixtures, modules, libs, valgrind, runner, workdir, root, stamp, jobs=1, reuse=True,
          progress=print):
    """Handler and line coverage of every fixture with an O0 library.

    modules / libs: {(fixture name, mode): path}; stamp(path) is what a file
    was built from (the cache key).  Returns ({fixture: matrix with a
    `lines` entry per shape}, [(fixture, message, is_failure)]).
    """
    from concurrent.futures import ThreadPoolExecutor

    jobs_ = []
    for fx in fixtures:
        for mode in SHAPE:
            key = (fx.name, mode)
            if key in modules and key in libs:
                hs = handlers(Path(modules[key]).read_text(errors="replace"))
                if hs:
                    jobs_.append((fx, mode, hs, libs[key], modules[key]))
    found = []
    if not jobs_:
        if libs:
            found.append(("*", "no handler coverage: it needs O0 libraries and frc's mapping "
                               "comments", False))
        return {}, found
    progress(f"audit: handler coverage: {len(jobs_)} Callgrind run(s), handlers and .frs lines")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    def one(job):
        fx, mode, hs, lib, module = job
        try:
            return job, measure(valgrind, str(runner), lib, module, workdir,
                                [stamp(Path(lib)), stamp(Path(runner))], reuse=reuse)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            return job, e

    per = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for (fx, mode, hs, lib, module), res in pool.map(one, jobs_):
            if isinstance(res, Exception):
                found.append((fx.name, f"{fx.name} {mode}: {res}", True))
                continue
            per.setdefault(fx.name, {})[mode] = (hs, res)
    out = {}
    for fx in fixtures:
        if fx.name not in per:
            continue
        runs = per[fx.name]
        mx = matrix({mode: (hs, run.functions) for mode, (hs, run) in runs.items()})
        toml = display(fx.toml, root)
        found += [(fx.name, msg, True) for msg in handler_findings(fx.name, fx.scenario, mx, toml)]
        blind = [m for m, (_, run) in runs.items() if not _sees_bodies(run)]
        for mode in blind:
            found.append((fx.name, f"{fx.name} {mode}: no line of a handler or action body of "
                          f"{runs[mode][1].module} has code in the O0 library's line table (or none "
                          f"ran): line coverage could not be measured", True))
        mx["lines"], msgs = evaluate(fx, {mode: run for mode, (_, run) in runs.items()}, root)
        found += [(fx.name, msg, True) for msg in msgs]
        out[fx.name] = mx
    return out, found
