"""Reports of one audit run: the terminal table, report.json, report.md.

report.json schema (version 1):
  schema            "frame-alloc-audit/report@1"
  compiler          {name, version, path, bundled}
  verdict           "pass" | "fail";  exit_status
  unchecked         [check, ...]: checks that could not run (Valgrind absent or off:
                    "coverage", "second counter", "memcheck"; "baseline", "rejects");
                    unchecked_why {check: reason}; strict: true when they fail the gate
  skipped           [{fixture, reason}]: fixtures/SKIP.toml (a .frs with no scenario, on purpose)
  findings          [{rule, fixture, message, failure}]
  fixtures[]        {name, system, source, nostd, size_of: {alloc, noalloc},
                     runs: [{mode, opt, construct, steps[], steady[], timing}]}
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
                       observation pass (first per step / batch), as written by the harness
    calibration       the worker's calibration record {ok, entries[{fn, kind, calls}]}, or null
    massif            {mode: {opt, peak_bytes, series: [[time, heap bytes]]}}
    coverage          {states[], events[], cells: {"State.event": {alloc, noalloc}}}
                      (null when the compiler writes no handler mapping comments)
  rejects[]         {fixture, expected, got, exit, ok, message}
  performance       headline figures of the last `make bench` (BUILD/reports/bench.json),
                    or absent: {created, window, overhead, dispatch{summary, fixtures[]}, audit}
"""

import json
import os
import shutil
from pathlib import Path

from .errors import UsageError

SCHEMA = "frame-alloc-audit/report@1"
# What `audit publish` copies; the run also leaves the harness's own JUnit
# (criterion.xml).  A run clears REPORT_FILES first, so an interrupted run
# never shows the previous run's reports as its own.
PUBLISHED_FILES = ("report.json", "report.md", "report.html", "junit.xml",
                   "allocs_per_dispatch.png", "massif.png")
REPORT_FILES = PUBLISHED_FILES + ("criterion.xml",)


def _cell(rec):
    if rec is None:
        return "—"
    os_ = f"+{rec['os']}os" if rec.get("os") else ""
    return f"{rec['allocs']}/{rec['frees']}/{rec['bytes']}{os_}"


def mean_text(total, n):
    """A mean to two decimals that never reads 0.00 when something happened:
    2 calls in 4000 windows print as `2/4000`."""
    if not n:
        return "—"
    mean = total / n
    if total and round(mean, 2) == 0:
        return f"{total}/{n}"
    return f"{mean:.2f}"


def _summary_cell(s, what):
    """Cell of a summary row (timing batches, observation pass)."""
    if not s:
        return "—"
    a, f, o = s.get("allocs_sum", 0), s.get("frees_sum", 0), s.get("os_sum", 0)
    return f"{a}/{f}{f'+{o}os' if o else ''} in {s.get('n', '?')}"


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
        rows = [("-", "__create()", [_cell(m.construct if m else None) for m in ms])]
        for i, s in enumerate(fx.scenario.steps):
            rows.append((str(i + 1), s.call,
                         [_cell(m.steps[i] if m and i < len(m.steps) else None) for m in ms]))
        if any(m and m.steady for m in ms):
            cells = []
            for m in ms:
                if not m or not m.steady:
                    cells.append("—")
                    continue
                n = sum(r["n"] for r in m.steady)
                a = sum(r["allocs_sum"] for r in m.steady)
                f = sum(r["frees_sum"] for r in m.steady)
                o = sum(r.get("os_sum", 0) for r in m.steady)
                os_ = f" +{mean_text(o, n)}os" if o else ""
                cells.append(f"{mean_text(a, n)}/{mean_text(f, n)}{os_} x{n}")
            rows.append(("", "steady mean", cells))
        if any(m and m.batches for m in ms):
            rows.append(("", "timing batches (sums)", [_summary_cell(m.batches if m else None, "batches")
                                                for m in ms]))
        if any(m and m.observe_windows for m in ms):
            rows.append(("", "observation pass (sums)", [_summary_cell(m.observe_windows if m else None,
                                                                "windows") for m in ms]))
        if any(m and m.destroy for m in ms):
            rows.append(("", "destroy", [_cell(m.destroy if m else None) for m in ms]))
        rows.append(("", "size_of (bytes)", [str(m.meta.get("size_of", "—")) if m else "—" for m in ms]))
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


def _window(rec, call):
    keys = ("allocs", "frees", "os", "bytes", "live_peak", "calls", "stack", "first_kind", "site",
            "thread", "tid")
    d = {k: rec[k] for k in keys if k in rec}
    d["step"] = rec["step"] + 1
    d["call"] = call
    return d


def to_json(fixtures, measurements, outcomes, compiler, findings, rejects, status, vg=None,
            cov=None, unchecked=None, skips=None, strict=False):
    vg, cov, unchecked = vg or {}, cov or {}, unchecked or {}
    fxs = []
    for fx in fixtures:
        runs, sizes = [], {}
        for m in sorted((m for m in measurements if m.fixture == fx.name),
                        key=lambda m: (m.mode, m.opt)):
            sizes[m.mode] = m.meta.get("size_of")
            runs.append({
                "mode": m.mode, "opt": m.opt,
                "construct": _window(m.construct, "__create()") if m.construct else None,
                "steps": [_window(s, fx.scenario.steps[s["step"]].call) for s in m.steps],
                "steady": [{"step": r["step"] + 1, "n": r["n"],
                            "allocs_mean": r["allocs_sum"] / r["n"] if r["n"] else 0,
                            "allocs_max": r["allocs_max"],
                            "frees_mean": r["frees_sum"] / r["n"] if r["n"] else 0,
                            "allocs_sum": r["allocs_sum"], "frees_sum": r["frees_sum"],
                            "os_sum": r.get("os_sum", 0), "violations": r.get("violations", 0)}
                           for r in m.steady],
                "destroy": _window(m.destroy, "destroy") if m.destroy else None,
                "batches": m.batches,
                "observe_windows": m.observe_windows,
                "violations": m.violations,
                "calibration": m.calibration,
                "timing": m.timing,
                "memcheck": _memcheck(vg.get((fx.name, m.mode, m.opt, "memcheck"))),
            })
        massif = {mode: {"opt": key[2], "peak_bytes": r.peak, "series": r.series}
                  for key, r in vg.items()
                  if key[0] == fx.name and key[3] == "massif" and r.ok for mode in [key[1]]}
        na = outcomes.get((fx.name, "noalloc"))
        fxs.append({"name": fx.name, "system": fx.scenario.system,
                    "source": str(fx.frs) if fx.frs else None,
                    "nostd": na.nostd if na else "not run",
                    "size_of": sizes, "runs": runs, "massif": massif,
                    "coverage": cov.get(fx.name)})
    return {
        "schema": SCHEMA,
        "compiler": {"name": compiler.name, "version": compiler.version,
                     "path": compiler.path, "bundled": compiler.bundled},
        "verdict": "pass" if status == 0 else "fail",
        "exit_status": status,
        "unchecked": list(unchecked),
        "unchecked_why": dict(unchecked),
        "strict": bool(strict),
        "skipped": [{"fixture": k, "reason": v} for k, v in sorted((skips or {}).items())],
        "findings": [f.__dict__ for f in findings],
        "fixtures": fxs,
        "rejects": rejects,
    }


def performance(bench_path):
    """The performance section: the headline figures of the last `make bench`
    (bench.json, schema frame-alloc-audit/bench@1), or None."""
    try:
        b = json.loads(Path(bench_path).read_text())
    except (OSError, ValueError):
        return None
    if b.get("schema") != "frame-alloc-audit/bench@1":
        return None
    out = {"source": str(bench_path), "created": b.get("created")}
    if "window" in b:
        out["window"] = {k: b["window"].get(k) for k in ("api_ns", "fast_ns", "goal_ns", "met")}
    if "overhead" in b:
        out["overhead"] = {name: {"unit": w.get("unit"), "ratio": w.get("ratio")}
                           for name, w in b["overhead"].get("workloads", {}).items()}
        out["overhead_goal"] = b["overhead"].get("goal_ratio")
    if "dispatch" in b:
        out["dispatch"] = {"summary": b["dispatch"].get("summary"),
                           "fixtures": [{k: f.get(k) for k in ("fixture", "opt", "ns_ratio", "ir_ratio",
                                                                "ir_ratio_transitions")}
                                        | {"alloc_ns": f.get("alloc", {}).get("median_ns"),
                                           "noalloc_ns": f.get("noalloc", {}).get("median_ns"),
                                           "alloc_ir": f.get("alloc", {}).get("ir_per_dispatch"),
                                           "noalloc_ir": f.get("noalloc", {}).get("ir_per_dispatch")}
                                        for f in b["dispatch"].get("fixtures", [])]}
    if "audit" in b:
        a = b["audit"]
        out["audit"] = {"cold_s": a.get("cold", {}).get("wall_s"), "warm_s": a.get("warm", {}).get("wall_s"),
                        "goal_cold_s": a.get("goal_cold_s"), "goal_warm_s": a.get("goal_warm_s")}
    return out


def _memcheck(r):
    if r is None:
        return None
    return {"ok": r.ok, "errors": r.errors, "definitely_lost": r.definitely_lost,
            "indirectly_lost": r.indirectly_lost, "windows": len(r.windows), "log": r.log}


def markdown(report):
    """A summary ready to paste into a pull-request comment."""
    c = report["compiler"]
    unchecked = report.get("unchecked") or []
    word = report["verdict"].upper() + (f" (unchecked: {', '.join(unchecked)})"
                                        if unchecked and report["verdict"] == "pass" else "")
    lines = [f"### frame-alloc-audit: **{word}** — {c['name']} {c['version']}", "",
             "| fixture | shape | opt | allocs/dispatch (mean) | max | bytes/dispatch | size_of | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    failed = {f["fixture"] for f in report["findings"] if f["failure"]}
    for fx in report["fixtures"]:
        for r in fx["runs"]:
            steps = r["steps"]
            n = len(steps) or 1
            mean = mean_text(sum(s["allocs"] for s in steps), len(steps))
            mx = max((s["allocs"] for s in steps), default=0)
            by = sum(s["bytes"] for s in steps) / n
            ok = "✅" if fx["name"] not in failed else "❌"
            lines.append(f"| {fx['name']} | {r['mode']} | O{r['opt']} | {mean} | {mx} | "
                         f"{by:.0f} | {fx['size_of'].get(r['mode'], '—')} | {ok} |")
    perf = report.get("performance")
    if perf and perf.get("dispatch", {}).get("summary"):
        sm = perf["dispatch"]["summary"]
        lines += ["", f"Performance (`make bench`, {perf.get('created')}): no_alloc dispatch is "
                  f"{sm.get('geomean_ns_ratio', 0):.1f}x faster and executes "
                  f"{sm.get('geomean_ir_ratio', 0):.1f}x fewer instructions (geometric means; "
                  f"{sm.get('geomean_ir_ratio_transitions', 0):.1f}x on transitions)."]
    fails = [f for f in report["findings"] if f["failure"]]
    if fails:
        lines += ["", "**Failures**", ""] + [f"- `{f['rule']}` {f['message']}" for f in fails]
    why = report.get("unchecked_why") or {}
    if unchecked:
        lines += ["", "**Not checked in this run**" + (" (--strict: a failure)" if report.get("strict") else ""),
                  ""] + [f"- {u}: {why.get(u, '')}" for u in unchecked]
    if report.get("skipped"):
        lines += ["", "**Fixtures without a scenario (fixtures/SKIP.toml)**", ""] + [
            f"- `{x['fixture']}`: {x['reason']}" for x in report["skipped"]]
    return "\n".join(lines) + "\n"


def write_atomic(path, text):
    """Write then rename: an interrupted run never leaves a half report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def junit(report):
    """One testcase per fixture x shape x opt-level and per reject fixture;
    a failure carries every finding about that fixture."""
    from xml.sax.saxutils import escape, quoteattr
    cases = []
    for fx in report["fixtures"]:
        msgs = [f["message"] for f in report["findings"] if f["failure"] and f["fixture"] == fx["name"]]
        for r in fx["runs"]:
            mine = [m for m in msgs if f" {r['mode']} O{r['opt']}" in m or
                    ("no_alloc" in m and r["mode"] == "noalloc" and f"O{r['opt']}" in m)]
            cases.append((f"{fx['name']}.{r['mode']}.O{r['opt']}", mine))
        rest = [m for m in msgs if not any(m in c[1] for c in cases)]
        if rest:
            cases.append((f"{fx['name']}.checks", rest))
    for x in report["rejects"]:
        cases.append((f"reject.{x['fixture']}", [] if x["ok"] else [x["message"]]))
    glob = [f["message"] for f in report["findings"] if f["failure"] and f["fixture"] == "*"]
    cases.append(("audit.global", glob))
    skipped = {}
    why = report.get("unchecked_why") or {}
    for u in report.get("unchecked") or []:
        if not report.get("strict"):
            skipped[f"unchecked.{u.replace(' ', '_')}"] = f"not checked: {why.get(u, '')}"
            cases.append((f"unchecked.{u.replace(' ', '_')}", []))
    for x in report.get("skipped") or []:
        skipped[f"skipped.{x['fixture']}"] = f"fixtures/SKIP.toml: {x['reason']}"
        cases.append((f"skipped.{x['fixture']}", []))
    fails = sum(1 for _, m in cases if m)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="frame-alloc-audit" tests="{len(cases)}" failures="{fails}">',
           f'<testsuite name={quoteattr(report["compiler"]["name"] + " " + report["compiler"]["version"])} '
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


def write_reports(report, outdir):
    write_atomic(Path(outdir) / "report.json", json.dumps(report, indent=1) + "\n")
    write_atomic(Path(outdir) / "report.md", markdown(report))
    write_atomic(Path(outdir) / "junit.xml", junit(report))


def _rel(path):
    """A path relative to the working directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def publish(rep, src, into, force=False):
    """Copies the PUBLISHED_FILES of the run in `src` (whose report.json is
    `rep`) to into/<compiler>-<version>/, replacing it only when `force`;
    returns that directory.  Written beside it first, renamed at the end."""
    c = rep["compiler"]
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
