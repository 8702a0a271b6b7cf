"""Windows of two runs side by side: the one comparison behind the baseline
rule (reports/baseline.json or `run --baseline REPORT`) and `audit compare`.

A window is named by a WindowKey (fixture, shape, opt-level, 0-based step
with -1 for the construction, and the call); its value is the pair
(allocations, frees).  The three sources of windows — this run's
measurements, a report.json, a baseline.json — each have one reader here,
and baseline.json has one writer.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from . import report
from .errors import UsageError

BASELINE_SCHEMA = "frame-alloc-audit/baseline@1"
CREATE = "__create()"


@dataclass(frozen=True, order=True)
class WindowKey:
    fixture: str
    mode: str
    opt: int
    step: int          # 0-based; -1 is the construction
    call: str | None   # the scenario's call; "__create()" for the construction

    def label(self):
        """`__create()` or `step N call` (1-based, as printed)."""
        return CREATE if self.step < 0 else f"step {self.step + 1} {self.call}"


@dataclass(frozen=True)
class Change:
    key: WindowKey
    old: tuple | None    # (allocations, frees); None: only in the new run
    new: tuple | None    # None: only in the old run

    @property
    def more_allocations(self):
        return self.old is not None and self.new is not None and self.new[0] > self.old[0]


def changes(old, new):
    """The windows whose (allocations, frees) differ between two window maps,
    and those only one of them has, in key order."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a != b:
            out.append(Change(key, a, b))
    return out


def of_measurements(measurements, calls=None):
    """{WindowKey: (allocs, frees)} of this run's construction and step
    windows.  `calls` {fixture: [call, ...]} names the steps; without it
    the harness's labels do."""
    out = {}
    for m in measurements:
        if m.construct:
            out[WindowKey(m.fixture, m.mode, m.opt, -1, CREATE)] = (
                m.construct["allocs"], m.construct["frees"])
        for s in m.steps:
            call = calls[m.fixture][s["step"]] if calls else s.get("label")
            out[WindowKey(m.fixture, m.mode, m.opt, s["step"], call)] = (s["allocs"], s["frees"])
    return out


def of_report(rep):
    """{WindowKey: (allocs, frees)} of a report.json (its steps are 1-based)."""
    out = {}
    for fx in rep["fixtures"]:
        for r in fx["runs"]:
            if r["construct"]:
                out[WindowKey(fx["name"], r["mode"], r["opt"], -1, CREATE)] = (
                    r["construct"]["allocs"], r["construct"]["frees"])
            for s in r["steps"]:
                out[WindowKey(fx["name"], r["mode"], r["opt"], s["step"] - 1, s["call"])] = (
                    s["allocs"], s["frees"])
    return out


def of_baseline(base, calls):
    """{WindowKey: (allocs, frees)} of a baseline.json's allocating counts.
    The baseline keeps no call names: `calls` {fixture: [call, ...]} gives
    step i the name this run's step i has."""
    out = {}
    for fixture, per_opt in base.get("fixtures", {}).items():
        names = calls.get(fixture, [])
        for opt, rec in per_opt.items():
            o = int(opt.lstrip("O"))
            out[WindowKey(fixture, "alloc", o, -1, CREATE)] = tuple(rec["construct"])
            for i, pair in enumerate(rec["steps"]):
                call = names[i] if i < len(names) else None
                out[WindowKey(fixture, "alloc", o, i, call)] = tuple(pair)
    return out


def baseline_document(windows, compiler_name, compiler_version):
    """baseline.json of a window map: the allocating shape's counts of every
    run that has a construction window."""
    fixtures = {}
    for key in sorted(k for k in windows if k.mode == "alloc" and k.step < 0):
        steps = sorted((k for k in windows if k.mode == "alloc" and k.step >= 0
                        and (k.fixture, k.opt) == (key.fixture, key.opt)), key=lambda k: k.step)
        fixtures.setdefault(key.fixture, {})[f"O{key.opt}"] = {
            "construct": list(windows[key]), "steps": [list(windows[k]) for k in steps]}
    return {"schema": BASELINE_SCHEMA, "compiler": compiler_name,
            "compiler_version": compiler_version, "fixtures": fixtures}


def write_baseline(doc, dest):
    text = json.dumps(doc, indent=1, sort_keys=True)
    # One [allocations, frees] pair per line keeps diffs of the baseline readable.
    text = re.sub(r"\[\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2]", text)
    report.write_atomic(dest, text + "\n")


def load_report(path):
    """A report.json, or UsageError naming what is wrong with it."""
    try:
        rep = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UsageError(f"{path}: not a readable report.json: {e}") from e
    if rep.get("schema") != report.SCHEMA:
        raise UsageError(f"{path}: schema {rep.get('schema')!r}, expected {report.SCHEMA!r}")
    return rep
