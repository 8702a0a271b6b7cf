"""The audit's data model: one dataclass per thing it measures or writes,
each with one reader and one writer.

    harness records (records v2, JSON lines)   Measurement.read      (written by harness/measure.c)
      one window                               Window.from_record
    report.json (report@1)                     Report.load / from_json   Report.to_json / write
      a fixture's result, a library's run      FixtureResult, RunResult
      a gate finding                           Finding
    baseline.json (baseline@1)                 Baseline.load         Baseline.write
    bench.json (bench@1)                       BenchResult.load      BenchResult.write
    phases.json (phases@1)                     Phases.load           Phases.write
    costs.json (costs@1)                       Costs.load            Costs.write

Every file has a JSON Schema under schemas/ (scripts/tests/test_schemas.py
validates real files against them).

Steps: 0-based everywhere in this model (records use 0-based steps; -1 is
the construction or the drop of the system).  report.json numbers steps
from 1: its writer adds 1 and its reader subtracts it, here and nowhere
else; printed text (findings, the table) adds 1 where it formats.
"""

import json
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import UsageError

RECORDS_VERSION = 3
REPORT_SCHEMA = "frame-alloc-audit/report@1"
BASELINE_SCHEMA = "frame-alloc-audit/baseline@1"
BENCH_SCHEMA = "frame-alloc-audit/bench@1"
PHASES_SCHEMA = "frame-alloc-audit/phases@1"
COSTS_SCHEMA = "frame-alloc-audit/costs@1"
CREATE = "__create()"


def write_atomic(path, text):
    """Write then rename: an interrupted run never leaves a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _load_json(path, what):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{path}: not a readable {what}: {e}") from e


def _known(cls, d):
    """The keys of `d` that are fields of dataclass `cls`."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


# --- the harness records ---------------------------------------------------

@dataclass
class Window:
    """One measuring window (a `"kind":"window"` record).  `step` is
    0-based, -1 for the construction and the drop."""
    phase: str
    step: int
    label: str = ""
    allocs: int = 0
    frees: int = 0
    os: int = 0
    blocking: int = 0                               # calls that can block or take a lock
    bytes: int = 0
    live_peak: int = 0
    calls: dict = field(default_factory=dict)       # kind -> calls (kinds with none left out)
    first_kind: str | None = None
    tid: int | None = None
    thread: str | None = None                       # "own" | "other"
    stack: list = field(default_factory=list)       # OBJECT+0xOFFSET, innermost first
    repeat: int | None = None                       # steady: 1-based repeat
    batch: int | None = None                        # batch: 0 is the warm-up
    step_to: int | None = None                      # batch: last step, 0-based
    cycles: int | None = None                       # batch: cycles of the batch
    site: str | None = None                         # attribution text (set by the gate)
    # no_alloc windows that counted anything: every call's site, {calls,
    # kind, stack} most calls first (the gate adds `site`, `frs`, `gen`),
    # and the calls no site accounts for
    sites: list = field(default_factory=list)
    sites_lost: int = 0

    @classmethod
    def from_record(cls, rec):
        return cls(**_known(cls, {k: v for k, v in rec.items() if k != "kind"}))

    @property
    def counted(self):
        """Anything counted at all: allocations, frees or OS memory calls."""
        return bool(self.allocs or self.frees or self.os)

    @property
    def pair(self):
        return (self.allocs, self.frees)

    _REPORTED = ("allocs", "frees", "os", "blocking", "bytes", "live_peak", "calls", "stack",
                 "first_kind", "site", "thread", "tid", "sites", "sites_lost")
    _PHASE_FIELDS = ("repeat", "batch", "cycles")
    # left out of report.json when empty or 0 (the windows of a passing run)
    _ONLY_WHEN_SET = ("stack", "blocking", "sites", "sites_lost")

    def to_report(self, call, with_phase=False):
        """The report.json form: step 1-based (0: the construction)."""
        d = {}
        if with_phase:
            d["phase"] = self.phase
            d.update({k: getattr(self, k) for k in self._PHASE_FIELDS if getattr(self, k) is not None})
            if self.step_to is not None:
                d["step_to"] = self.step_to + 1
        for k in self._REPORTED:
            v = getattr(self, k)
            if v is not None and not (v in ([], 0) and k in self._ONLY_WHEN_SET):
                d[k] = v
        d["step"] = self.step + 1
        d["call"] = call
        return d

    @classmethod
    def from_report(cls, d, phase):
        rec = {k: v for k, v in d.items() if k not in ("call", "step", "step_to")}
        rec.setdefault("phase", phase)
        w = cls(step=d["step"] - 1, **_known(cls, rec))
        if "step_to" in d:
            w.step_to = d["step_to"] - 1
        return w


@dataclass
class StepSummary:
    """The steady replay of one step (`"kind":"steady"`), 0-based step."""
    step: int
    n: int = 0
    allocs_sum: int = 0
    allocs_max: int = 0
    frees_sum: int = 0
    bytes_sum: int = 0
    os_sum: int = 0
    violations: int = 0
    blocking_sum: int = 0              # calls that can block or take a lock
    blocking_windows: int = 0          # windows with one

    @classmethod
    def from_record(cls, rec):
        return cls(**_known(cls, rec))

    def to_report(self):
        n = self.n
        return {"step": self.step + 1, "n": n,
                "allocs_mean": self.allocs_sum / n if n else 0, "allocs_max": self.allocs_max,
                "frees_mean": self.frees_sum / n if n else 0,
                "allocs_sum": self.allocs_sum, "frees_sum": self.frees_sum,
                "os_sum": self.os_sum, "violations": self.violations}

    @classmethod
    def from_report(cls, d):
        return cls(**{**_known(cls, d), "step": d["step"] - 1})


@dataclass
class Summary:
    """Sums over many windows: the timing batches (`"kind":"batches"`) or
    the observation pass (`"kind":"observe_windows"`)."""
    kind: str = "batches"              # "batches" | "observe_windows"
    n: int = 0
    allocs_sum: int = 0
    frees_sum: int = 0
    os_sum: int = 0
    violations: int = 0
    blocking_sum: int = 0              # calls that can block or take a lock
    blocking_windows: int = 0          # windows with one
    cycles: int | None = None          # batches only
    dispatches: int | None = None      # batches only
    unwindowed: int = 0                # observe_windows: calls made outside a window

    @classmethod
    def from_record(cls, rec):
        return cls(**_known(cls, rec)) if rec is not None else None

    def to_report(self):
        d = {k: getattr(self, k) for k in ("kind", "n", "cycles", "dispatches", "allocs_sum",
                                            "frees_sum", "os_sum", "blocking_sum",
                                            "blocking_windows", "violations")}
        return {k: v for k, v in d.items() if v is not None}


@dataclass
class Calibration:
    """The interposer's proof of life: every hooked entry point, called once
    in a window of its own, read exactly 1 (`"kind":"calibration"`)."""
    ok: bool
    entries: list = field(default_factory=list)   # {fn, kind, calls[, other, missing]}

    @classmethod
    def from_record(cls, rec):
        return cls(ok=bool(rec.get("ok", False)), entries=list(rec.get("entries") or []))

    def to_report(self):
        return {"kind": "calibration", "ok": self.ok, "entries": self.entries}


@dataclass
class Meta:
    """What the measuring process says about itself and the library."""
    fixture: str = ""
    mode: str = ""
    opt: int = 0
    system: str = ""
    size_of: int | None = None
    steps: int = 0
    steady_from: int = 0
    steady_to: int = 0
    steady_repeat: int = 0
    pid: int = 0
    threads: int | None = None     # before the library was loaded; must be 1
    windows: str | None = None     # "all-threads" | "this-thread"
    version: int | None = None     # records format (RECORDS_VERSION)

    @classmethod
    def from_record(cls, rec):
        return cls(**_known(cls, rec))


@dataclass
class Timing:
    method: str = ""
    dispatches: int = 0
    median_ns: float = 0.0
    min_ns: float = 0.0
    p90_ns: float = 0.0
    cycles_per_batch: int = 0
    batches: int = 0

    @classmethod
    def from_record(cls, rec):
        return cls(**_known(cls, rec)) if rec is not None else None

    def to_report(self):
        return {"kind": "timing", **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass
class Observation:
    step: int          # 0-based
    text: str          # "ret=<Debug>\x1ffield=<Debug>..."

    def values(self):
        """{'ret': .., 'field': ..}."""
        out = {}
        for part in self.text.split("\x1f"):
            k, _, v = part.partition("=")
            out[k] = v
        return out


@dataclass
class Verdict:
    """The worker's own verdict on its library."""
    ok: bool
    failures: int = 0
    message: str = ""

    @classmethod
    def from_record(cls, rec):
        return cls(ok=bool(rec.get("ok")), failures=int(rec.get("failures", 0)),
                   message=str(rec.get("message", "")))


_VIOLATION_PHASES = ("steady", "batch", "observe")


@dataclass
class Measurement:
    """One fixture library's records: fixture x mode x opt-level.

    The measuring process's calibration, then meta, one window per construction,
    scenario step and destroy, the steady summaries, the timing-batch and
    observation-pass summaries, and the not-zero windows of the steady
    replay, the timing batches and the observation pass (`violations`)."""
    fixture: str
    mode: str
    opt: int
    meta: Meta = field(default_factory=Meta)
    calibration: Calibration | None = None
    construct: Window | None = None
    steps: list = field(default_factory=list)         # [Window], one per scenario step
    steady: list = field(default_factory=list)        # [StepSummary]
    violations: list = field(default_factory=list)    # [Window]: steady / batch / observe
    batches: Summary | None = None
    observe_windows: Summary | None = None
    destroy: Window | None = None
    observe: list = field(default_factory=list)       # [Observation]
    timing: Timing | None = None
    verdict: Verdict | None = None
    meta_lib: str = ""                                # the library (a bundle: bundle.py)
    prefix: str = "fx_"                               # the fixture's symbol prefix in it
    problems: list = field(default_factory=list)      # what the reader could not accept

    @property
    def windows(self):
        """Every window, in the order the harness ran them."""
        return (([self.construct] if self.construct else []) + self.steps + self.violations
                + ([self.destroy] if self.destroy else []))

    @classmethod
    def read(cls, path, fixture, mode, opt, lib="", prefix="fx_"):
        """The one reader of a records file.  A missing file gives an empty
        Measurement (the worker measured nothing); a torn last line (a
        worker killed mid-write) is skipped."""
        m = cls(fixture=fixture, mode=mode, opt=opt, meta_lib=str(lib), prefix=prefix)
        try:
            lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return m
        for line in lines:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                m._take(rec)
        if m.meta.version not in (None, RECORDS_VERSION):
            m.problems.append(f"records version {m.meta.version}, this audit reads {RECORDS_VERSION}")
        return m

    def _take(self, rec):
        kind = rec.get("kind")
        if kind == "window":
            self._take_window(Window.from_record(rec))
        elif kind == "calibration":
            # Keep a failing calibration if there is any, else the last
            # (one file may hold several if a process calibrates again).
            if self.calibration is None or self.calibration.ok:
                self.calibration = Calibration.from_record(rec)
        elif kind == "meta":
            self.meta = Meta.from_record(rec)
        elif kind == "steady":
            self.steady.append(StepSummary.from_record(rec))
        elif kind == "observe":
            self.observe.append(Observation(step=rec["step"], text=rec["text"]))
        elif kind in ("batches", "observe_windows"):
            setattr(self, kind, Summary.from_record(rec))
        elif kind == "timing":
            self.timing = Timing.from_record(rec)
        elif kind == "verdict":
            self.verdict = Verdict.from_record(rec)

    def _take_window(self, w):
        if w.phase == "construct":
            self.construct = w
        elif w.phase == "step":
            self.steps.append(w)
        elif w.phase in _VIOLATION_PHASES:
            self.violations.append(w)
        elif w.phase == "destroy":
            self.destroy = w


# --- gate findings ---------------------------------------------------------

@dataclass
class Finding:
    rule: str        # short rule id: zero, baseline, differential, nostd, ...
    fixture: str
    message: str
    failure: bool = True
    # Where a zero-rule or valgrind-count finding points (None otherwise):
    opt: int | None = None      # rustc opt-level of the library
    gen: str | None = None      # "path/to/module.rs:LINE"
    frs: str | None = None      # "fixtures/NAME.frs:LINE"

    def to_json(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, d):
        return cls(**_known(cls, d))


# --- report.json -----------------------------------------------------------

@dataclass
class RunResult:
    """One library's results in the report: fixture x mode x opt-level.
    calibration, timing and memcheck stay the plain records the report
    prints (schemas/report.schema.json describes them)."""
    mode: str
    opt: int
    construct: Window | None = None
    steps: list = field(default_factory=list)        # [Window]
    calls: list = field(default_factory=list)        # the scenario's call of each step
    steady: list = field(default_factory=list)       # [StepSummary]
    destroy: Window | None = None
    batches: Summary | None = None
    observe_windows: Summary | None = None
    violations: list = field(default_factory=list)   # [Window]
    calibration: dict | None = None
    timing: dict | None = None
    memcheck: dict | None = None

    @classmethod
    def of(cls, m, calls, memcheck=None):
        """A run of this audit: Measurement `m`, the scenario's calls."""
        return cls(mode=m.mode, opt=m.opt, construct=m.construct, steps=list(m.steps),
                   calls=list(calls), steady=list(m.steady), destroy=m.destroy,
                   batches=m.batches, observe_windows=m.observe_windows,
                   violations=list(m.violations),
                   calibration=m.calibration.to_report() if m.calibration else None,
                   timing=m.timing.to_report() if m.timing else None, memcheck=memcheck)

    def call(self, step):
        return CREATE if step < 0 else (self.calls[step] if step < len(self.calls) else "")

    def to_json(self):
        return {
            "mode": self.mode, "opt": self.opt,
            "construct": self.construct.to_report(CREATE) if self.construct else None,
            "steps": [w.to_report(self.call(w.step)) for w in self.steps],
            "steady": [s.to_report() for s in self.steady],
            "destroy": self.destroy.to_report("destroy") if self.destroy else None,
            "batches": self.batches.to_report() if self.batches else None,
            "observe_windows": self.observe_windows.to_report() if self.observe_windows else None,
            "violations": [w.to_report(self.call(w.step) if w.step >= 0 else (w.label or CREATE),
                                       with_phase=True) for w in self.violations],
            "calibration": self.calibration, "timing": self.timing, "memcheck": self.memcheck,
        }

    @classmethod
    def from_json(cls, d):
        steps = [Window.from_report(s, "step") for s in d.get("steps") or []]
        return cls(
            mode=d["mode"], opt=d["opt"],
            construct=Window.from_report(d["construct"], "construct") if d.get("construct") else None,
            steps=steps, calls=[s["call"] for s in d.get("steps") or []],
            steady=[StepSummary.from_report(s) for s in d.get("steady") or []],
            destroy=Window.from_report(d["destroy"], "destroy") if d.get("destroy") else None,
            batches=Summary(**_known(Summary, d["batches"])) if d.get("batches") else None,
            observe_windows=(Summary(**_known(Summary, d["observe_windows"]))
                             if d.get("observe_windows") else None),
            violations=[Window.from_report(v, v.get("phase", "steady")) for v in d.get("violations") or []],
            calibration=d.get("calibration"), timing=d.get("timing"), memcheck=d.get("memcheck"))


@dataclass
class FixtureResult:
    name: str
    system: str
    source: str | None
    nostd: str
    size_of: dict = field(default_factory=dict)     # mode -> bytes
    runs: list = field(default_factory=list)        # [RunResult], sorted by (mode, opt)
    coverage: dict | None = None
    # The allocating shape's allocation sites with calls per dispatch
    # (sites.table: {source, mode, opt, constructions, dispatches, destroys,
    # step_dispatches, sites: [...]}); None when Valgrind did not run it.
    alloc_sites: dict | None = None
    # The language of the generated code: "rust" or "c" (fixtures/c/, cbuild.py);
    # a report.json written before C fixtures has none: "rust".
    target: str = "rust"
    # The nonblocking rule's verdict for this fixture: None when it was not
    # asked (no --non-blocking, no `non_blocking = true`), else
    # {"blocking_windows": no_alloc windows that made a blocking call,
    #  "libraries": no_alloc libraries judged}.
    non_blocking: dict | None = None

    def to_json(self):
        return {"name": self.name, "target": self.target, "system": self.system, "source": self.source,
                "nostd": self.nostd, "size_of": self.size_of,
                "runs": [r.to_json() for r in self.runs], "coverage": self.coverage,
                "alloc_sites": self.alloc_sites, "non_blocking": self.non_blocking}

    @classmethod
    def from_json(cls, d):
        return cls(name=d["name"], system=d.get("system", ""), source=d.get("source"),
                   nostd=d.get("nostd", ""), size_of=d.get("size_of") or {},
                   runs=[RunResult.from_json(r) for r in d.get("runs") or []],
                   coverage=d.get("coverage"), alloc_sites=d.get("alloc_sites"),
                   target=d.get("target") or "rust", non_blocking=d.get("non_blocking"))


@dataclass
class Report:
    """report.json: the whole audit.  `compiler` is {name, version, path,
    bundled}; rejects [{fixture, expected, got, exit, ok, message}];
    performance the headline figures of the last `make bench` or None."""
    compiler: dict
    exit_status: int
    unchecked_why: dict = field(default_factory=dict)   # check -> why it could not run
    strict: bool = False
    skipped: dict = field(default_factory=dict)         # fixture -> reason (SKIP.toml)
    findings: list = field(default_factory=list)        # [Finding]
    fixtures: list = field(default_factory=list)        # [FixtureResult]
    rejects: list = field(default_factory=list)
    performance: dict | None = None
    massif: list = field(default_factory=list)          # [{mode, opt, fixtures, peak_bytes, series}]
    # `run --shard K/N` (shard.py): {k, n, fixtures: the whole selection's
    # names, assigned: this shard's, balance: how they were shared out};
    # None for a run of the whole selection and for a merged report.
    shard: dict | None = None
    # Where the report comes from (provenance.py): {date, audit, compiler,
    # rustc, valgrind, host[, published]}; None in reports older than it.
    provenance: dict | None = None

    @property
    def verdict(self):
        return "pass" if self.exit_status == 0 else "fail"

    @property
    def unchecked(self):
        return list(self.unchecked_why)

    @property
    def failures(self):
        return [f for f in self.findings if f.failure]

    def to_json(self):
        d = {"schema": REPORT_SCHEMA, "compiler": self.compiler, "verdict": self.verdict,
             "exit_status": self.exit_status, "unchecked": self.unchecked,
             "unchecked_why": dict(self.unchecked_why), "strict": self.strict,
             "skipped": [{"fixture": k, "reason": v} for k, v in sorted(self.skipped.items())],
             "findings": [f.to_json() for f in self.findings],
             "fixtures": [fx.to_json() for fx in self.fixtures], "rejects": self.rejects,
             "massif": self.massif, "shard": self.shard}
        if self.performance is not None:
            d["performance"] = self.performance
        if self.provenance is not None:
            d["provenance"] = self.provenance
        return d

    def write(self, path):
        write_atomic(path, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def from_json(cls, d):
        return cls(compiler=d["compiler"], exit_status=d["exit_status"],
                   unchecked_why={u: (d.get("unchecked_why") or {}).get(u, "")
                                  for u in d.get("unchecked") or []},
                   strict=bool(d.get("strict")),
                   skipped={x["fixture"]: x["reason"] for x in d.get("skipped") or []},
                   findings=[Finding.from_json(f) for f in d.get("findings") or []],
                   fixtures=[FixtureResult.from_json(fx) for fx in d.get("fixtures") or []],
                   rejects=d.get("rejects") or [], performance=d.get("performance"),
                   massif=d.get("massif") or [], shard=d.get("shard"),
                   provenance=d.get("provenance"))

    @classmethod
    def load(cls, path):
        """A report.json, or UsageError naming what is wrong with it."""
        d = _load_json(path, "report.json")
        if not isinstance(d, dict) or d.get("schema") != REPORT_SCHEMA:
            got = d.get("schema") if isinstance(d, dict) else type(d).__name__
            raise UsageError(f"{path}: schema {got!r}, expected {REPORT_SCHEMA!r}")
        try:
            return cls.from_json(d)
        except (KeyError, TypeError, AttributeError) as e:
            raise UsageError(f"{path}: not a report.json of this audit ({e!r})") from e


# --- window keys, baseline.json --------------------------------------------

@dataclass(frozen=True, order=True)
class WindowKey:
    """A window named across runs: fixture, shape, opt-level, 0-based step
    (-1: the construction) and the scenario's call."""
    fixture: str
    mode: str
    opt: int
    step: int
    call: str | None

    def label(self):
        """`__create()` or `step N call` (1-based, as printed)."""
        return CREATE if self.step < 0 else f"step {self.step + 1} {self.call}"


@dataclass
class Baseline:
    """baseline.json: the allocating shape's (allocations, frees) per window,
    per fixture and opt-level, of one compiler.  It keeps no call names."""
    compiler: str
    compiler_version: str
    # fixture -> opt -> (construct pair, [step pair, ...])
    fixtures: dict = field(default_factory=dict)

    @classmethod
    def of_windows(cls, windows, compiler, compiler_version):
        """The baseline of a {WindowKey: (allocs, frees)} map: the allocating
        counts of every run that has a construction window."""
        fixtures = {}
        for key in sorted(k for k in windows if k.mode == "alloc" and k.step < 0):
            steps = sorted((k for k in windows if k.mode == "alloc" and k.step >= 0
                            and (k.fixture, k.opt) == (key.fixture, key.opt)), key=lambda k: k.step)
            # (allocations, frees): the windows' bytes (compare.Counts) are not kept
            fixtures.setdefault(key.fixture, {})[key.opt] = (
                tuple(windows[key])[:2], [tuple(windows[k])[:2] for k in steps])
        return cls(compiler, compiler_version, fixtures)

    def windows(self, calls):
        """{WindowKey: (allocs, frees)}; `calls` {fixture: [call, ...]} gives
        step i the name this run's step i has."""
        out = {}
        for fixture, per_opt in self.fixtures.items():
            names = calls.get(fixture, [])
            for opt, (construct, steps) in per_opt.items():
                out[WindowKey(fixture, "alloc", opt, -1, CREATE)] = tuple(construct)
                for i, pair in enumerate(steps):
                    out[WindowKey(fixture, "alloc", opt, i, names[i] if i < len(names) else None)] = \
                        tuple(pair)
        return out

    def to_json(self):
        return {"schema": BASELINE_SCHEMA, "compiler": self.compiler,
                "compiler_version": self.compiler_version,
                "fixtures": {fx: {f"O{opt}": {"construct": list(c), "steps": [list(p) for p in s]}
                                  for opt, (c, s) in sorted(per.items())}
                             for fx, per in sorted(self.fixtures.items())}}

    def write(self, path):
        text = json.dumps(self.to_json(), indent=1, sort_keys=True)
        # One [allocations, frees] pair per line keeps diffs of the baseline readable.
        text = re.sub(r"\[\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2]", text)
        write_atomic(path, text + "\n")

    @classmethod
    def load(cls, path):
        d = _load_json(path, "baseline.json")
        if not isinstance(d, dict) or d.get("schema", BASELINE_SCHEMA) != BASELINE_SCHEMA:
            raise UsageError(f"{path}: not a {BASELINE_SCHEMA} file")
        try:
            fixtures = {fx: {int(opt.lstrip("O")): (tuple(r["construct"]), [tuple(p) for p in r["steps"]])
                             for opt, r in per.items()}
                        for fx, per in (d.get("fixtures") or {}).items()}
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise UsageError(f"{path}: malformed baseline ({e!r})") from e
        return cls(str(d.get("compiler", "")), str(d.get("compiler_version", "")), fixtures)


# --- bench.json, phases.json -----------------------------------------------

@dataclass
class BenchResult:
    """bench.json: `created` and one section per benchmark that ran
    (window, overhead, dispatch, steps, callgrind, audit, ...), each the
    dict its bench module returns (schemas/bench.schema.json)."""
    created: str
    sections: dict = field(default_factory=dict)

    def to_json(self):
        return {"schema": BENCH_SCHEMA, "created": self.created, **self.sections}

    def write(self, path):
        write_atomic(path, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path):
        """The bench.json at `path`, or None when there is none usable."""
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        if not isinstance(d, dict) or d.get("schema") != BENCH_SCHEMA:
            return None
        return cls(created=d.get("created", ""),
                   sections={k: v for k, v in d.items() if k not in ("schema", "created")})


@dataclass
class Phases:
    """WORK/phases.json: wall and CPU seconds per pipeline phase of the
    last run, in run order (written by audit.PhaseClock), for `audit bench`,
    which reads this instead of the audit's stderr."""
    phases: dict = field(default_factory=dict)    # name -> {wall_s, cpu_s, ...}

    def to_json(self):
        return {"schema": PHASES_SCHEMA, "phases": self.phases}

    def write(self, path):
        write_atomic(path, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path):
        d = _load_json(path, "phases.json")
        if not isinstance(d, dict) or d.get("schema") != PHASES_SCHEMA:
            raise UsageError(f"{path}: not a {PHASES_SCHEMA} file")
        return cls(phases=d.get("phases") or {})


@dataclass
class Costs:
    """costs.json: build seconds per fixture (shard.py balances --shard by
    it; every run writes WORK/costs.json, shard.record_costs)."""
    fixtures: dict = field(default_factory=dict)    # name -> seconds >= 0

    def write(self, path):
        doc = {"schema": COSTS_SCHEMA, "fixtures": {k: self.fixtures[k] for k in sorted(self.fixtures)}}
        write_atomic(path, json.dumps(doc, indent=1) + "\n")

    @classmethod
    def load(cls, path):
        """The costs.json at `path`, or UsageError naming the problem."""
        d = _load_json(path, "costs.json")
        if not isinstance(d, dict) or d.get("schema") != COSTS_SCHEMA:
            raise UsageError(f"{path}: not a {COSTS_SCHEMA} file (write one with `audit run`: "
                             f"WORK/costs.json)")
        costs = d.get("fixtures")
        if not isinstance(costs, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < float("inf")
                for v in costs.values()):
            raise UsageError(f"{path}: `fixtures` must map fixture names to seconds >= 0")
        return cls({str(k): float(v) for k, v in costs.items()})
