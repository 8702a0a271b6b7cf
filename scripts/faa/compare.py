"""Windows of two runs side by side: the one comparison behind the baseline
rule (reports/baseline.json or `run --baseline REPORT`), report.md's delta,
the release index and `audit compare`.

A window is named by a model.WindowKey (fixture, shape, opt-level, 0-based
step with -1 for the construction, and the call); its value is a Counts
(allocations, frees, bytes; bytes None where the source has none: a
baseline.json).  The three sources of windows -- this run's measurements, a
report.json (model.Report), a baseline.json (model.Baseline.windows) -- all
become such a map, and `changes` compares two of them: windows are matched
by fixture, shape, opt-level and step (numerically), so a step whose call
changed is one window whose call changed, not one gone and one new.

`audit compare OLD NEW` (`command`) classifies every window:

* regression: more allocations or more bytes, or any count at all in a
  no_alloc window that changed;
* improvement: fewer allocations or fewer bytes and nothing more;
* other change: frees only, or the step now runs another call;
* missing: in OLD, not in NEW (a whole fixture, a whole run -- fixture,
  shape, opt-level -- or single windows) -- a failure like a regression;
* new ("added" in JSON): in NEW only (informational).

Exit status 0 without regressions or missing windows, 1 with any, 2 for a
file it cannot read.  `--format json` prints one object (schema
`frame-alloc-audit/compare@1`, schemas/compare.schema.json):

  {"schema", "old": SIDE, "new": SIDE, "notes": [text],
   "counts": {"compared", "regressions", "improvements", "changes",
              "missing_fixtures", "missing_runs", "missing_windows",
              "added_fixtures", "added_runs", "added_windows"},
   "regressions": [WINDOW], "improvements": [WINDOW], "changes": [WINDOW],
   "missing": {"fixtures": [name], "runs": [RUN], "windows": [WINDOW]},
   "added": {"fixtures": [name], "runs": [RUN], "windows": [WINDOW]},
   "verdict": "pass" | "fail", "exit_status": 0 | 1}

  SIDE   {"path", "kind": "report" | "baseline", "compiler"}
  RUN    {"fixture", "mode", "opt"}
  WINDOW {"fixture", "mode", "opt", "step" (1-based, 0: the construction),
          "call", "old": COUNTS | null, "new": COUNTS | null[, "old_call"]}
  COUNTS {"allocs", "frees", "bytes" (null: not recorded)}

Lists in JSON are complete; text and Markdown cap each list at `limit`
lines and say how many were left out.
"""

import json
from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EXIT_GATE, EXIT_OK, UsageError
from .model import BASELINE_SCHEMA, CREATE, REPORT_SCHEMA, Baseline, Report, WindowKey

COMPARE_SCHEMA = "frame-alloc-audit/compare@1"


class Counts(namedtuple("Counts", "allocs frees bytes", defaults=(None,))):
    """A window's (allocations, frees, bytes); bytes None when not recorded."""
    __slots__ = ()


def counts(value):
    """A Counts of a Counts, an (allocs, frees) pair or an (allocs, frees, bytes) triple."""
    return value if isinstance(value, Counts) else Counts(*value)


@dataclass(frozen=True)
class Change:
    key: WindowKey          # the new run's (the old run's when only it has the window)
    old: Counts | None      # None: only in the new run
    new: Counts | None      # None: only in the old run
    old_call: str | None = None   # the old run's call when this step now runs another

    @property
    def more_allocations(self):
        return (self.old is not None and self.new is not None and self.old_call is None
                and self.new.allocs > self.old.allocs)

    @property
    def more_bytes(self):
        return (self.old is not None and self.new is not None and self.old_call is None
                and None not in (self.old.bytes, self.new.bytes) and self.new.bytes > self.old.bytes)

    @property
    def kind(self):
        """'regression' | 'improvement' | 'changed' | 'missing' (old only) | 'new' (new only)."""
        o, n = self.old, self.new
        if n is None:
            return "missing"
        if o is None:
            return "new"
        if self.old_call is not None:
            return "changed"
        if self.more_allocations or self.more_bytes or (self.key.mode == "noalloc" and any(n)):
            return "regression"
        fewer_bytes = None not in (o.bytes, n.bytes) and n.bytes < o.bytes
        return "improvement" if n.allocs < o.allocs or fewer_bytes else "changed"

    @property
    def regression(self):
        return self.kind == "regression"


def _slot(key):
    return (key.fixture, key.mode, key.opt, key.step)


def _differ(a, b):
    return (a.allocs, a.frees) != (b.allocs, b.frees) or (
        None not in (a.bytes, b.bytes) and a.bytes != b.bytes)


def changes(old, new):
    """The windows whose counts differ between two window maps ({WindowKey:
    Counts or pair}; bytes compared where both have them), whose step runs
    another call, or which only one of them has; in (fixture, shape,
    opt-level, step) order, the step as a number."""
    a = {_slot(k): (k, counts(v)) for k, v in old.items()}
    b = {_slot(k): (k, counts(v)) for k, v in new.items()}
    out = []
    for slot in sorted(set(a) | set(b)):
        (ka, va), (kb, vb) = a.get(slot, (None, None)), b.get(slot, (None, None))
        if va is None or vb is None:
            out.append(Change(kb or ka, va, vb))
            continue
        renamed = None not in (ka.call, kb.call) and ka.call != kb.call
        if renamed or _differ(va, vb):
            out.append(Change(kb, va, vb, ka.call if renamed else None))
    return out


def of_measurements(measurements, calls=None):
    """{WindowKey: Counts} of this run's construction and step windows.
    `calls` {fixture: [call, ...]} names the steps; without it the
    harness's labels do."""
    out = {}
    for m in measurements:
        if m.construct:
            out[WindowKey(m.fixture, m.mode, m.opt, -1, CREATE)] = _of_window(m.construct)
        for s in m.steps:
            call = calls[m.fixture][s.step] if calls else s.label
            out[WindowKey(m.fixture, m.mode, m.opt, s.step, call)] = _of_window(s)
    return out


def _of_window(w):
    return Counts(w.allocs, w.frees, w.bytes)


def of_report(rep):
    """{WindowKey: Counts} of a model.Report."""
    out = {}
    for fx in rep.fixtures:
        for r in fx.runs:
            if r.construct:
                out[WindowKey(fx.name, r.mode, r.opt, -1, CREATE)] = _of_window(r.construct)
            for s in r.steps:
                out[WindowKey(fx.name, r.mode, r.opt, s.step, r.call(s.step))] = _of_window(s)
    return out


# --- `audit compare` ------------------------------------------------------

@dataclass
class Side:
    """One file of `audit compare`: a report.json or a baseline.json."""
    path: str
    kind: str                       # "report" | "baseline"
    compiler: str
    report: Report | None = None
    baseline: Baseline | None = None
    windows: dict = field(default_factory=dict)

    def to_json(self):
        return {"path": self.path, "kind": self.kind, "compiler": self.compiler}


def load(path):
    """A Side of a report.json or a baseline.json (UsageError otherwise)."""
    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: cannot read a report.json or baseline.json ({e})") from e
    schema = d.get("schema") if isinstance(d, dict) else None
    if schema == REPORT_SCHEMA:
        rep = Report.load(path)
        c = rep.compiler or {}
        return Side(str(path), "report", f"{c.get('name')} {c.get('version')}", report=rep,
                    windows=of_report(rep))
    if schema == BASELINE_SCHEMA or (isinstance(d, dict) and schema is None
                                     and isinstance(d.get("fixtures"), dict) and "compiler" in d):
        base = Baseline.load(path)
        return Side(str(path), "baseline", f"{base.compiler} {base.compiler_version}", baseline=base)
    raise UsageError(f"{path}: schema {schema!r}: neither a {REPORT_SCHEMA} nor a "
                     f"{BASELINE_SCHEMA} file")


def _calls(side):
    """{fixture: [call, ...]} of a report Side's allocating runs."""
    out = {}
    if side.report:
        for fx in side.report.fixtures:
            for r in fx.runs:
                if r.mode == "alloc" and r.calls:
                    out.setdefault(fx.name, list(r.calls))
    return out


def align(old, new):
    """Fill a baseline Side's windows (named by the other side's calls) and
    keep only what both kinds of file have; returns the notes saying so."""
    notes = []
    calls = _calls(new) or _calls(old)
    for side in (old, new):
        if side.baseline is not None:
            side.windows = side.baseline.windows(calls)
    bases = [s for s in (old, new) if s.kind == "baseline"]
    if bases:
        names = " and ".join(Path(s.path).name for s in bases)
        dropped = 0
        for side in (old, new):
            keep = {k: v for k, v in side.windows.items() if k.mode == "alloc"}
            dropped += len(side.windows) - len(keep)
            side.windows = keep
        notes.append(f"{names}: a baseline records allocations and frees of the allocating shape "
                     f"only (no bytes, no call names): compared only those"
                     + (f"; {dropped} no_alloc window(s) of the report not compared" if dropped else ""))
    if old.compiler != new.compiler:
        notes.append(f"compilers differ: old {old.compiler}, new {new.compiler}")
    return notes


@dataclass
class Result:
    """`audit compare`'s findings, grouped (see the module docstring)."""
    old: Side
    new: Side
    notes: list
    compared: int                                   # windows both files have
    regressions: list = field(default_factory=list)     # [Change]
    improvements: list = field(default_factory=list)
    other: list = field(default_factory=list)
    missing: dict = field(default_factory=dict)     # {"fixtures": [..], "runs": [..], "windows": [Change]}
    added: dict = field(default_factory=dict)       # the same for windows only in new

    @property
    def failed(self):
        return bool(self.regressions or any(self.missing.values()))

    @property
    def exit_status(self):
        return EXIT_GATE if self.failed else EXIT_OK


def _gone(only, here):
    """Windows of `only` (Changes with one side) grouped: whole fixtures
    absent from the map `here`, whole runs absent, then single windows."""
    fixtures = {k.fixture for k in here}
    runs = {(k.fixture, k.mode, k.opt) for k in here}
    out = {"fixtures": [], "runs": [], "windows": []}
    for c in only:
        k = c.key
        if k.fixture not in fixtures:
            if k.fixture not in out["fixtures"]:
                out["fixtures"].append(k.fixture)
        elif (k.fixture, k.mode, k.opt) not in runs:
            if (k.fixture, k.mode, k.opt) not in out["runs"]:
                out["runs"].append((k.fixture, k.mode, k.opt))
        else:
            out["windows"].append(c)
    return out


def compare(old, new):
    """The Result of two loaded Sides."""
    notes = align(old, new)
    res = Result(old, new, notes, compared=len({_slot(k) for k in old.windows}
                                                & {_slot(k) for k in new.windows}))
    by = {"regression": res.regressions, "improvement": res.improvements, "changed": res.other}
    gone, extra = [], []
    for c in changes(old.windows, new.windows):
        kind = c.kind
        if kind in by:
            by[kind].append(c)
        else:
            (gone if kind == "missing" else extra).append(c)
    res.missing = _gone(gone, new.windows)
    res.added = _gone(extra, old.windows)
    return res


# --- rendering --------------------------------------------------------------

def _where(k):
    what = CREATE if k.step < 0 else f"step {k.step + 1} {k.call or ''}".rstrip()
    return f"{k.fixture} {k.mode} O{k.opt} {what}"


def _delta(a, b, arrow="->"):
    if a is None or b is None:
        v = a if b is None else b
        return "-" if v is None else str(v)
    return str(a) if a == b else f"{a} {arrow} {b}"


def _bytes_known(c):
    """Bytes are shown where every side the window has recorded them."""
    return all(v.bytes is not None for v in (c.old, c.new) if v is not None)


def _values(c):
    """'allocations 4 -> 5, frees 4, bytes 81 -> 97' for a Change."""
    o, n = c.old or Counts(None, None), c.new or Counts(None, None)
    parts = [f"allocations {_delta(o.allocs, n.allocs)}", f"frees {_delta(o.frees, n.frees)}"]
    if _bytes_known(c):
        parts.append(f"bytes {_delta(o.bytes, n.bytes)}")
    text = ", ".join(parts)
    return text + (f" (the step ran {c.old_call}, now {c.key.call})" if c.old_call else "")


def _capped(lines, limit):
    if limit and len(lines) > limit:
        return lines[:limit] + [f"  ... and {len(lines) - limit} more (--limit 0 lists all)"]
    return lines


def summary(res):
    """The one summary line (also the last line of the text output)."""
    m, a = res.missing, res.added
    return (f"compare: {res.compared} window(s) in both, {len(res.regressions)} regression(s), "
            f"{len(res.improvements)} improvement(s), {len(res.other)} other change(s); missing: "
            f"{len(m['fixtures'])} fixture(s), {len(m['runs'])} run(s), {len(m['windows'])} "
            f"window(s); new: {len(a['fixtures'])} fixture(s), {len(a['runs'])} run(s), "
            f"{len(a['windows'])} window(s)")


def _gone_lines(g, tag):
    lines = [f"{tag}: fixture {f} (every window)" for f in g["fixtures"]]
    lines += [f"{tag}: run {f} {mode} O{opt} (every window)" for f, mode, opt in g["runs"]]
    return lines + [f"{tag}: {_where(c.key)}: {_values(c)}" for c in g["windows"]]


def text(res, limit=50):
    """Summary first, then regressions, missing, improvements, other
    changes and what is new, each list capped at `limit` lines."""
    out = [f"compare: old {res.old.path} ({res.old.kind}, {res.old.compiler})",
           f"compare: new {res.new.path} ({res.new.kind}, {res.new.compiler})", summary(res)]
    out += [f"note: {n}" for n in res.notes]
    sections = [
        ("regressions", [f"REGRESSION: {_where(c.key)}: {_values(c)}" for c in res.regressions]),
        ("missing (in old, not in new)", _gone_lines(res.missing, "MISSING")),
        ("improvements", [f"improvement: {_where(c.key)}: {_values(c)}" for c in res.improvements]),
        ("other changes", [f"changed: {_where(c.key)}: {_values(c)}" for c in res.other]),
        ("new (in new only)", _gone_lines(res.added, "new")),
    ]
    for title, lines in sections:
        if lines:
            out.append(f"{title} ({len(lines)}):")
            out += _capped(["  " + ln for ln in lines], limit)
    verdict = "FAIL" if res.failed else "PASS"
    out.append(f"compare: {verdict} — {len(res.regressions)} regression(s), "
               f"{sum(map(len, res.missing.values()))} missing")
    return "\n".join(out)


def _counts_json(v):
    return None if v is None else {"allocs": v.allocs, "frees": v.frees, "bytes": v.bytes}


def _window_json(c):
    k = c.key
    d = {"fixture": k.fixture, "mode": k.mode, "opt": k.opt, "step": k.step + 1,
         "call": CREATE if k.step < 0 else k.call, "old": _counts_json(c.old), "new": _counts_json(c.new)}
    if c.old_call is not None:
        d["old_call"] = c.old_call
    return d


def _gone_json(g):
    return {"fixtures": list(g["fixtures"]),
            "runs": [{"fixture": f, "mode": m, "opt": o} for f, m, o in g["runs"]],
            "windows": [_window_json(c) for c in g["windows"]]}


def to_json(res):
    """The documented object of `--format json` (module docstring)."""
    m, a = res.missing, res.added
    return {
        "schema": COMPARE_SCHEMA, "old": res.old.to_json(), "new": res.new.to_json(),
        "notes": list(res.notes),
        "counts": {"compared": res.compared, "regressions": len(res.regressions),
                   "improvements": len(res.improvements), "changes": len(res.other),
                   **{f"{w}_{x}": len(g[x]) for w, g in (("missing", m), ("added", a))
                      for x in ("fixtures", "runs", "windows")}},
        "regressions": [_window_json(c) for c in res.regressions],
        "improvements": [_window_json(c) for c in res.improvements],
        "changes": [_window_json(c) for c in res.other],
        "missing": _gone_json(m), "added": _gone_json(a),
        "verdict": "fail" if res.failed else "pass", "exit_status": res.exit_status,
    }


def _md(s):
    """Literal text in a GitHub Markdown table cell."""
    s = str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = "".join("\\" + ch if ch in "\\`*_[]|~#$" else ch for ch in s)
    return " ".join(s.split())


def _md_cells(c):
    o, n = c.old or Counts(None, None), c.new or Counts(None, None)
    k = c.key
    what = CREATE if k.step < 0 else f"step {k.step + 1} {k.call or ''}".rstrip()
    if c.old_call:
        what += f" (was {c.old_call})"
    cells = [_delta(getattr(o, f), getattr(n, f), "→") for f in ("allocs", "frees", "bytes")]
    return [_md(k.fixture), k.mode, f"O{k.opt}", _md(what), *cells[:2],
            cells[2] if _bytes_known(c) else "–"]


def markdown(res, limit=50):
    """A short PR comment: verdict, the counts, then one table of the
    regressions, missing, improvements and other changes (capped at
    `limit` rows); what is new is one line."""
    m, a = res.missing, res.added
    nmiss = sum(map(len, m.values()))
    head = ("❌ **compare: FAIL**" if res.failed else "✅ **compare: pass**")
    out = [f"{head} — {len(res.regressions)} regression(s), {nmiss} missing, "
           f"{len(res.improvements)} improvement(s), {len(res.other)} other change(s) "
           f"in {res.compared} window(s) compared", "",
           f"old: {_md(Path(res.old.path).name)} ({res.old.kind}, {_md(res.old.compiler)}) · "
           f"new: {_md(Path(res.new.path).name)} ({res.new.kind}, {_md(res.new.compiler)})"]
    out += [f"> {_md(n)}" for n in res.notes]
    rows = [["❌ regression", *_md_cells(c)] for c in res.regressions]
    rows += [["❌ missing", _md(f), "", "", "every window", "", "", ""] for f in m["fixtures"]]
    rows += [["❌ missing", _md(f), mode, f"O{o}", "every window", "", "", ""] for f, mode, o in m["runs"]]
    rows += [["❌ missing", *_md_cells(c)] for c in m["windows"]]
    rows += [["✅ improvement", *_md_cells(c)] for c in res.improvements]
    rows += [["↔ changed", *_md_cells(c)] for c in res.other]
    if rows:
        out += ["", "| | fixture | shape | opt | window | allocations | frees | bytes |",
                "|---|---|---|---|---|---|---|---|"]
        out += ["| " + " | ".join(r) + " |" for r in rows[:limit or len(rows)]]
        if limit and len(rows) > limit:
            out += ["", f"… and {len(rows) - limit} more row(s) (`audit compare --limit 0` lists all)"]
    nnew = sum(map(len, a.values()))
    if nnew:
        out += ["", f"New in {_md(Path(res.new.path).name)}: {len(a['fixtures'])} fixture(s), "
                    f"{len(a['runs'])} run(s), {len(a['windows'])} window(s) (not compared)."]
    return "\n".join(out)


def command(old_path, new_path, fmt="text", limit=50):
    """`audit compare OLD NEW`: prints the comparison; returns the exit status."""
    res = compare(load(old_path), load(new_path))
    if fmt == "json":
        print(json.dumps(to_json(res), indent=1))
    elif fmt == "markdown":
        print(markdown(res, limit))
    else:
        print(text(res, limit))
    return res.exit_status
