"""Reports of one audit run: the terminal table, report.json, report.md,
junit.xml, and their publication.  The report is a model.Report (build()
makes it from the run); model.py holds its one reader and writer, and this
module renders it.

report.json schema (version 1):
  schema            "frame-alloc-audit/report@1"
  compiler          {name, version, path, bundled}
  verdict           "pass" | "fail";  exit_status
  unchecked         [check, ...]: checks that could not run (Valgrind absent or off:
                    "coverage", "second counter", "memcheck"; "baseline", "rejects");
                    unchecked_why {check: reason}; strict: true when they fail the gate
  skipped           [{fixture, reason}]: fixtures/SKIP.toml (a .frs with no scenario, on purpose)
  findings          [{rule, fixture, message, failure, opt, gen, frs}] (opt/gen/frs: where a
                    zero or valgrind-count finding points, else null)
  fixtures[]        {name, system, source, nostd, size_of: {alloc, noalloc},
                     runs: [{mode, opt, construct, steps[], steady[], destroy, batches,
                             observe_windows, violations[], calibration, timing, memcheck}],
                     coverage}
    construct/steps[] {step (1-based, 0 = construction), call, allocs, frees, os,
                       bytes, live_peak, calls{kind: n}, stack[]?, first_kind?, thread?, tid?, site?}
    destroy           the window around the drop of the system (same fields), or null
    steady[]          {step, n, allocs_mean, allocs_max, frees_mean, allocs_sum, frees_sum,
                       os_sum, violations}
    batches           the timing batches' summary {n, cycles, dispatches, allocs_sum, frees_sum,
                       os_sum, violations}, or null (records v1)
    observe_windows   the observation pass's summary {n, allocs_sum, frees_sum, os_sum,
                       violations}, or null
    violations[]      the not-zero windows of the steady replay, timing batches and
                       observation pass (first per step / batch): the window fields plus
                       phase (steady | batch | observe), repeat (steady), batch, step_to
                       and cycles (batch); step and step_to 1-based like every step here
    calibration       the worker's calibration record {kind, ok, entries[{fn, kind, calls}]}, or null
    timing            {kind, method, dispatches, median_ns, min_ns, p90_ns, cycles_per_batch,
                       batches}, or null
    memcheck          {ok, errors, definitely_lost, indirectly_lost, windows, log}, or null
    coverage          {states[], events[], cells: {"State.event": {alloc, noalloc}}}
                      (null when no handler was recognised: neither frc's mapping comments
                      nor framec's method names; framec's: no .frs lines, `lines` totals 0)
  rejects[]         {fixture, expected, got, exit, ok, message}
  massif[]          {mode, opt, fixtures[], peak_bytes, series: [[time, heap bytes]]}: one per
                    faa-run process under massif (a bundle's fixtures run in one process,
                    so its heap is theirs together, and faa-run's own)
  shard             {k, n, fixtures (the whole selection), assigned, balance} for a shard's
                    report (`run --shard K/N`), else null (unsharded or merged: shard.py)
  performance       headline figures of the last `make bench` (BUILD/reports/bench.json),
                    or absent: {created, window, overhead, dispatch{summary, fixtures[]}, audit}
  provenance        {date, audit{commit, dirty}, compiler{name, path, version, commit, dirty},
                    rustc, valgrind, host{system, release, machine, cpus}[, published]}
                    (provenance.py; `published`: added by `audit publish`); absent in
                    reports older than it

Paths in report.json (compiler.path, fixtures[].source, memcheck.log, stacks,
sites, findings' gen and messages, provenance) are relative to the project
root when they lie inside it (`build/audit/valgrind/x.memcheck.log`);
otherwise `$WORK/...` is relative to the run's work dir (`--work-dir`) and
`$FIXTURES/...` to its fixtures dir (`--fixtures-dir`).  Other absolute
paths (system libraries in stacks, a compiler installed elsewhere, a
`--generated` module outside all three) stay absolute.  portable() does it.

report.md (markdown()) is the pull-request comment: verdict, a one-line
delta against a Previous (the baseline or an earlier report), provenance,
the changed or failing windows, the failures, the full table and the
allocating shape's allocation sites per fixture (`alloc_sites`, at most
MD_SITES_ROWS rows each) in <details>.
`audit publish` (publish()) writes a release report set with report.json
compressed; release.py writes the release index over all of them.
"""

import gzip
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import compare, provenance
from . import junit as junitxml
from .tools import ROOT
from .errors import UsageError
from .model import (CREATE, Baseline, BenchResult, FixtureResult, Report, RunResult,
                    write_atomic)
# What `audit publish` copies; the run also leaves the harness's own JUnit
# (criterion.xml).  A run replaces REPORT_FILES all at once at its end
# (audit._replace_reports); a run that stops early leaves the previous run's
# set as it was (criterion.xml is written to WORK by the harness and copied
# in then).
PUBLISHED_FILES = ("report.json", "report.md", "report.html", "junit.xml",
                   "allocs_per_dispatch.svg")
# massif.png: what runs before the live-peak table drew; allocs_per_dispatch.png:
# the chart before it was SVG; both removed when found
REPORT_FILES = PUBLISHED_FILES + ("criterion.xml", "massif.png", "allocs_per_dispatch.png")


def _cell(w):
    """A model.Window as `allocs/frees/bytes[+Nos]`."""
    if w is None:
        return "—"
    os_ = f"+{w.os}os" if w.os else ""
    return f"{w.allocs}/{w.frees}/{w.bytes}{os_}"


def mean_text(total, n):
    """A mean to two decimals that never reads 0.00 when something happened:
    2 calls in 4000 windows print as `2/4000`."""
    if not n:
        return "—"
    mean = total / n
    if total and round(mean, 2) == 0:
        return f"{total}/{n}"
    return f"{mean:.2f}"


def _summary_cell(s):
    """Cell of a summary row (a model.Summary: timing batches, observation pass)."""
    if not s:
        return "—"
    o = s.os_sum
    return f"{s.allocs_sum}/{s.frees_sum}{f'+{o}os' if o else ''} in {s.n}"


def table(fixtures, measurements, compiler):
    """The per-dispatch table `make audit` prints, one block per fixture."""
    by = {(m.fixture, m.mode, m.opt): m for m in measurements}
    opts = sorted({m.opt for m in measurements})
    cols = [(mode, o) for mode in ("alloc", "noalloc") for o in opts]
    out = []
    for fx in fixtures:
        ms = [by.get((fx.name, mode, o)) for mode, o in cols]
        if not any(ms):
            continue
        rows = [("-", CREATE, [_cell(m.construct if m else None) for m in ms])]
        for i, s in enumerate(fx.scenario.steps):
            rows.append((str(i + 1), s.call,
                         [_cell(m.steps[i] if m and i < len(m.steps) else None) for m in ms]))
        if any(m and m.steady for m in ms):
            cells = []
            for m in ms:
                if not m or not m.steady:
                    cells.append("—")
                    continue
                n = sum(r.n for r in m.steady)
                a = sum(r.allocs_sum for r in m.steady)
                f = sum(r.frees_sum for r in m.steady)
                o = sum(r.os_sum for r in m.steady)
                os_ = f" +{mean_text(o, n)}os" if o else ""
                cells.append(f"{mean_text(a, n)}/{mean_text(f, n)}{os_} x{n}")
            rows.append(("", "steady mean", cells))
        if any(m and m.batches for m in ms):
            rows.append(("", "timing batches (sums)", [_summary_cell(m.batches if m else None) for m in ms]))
        if any(m and m.observe_windows for m in ms):
            rows.append(("", "observation pass (sums)", [_summary_cell(m.observe_windows if m else None)
                                                                for m in ms]))
        if any(m and m.destroy for m in ms):
            rows.append(("", "destroy", [_cell(m.destroy if m else None) for m in ms]))
        rows.append(("", "size_of (bytes)", [str(m.meta.size_of if m and m.meta.size_of is not None else "—")
                                              for m in ms]))
        width = max(len(r[1]) for r in rows) + 2
        cw = max([len(c) for r in rows for c in r[2]] + [11]) + 2
        lang = " in C" if getattr(fx, "target", "rust") == "c" else ""
        out.append(f"{fx.scenario.system}{lang} — {_rel(fx.frs or fx.toml)} (compiler: {compiler.label})")
        out.append("cells: allocations/frees/bytes in the window (+N os: memory calls to the OS); "
                   "alloc = allocating shape (RFC-0020), noalloc = @@[no_alloc] (RFC-0036); a mean "
                   "that would round to 0.00 prints as calls/windows")
        hdr = f"{'step':>4}  {'call':<{width}}" + "".join(f"{f'{mode} O{o}':>{cw}}" for mode, o in cols)
        out.append(hdr)
        out.append("-" * len(hdr))
        for num, call, cells in rows:
            out.append(f"{num:>4}  {call:<{width}}" + "".join(f"{c:>{cw}}" for c in cells))
        out.append("")
    return "\n".join(out)


def verdict_word(status, unchecked):
    """`PASS`, `PASS (unchecked: coverage, second counter)` or `FAIL`."""
    if status != 0:
        return "FAIL"
    return f"PASS (unchecked: {', '.join(unchecked)})" if unchecked else "PASS"


def _bases(work_dir, fixtures_dir, root):
    """[(compiled pattern, replacement)]: the project root (paths become
    relative to it) and, outside it, the work dir ($WORK/) and the
    fixtures dir ($FIXTURES/), each as given and resolved, longest first."""
    root = Path(root).resolve()
    bases = {str(root): ""}
    for d, token in ((work_dir, "$WORK/"), (fixtures_dir, "$FIXTURES/")):
        for p in ({Path(d).absolute(), Path(d).resolve()} if d else ()):
            if p != root and root not in p.parents and str(p) != "/":
                bases.setdefault(str(p), token)
    return [(re.compile(r"(?<![\w./-])" + re.escape(b) + "/"), t)
            for b, t in sorted(bases.items(), key=lambda bt: -len(bt[0]))]


def portable(doc, work_dir=None, fixtures_dir=None, root=ROOT):
    """report.json's dict with every absolute path in it (compiler path,
    fixture sources, memcheck logs, stacks, sites, findings) made relative:
    to the project root when inside it, else `$WORK/...` (the run's work
    dir) or `$FIXTURES/...` (its fixtures dir); other paths (system
    libraries, a compiler installed elsewhere) stay as they are."""
    bases = _bases(work_dir, fixtures_dir, root)

    def walk(x):
        if isinstance(x, str):
            for pat, token in bases:
                x = pat.sub(lambda _m, t=token: t, x)
            return x
        if isinstance(x, list):
            return [walk(v) for v in x]
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        return x
    return walk(doc)


def build(fixtures, measurements, outcomes, compiler, findings, rejects, status, vg=None,
          cov=None, unchecked=None, skips=None, strict=False, performance=None, massif=(),
          work_dir=None, fixtures_dir=None, non_blocking=False):
    """The model.Report of this run, with its provenance and its paths made
    portable (portable(): relative to the project, the work dir or the
    fixtures dir).  `non_blocking`: --non-blocking (every fixture judged by
    the nonblocking rule; else those whose scenario asks)."""
    rep = _build(fixtures, measurements, outcomes, compiler, findings, rejects, status, vg, cov,
                 unchecked, skips, strict, performance, massif)
    asked = {fx.name for fx in fixtures if non_blocking or getattr(fx.scenario, "non_blocking", False)}
    for fr in rep.fixtures:
        if fr.name in asked:
            fr.non_blocking = non_blocking_result(fr.name, measurements)
    rep.provenance = provenance.collect(compiler)
    return Report.from_json(portable(rep.to_json(), work_dir, fixtures_dir))


def non_blocking_result(name, measurements):
    """A fixture's nonblocking verdict (model.FixtureResult.non_blocking):
    how many of its no_alloc windows made a blocking call, over how many
    no_alloc libraries (0 libraries: nothing was measured to judge)."""
    ms = [m for m in measurements if m.fixture == name and m.mode == "noalloc"]
    return {"blocking_windows": sum(1 for m in ms for w in m.windows if w.blocking),
            "libraries": len(ms)}


def non_blocking_text(nb):
    """'yes', 'NO (3 windows)', 'not measured' or '' (not asked)."""
    if nb is None:
        return ""
    if not nb.get("libraries"):
        return "not measured"
    n = nb.get("blocking_windows", 0)
    return "yes" if n == 0 else f"NO ({n} window{'s' if n != 1 else ''})"


def _build(fixtures, measurements, outcomes, compiler, findings, rejects, status, vg, cov,
           unchecked, skips, strict, performance, massif):
    vg, cov = vg or {}, cov or {}
    return Report(
        compiler={"name": compiler.name, "version": compiler.version,
                  "path": compiler.path, "bundled": compiler.bundled},
        exit_status=status, unchecked_why=dict(unchecked or {}), strict=bool(strict),
        skipped=dict(skips or {}), findings=list(findings),
        fixtures=[_fixture_result(fx, measurements, outcomes, vg, cov) for fx in fixtures],
        rejects=rejects, performance=performance,
        massif=[{"mode": r.mode, "opt": r.opt, "fixtures": list(r.fixtures), "peak_bytes": r.peak,
                 "series": [list(p) for p in r.series]} for r in massif if r.ok])


def _fixture_result(fx, measurements, outcomes, vg, cov):
    calls = [s.call for s in fx.scenario.steps]
    runs, sizes = [], {}
    for m in sorted((m for m in measurements if m.fixture == fx.name), key=lambda m: (m.mode, m.opt)):
        sizes[m.mode] = m.meta.size_of
        runs.append(RunResult.of(m, calls, _memcheck(vg.get((fx.name, m.mode, m.opt, "memcheck")))))
    na = outcomes.get((fx.name, "noalloc"))
    return FixtureResult(name=fx.name, system=fx.scenario.system,
                         source=str(fx.frs) if fx.frs else None,
                         nostd=na.nostd if na else "not run", size_of=sizes, runs=runs,
                         coverage=cov.get(fx.name), target=getattr(fx, "target", "rust"))


def performance(bench_path):
    """The performance section: the headline figures of the last `make bench`
    (model.BenchResult), or None."""
    b = BenchResult.load(bench_path)
    if b is None:
        return None
    out = {"source": str(bench_path), "created": b.created}
    sec = b.sections
    if "window" in sec:
        out["window"] = {k: sec["window"].get(k) for k in ("api_ns", "fast_ns", "goal_ns", "met")}
    if "overhead" in sec:
        out["overhead"] = {name: {"unit": w.get("unit"), "ratio": w.get("ratio")}
                           for name, w in sec["overhead"].get("workloads", {}).items()}
        out["overhead_goal"] = sec["overhead"].get("goal_ratio")
    if "dispatch" in sec:
        out["dispatch"] = {"summary": sec["dispatch"].get("summary"),
                           "fixtures": [_perf_fixture(f) for f in sec["dispatch"].get("fixtures", [])]}
    if "audit" in sec:
        a = sec["audit"]
        out["audit"] = {"cold_s": a.get("cold", {}).get("wall_s"), "warm_s": a.get("warm", {}).get("wall_s"),
                        "goal_cold_s": a.get("goal_cold_s"), "goal_warm_s": a.get("goal_warm_s")}
    return out


def _perf_fixture(f):
    return ({k: f.get(k) for k in ("fixture", "opt", "ns_ratio", "ir_ratio", "ir_ratio_transitions")}
            | {"alloc_ns": f.get("alloc", {}).get("median_ns"),
               "noalloc_ns": f.get("noalloc", {}).get("median_ns"),
               "alloc_ir": f.get("alloc", {}).get("ir_per_dispatch"),
               "noalloc_ir": f.get("noalloc", {}).get("ir_per_dispatch")})


def _memcheck(r):
    if r is None:
        return None
    return {"ok": r.ok, "errors": r.errors, "definitely_lost": r.definitely_lost,
            "indirectly_lost": r.indirectly_lost, "windows": len(r.windows), "log": r.log}


# --- report.md: a pull-request comment --------------------------------------

MD_MARKER = "<!-- frame-alloc-audit report.md -->"   # finds the sticky comment to replace
MD_MAX_ROWS = 40                                     # rows of the changed/failing table


@dataclass
class Previous:
    """What report.md compares a run with: `run --baseline REPORT` or
    reports/baseline.json.  `windows`: {WindowKey: (allocs, frees)};
    `modes`: the shapes it recorded (baseline.json: the allocating one);
    `any_change_fails`: the baseline rule fails on every changed count
    (baseline.json), not only on more allocations (a report.json)."""
    label: str                  # the file, relative to the project when inside it
    windows: dict
    about: str = ""             # whose counts: "frc 0.1.0"
    modes: tuple = ("alloc", "noalloc")
    any_change_fails: bool = False


def previous(path, rep):
    """The Previous of a report.json or baseline.json at `path`, for the
    model.Report `rep` (a baseline names steps by this run's calls);
    None when it records another compiler (the gate does not compare it)."""
    label = provenance.relative(path)
    try:
        old = Report.load(path)
    except UsageError:
        base = Baseline.load(path)
        if base.compiler != rep.compiler.get("name"):
            return None
        calls = {fx.name: fx.runs[0].calls for fx in rep.fixtures if fx.runs}
        return Previous(label, base.windows(calls), f"{base.compiler} {base.compiler_version}",
                        modes=("alloc",), any_change_fails=True)
    c = old.compiler
    return Previous(label, compare.of_report(old), f"{c.get('name')} {c.get('version')}")


def md_text(text, cell=False):
    """`text` as literal GitHub Markdown: HTML special characters as
    entities, Markdown punctuation backslash-escaped (`$` too: GitHub reads
    `$...$` as math; `_` only where it could open or close emphasis, i.e.
    not inside a word); newlines become spaces in a table cell (`cell`)."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"([\\`*\[\]|~#$])", r"\\\1", text)
    text = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)
    return re.sub(r"\s*\n\s*", " ", text) if cell else text


def md_code(text, cell=False):
    """`text` as an inline code span (backticks inside it are fenced by a
    longer run; `|` escaped in a table cell, as GFM requires there)."""
    text = re.sub(r"\s*\n\s*", " ", str(text))
    ticks = "`" * (max((len(t) for t in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    out = f"{ticks}{pad}{text}{pad}{ticks}"
    return out.replace("|", "\\|") if cell else out


def md_fence(text, indent=""):
    """A fenced ```text block (a longer fence when the text holds one)."""
    fence = "`" * max(3, max((len(t) for t in re.findall(r"`{3,}", text)), default=0) + 1)
    body = [indent + line if line else "" for line in text.rstrip("\n").split("\n")]
    return [f"{indent}{fence}text", *body, f"{indent}{fence}"]


def delta(rep, prev):
    """[compare.Change] of the windows of `rep` against the Previous `prev`,
    over the fixtures, shapes and opt-levels this run measured (Change.kind:
    regression, improvement, changed, new, missing)."""
    new = {k: v for k, v in compare.of_report(rep).items() if k.mode in prev.modes}
    ran = {(k.fixture, k.mode, k.opt) for k in new}
    old = {k: v for k, v in prev.windows.items() if (k.fixture, k.mode, k.opt) in ran}
    return compare.changes(old, new)


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def delta_line(rep, prev):
    """The one line under the verdict: what changed against `prev`."""
    if prev is None:
        return "No previous run to compare (`audit run --baseline REPORT` names one)."
    kinds = [c.kind for c in delta(rep, prev)]
    n = sum(k in ("regression", "improvement", "changed") for k in kinds)
    extra = "".join(f", {kinds.count(k)} {k}" for k in ("new", "missing") if kinds.count(k))
    about = f" ({md_text(prev.about)})" if prev.about else ""
    return (f"Against {md_code(prev.label)}{about}: {_plural(n, 'window')} changed, "
            f"{_plural(kinds.count('regression'), 'regression')}, "
            f"{_plural(kinds.count('improvement'), 'improvement')}{extra} "
            f"(allocations/frees/bytes per window).")


def _failing(mode, w):
    """A window whose counts fail the zero rule: any count in a no_alloc window."""
    return w is not None and mode == "noalloc" and w.counted


def _gate_fails(c, prev):
    """Does the baseline rule fail this change?  More allocations always;
    with a baseline.json any other change of the counts too."""
    return c.more_allocations or (prev.any_change_fails and c.old is not None and c.new is not None
                                  and c.old_call is None and c.kind in ("improvement", "changed"))


def _window_name(w, call):
    if w.phase in ("construct", "step", "destroy"):
        return CREATE if w.phase == "construct" else (
            "destroy" if w.phase == "destroy" else f"step {w.step + 1} {call}")
    tail = f" (repeat {w.repeat})" if w.repeat else (f" (batch {w.batch})" if w.batch is not None else "")
    what = "construction" if w.step < 0 else f"step {w.step + 1} {call}"
    return f"{w.phase}: {what}{tail}"


def counts_text(v):
    """`allocs/frees/bytes` (`allocs/frees` when bytes were not recorded)."""
    if v is None:
        return "—"
    v = compare.counts(v)
    return f"{v.allocs}/{v.frees}" + ("" if v.bytes is None else f"/{v.bytes}")


def _slot(k):
    return (k.fixture, k.mode, k.opt, k.step)


def _windows(r):
    return ([r.construct] if r.construct else []) + r.steps + r.violations + \
        ([r.destroy] if r.destroy else [])


def change_rows(rep, prev):
    """[(ok, fixture, shape, opt, window, change, before, now)]: the windows
    that changed against `prev` and those whose counts fail, in report
    order, then the windows only `prev` has."""
    changes = {_slot(c.key): c for c in delta(rep, prev)} if prev else {}
    before = {_slot(k): v for k, v in prev.windows.items()} if prev else {}
    rows = []
    for fx in rep.fixtures:
        for r in fx.runs:
            for w in _windows(r):
                slot = (fx.name, r.mode, r.opt, w.step)
                main = w.phase in ("construct", "step")
                c = changes.pop(slot, None) if main else None
                zero = _failing(r.mode, w)
                if not (c or zero):
                    continue
                name = _window_name(w, r.call(w.step))
                if c and c.old_call:
                    name += f" (was {c.old_call})"
                rows.append((not (zero or (c and _gate_fails(c, prev))), fx.name, r.mode, r.opt, name,
                             c.kind if c else "no_alloc count",
                             counts_text(before.get(slot)) if main else "—", counts_text(compare.counts(
                                 (w.allocs, w.frees, w.bytes)))))
    for c in changes.values():        # windows this run no longer has
        k = c.key
        rows.append((True, k.fixture, k.mode, k.opt, k.label(), c.kind, counts_text(c.old), "—"))
    return rows


def _run_row(fx, r, bad, targets=False):
    """A row of the full table: one fixture x shape x opt-level (x target
    with `targets`: a run with C fixtures); ❌ when one of its windows is in
    `bad` {(fixture, mode, opt)}."""
    n = len(r.steps) or 1
    mean = mean_text(sum(s.allocs for s in r.steps), len(r.steps))
    mx = max((s.allocs for s in r.steps), default=0)
    by = sum(s.bytes for s in r.steps) / n
    ok = "❌" if (fx.name, r.mode, r.opt) in bad else "✅"
    lang = f" {fx.target} |" if targets else ""
    return (f"| {md_text(fx.name, True)} |{lang} {r.mode} | O{r.opt} | {mean} | {mx} | {by:.0f} | "
            f"{md_text(fx.size_of.get(r.mode, '—'), True)} | {ok} |")


def _location(f):
    """Where a finding points, first the allocating (.frs, generated) line:
    its `frs`/`gen` fields, else the first FILE:LINE its message names."""
    where = [x for x in (f.frs, f.gen) if x]
    if not where:
        m = re.search(r"[\w./$-]+\.(?:frs|rs|toml|c|h):\d+(?::\d+)?", f.message)
        where = [m.group(0)] if m else []
    return " · ".join(md_code(x) for x in where)


def md_finding(f):
    """A failure as a list item: its line first, then the rule and the
    message; a multi-line message's first line, then all of it fenced."""
    where = _location(f)
    first, _, rest = f.message.partition("\n")
    out = [f"- {where + ' ' if where else ''}**{md_text(f.rule)}** {md_text(first)}"]
    if rest.strip():
        out += md_fence(rest, indent="  ")
    return out


def _md_head(rep, prev):
    c = rep.compiler
    word = verdict_word(rep.exit_status, rep.unchecked)
    mark = "✅" if rep.verdict == "pass" else "❌"
    lines = [MD_MARKER, f"### {mark} frame-alloc-audit: **{md_text(word)}** — "
                        f"{md_text(c['name'])} {md_text(c['version'])}", "", delta_line(rep, prev)]
    prov = provenance.line(rep.provenance)
    if prov:
        lines += ["", f"<sub>{md_text(prov)}</sub>"]
    return lines


def _md_notes(rep):
    """Performance, what could not be checked, SKIP.toml: a line each."""
    lines = []
    perf = rep.performance
    if perf and perf.get("dispatch", {}).get("summary"):
        sm = perf["dispatch"]["summary"]
        lines += ["", f"Performance (`make bench`, {md_text(perf.get('created'))}): no\\_alloc dispatch is "
                  f"{sm.get('geomean_ns_ratio', 0):.1f}x faster and executes "
                  f"{sm.get('geomean_ir_ratio', 0):.1f}x fewer instructions (geometric means; "
                  f"{sm.get('geomean_ir_ratio_transitions', 0):.1f}x on transitions)."]
    if rep.unchecked:
        lines += ["", "**Not checked in this run**" + (" (--strict: a failure)" if rep.strict else "")
                  + ": " + "; ".join(f"{md_text(u)} ({md_text(why)})" for u, why in rep.unchecked_why.items())]
    judged = [fx for fx in rep.fixtures if fx.non_blocking is not None]
    if judged:
        bad = [fx for fx in judged if non_blocking_text(fx.non_blocking) != "yes"]
        lines += ["", f"**Non-blocking** (no lock, wait, sleep or blocking I/O call in any no\\_alloc "
                  f"window): {len(judged) - len(bad)} of {len(judged)} fixture(s) held"
                  + ("" if not bad else "; not: " + ", ".join(
                      f"{md_code(fx.name)} {md_text(non_blocking_text(fx.non_blocking))}" for fx in bad))
                  + "."]
    if rep.skipped:
        lines += ["", "**Fixtures without a scenario** (fixtures/SKIP.toml): " + "; ".join(
            f"{md_code(name)}: {md_text(why)}" for name, why in sorted(rep.skipped.items()))]
    return lines


# --- the allocating shape's allocation sites (report.json `alloc_sites`) ------

MD_SITES_ROWS = 10        # rows of one fixture's site table in report.md (report.html shows the rest)
MD_MAX_CHARS = 60000      # report.md with its site tables (a GitHub comment holds 65536 characters)
_PHASE_CALLS = {"construct": "constructions", "dispatch": "dispatches", "destroy": "destroys"}


def _bytes_per_call(s):
    if not s["calls"]:
        return "—"
    v = s["bytes"] / s["calls"]
    return f"{v:.0f}" if v == int(v) else f"{v:.1f}"


def site_rows(t):
    """The rows of one fixture's `alloc_sites` (sites.py) as texts, in the
    table's order: phase, gen (`module:line`), function, frs, what, per
    (calls per call of the site's phase: per dispatch, construction or
    drop; `—` for other), bytes (per call) and steps (calls per dispatch
    of each step that allocated there: `step 1: 1.00, step 3: 1/21`)."""
    out = []
    for s in t["sites"]:
        n = t.get(_PHASE_CALLS.get(s["phase"], ""), 0)
        per = mean_text(s["calls"], n) if s.get("per_call") is not None and n else "—"
        steps = ", ".join(f"step {k}: {mean_text(c, t['step_dispatches'][int(k) - 1])}"
                          for k, c in s.get("steps", {}).items()
                          if 0 < int(k) <= len(t["step_dispatches"]))
        out.append({"phase": s["phase"], "gen": f"{t['module']}:{s['line']}",
                    "function": s["function"], "frs": s["frs"], "what": s["what"],
                    "per": per, "bytes": _bytes_per_call(s), "steps": steps})
    return out


def sites_caption(t):
    """`O0, 11 sites in port_reset.rs; 1 construction, 46 dispatches, 1 drop`."""
    d = t["dispatches"]
    return (f"O{t['opt']}, {_plural(len(t['sites']), 'site')} in {t['module']}; "
            f"{_plural(t['constructions'], 'construction')}, {d} dispatch{'' if d == 1 else 'es'}, "
            f"{_plural(t['destroys'], 'drop')}")


def md_sites(fx):
    """A fixture's allocation-site table for report.md (its first
    MD_SITES_ROWS rows, then `… and N more`); [] when it has none."""
    t = fx.alloc_sites
    if not t:
        return []
    rows = site_rows(t)
    lines = ["", f"{md_code(fx.name)} — {md_text(sites_caption(t))}", "",
             "| phase | generated line | Rust function | .frs construct | calls per dispatch | bytes per call |",
             "|---|---|---|---|---|---|"]
    for r in rows[:MD_SITES_ROWS]:
        frs = f"{md_code(r['frs'], True)} " if r["frs"] else ""
        lines.append(f"| {r['phase']} | {md_code(r['gen'], True)} | {md_code(r['function'], True)} | "
                     f"{frs}{md_text(r['what'], True)} | {r['per']} | {r['bytes']} |")
    if len(rows) > MD_SITES_ROWS:
        lines += ["", f"… and {len(rows) - MD_SITES_ROWS} more site(s): report.html and report.json "
                      f"list them all."]
    return lines


def md_sites_section(rep, room=MD_MAX_CHARS):
    """The allocation sites of every fixture that has them (report.json
    `alloc_sites`: null when Valgrind did not run), for the <details>
    block, in at most `room` characters (the fixtures that do not fit are
    counted); [] when no fixture has any."""
    have = [fx for fx in rep.fixtures if fx.alloc_sites]
    if not have:
        return []
    lines = ["", "**Allocation sites of the allocating shape** (Valgrind's heap tree of the memcheck "
                 "run; calls per dispatch: per construction for construct rows, per drop for destroy "
                 "rows)"]
    used = sum(len(line) + 1 for line in lines) + 120       # and the line saying what did not fit
    for i, fx in enumerate(have):
        part = md_sites(fx)
        used += sum(len(line) + 1 for line in part)
        if used > room:
            lines += ["", f"… the allocation sites of {len(have) - i} more fixture(s) do not fit in a "
                          f"pull-request comment: report.html and report.json list them all."]
            break
        lines += part
    return lines


def markdown(rep, prev=None):
    """report.md: a model.Report as a sticky pull-request comment.  The
    verdict, the one-line delta against `prev` (a Previous: the baseline or
    an earlier report; None: nothing to compare), the provenance, a table
    of only the windows that changed or fail (❌ where the counts fail:
    any count in a no_alloc window, more allocations, any change when the
    baseline rule wants them equal), the failures with their line first,
    then every fixture x shape x opt-level and the allocation sites of
    the allocating shape (md_sites_section) inside <details>.  Every text
    is escaped for GitHub Markdown.  Changes are compare.changes' (kinds:
    compare.Change.kind); ❌ follows the gate, not the kind: a window with
    more bytes but not more allocations is a regression that passes."""
    lines = _md_head(rep, prev)
    rows = change_rows(rep, prev)
    # Rust and C side by side: a target column when the run has C fixtures
    targets = {fx.name: fx.target for fx in rep.fixtures} if any(
        fx.target != "rust" for fx in rep.fixtures) else {}
    head = " target |" if targets else ""
    if rows:
        lines += ["", f"|  | fixture |{head} shape | opt | window | change | before | now |",
                  "|---|---|---|---|---|---|---|---|" + ("---|" if targets else "")]
        for ok, fx, mode, opt, what, kind, before, now in rows[:MD_MAX_ROWS]:
            lang = f" {targets.get(fx, 'rust')} |" if targets else ""
            lines.append(f"| {'✅' if ok else '❌'} | {md_text(fx, True)} |{lang} {mode} | O{opt} | "
                         f"{md_text(what, True)} | {md_text(kind, True)} | {before} | {now} |")
        if len(rows) > MD_MAX_ROWS:
            lines += ["", f"… and {len(rows) - MD_MAX_ROWS} more window(s): report.json has them all."]
    if rep.failures:
        lines += ["", f"**Failures** ({len(rep.failures)})", ""]
        for f in rep.failures:
            lines += md_finding(f)
    lines += _md_notes(rep)
    total = sum(len(fx.runs) for fx in rep.fixtures)
    has_sites = any(fx.alloc_sites for fx in rep.fixtures)
    lines += ["", f"<details><summary>Every fixture ×{' target ×' if targets else ''} shape × opt-level "
                  f"({total}){', allocation sites' if has_sites else ''}</summary>", "",
              f"| fixture |{head} shape | opt | allocs/dispatch (mean) | max | bytes/dispatch | size_of | verdict |",
              "|---|---|---|---|---|---|---|---|" + ("---|" if targets else "")]
    bad = {(fx, mode, opt) for ok, fx, mode, opt, *_ in rows if not ok}
    lines += [_run_row(fx, r, bad, bool(targets)) for fx in rep.fixtures for r in fx.runs]
    room = MD_MAX_CHARS - sum(len(line) + 1 for line in lines) - len("\n</details>\n")
    lines += md_sites_section(rep, room) + ["", "</details>"]
    return "\n".join(lines) + "\n"


def write_reports(rep, outdir, prev=None, junit_flavour="plain"):
    """report.json, report.md (against the Previous `prev`, if any) and
    junit.xml (junit.py, in `junit_flavour`) of a model.Report."""
    rep.write(Path(outdir) / "report.json")
    write_atomic(Path(outdir) / "report.md", markdown(rep, prev))
    junitxml.write(rep, Path(outdir) / "junit.xml", flavour=junit_flavour)


def _rel(path):
    """A path relative to the working directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def release_name(compiler):
    """The directory a compiler's release report is published in:
    `<name>-<version>`, characters other than [A-Za-z0-9._-] as `_`."""
    name = "-".join(compiler["name"].split() + compiler["version"].split())
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


def publish(rep, src, into, force=False, allow_failing=False):
    """Publishes the run in `src` (whose report is the model.Report `rep`)
    as into/<compiler>-<version>/: report.json.gz (the report with its
    provenance stamped with the publication date) and the other
    PUBLISHED_FILES; replaces an existing one only when `force`, a failing
    run only when `allow_failing` (UsageError, exit 2, otherwise).  Written
    beside it first, renamed at the end.  Returns the directory."""
    if rep.verdict != "pass" and not allow_failing:
        raise UsageError(f"{Path(src) / 'report.json'}: the run FAILED ({len(rep.failures)} "
                         f"failure(s)); a release report of a failing run needs --allow-failing "
                         f"(make publish ALLOW_FAILING=1)")
    dest = Path(into) / release_name(rep.compiler)
    if dest.exists() and not force:
        raise UsageError(f"{dest} exists; pass --force to replace it (make publish FORCE=1)")
    stamped = rep.provenance or provenance.collect(rep.compiler)
    rep.provenance = {**stamped, "published": provenance.now()}
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    text = json.dumps(rep.to_json(), indent=1) + "\n"
    (tmp / "report.json.gz").write_bytes(gzip.compress(text.encode("utf-8"), 9, mtime=0))
    for name in PUBLISHED_FILES:
        if name != "report.json" and (Path(src) / name).exists():
            shutil.copy2(Path(src) / name, tmp / name)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest
