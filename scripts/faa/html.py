"""report.html: the per-run report a person reads (jinja2; charts: svgchart).

The page, top to bottom: the verdict; a table of contents; the findings
(errors, failures, then notes; each shows the generated `file:line` and
the `.frs` `file:line` as text); what was not checked; a per-fixture
summary (one row per fixture, a column per shape x opt-level); the
allocations chart; the interposer's live heap peak per fixture and shape;
per fixture a collapsible <details> (open when the fixture failed) with
its runs, its per-step table, the allocating shape's allocation sites
(report.json `alloc_sites`: the first SITES_SHOWN rows, the rest in a
nested <details>; none when Valgrind did not run), the sites the gate
attributed to its failing windows and its handler coverage; the reject
fixtures; performance; provenance.

The chart is SVG, inlined in report.html and written beside it:
  allocs_per_dispatch.svg   mean allocations per dispatch, fixture x shape, one
                            panel per opt-level that ran (small multiples), so a
                            no_alloc module that allocates only at O0 shows
The live heap peak is an HTML bar table (numbers as text).  Massif's heap
(report.json's `massif`: the faa-run process's heap, not a fixture's) is
not drawn.  The page renders the report's JSON form (model.Report.to_json)
and shows report.json's `provenance` object when there is one.
jinja2 is optional: without it report.html is skipped with a note naming
the Debian package.
"""

import re
from pathlib import Path

from . import junit, svgchart
from .errors import ToolMissing
from .report import non_blocking_text, site_rows, sites_caption

CHART = "allocs_per_dispatch.svg"
SITES_SHOWN = 10    # rows of a fixture's allocation-site table before the rest folds
# Charts earlier versions wrote; removed so a report dir never shows a stale one.
OLD_CHARTS = ("massif.png", "allocs_per_dispatch.png")
MODES = ("alloc", "noalloc")
LABEL = {"alloc": "allocating (RFC-0020)", "noalloc": "@@[no_alloc] (RFC-0036)"}
ROOT = Path(__file__).resolve().parents[2]


def _libs():
    try:
        import jinja2
    except ImportError as e:
        raise ToolMissing(e.name or "jinja2", "python3-jinja2") from e
    return jinja2


def _mean_allocs(run):
    steps = run["steps"]
    return sum(s["allocs"] for s in steps) / len(steps) if steps else 0.0


def columns(report):
    """[(mode, opt)] that ran anywhere in the report, in table order."""
    have = {(r["mode"], r["opt"]) for f in report["fixtures"] for r in f["runs"]}
    return sorted(have, key=lambda k: (MODES.index(k[0]) if k[0] in MODES else 9, k[1]))


def opt_levels(report):
    return sorted({o for _, o in columns(report)})


SERIES = (("alloc", "#c0504d"), ("noalloc", "#4f81bd"))


def _panel(report, opt):
    """One opt-level's bars: allocating and no_alloc side by side per
    fixture; each no_alloc mean written above its bar (red when not 0)."""
    fixtures = report["fixtures"]
    series = []
    for mode, color in SERIES:
        vals = [next((_mean_allocs(r) for r in f["runs"] if r["mode"] == mode and r["opt"] == opt), None)
                for f in fixtures]
        if any(v is not None for v in vals):
            series.append(svgchart.Series(LABEL[mode], color, vals, annotate=mode == "noalloc"))
    return svgchart.Panel(f"rustc -C opt-level={opt}", series)


def chart_allocs(report, path, failing=()):
    """Small multiples: one panel per opt-level that ran (_panel); a
    failing fixture's name is red.  Writes the SVG to `path`; returns
    (the opt-levels drawn, the SVG text) — ([], "") and no file when
    nothing ran."""
    opts = opt_levels(report)
    if not opts:
        return [], ""
    svg = svgchart.bar_chart([f["name"] for f in report["fixtures"]], [_panel(report, o) for o in opts],
                             "Allocator calls per dispatch (interposer), one panel per opt-level",
                             "allocations per dispatch (mean)", red=set(failing))
    from .model import write_atomic
    write_atomic(path, svg)
    return opts, svg


def display_path(text):
    """A `path:line` shown relative to the project (or the working
    directory) when it lies below it."""
    if not text:
        return text
    path, sep, line = text.rpartition(":") if re.search(r":\d+$", text) else (text, "", "")
    for base in (ROOT, Path.cwd()):
        try:
            path = str(Path(path).resolve().relative_to(base)) if Path(path).is_absolute() else path
            break
        except ValueError:
            continue
    return f"{path}{sep}{line}"


def finding_view(f):
    """One finding as the page shows it: kind, locations, first line, rest."""
    from .model import Finding
    fd = Finding.from_json(f)
    gen, frs = junit.where(fd)
    head, _, rest = f["message"].partition("\n")
    return {"rule": f["rule"], "fixture": f["fixture"], "kind": junit.kind(fd),
            "gen": display_path(gen), "frs": frs, "opt": f.get("opt"),
            "head": head, "rest": rest.strip("\n"), "anchor": anchor(f["fixture"])}


def anchor(name):
    return "fx-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


# Failures first (the allocating line is what a reader looks for), then
# what could not be measured, then notes; located findings first in each.
ORDER = {"failure": 0, "error": 1, "note": 2}


def findings_view(report):
    out = [finding_view(f) for f in report["findings"]]
    return sorted(out, key=lambda v: (ORDER[v["kind"]], not (v["frs"] or v["gen"])))


def _windows(run):
    """Every window of a run the page lists, with a label: the construction,
    the steps, the drop and the not-zero windows of the later passes."""
    out = []
    if run.get("construct"):
        out.append(("__create()", run["construct"]))
    out += [(f"step {s['step']} {s['call']}", s) for s in run["steps"]]
    if run.get("destroy"):
        out.append(("destroy (drop)", run["destroy"]))
    for v in run.get("violations") or []:
        what = v.get("phase", "")
        out.append((f"{what} step {v['step']} {v['call']}" if v.get("step") else f"{what} {v['call']}", v))
    return out


def live_peak(run):
    """(bytes, window label) of the run's highest live-heap peak, from the
    interposer's per-window `live_peak`."""
    best = (0, "")
    for label, w in _windows(run):
        if w.get("live_peak", 0) > best[0]:
            best = (w["live_peak"], label)
    return best


def sites(fx):
    """The allocation sites the gate attributed, as text, each with the
    windows that allocated there: [(site, ["noalloc O0 step 1 connect()", ...])]."""
    out = {}
    for run in fx["runs"]:
        for label, w in _windows(run):
            if w.get("site"):
                out.setdefault(display_path(w["site"]), []).append(f"{run['mode']} O{run['opt']} {label}")
    return list(out.items())


def alloc_sites_view(fx):
    """The allocating shape's allocation sites of a fixture (report.json
    `alloc_sites`, rows as report.site_rows gives them): {caption, shown
    (the first SITES_SHOWN rows), rest}; None when Valgrind did not run."""
    t = fx.get("alloc_sites")
    if not t:
        return None
    rows = site_rows(t)
    return {"caption": sites_caption(t), "shown": rows[:SITES_SHOWN], "rest": rows[SITES_SHOWN:]}


def coverage_view(fx, audited=MODES):
    """The handler matrix over the shapes that ran: ✓ means every shape
    measured for this fixture ran the handler (one shape under
    --generated, or when the other shape did not build)."""
    cov = fx.get("coverage")
    if not cov:
        return None
    shapes = [m for m in MODES if any(m in c for c in cov["cells"].values())]
    rows = []
    for st in cov["states"]:
        cells = []
        for ev in cov["events"]:
            c = cov["cells"].get(f"{st}.{ev}")
            ran = [m for m in shapes if c and c.get(m)]
            ok = len(ran) == len(shapes)
            cells.append(None if c is None else
                         {"mark": "✓" if ok else ("✗" if not ran else f"{ran[0]} only"), "ok": ok})
        rows.append((st, cells))
    handlers = [c for _, cs in rows for c in cs if c]
    # A module with no line mapped to the .frs (framec's: handlers are
    # recognised by name) has no line coverage to show, not "0/0".
    lines = {m: (v.get("covered", 0), v.get("total", 0)) for m, v in (cov.get("lines") or {}).items()
             if v.get("total", 0)}
    return {"events": cov["events"], "rows": rows, "shapes": shapes,
            "note": _coverage_note(shapes, audited), "ran": sum(c["ok"] for c in handlers),
            "handlers": len(handlers), "lines": lines}


def _coverage_note(shapes, audited):
    """What ✓ means, naming the shape(s) it covers."""
    if len(shapes) > 1:
        return "✓: exercised by the scenario in both shapes; ✗: in neither; “X only”: in that shape only"
    if not shapes:
        return "no shape ran"
    if len(audited) == 1:
        return (f"✓: exercised by the scenario in the {shapes[0]} shape, the only shape this run "
                f"audited; ✗: never exercised")
    missing = ", ".join(m for m in audited if m not in shapes)
    return (f"✓: exercised by the scenario in the {shapes[0]} shape; the {missing} shape was not "
            f"measured for this fixture (see its findings); ✗: never exercised")


def _shapes_text(cv, audited):
    if len(cv["shapes"]) > 1:
        return "in both shapes"
    if len(audited) == 1:
        return f"in the {cv['shapes'][0]} shape (the only shape this run audited)"
    return f"in the {cv['shapes'][0]} shape only (the other was not measured)"


def _cell(run):
    if run is None:
        return None
    steps = run["steps"]
    total = sum(s["allocs"] for s in steps)
    peak, where = live_peak(run)
    return {"mean": _mean_allocs(run), "total": total, "n": len(steps),
            "max": max((s["allocs"] for s in steps), default=0),
            "bytes": sum(s["bytes"] for s in steps) / len(steps) if steps else 0,
            "peak": peak, "peak_at": where, "mode": run["mode"],
            "memcheck": run.get("memcheck")}


def fixture_view(fx, cols, findings, audited=MODES):
    """One fixture's summary row and detail: its cells per (mode, opt)
    column, its findings by kind, its coverage and allocation sites."""
    runs = {(r["mode"], r["opt"]): r for r in fx["runs"]}
    mine = [f for f in findings if f["fixture"] == fx["name"] and f["kind"] != "note"]
    mc = [r["memcheck"] for r in fx["runs"] if r.get("memcheck")]
    return {"name": fx["name"], "system": fx["system"], "source": fx.get("source"),
            "target": fx.get("target") or "rust", "anchor": anchor(fx["name"]), "failed": bool(mine),
            "errors": sum(f["kind"] == "error" for f in mine),
            "failures": sum(f["kind"] == "failure" for f in mine),
            "cells": [_cell(runs.get(c)) for c in cols], "runs": fx["runs"],
            "size_of": fx.get("size_of") or {}, "nostd": fx.get("nostd"),
            "memcheck": ("—" if not mc else "clean" if all(m["ok"] for m in mc) else "FAILED"),
            "coverage": coverage_view(fx, audited), "sites": sites(fx),
            "alloc_sites": alloc_sites_view(fx),
            "non_blocking": non_blocking_text(fx.get("non_blocking"))}


def provenance_rows(prov):
    """report.json's `provenance` object as (key, text) rows, nested
    objects flattened to `a.b`; [] when there is none."""
    if not isinstance(prov, dict):
        return []
    rows = []
    for k, v in prov.items():
        if isinstance(v, dict):
            rows += [(f"{k}.{kk}", vv) for kk, vv in provenance_rows(v)]
        elif isinstance(v, list):
            rows.append((k, ", ".join(str(x) for x in v)))
        elif v is not None:
            rows.append((k, str(v)))
    return rows


def view(report):
    """Everything the template lays out, computed once."""
    cols = columns(report)
    findings = findings_view(report)
    shapes = [m for m in MODES if any(m == c[0] for c in cols)]
    fixtures = [fixture_view(f, cols, findings, shapes) for f in report["fixtures"]]
    for fx in fixtures:
        if fx["coverage"]:
            fx["coverage"]["shapes_text"] = _shapes_text(fx["coverage"], shapes)
    count = {k: sum(f["kind"] == k for f in findings) for k in ORDER}
    count["text"] = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in
                              (("error", count["error"]), ("failure", count["failure"])) if n)
    peak = max([c["peak"] for fx in fixtures for c in fx["cells"] if c] + [1])
    return {"cols": cols, "findings": findings, "fixtures": fixtures, "count": count,
            "failing": [fx for fx in fixtures if fx["failed"]], "peak_max": peak,
            "non_blocking": any(fx["non_blocking"] for fx in fixtures),
            "shapes": shapes, "opts": opt_levels(report),
            "provenance": provenance_rows(report.get("provenance"))}


def _inline(svg):
    """The chart's SVG for inlining in the page: without its XML-less
    document wrapper's size, so it scales to the page's width."""
    if not svg:
        return ""
    import markupsafe
    return markupsafe.Markup(re.sub(r'^<svg ([^>]*?)width="\d+" height="\d+"',
                                    r'<svg \1style="max-width:100%;height:auto"', svg, count=1))


def write(rep, outdir):
    """Writes report.html and its chart into outdir; returns the html path.
    The page renders the report's JSON form (model.Report.to_json), the
    same document as report.json."""
    jinja2 = _libs()
    report = rep.to_json()
    if getattr(rep, "provenance", None) and "provenance" not in report:
        report["provenance"] = rep.provenance
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for old in OLD_CHARTS + (CHART,):
        (outdir / old).unlink(missing_ok=True)
    v = view(report)
    v["chart_opts"], chart_svg = chart_allocs(report, outdir / CHART, {fx["name"] for fx in v["failing"]})
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    from .model import write_atomic
    from .report import mean_text
    html = env.get_template("report.html.j2").render(r=report, v=v, chart=CHART, chart_svg=_inline(chart_svg),
                                                      mean_text=mean_text,
                                                      display_path=display_path)
    write_atomic(outdir / "report.html", html)
    return outdir / "report.html"
