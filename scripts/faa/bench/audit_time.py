"""Section `audit`, the audit's own time: `make audit`'s run (--strict,
Valgrind on) over a copy of fixtures/, cold (empty work dir) then warm
(one fixture edited: a comment line appended, so a crate with it must be
rebuilt at every shape x opt-level and every other crate must come from
the cache: rebuild_check); wall and CPU
seconds, per phase from the phases.json the audit writes in its work dir
(audit.PhaseClock); the bundle crates built and cached (runs.crate_state).
Targets (issue 12): <= 45 s cold, <= 8 s warm."""

import os
import shutil
import time

from .. import run as fixtures_mod
from ..errors import UsageError
from .common import fmt, say, note, verdict
from .runs import audit_command, audit_run, crates_of, read_phases  # noqa: F401 (read_phases: tests)

GOAL_COLD_S = 45.0
GOAL_WARM_S = 8.0
EDIT = "a comment line appended"


def touch(frs):
    """The warm run's edit: a comment line appended to the .frs.  The file
    stays valid Frame and keeps every line where it was; frc carries a
    trailing comment into the module, so the fixture's crates must rebuild
    (rebuild_check says whether they did)."""
    text = frs.read_text(encoding="utf-8")
    sep = "" if text.endswith("\n") or not text else "\n"
    frs.write_text(f"{text}{sep}// touched by make bench at {time.time():.3f}\n", encoding="utf-8")


def _slot(crate):
    """`KIND_MODE_HASH_oN` -> "MODE oN": the shape and opt-level a crate is for."""
    parts = crate.split("_")
    return f"{parts[1]} {parts[-1]}" if len(parts) >= 3 else crate


def rebuild_check(touched_crates, rebuilt):
    """The warm run rebuilt no crate but the touched fixture's, and for
    every shape x opt-level it is built at, a crate that includes it was
    rebuilt: its whole bucket, or the fixture apart while the old bundle
    keeps serving its bucket-mates (bundle.py).  `missing`: the shapes x
    opt-levels where it was not rebuilt; `extra`: crates rebuilt without it."""
    t, r = set(touched_crates), set(rebuilt)
    missing = sorted({_slot(c) for c in t} - {_slot(c) for c in t & r})
    extra = sorted(r - t)
    return {"touched_crates": sorted(t), "rebuilt": sorted(r), "missing": missing,
            "extra": extra, "ok": bool(t) and not missing and not extra}


def met(run, goal, *also):
    """A time target is met by a whole passing audit (every phase ran,
    exit 0) within `goal` seconds; `also`: further conditions."""
    return bool(run["complete"] and run["status"] == 0 and run["wall_s"] <= goal and all(also))


def bench_audit(tree, fixtures_dir, scratch, jobs, touched):
    """Section `audit` -> (figures, command line)."""
    if not (fixtures_dir / f"{touched}.frs").is_file() or not (fixtures_dir / f"{touched}.toml").is_file():
        raise UsageError(f"--touch {touched}: no fixture {touched}.frs + .toml in {fixtures_dir}")
    fx_copy = scratch / "fixtures"
    if fx_copy.exists():
        shutil.rmtree(fx_copy)
    shutil.copytree(fixtures_dir, fx_copy)
    work, reports = scratch / "work", scratch / "reports"
    if work.exists():
        shutil.rmtree(work)
    cmd = audit_command(tree, fx_copy, work, reports, jobs)
    n = len(fixtures_mod.discover(fx_copy))      # fixtures/c's C fixtures included
    note(f"bench: cold audit of {n} fixtures (empty work dir {work}; log {scratch / 'cold.log'})")
    cold, _ = audit_run(cmd, work, scratch / "cold.log")
    touch(fx_copy / f"{touched}.frs")
    note(f"bench: warm audit after editing {touched}.frs ({EDIT})")
    warm, rebuilt = audit_run(cmd, work, scratch / "warm.log")
    rebuild = rebuild_check(crates_of(work, touched), rebuilt)
    return {"fixtures": n, "jobs": jobs or os.cpu_count(), "touched": touched, "edit": EDIT,
            "cold": cold, "warm": warm, "goal_cold_s": GOAL_COLD_S, "goal_warm_s": GOAL_WARM_S,
            "met_cold": met(cold, GOAL_COLD_S), "met_warm": met(warm, GOAL_WARM_S, rebuild["ok"]),
            "expected_rebuilt": len({_slot(c) for c in rebuild["touched_crates"]}), "rebuild": rebuild}, \
        " ".join(map(str, cmd))


def run_lines(name, r, goal=None, met_=None):
    """The printed lines of one RUN: time against the target, CPU, load,
    seconds per phase, the build's figures."""
    target = f" (target <= {goal:.0f} s: {verdict(met_)})" if goal is not None else ""
    lines = [f"{name:<5} {r['wall_s']:7.1f} s wall{target}, {r['cpu_s']:.1f} s CPU "
             f"({r['cpu_s'] / max(r['wall_s'], 0.01):.2f} cores busy); exit {r['status']}"
             f"{'' if r['complete'] else ', INCOMPLETE: not every phase ran'}; load average "
             f"{r['loadavg_start'][0]:.2f} at start, {r['loadavg_end'][0]:.2f} at end"]
    cpu = r.get("phases_cpu", {})
    lines.append("      phases, s wall/CPU: " + (", ".join(
        f"{k} {v:.1f}/{fmt(cpu.get(k), '.1f')}" for k, v in r["phases"].items()) or "none (no phases.json)"))
    b, c = r["build"], r["crates"]
    lines.append(f"      build: crates {c['built']} built, {c['cached']} cached" + (
        f"; fixture libraries {b['built']} built, {b['cached']} cached; compiler {b['compiler_s']:.1f} s "
        f"+ rustc {b['rustc_s']:.1f} s summed over tasks" if b else ""))
    return lines


def print_audit(a):
    cores = max(1, os.cpu_count() or 1)
    say(f"== 4. the audit's own time: `make audit` (run --strict --valgrind on) over {a['fixtures']} "
        f"fixtures, {a['jobs']} jobs, {os.cpu_count()} cores")
    for line in run_lines("cold", a["cold"], a["goal_cold_s"], a["met_cold"]):
        say(line)
    for line in run_lines("warm", a["warm"], a["goal_warm_s"], a["met_warm"]):
        say(line)
    rb = a["rebuild"]
    if rb["ok"]:
        say(f"      {a['touched']}.frs edited ({a['edit']}): rebuilt {', '.join(rb['rebuilt'])} (each "
            f"with {a['touched']}), every other crate from the cache: ok")
    else:
        say(f"      {a['touched']}.frs edited ({a['edit']}): NOT a clean warm run — crates with "
            f"{a['touched']}: {', '.join(rb['touched_crates']) or 'none found'}; not rebuilt for "
            f"{', '.join(rb['missing']) or '-'}; rebuilt without it: {', '.join(rb['extra']) or '-'} "
            f"(so the warm target counts as not met)")
    say(f"CPU / cores = {a['cold']['cpu_s'] / cores:.1f} s cold, {a['warm']['cpu_s'] / cores:.1f} s warm: "
        f"the wall time on an otherwise idle machine cannot go below this")
    say()
