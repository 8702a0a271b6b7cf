"""Section `scaling`: does the audit's cost per fixture stay flat as the
corpus grows?  The corpus (fixtures/, N fixtures) is duplicated under new
names into corpora of N x each factor (default 1, 2, 4: 26, 52 and 104
fixtures): fixtures/NAME.frs + NAME.toml copied to NAME_2.frs +
NAME_2.toml, ... (the system inside keeps its name: each fixture is its own
module of its bundle crate, so equal system names do not meet).  Each
corpus gets a cold `make audit` run (run --strict --valgrind on, empty
work dir of its own): wall and CPU seconds, per fixture, and CPU seconds
per fixture per phase.

The rule (flat()): the series is "flat" when every corpus was audited
through every phase and passed, and the CPU seconds per fixture of every
larger corpus are at most LIMIT (1.5) times those of the smallest;
otherwise "SUPERLINEAR".  CPU rather than wall: the machine is shared.
Cost: about sum(factors) = 7 cold audits."""

import math
import os
import shutil
from pathlib import Path

from .. import run as fixtures_mod
from ..errors import UsageError
from .common import fmt, note, say, verdict
from .runs import PHASES, audit_command, audit_run

FACTORS = (1, 2, 4)
LIMIT = 1.5
RULE = (f"flat when every corpus ran every phase and passed, and CPU s/fixture of each larger corpus "
        f"<= {LIMIT}x that of the smallest")


def _dup_name(name, k):
    """NAME -> NAME_k; a C fixture's NAME.c -> NAME_k.c."""
    stem, dot, c = name.rpartition(".")
    return f"{stem}_{k}.{c}" if dot and c == fixtures_mod.C_DIR else f"{name}_{k}"


def corpus(base, dest, factor):
    """`dest`: a copy of the fixtures dir `base` (rejects, SKIP.toml and
    fixtures/c too) with each fixture NAME also as NAME_2 ... NAME_<factor>
    (a C fixture fixtures/c/NAME.frs as fixtures/c/NAME_k.frs, with its own
    scenario when it has one there); returns the number of fixtures."""
    fixtures = fixtures_mod.discover(base)
    names = {fx.name for fx in fixtures}
    dups = {_dup_name(fx.name, k) for fx in fixtures for k in range(2, factor + 1)}
    clash = sorted(dups & names)
    if clash:
        raise UsageError(f"scaling: {', '.join(clash)} already in {base}: cannot duplicate under that name")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(base, dest)
    for k in range(2, factor + 1):
        for fx in fixtures:
            frs = Path(fx.frs)
            rel = frs.parent.relative_to(base)
            shutil.copyfile(frs, dest / rel / f"{frs.stem}_{k}.frs")
            toml = Path(fx.toml)
            if toml.parent == frs.parent:        # else the Rust twin's scenario, duplicated with it
                shutil.copyfile(toml, dest / rel / f"{frs.stem}_{k}.toml")
    return len(fixtures) * factor


def point(n, run):
    """A scaling point: the RUN of a corpus of n fixtures with per-fixture figures."""
    return {"fixtures": n, **run, "wall_per_fixture_s": round(run["wall_s"] / n, 3),
            "cpu_per_fixture_s": round(run["cpu_s"] / n, 3)}


def flat(points, limit=LIMIT):
    """-> {"ratios": {fixtures: CPU s/fixture over the smallest corpus's},
    "worst_ratio", "exponent" (of total CPU against fixtures, smallest to
    largest: 1 linear), "flat": True / False / None (not every corpus ran
    whole and passed: the figures do not compare)}."""
    pts = sorted(points, key=lambda p: p["fixtures"])
    base = pts[0]["cpu_per_fixture_s"] if pts else 0
    ratios = {p["fixtures"]: round(p["cpu_per_fixture_s"] / base, 3) for p in pts} if base > 0 else {}
    worst = max((r for n, r in ratios.items() if n != pts[0]["fixtures"]), default=None)
    exponent = None
    if len(pts) >= 2 and pts[0]["cpu_s"] > 0 and pts[-1]["cpu_s"] > 0:
        exponent = round(math.log(pts[-1]["cpu_s"] / pts[0]["cpu_s"])
                         / math.log(pts[-1]["fixtures"] / pts[0]["fixtures"]), 3)
    whole = len(pts) >= 2 and all(p["complete"] and p["status"] == 0 for p in pts)
    return {"ratios": {str(n): r for n, r in ratios.items()}, "worst_ratio": worst, "exponent": exponent,
            "limit_ratio": limit, "rule": RULE,
            "flat": (worst is not None and worst <= limit) if whole else None}


def bench_scaling(tree, fixtures_dir, scratch, jobs, factors=FACTORS):
    """Section `scaling` -> (figures, command line of the largest run)."""
    points, cmd = [], []
    for f in sorted(set(factors)):
        fx = scratch / f"fixtures-x{f}"
        n = corpus(fixtures_dir, fx, f)
        work = scratch / f"work-x{f}"
        if work.exists():
            shutil.rmtree(work)
        cmd = audit_command(tree, fx, work, scratch / f"reports-x{f}", jobs)
        note(f"bench: scaling: cold audit of {n} fixtures (x{f}; log {scratch / f'x{f}.log'})")
        run, _ = audit_run(cmd, work, scratch / f"x{f}.log")
        points.append(point(n, run))
    return {"factors": sorted(set(factors)), "jobs": jobs or os.cpu_count(), "points": points,
            **flat(points)}, " ".join(map(str, cmd))


def print_scaling(s):
    pts = s["points"]
    say(f"== 6. scaling: a cold `make audit` (run --strict --valgrind on) per corpus of "
        f"{', '.join(str(p['fixtures']) for p in pts)} fixtures (the corpus x{', x'.join(map(str, s['factors']))}), "
        f"{s['jobs']} jobs, {os.cpu_count()} cores")
    phases = [k for k in PHASES if any(k in p.get("phases_cpu", {}) for p in pts)]
    say(f"{'fixtures':>8} {'wall s':>8} {'CPU s':>8} {'wall/fx':>8} {'CPU/fx':>8} {'xCPU/fx':>8}  "
        f"{'load':>11}  exit  CPU s/fixture: " + " ".join(phases))
    for p in pts:
        cpu = p.get("phases_cpu", {})
        per = " ".join(fmt(cpu[k] / p["fixtures"] if k in cpu else None, ".2f") for k in phases)
        say(f"{p['fixtures']:>8} {p['wall_s']:>8.1f} {p['cpu_s']:>8.1f} {p['wall_per_fixture_s']:>8.2f} "
            f"{p['cpu_per_fixture_s']:>8.2f} {fmt(s['ratios'].get(str(p['fixtures'])), '.2f'):>8}  "
            f"{p['loadavg_start'][0]:>5.2f}->{p['loadavg_end'][0]:<5.2f}  {p['status']:>4}"
            f"{'' if p['complete'] else ' INCOMPLETE'}  {per}")
    word = {True: f"flat (target {verdict(True)})", False: f"SUPERLINEAR (target {verdict(False)})",
            None: "n/a: a corpus did not run through every phase or did not pass (see its log)"}
    say(f"verdict: {word[s['flat']]}; worst CPU s/fixture {fmt(s['worst_ratio'], '.2f')}x "
        f"the smallest corpus's; total CPU grows as fixtures^{fmt(s['exponent'], '.2f')} (1 = linear); "
        f"rule: {s['rule']}")
    say()
