"""Coverage of the Frame source for C fixtures (the C counterpart of coverage.py).

The C target puts `#line N "fixtures/c/NAME.frs"` before every line of a
handler body (C_TARGET.md), so the O0 library's DWARF line table already
holds the .frs lines that have code, and Callgrind (`--dump-line=yes`)
charges the instructions that ran to those same .frs lines: no marker to
map through.  Per C fixture and shape (its O0 library, one Callgrind run of
faa-run over the bundle's fixtures, as coverage.py runs it):

* lines: every .frs line with code in the line table must have run, or be
  excused by the scenario's [uncovered] (`"line N"`, `"lines N-M"`, or the
  handler it is in);
* handlers: the mapping comment above each handler function
  (`// fixtures/c/NAME.frs:12 $Idle.connect`) names its state and event;
  it ran when Callgrind saw its function (the state x event matrix);
* stale [uncovered] entries fail as for Rust (coverage.handler_findings,
  coverage.stale_lines' rule).

Calls out of the library that never ran are not judged for C (the line's
own coverage is): report.json's `calls` is all zeros.  A module without
#line directives to a .frs (C generated elsewhere) gets no coverage: it
stays unchecked, never passes silently.
"""

import re
from pathlib import Path

from . import coverage
from .clocate import _LINE, CModuleMap

_HANDLER = re.compile(r"^\$(\w+)\.(\$>|<\$|\w+)$")
NO_CALLS = {"judged": 0, "ran": 0, "exempt": 0, "indirect": 0, "never_ran": []}


def frs_names(mm):
    """The .frs files the module's #line directives name."""
    return {m.group(2) for t in mm.lines for m in [_LINE.match(t)] if m and m.group(2).endswith(".frs")}


def _mine(by_file, names):
    """Union of the lines of every file that is one of `names` (DWARF and
    Callgrind give them joined to gcc's working directory)."""
    out = set()
    for f, lines in by_file.items():
        if any(f == n or f.endswith("/" + n) for n in names):
            out |= lines
    return out


def handlers(mm):
    """{function: (state, event, .frs lines of its body)} from the mapping
    comments above handler functions."""
    out = {}
    for fn, (first, last) in mm.functions.items():
        mapped = mm.mapping_above(fn)
        m = _HANDLER.match(mapped[1].split()[0]) if mapped and mapped[1] else None
        if not m:
            continue
        body = set()
        for n in range(first, last + 1):
            frs = mm.frs_of(n)
            if frs:
                body.add(int(frs.rsplit(":", 1)[1]))
        out[fn] = (m.group(1), m.group(2), body)      # matrix cells read "State.event"
    return out


def _source(fx):
    try:
        return Path(fx.frs).read_text(errors="replace").splitlines() if fx.frs else []
    except OSError:
        return []


def shape(mm, ran_lines, code_lines):
    """One shape: ({frs line: ran}, {function: (state, event, lines)})."""
    hs = handlers(mm)
    code = _mine(code_lines, frs_names(mm))
    ran = _mine(ran_lines, frs_names(mm))
    return {n: n in ran for n in code}, hs


def evaluate(fx, per_mode, names_by_mode, root):
    """(coverage dict for report.json, [finding message]) of one C fixture.
    per_mode: {mode: ({frs line: ran}, handlers)}."""
    scen = fx.scenario
    toml = coverage.display(fx.toml, root)
    path = coverage.display(fx.frs, root) if fx.frs else "?"
    src = _source(fx)
    text = (lambda n: src[n - 1].strip() if 0 < n <= len(src) else "")
    excused = coverage.line_exceptions(scen)
    mx = coverage.matrix({mode: ({fn: (st, ev) for fn, (st, ev, _) in hs.items()}, names_by_mode[mode])
                          for mode, (_, hs) in per_mode.items()})
    out, lines, failing, code_any, ran_all = [], {}, {}, set(), None
    for mode, (cov, hs) in per_mode.items():
        owner = {n: f"${st}.{ev}" for st, ev, body in hs.values() for n in body}
        ran_fn = {f"${st}.{ev}": coverage.ran(fn, names_by_mode[mode]) for fn, (st, ev, _) in hs.items()}
        code_any |= set(cov)
        here = {n for n, r in cov.items() if r}
        ran_all = here if ran_all is None else ran_all & here
        unc = []
        for n in sorted(n for n, r in cov.items() if not r):
            who = owner.get(n, "?")
            why = excused.get(n) or scen.uncovered.get(who)
            unc.append({"line": n, "where": f"{path}:{n}", "in": who, "text": text(n), "generated": 1,
                        "handler_ran": ran_fn.get(who, False), "excused": why, "never_ran": []})
            if not why and ran_fn.get(who, True):
                failing.setdefault((n, who), []).append(mode)
        lines[mode] = {"total": len(cov), "covered": len(here), "uncovered": unc, "unmapped": [],
                       "calls": dict(NO_CALLS)}
    for (n, who), modes in sorted(failing.items()):
        out.append(f"{path}:{n} ({who}) never ran in the {coverage._shapes(modes)}: `{text(n)}`; "
                   f"extend {toml} or list it under [uncovered] with the reason")
    out += coverage.handler_findings(fx.name, scen, mx, toml)
    for key, (lo, hi, _) in scen.uncovered_lines.items():
        named = [n for n in range(lo, hi + 1) if n in code_any]
        done = [n for n in named if n in (ran_all or set())]
        if not named:
            out.append(f"{toml}: [uncovered] \"{key}\" names no line with code in a handler of "
                       f"{scen.system} ({path}:{lo}); remove it")
        elif done:
            out.append(f"{toml}: [uncovered] \"{key}\" is stale: {path}:{','.join(map(str, done))} ran "
                       f"in every shape; remove it")
    return dict(mx, lines=lines), out


def stage(fixtures, modules, measurements, valgrind_bin, runner, workdir, root):
    """The C fixtures' coverage: ({fixture: coverage dict}, [(fixture, message, failure)])."""
    libs = {}
    for m in measurements:
        if m.opt == 0 and m.verdict:
            libs.setdefault(m.meta_lib, []).append(m)
    profiles = {}
    for lib, ms in libs.items():
        try:
            text = coverage.callgrind(valgrind_bin, runner, lib, sorted({m.prefix for m in ms}), Path(workdir))
            names, ran_lines, _ = coverage.parse_profile_files(text, lib)
            code_lines = coverage.parse_decoded_files(coverage.decoded_lines(lib))
        except RuntimeError as e:
            profiles[lib] = e
            continue
        profiles[lib] = (names, ran_lines, code_lines)
    result, found = {}, []
    for fx in fixtures:
        per, names, problems = {}, {}, []
        for m in (m for m in measurements if m.fixture == fx.name and m.opt == 0 and m.verdict):
            prof, module = profiles.get(m.meta_lib), modules.get((fx.name, m.mode))
            if isinstance(prof, RuntimeError) or prof is None or module is None:
                problems.append(f"{fx.name} {m.mode}: coverage not checked: {prof or 'no module'}")
                continue
            mm = CModuleMap(module)
            if not frs_names(mm):
                continue                 # no #line to a .frs: stays unchecked
            per[m.mode] = shape(mm, prof[1], prof[2])
            names[m.mode] = prof[0]
        found += [(fx.name, p, True) for p in problems]
        if per:
            result[fx.name], msgs = evaluate(fx, per, names, root)
            found += [(fx.name, msg, True) for msg in msgs]
    return result, found
