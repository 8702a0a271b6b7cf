"""Run the Criterion harness over fixture libraries and read its records."""

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import scenario as scenario_mod
from .errors import UsageError

HARNESS_TIMEOUT = 3600


@dataclass
class Fixture:
    name: str
    frs: Path | None
    toml: Path
    scenario: object


def discover(fixtures_dir, names=None):
    """fixtures/NAME.frs + NAME.toml pairs, all or the named ones, sorted."""
    fixtures_dir = Path(fixtures_dir)
    found = {p.stem: p for p in sorted(fixtures_dir.glob("*.toml"))}
    if names:
        missing = [n for n in names if n not in found]
        if missing:
            raise UsageError(f"no fixture named {', '.join(missing)} in {fixtures_dir} "
                             f"(have: {', '.join(found) or 'none'})")
        found = {n: found[n] for n in names}
    out = []
    for name, toml in found.items():
        frs = toml.with_suffix(".frs")
        if not frs.exists():
            raise UsageError(f"{toml}: no {frs.name} beside it")
        out.append(Fixture(name=name, frs=frs, toml=toml,
                           scenario=scenario_mod.load(toml)))
    if not out:
        raise UsageError(f"no fixtures (NAME.frs + NAME.toml) in {fixtures_dir}")
    return out


@dataclass
class Measurement:
    """One fixture library's records: fixture x mode x opt-level."""
    fixture: str
    mode: str
    opt: int
    meta: dict = field(default_factory=dict)
    construct: dict | None = None
    steps: list = field(default_factory=list)
    steady: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    observe: list = field(default_factory=list)
    timing: dict | None = None
    verdict: dict | None = None
    meta_lib: str = ""


def read_records(path, fixture, mode, opt, lib=""):
    m = Measurement(fixture=fixture, mode=mode, opt=opt, meta_lib=str(lib))
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return m
    for line in lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue      # a worker killed mid-line leaves a torn last line
        kind = rec.get("kind")
        if kind == "meta":
            m.meta = rec
        elif kind == "window" and rec["phase"] == "construct":
            m.construct = rec
        elif kind == "window" and rec["phase"] == "step":
            m.steps.append(rec)
        elif kind == "window" and rec["phase"] == "steady":
            m.violations.append(rec)
        elif kind == "steady":
            m.steady.append(rec)
        elif kind == "observe":
            m.observe.append(rec)
        elif kind == "timing":
            m.timing = rec
        elif kind == "verdict":
            m.verdict = rec
    return m


def parse_observation(text):
    """'ret=..\\x1ffield=..' -> {'ret': .., 'field': ..}."""
    out = {}
    for part in text.split("\x1f"):
        k, _, v = part.partition("=")
        out[k] = v
    return out


@dataclass
class HarnessRun:
    status: int
    output: str
    tested: int = 0
    failing: int = 0
    crashing: int = 0
    measurements: list = field(default_factory=list)


def run_harness(tree, entries, jobs=None, junit=None, extra_env=None):
    """entries: [(fixture, mode, opt, libpath)] -> HarnessRun with records."""
    rdir = tree.work / "records"
    rdir.mkdir(parents=True, exist_ok=True)
    for old in rdir.glob("*.jsonl"):
        old.unlink()
    manifest = tree.work / "manifest.tsv"
    rows, recs = [], []
    for fixture, mode, opt, lib in entries:
        rec = rdir / f"{fixture}-{mode}-O{opt}.jsonl"
        rows.append(f"{fixture}\t{mode}\t{opt}\t{lib}\t{rec}")
        recs.append((rec, fixture, mode, opt, lib))
    manifest.write_text("# fixture\tmode\topt\tlibrary\trecords\n" + "\n".join(rows) + "\n")
    env = dict(os.environ)
    env["FAA_MANIFEST"] = str(manifest)
    env["LD_PRELOAD"] = str(tree.interposer)
    env.update(extra_env or {})
    cmd = [str(tree.harness), f"--jobs={jobs or max(1, os.cpu_count() or 1)}"]
    if junit:
        cmd.append(f"--xml={junit}")
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True,
                           errors="replace", timeout=HARNESS_TIMEOUT)
        status, output = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        status, output = 124, f"harness did not finish within {HARNESS_TIMEOUT} s"
    print(f"audit: harness phase {time.monotonic() - t0:.1f} s wall ({len(entries)} "
          f"librar{'y' if len(entries) == 1 else 'ies'})", file=sys.stderr, flush=True)
    run = HarnessRun(status=status, output=output)
    m = re.search(r"Tested:\s*(\d+)\s*\|\s*Passing:\s*(\d+)\s*\|\s*Failing:\s*(\d+)"
                  r"\s*\|\s*Crashing:\s*(\d+)", output)
    if m:
        run.tested, run.failing, run.crashing = int(m[1]), int(m[3]), int(m[4])
    run.measurements = [read_records(*r) for r in recs]
    return run
