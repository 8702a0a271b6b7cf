"""Windows of two runs side by side: the one comparison behind the baseline
rule (reports/baseline.json or `run --baseline REPORT`) and `audit compare`.

A window is named by a model.WindowKey (fixture, shape, opt-level, 0-based
step with -1 for the construction, and the call); its value is the pair
(allocations, frees).  The three sources of windows — this run's
measurements, a report.json (model.Report), a baseline.json
(model.Baseline.windows) — all become such a map, and `changes` compares
two of them.
"""

from dataclasses import dataclass

from .model import CREATE, WindowKey


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
            out[WindowKey(m.fixture, m.mode, m.opt, -1, CREATE)] = m.construct.pair
        for s in m.steps:
            call = calls[m.fixture][s.step] if calls else s.label
            out[WindowKey(m.fixture, m.mode, m.opt, s.step, call)] = s.pair
    return out


def of_report(rep):
    """{WindowKey: (allocs, frees)} of a model.Report."""
    out = {}
    for fx in rep.fixtures:
        for r in fx.runs:
            if r.construct:
                out[WindowKey(fx.name, r.mode, r.opt, -1, CREATE)] = r.construct.pair
            for s in r.steps:
                out[WindowKey(fx.name, r.mode, r.opt, s.step, r.call(s.step))] = s.pair
    return out
