"""Section 4, the audit's own time: `audit run` over a copy of fixtures/,
cold then warm; seconds per phase from the phases.json the audit writes in
its work dir (audit.PhaseClock)."""

import os
import resource
import shutil
import subprocess
import time

from .. import build, model, procs
from ..errors import UsageError
from .common import ROOT, note, say, verdict

GOAL_COLD_S = 180.0
GOAL_WARM_S = 30.0
BUILD_FIGURES = ("compiler_s", "rustc_s", "built", "cached")


def read_phases(path):
    """WORK_DIR/phases.json -> ({phase: wall seconds}, build figures);
    ({}, {}) when the audit left none (it stopped early)."""
    try:
        phases_ = model.Phases.load(path).phases
    except UsageError:
        return {}, {}
    phases = {name: p["wall_s"] for name, p in phases_.items() if "wall_s" in p}
    b = phases_.get("build", {})
    build_figures = {"wall_s": b["wall_s"], **{k: b[k] for k in BUILD_FIGURES}} \
        if all(k in b for k in ("wall_s",) + BUILD_FIGURES) else {}
    return phases, build_figures


def _timed_audit(cmd, log, phases_file):
    """Runs the audit (its stderr timestamped into log); returns a RUN dict."""
    phases_file.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(log, "w") as lf, procs.start(cmd, stdout=lf, stderr=subprocess.PIPE,
                                            text=True, errors="replace") as p:
        for line in p.stderr:
            lf.write(f"[{time.monotonic() - t0:7.1f}] {line}")
        status = p.wait()
    end = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    phases, build_figures = read_phases(phases_file)
    return {"wall_s": round(end, 2), "cpu_s": round(cpu, 2), "status": status,
            "phases": phases, "build": build_figures, "log": str(log)}


def bench_audit(tree, fixtures_dir, scratch, jobs, touch):
    """Section 4 -> (figures, command line)."""
    fx_copy = scratch / "fixtures"
    if fx_copy.exists():
        shutil.rmtree(fx_copy)
    shutil.copytree(fixtures_dir, fx_copy)
    work, reports = scratch / "work", scratch / "reports"
    if work.exists():
        shutil.rmtree(work)
    audit = [ROOT / "scripts" / "audit", "--build-dir", tree.dir, "--fixtures-dir", fx_copy,
             "run", "--work-dir", work, "--report-dir", reports]
    if jobs:
        audit += ["--jobs", str(jobs)]
    n = len(list(fx_copy.glob("*.toml")))
    note(f"bench: cold audit of {n} fixtures (empty work dir {work})")
    cold = _timed_audit(audit, scratch / "cold.log", work / "phases.json")
    frs = fx_copy / f"{touch}.frs"
    frs.write_text(f"// touched by make bench at {time.time():.0f}\n" + frs.read_text())
    note(f"bench: warm audit after editing {touch}.frs")
    warm = _timed_audit(audit, scratch / "warm.log", work / "phases.json")
    return {"fixtures": n, "jobs": jobs or os.cpu_count(), "touched": touch,
            "cold": cold, "warm": warm, "goal_cold_s": GOAL_COLD_S, "goal_warm_s": GOAL_WARM_S,
            "met_cold": cold["wall_s"] <= GOAL_COLD_S, "met_warm": warm["wall_s"] <= GOAL_WARM_S,
            "expected_rebuilt": 2 * len(build.OPT_LEVELS)}, " ".join(map(str, audit))


def print_audit(a):
    say(f"== 4. the audit's own wall time ({a['fixtures']} fixtures, {a['jobs']} jobs, "
        f"{os.cpu_count()} cores; goals <= {a['goal_cold_s']:.0f} s cold, <= {a['goal_warm_s']:.0f} s warm)")
    for name in ("cold", "warm"):
        r = a[name]
        ph = ", ".join(f"{k} {v:.1f}" for k, v in r["phases"].items())
        b = r["build"]
        say(f"{name:<5} {r['wall_s']:7.1f} s wall, {r['cpu_s']:7.1f} s CPU (exit {r['status']}); "
            f"phases (s): {ph}")
        if b:
            say(f"      build: compiler {b['compiler_s']:.1f} s + rustc {b['rustc_s']:.1f} s summed "
                f"over tasks; libraries {b['built']} built, {b['cached']} cached")
    wb = a["warm"]["build"].get("built")
    say(f"cold goal {verdict(a['met_cold'])}, warm goal {verdict(a['met_warm'])}; warm rebuilt "
        f"{wb} librar{'y' if wb == 1 else 'ies'} after editing {a['touched']}.frs "
        f"(expected {a['expected_rebuilt']}: its own)")
    cpu_floor = a["cold"]["cpu_s"] / max(1, os.cpu_count() or 1)
    say(f"CPU / cores = {cpu_floor:.1f} s cold, {a['warm']['cpu_s'] / max(1, os.cpu_count() or 1):.1f} s "
        f"warm: the wall time on an otherwise idle machine cannot go below this")
    say()
