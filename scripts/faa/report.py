"""Reports of one audit run: the terminal table, report.json, report.md,
junit.xml.  The report is a model.Report (build() makes it from the run);
model.py holds its one reader and writer, and this module renders it.

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
                      (null when the compiler writes no handler mapping comments)
  rejects[]         {fixture, expected, got, exit, ok, message}
  massif[]          {mode, opt, fixtures[], peak_bytes, series: [[time, heap bytes]]}: one per
                    faa-run process under massif (a bundle's fixtures run in one process,
                    so its heap is theirs together, and faa-run's own)
  shard             {k, n, fixtures (the whole selection), assigned, balance} for a shard's
                    report (`run --shard K/N`), else null (unsharded or merged: shard.py)
  performance       headline figures of the last `make bench` (BUILD/reports/bench.json),
                    or absent: {created, window, overhead, dispatch{summary, fixtures[]}, audit}
"""

import shutil
from pathlib import Path

from .errors import UsageError
from .model import (CREATE, BenchResult, FixtureResult, Report, RunResult,
                    write_atomic)
# What `audit publish` copies; the run also leaves the harness's own JUnit
# (criterion.xml).  A run replaces REPORT_FILES all at once at its end
# (audit._replace_reports); a run that stops early leaves the previous run's
# set as it was (criterion.xml is written to WORK by the harness and copied
# in then).
PUBLISHED_FILES = ("report.json", "report.md", "report.html", "junit.xml",
                   "allocs_per_dispatch.png", "massif.png")
REPORT_FILES = PUBLISHED_FILES + ("criterion.xml",)


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
        out.append(f"{fx.scenario.system} — {_rel(fx.frs or fx.toml)} (compiler: {compiler.label})")
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


def build(fixtures, measurements, outcomes, compiler, findings, rejects, status, vg=None,
          cov=None, unchecked=None, skips=None, strict=False, performance=None, massif=()):
    """The model.Report of this run."""
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
                         coverage=cov.get(fx.name))


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


def markdown(rep):
    """A summary of a model.Report ready to paste into a pull-request comment."""
    c = rep.compiler
    word = rep.verdict.upper() + (f" (unchecked: {', '.join(rep.unchecked)})"
                                  if rep.unchecked and rep.verdict == "pass" else "")
    lines = [f"### frame-alloc-audit: **{word}** — {c['name']} {c['version']}", "",
             "| fixture | shape | opt | allocs/dispatch (mean) | max | bytes/dispatch | size_of | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    failed = {f.fixture for f in rep.failures}
    for fx in rep.fixtures:
        for r in fx.runs:
            n = len(r.steps) or 1
            mean = mean_text(sum(s.allocs for s in r.steps), len(r.steps))
            mx = max((s.allocs for s in r.steps), default=0)
            by = sum(s.bytes for s in r.steps) / n
            ok = "✅" if fx.name not in failed else "❌"
            lines.append(f"| {fx.name} | {r.mode} | O{r.opt} | {mean} | {mx} | "
                         f"{by:.0f} | {fx.size_of.get(r.mode, '—')} | {ok} |")
    perf = rep.performance
    if perf and perf.get("dispatch", {}).get("summary"):
        sm = perf["dispatch"]["summary"]
        lines += ["", f"Performance (`make bench`, {perf.get('created')}): no_alloc dispatch is "
                  f"{sm.get('geomean_ns_ratio', 0):.1f}x faster and executes "
                  f"{sm.get('geomean_ir_ratio', 0):.1f}x fewer instructions (geometric means; "
                  f"{sm.get('geomean_ir_ratio_transitions', 0):.1f}x on transitions)."]
    if rep.failures:
        lines += ["", "**Failures**", ""] + [f"- `{f.rule}` {f.message}" for f in rep.failures]
    if rep.unchecked:
        lines += ["", "**Not checked in this run**" + (" (--strict: a failure)" if rep.strict else ""),
                  ""] + [f"- {u}: {why}" for u, why in rep.unchecked_why.items()]
    if rep.skipped:
        lines += ["", "**Fixtures without a scenario (fixtures/SKIP.toml)**", ""] + [
            f"- `{name}`: {why}" for name, why in sorted(rep.skipped.items())]
    return "\n".join(lines) + "\n"


def _junit_cases(rep):
    """[(name, [failure message])] and {name: skip message} of a model.Report."""
    cases = []
    for fx in rep.fixtures:
        msgs = [f.message for f in rep.failures if f.fixture == fx.name]
        for r in fx.runs:
            mine = [m for m in msgs if f" {r.mode} O{r.opt}" in m or
                    ("no_alloc" in m and r.mode == "noalloc" and f"O{r.opt}" in m)]
            cases.append((f"{fx.name}.{r.mode}.O{r.opt}", mine))
        rest = [m for m in msgs if not any(m in c[1] for c in cases)]
        if rest:
            cases.append((f"{fx.name}.checks", rest))
    for x in rep.rejects:
        cases.append((f"reject.{x['fixture']}", [] if x["ok"] else [x["message"]]))
    cases.append(("audit.global", [f.message for f in rep.failures if f.fixture == "*"]))
    skipped = {}
    if not rep.strict:
        for u, why in rep.unchecked_why.items():
            skipped[f"unchecked.{u.replace(' ', '_')}"] = f"not checked: {why}"
    for name, why in sorted(rep.skipped.items()):
        skipped[f"skipped.{name}"] = f"fixtures/SKIP.toml: {why}"
    return cases + [(name, []) for name in skipped], skipped


def junit(rep):
    """One testcase per fixture x shape x opt-level and per reject fixture;
    a failure carries every finding about that fixture."""
    from xml.sax.saxutils import escape, quoteattr
    cases, skipped = _junit_cases(rep)
    fails = sum(1 for _, m in cases if m)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="frame-alloc-audit" tests="{len(cases)}" failures="{fails}">',
           f'<testsuite name={quoteattr(rep.compiler["name"] + " " + rep.compiler["version"])} '
           f'tests="{len(cases)}" failures="{fails}" skipped="{len(skipped)}">']
    for name, msgs in cases:
        out.append(f'<testcase classname="frame-alloc-audit" name={quoteattr(name)}>')
        if name in skipped:
            out.append(f'<skipped message={quoteattr(skipped[name])}/>')
        if msgs:
            out.append(f'<failure message={quoteattr(msgs[0][:200])}>{escape(chr(10).join(msgs))}</failure>')
        out.append("</testcase>")
    out += ["</testsuite>", "</testsuites>"]
    return "\n".join(out) + "\n"


def write_reports(rep, outdir):
    """report.json, report.md and junit.xml of a model.Report."""
    rep.write(Path(outdir) / "report.json")
    write_atomic(Path(outdir) / "report.md", markdown(rep))
    write_atomic(Path(outdir) / "junit.xml", junit(rep))


def _rel(path):
    """A path relative to the working directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def publish(rep, src, into, force=False):
    """Copies the PUBLISHED_FILES of the run in `src` (whose report is the
    model.Report `rep`) to into/<compiler>-<version>/, replacing it only
    when `force`; returns that directory.  Written beside it first, renamed
    at the end."""
    c = rep.compiler
    name = "-".join(c["name"].split() + c["version"].split())
    dest = Path(into) / "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    if dest.exists() and not force:
        raise UsageError(f"{dest} exists; pass --force to replace it")
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in PUBLISHED_FILES:
        if (Path(src) / f).exists():
            shutil.copy2(Path(src) / f, tmp / f)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest
