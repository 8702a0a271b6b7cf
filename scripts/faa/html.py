"""report.html: the per-run report a person reads (jinja2 + matplotlib).

Charts are written as PNG files beside report.html:
  allocs_per_dispatch.png   mean allocations per dispatch, fixture x shape
  massif.png                massif heap over time, one panel per faa-run process
The coverage matrix (state x event, per shape) is an HTML table.
Both libraries are optional: without them report.html is skipped with a
note naming the Debian package.
"""

from pathlib import Path

from .errors import ToolMissing


def _libs():
    try:
        import jinja2
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        pkg = "python3-jinja2" if "jinja2" in str(e) else "python3-matplotlib"
        raise ToolMissing(e.name or "python module", pkg) from e
    return jinja2, plt


def _mean_allocs(run):
    steps = run["steps"]
    return sum(s["allocs"] for s in steps) / len(steps) if steps else 0.0


def chart_allocs(report, plt, path):
    names = [f["name"] for f in report["fixtures"]]
    opt = max((r["opt"] for f in report["fixtures"] for r in f["runs"]), default=0)
    series = {}
    for mode in ("alloc", "noalloc"):
        series[mode] = [next((_mean_allocs(r) for r in f["runs"]
                              if r["mode"] == mode and r["opt"] == opt), 0.0)
                        for f in report["fixtures"]]
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(names) + 2), 4.2))
    xs = range(len(names))
    w = 0.4
    ax.bar([x - w / 2 for x in xs], series["alloc"], w, label="allocating (RFC-0020)", color="#c0504d")
    ax.bar([x + w / 2 for x in xs], series["noalloc"], w, label="@@[no_alloc] (RFC-0036)", color="#4f81bd")
    for x, v in zip(xs, series["noalloc"]):
        ax.annotate(f"{v:g}", (x + w / 2, v), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("allocations per dispatch (mean)")
    ax.set_title(f"Allocator calls per dispatch, rustc -C opt-level={opt}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _names(fixtures, most=4):
    head = ", ".join(fixtures[:most])
    return head + (f" +{len(fixtures) - most} more" if len(fixtures) > most else "")


def chart_massif(report, plt, path):
    """One panel per massif run: the heap of one faa-run process over time
    while it drove a bundle's fixtures in turn (faa-run's own heap included)."""
    runs = [r for r in report.get("massif") or [] if r["series"]]
    if not runs:
        return False
    cols = 2
    rows = (len(runs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.8 * rows), squeeze=False)
    for ax, r in zip(axes.flat, runs):
        color = "#c0504d" if r["mode"] == "alloc" else "#4f81bd"
        t = [p[0] / 1e6 for p in r["series"]]
        b = [p[1] / 1024 for p in r["series"]]
        ax.step(t, b, where="post", color=color, label=f"peak {r['peak_bytes'] / 1024:.1f} KiB")
        ax.set_title(f"{r['mode']} O{r['opt']}: {_names(r['fixtures'])}", fontsize=8)
        ax.set_xlabel("time (M instructions)", fontsize=7)
        ax.set_ylabel("heap KiB", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(runs):]:
        ax.axis("off")
    fig.suptitle("massif: heap over time of one faa-run process per library (its fixtures in turn, "
                 "faa-run's own heap included)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write(rep, outdir):
    """Writes report.html and its charts into outdir; returns the html path.
    The page renders the report's JSON form (model.Report.to_json), the
    same document as report.json."""
    jinja2, plt = _libs()
    report = rep.to_json()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    chart_allocs(report, plt, outdir / "allocs_per_dispatch.png")
    has_massif = chart_massif(report, plt, outdir / "massif.png")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    from .model import write_atomic
    from .report import mean_text
    html = env.get_template("report.html.j2").render(r=report, has_massif=has_massif,
                                                      mean_allocs=_mean_allocs, mean_text=mean_text)
    write_atomic(outdir / "report.html", html)
    return outdir / "report.html"
