"""`bench`: what counting costs, what dispatch costs in both shapes, and
what the audit itself costs — benchmarks, printed with their ratios and
written to BUILD/reports/bench.json.  Figures, not tests: nothing here
asserts a timing; a missed goal is printed as "missed" with the figures
that explain it.

Sections (--only picks some):

  overhead  bench/faa-alloc-bench run alternately without and with
            LD_PRELOAD=libaudit.so (interleaved repetitions, medians per
            workload): ns per malloc+free pair (fixed 32 B, fixed-seed
            random 16..4096 B), ns per realloc growth sequence, one and two
            threads; ratio preload / bare, goal <= 1.10.
  window    the same preloaded runs: one window (open + close) around
            nothing through the full API (dlsym'd audit_window_open/close,
            as the harness does) and as a fast window (audit.h's inline
            audit_fast_open/close); goal <= 2 ns.
  dispatch  per fixture (libraries built as the audit builds them, O3 by
            default): harness/faa-run --time (batch timing of the
            steady-state cycle, no interposer; median ns per dispatch,
            shapes interleaved) and faa-run --callgrind-steps under
            Callgrind (Ir per dispatch per cycle step, deterministic);
            ratios allocating / no_alloc, overall and on transitions (steps
            in which frc's state-change line `self.__compartment = __next`
            ran, seen in one Callgrind cycle of the no_alloc O0 library,
            where nothing is inlined; for other compilers' output, steps whose
            allocating dispatch makes >= 3 allocator calls, DESIGN.md's
            figure for any transition); goal >= 10x fewer instructions on
            transitions.
  audit     `audit run` over a copy of fixtures/: cold (empty work dir) and
            warm (one fixture edited: a comment line prepended, so exactly
            its libraries must rebuild), wall and CPU seconds per phase
            (from the audit's own progress lines); goals <= 180 s cold,
            <= 30 s warm.

bench.json (schema "frame-alloc-audit/bench@1"):

  {"schema", "created" (UTC ISO 8601), "host": {"cpus", "loadavg_start",
   "loadavg_end"}, "commands": {section: command line},
   "overhead": {"reps", "scale", "workloads": {name: {"unit", "bare_ns",
       "preload_ns", "ratio", "bare_runs": [..], "preload_runs": [..],
       "bare_ir", "preload_ir", "ir_ratio" (single-thread workloads, Callgrind)}},
       "goal_ratio", "met"},
   "window": {"api_ns", "fast_ns", "loop_ns", "fast_net_ns", "api_over_fast",
       "goal_ns", "met"},
   "dispatch": {"opt": [..], "fixtures": [{"fixture", "opt",
       "alloc": {"median_ns", "runs_ns", "ir_per_dispatch", "steps": [{"step",
                 "label", "ir", "shim_ir", "allocs", "transition",
                 "transition_code_ir"}]},
       "noalloc": {same},
       "ns_ratio", "ir_ratio", "ir_ratio_transitions" (null: none),
       "ir_ratio_other", "ir_ratio_transitions_net", "transition_rule",
       "transition_step_ratios": {step: x}}],
       "summary": {"geomean_ns_ratio", "geomean_ir_ratio",
                   "geomean_ir_ratio_transitions", "min_ir_ratio_transitions",
                   "geomean_ir_ratio_transitions_net" (shim's fx_dispatch/opaque
                   self Ir taken out of both shapes), "transition_steps",
                   "fixtures_below_goal", "goal_ratio", "met"},
       "limit": {"fixture", "opt", "step", "label", "ir", "alloc_ir", "ratio",
                 "allocs", "annotate" / "alloc_annotate": [[Ir, function]],
                 "lines": [[Ir, "file:line", source text]]}
                (the transition step with the lowest ratio)},
   "audit": {"fixtures", "jobs", "cold": RUN, "warm": RUN,
       "goal_cold_s", "goal_warm_s", "met_cold", "met_warm"}}
  RUN = {"wall_s", "cpu_s", "status", "phases": {name: seconds},
         "build": {"compiler_s", "rustc_s", "built", "cached"}}

A section that was not run is absent.  Ratios are plain numbers (x).
"""

import argparse
import datetime
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import build, run, tools
from .errors import AuditError, ToolMissing, UsageError

SCHEMA = "frame-alloc-audit/bench@1"
ROOT = tools.ROOT
SECTIONS = ("overhead", "window", "dispatch", "audit")

GOAL_OVERHEAD = 1.10
GOAL_WINDOW_NS = 2.0
GOAL_IR_RATIO = 10.0
GOAL_COLD_S = 180.0
GOAL_WARM_S = 30.0
TRANSITION_ALLOCS = 3        # allocating-shape calls per dispatch that mean "transition"

WORKLOAD_LOOPS = {"fixed32": 2000000, "random": 1000000, "realloc_growth": 200000}  # alloc_bench.c
WORKLOAD_UNITS = {
    "fixed32": "ns per malloc(32)+free pair",
    "random": "ns per malloc(16..4096)+free pair",
    "realloc_growth": "ns per malloc+8 realloc+free sequence",
}


# ---- statistics and parsing (pure; scripts/tests/test_bench.py) ----------

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def ratio(a, b):
    return a / b if a is not None and b else None


def parse_alloc_bench(text):
    """faa-alloc-bench output ('NAME ns' lines) -> {name: float}."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return out


def parse_timing(text):
    """The `faa-run: timing k=v ...` line -> {k: float}; {} when absent."""
    m = re.search(r"^faa-run: timing (.*)$", text, re.M)
    if not m:
        return {}
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.eE+-]+)", m.group(1))}


def _fn_name(ref, names):
    """A `fn=`/`cfn=` value, compressed `(id) name` / `(id)` or plain."""
    m = re.match(r"\((\d+)\)\s*(.*)$", ref)
    if not m:
        return ref.strip()
    if m.group(2):
        names[m.group(1)] = m.group(2).strip()
    return names.get(m.group(1), "")


def parse_callgrind(text):
    """One Callgrind dump (--compress-strings=no preferred) ->
    {"ir": total, "label": the dump's trigger, "self": {function: self Ir},
     "lines": {(file, line): self Ir}}.
    (Call counts are not used: Callgrind counts calls even while collection
    is off, so they are not per dump.)

    Self cost is every cost line under `fn=` except the line right after a
    `calls=` line (that one is the call's inclusive cost).  Positions are
    `positions: line` with Callgrind's relative compression (+N, -N, *)."""
    out = {"ir": 0, "label": "", "self": {}, "lines": {}}
    names, files = {}, {}
    fn, fl, cur, after_call, last = "", "", "", False, 0
    for line in text.splitlines():
        if not line:
            continue
        c = line[0]
        if c.isdigit() or c in "+-*":
            parts = line.split()
            pos = parts[0]
            try:
                if pos == "*":
                    n = last
                elif pos[0] in "+-":
                    n = last + int(pos)
                else:
                    n = int(pos)
            except ValueError:
                n = last
            last = n
            if after_call:
                after_call = False
                continue
            if len(parts) >= 2 and fn:
                try:
                    ir = int(parts[1])
                except ValueError:
                    continue
                out["self"][fn] = out["self"].get(fn, 0) + ir
                key = (cur, n)
                out["lines"][key] = out["lines"].get(key, 0) + ir
            continue
        after_call = False
        if line.startswith(("summary:", "totals:")):
            out["ir"] = int(line.split()[1])
        elif line.startswith("desc: Trigger:"):
            out["label"] = line.split(":", 2)[2].strip()
        elif line.startswith("fn="):
            fn = _fn_name(line[3:], names)
            cur = fl
        elif line.startswith("fl="):
            fl = cur = _fn_name(line[3:], files)
        elif line.startswith(("fi=", "fe=")):
            cur = _fn_name(line[3:], files)
        elif line.startswith(("cfn=", "cfi=", "cfl=")):
            _fn_name(line[4:], names if line[1:3] == "fn" else files)
        elif line.startswith("calls="):
            after_call = True
    return out


def parse_counts(text):
    """`faa-run: count step=J allocs=A frees=F` lines -> {J: A}."""
    return {int(m[1]): int(m[2]) for m in
            re.finditer(r"^faa-run: count step=(\d+) allocs=(\d+) frees=\d+", text, re.M)}


def step_of(label):
    """'Client Request: faa-step 3' -> 3; None for other dumps."""
    m = re.search(r"faa-step (\d+)", label)
    return int(m.group(1)) if m else None


def phases(events, end):
    """Audit phases from timestamped progress lines.

    events: [(seconds since start, line)]; end: seconds at exit.  A phase
    starts at the first line that announces it; build starts at 0 and the
    last phase ends at `end`.  Returns {phase: seconds} in run order."""
    marks = [("build", None), ("harness", r"^audit: measuring "),
             ("valgrind", r"^audit: Valgrind: "), ("coverage", r"^audit: handler coverage: "),
             ("rejects+report", r"^audit: \d+/\d+ reject fixtures")]
    starts = [("build", 0.0)]
    for name, pat in marks[1:]:
        for t, line in events:
            if re.search(pat, line):
                starts.append((name, t))
                break
    starts.sort(key=lambda x: x[1])
    out = {}
    for i, (name, t) in enumerate(starts):
        nxt = starts[i + 1][1] if i + 1 < len(starts) else end
        out[name] = round(nxt - t, 2)
    if "rejects+report" not in out:
        # no reject line (--no-rejects): the tail after the last phase is the report
        pass
    return out


def build_line(events):
    """The build phase summary line of build.build_all -> dict (or {})."""
    for _, line in events:
        m = re.search(r"audit: build phase ([0-9.]+) s wall .*compiler ([0-9.]+) s, rustc "
                      r"([0-9.]+) s .*libraries: (\d+) built, (\d+) cached", line)
        if m:
            return {"wall_s": float(m[1]), "compiler_s": float(m[2]), "rustc_s": float(m[3]),
                    "built": int(m[4]), "cached": int(m[5])}
    return {}


def transitions(alloc_steps, noalloc_steps):
    """The cycle steps that make a transition.

    When the no_alloc dumps say whether frc's state-change line ran
    (transition_code_ir, None for other compilers' output) that decides;
    otherwise an allocating dispatch with >= TRANSITION_ALLOCS allocator
    calls counts as a transition (DESIGN.md: 1 for a handled event, 3 or
    more for any transition — but +1 per self-call, so this fallback can
    mistake a step with self-calls for a transition)."""
    marked = {s["step"]: s.get("transition_code_ir") for s in noalloc_steps}
    if marked and all(v is not None for v in marked.values()):
        return {j for j, v in marked.items() if v > 0}
    return {s["step"] for s in alloc_steps
            if s.get("allocs") is not None and s["allocs"] >= TRANSITION_ALLOCS}


def fmt(x, spec=".2f", none="—"):
    return none if x is None else format(x, spec)


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "MISSED")


# ---- running things -------------------------------------------------------

def say(msg=""):
    print(msg, flush=True)


def note(msg):
    print(msg, file=sys.stderr, flush=True)


def _run(cmd, env=None, timeout=600):
    r = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True,
                       errors="replace", timeout=timeout)
    if r.returncode != 0:
        raise AuditError(f"bench: `{' '.join(map(str, cmd))}` exited {r.returncode}:\n"
                         f"{r.stderr[-2000:]}", status=1)
    return r.stdout


def bench_overhead(tree, reps, scale):
    """Sections 1 and 2: interleaved bare / preloaded runs of faa-alloc-bench."""
    exe = tree.dir / "bench" / "faa-alloc-bench"
    if not exe.exists():
        raise UsageError(f"{exe} not found; run `make build`")
    lib = tree.interposer
    bare_env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    pre_env = dict(bare_env, LD_PRELOAD=str(lib))
    cmd = [exe, "--scale", str(scale)]
    bare, pre = [], []
    for i in range(reps):
        # alternate which condition goes first, so drift hits both alike
        order = [(bare, bare_env), (pre, pre_env)]
        for runs, env in (order if i % 2 == 0 else order[::-1]):
            runs.append(parse_alloc_bench(_run(cmd, env=env)))
        note(f"bench: overhead repetition {i + 1}/{reps}")
    workloads = {}
    for base in WORKLOAD_UNITS:
        for suffix, threads in (("", 1), ("_2t", 2)):
            name = base + suffix
            b = [r.get(name) for r in bare]
            p = [r.get(name) for r in pre]
            workloads[name] = {"unit": WORKLOAD_UNITS[base] + (" (each of 2 threads)" if threads == 2 else ""),
                               "threads": threads, "bare_ns": median(b), "preload_ns": median(p),
                               "ratio": ratio(median(p), median(b)),
                               "bare_runs": b, "preload_runs": p}
    vg = tools.valgrind()
    if vg:
        for base in WORKLOAD_UNITS:
            b, p = _instructions(vg, exe, base, bare_env), _instructions(vg, exe, base, pre_env)
            workloads[base].update({"bare_ir": b, "preload_ir": p, "ir_ratio": ratio(p, b)})
    worst = max((w["ratio"] for w in workloads.values() if w["ratio"]), default=None)
    overhead = {"reps": reps, "scale": scale, "workloads": workloads,
                "worst_ratio": worst, "goal_ratio": GOAL_OVERHEAD,
                "met": None if worst is None else worst <= GOAL_OVERHEAD}
    api = median([r.get("window_api") for r in pre])
    fast = median([r.get("window_fast") for r in pre])
    loop = median([r.get("loop") for r in pre])
    window = {"api_ns": api, "fast_ns": fast, "loop_ns": loop,
              "fast_net_ns": None if fast is None or loop is None else max(0.0, fast - loop),
              "api_over_fast": ratio(api, fast), "goal_ns": GOAL_WINDOW_NS,
              "met": None if fast is None else fast <= GOAL_WINDOW_NS}
    cmdline = f"{exe} --scale {scale}  (x{reps}, alternately with LD_PRELOAD={lib})"
    return overhead, window, cmdline


def _instructions(vg, exe, name, env, scales=(0.005, 0.01)):
    """Instructions per unit of one workload under Callgrind (deterministic):
    the difference between two loop lengths cancels start-up and set-up."""
    irs = []
    with tempfile.TemporaryDirectory() as tmp:
        for sc in scales:
            out = Path(tmp) / f"cg.{sc}"
            subprocess.run([vg, "--tool=callgrind", f"--callgrind-out-file={out}", str(exe),
                            "--only", name, "--inner", "1", "--scale", str(sc)],
                           env=env, capture_output=True, text=True, timeout=300)
            irs.append(parse_callgrind(out.read_text(errors="replace"))["ir"] if out.exists() else None)
    if None in irs:
        return None
    # each timed loop runs n units after a warm-up of n/20 (alloc_bench.c)
    units = WORKLOAD_LOOPS[name] * (scales[1] - scales[0]) * 1.05
    return (irs[1] - irs[0]) / units


def print_overhead(o, w):
    say(f"== 1. interposer overhead, no window open (medians of {o['reps']} interleaved runs "
        f"each; goal <= {o['goal_ratio']:.2f}x)")
    say(f"{'workload':<20} {'threads':>7} {'bare ns':>9} {'preload ns':>11} {'ratio':>7}  unit")
    for name, x in o["workloads"].items():
        say(f"{name:<20} {x['threads']:>7} {fmt(x['bare_ns']):>9} {fmt(x['preload_ns']):>11} "
            f"{fmt(x['ratio'], '.3f'):>6}x  {x['unit']}")
    say(f"worst ratio {fmt(o['worst_ratio'], '.3f')}x: goal {verdict(o['met'])}")
    irs = [(n, x) for n, x in o["workloads"].items() if x.get("ir_ratio")]
    if irs:
        say("instructions per unit (Callgrind, deterministic): " + "; ".join(
            f"{n} {x['bare_ir']:.1f} -> {x['preload_ir']:.1f} Ir = {x['ir_ratio']:.3f}x" for n, x in irs))
    say()
    say(f"== 2. one window (open + close around nothing; goal <= {w['goal_ns']:.0f} ns)")
    say(f"full window, dlsym'd audit_window_open/close (harness path): {fmt(w['api_ns'])} ns")
    say(f"fast window, inline audit_fast_open/close (audit.h):          {fmt(w['fast_ns'])} ns "
        f"(incl. {fmt(w['loop_ns'])} ns loop; net {fmt(w['fast_net_ns'])} ns)")
    say(f"full / fast: {fmt(w['api_over_fast'], '.1f')}x; fast window goal {verdict(w['met'])}")
    say()


def _fixture_libs(tree, fixtures, work, opts, jobs):
    """Builds (or finds in the content-hash cache) every fixture library."""
    rustc = tools.rustc()
    frc = build.identify(tree.frc, bundled=True)
    btree = tools.BuildTree(tree.dir, work)
    outcomes = build.build_all(fixtures, frc, btree, rustc, jobs=jobs, opts=opts)
    libs = {}
    for (name, mode), o in outcomes.items():
        for e in o.errors:
            note(f"bench: {name} {mode}: {e.splitlines()[0]}")
        for opt, lib in o.libs.items():
            libs[(name, mode, opt)] = lib
    return libs


def _callgrind_steps(vg, runner, lib, outdir, repeat):
    """Per-step Ir and allocator calls of one library (one Callgrind run)."""
    outdir.mkdir(parents=True, exist_ok=True)
    base = outdir / (Path(lib).stem + ".steps.callgrind")
    for old in outdir.glob(base.name + "*"):
        old.unlink()
    _run([vg, "--tool=callgrind", "--collect-atstart=no", "--compress-strings=no",
          f"--callgrind-out-file={base}", runner, "--callgrind-steps", "--repeat", str(repeat),
          lib], timeout=900)
    steps = {}
    for f in sorted(outdir.glob(base.name + ".*")):
        d = parse_callgrind(f.read_text(errors="replace"))
        j = step_of(d["label"])
        if j is not None:
            # the toggle itself (faa-run's collect_on) is not the dispatch's
            toggle = d["self"].pop("collect_on", 0)
            top = sorted(d["self"].items(), key=lambda kv: -kv[1])[:10]
            lines = sorted(((k, v) for k, v in d["lines"].items() if "runner.c" not in k[0]),
                           key=lambda kv: -kv[1])[:14]
            marked = [v for (f, ln), v in d["lines"].items() if ln in _marks(f)]
            # the shim's own instructions inside the window (fixture ABI glue)
            shim = sum(v for f, v in d["self"].items()
                       if f == "fx_dispatch" or f.endswith("::opaque"))
            steps[j] = {"step": j, "ir": (d["ir"] - toggle) / repeat,
                        "shim_ir": shim / repeat,
                        "transition_code_ir": (sum(marked) / repeat) if _has_marks(d) else None,
                        "top": [[round(n / repeat, 1), name] for name, n in top],
                        "top_lines": [[round(n / repeat, 1), f, ln] for (f, ln), n in lines]}
    return [steps[j] for j in sorted(steps)]


# frc's dispatch loop changes state only on this line (in __drain); whether
# it ran in a step's dump says whether the step made a transition.
TRANSITION_MARK = "self.__compartment = __next"
_MARKS = {}


def _marks(path):
    """Line numbers of TRANSITION_MARK in a generated module (cached)."""
    if path not in _MARKS:
        found = set()
        if path.endswith(".rs") and "/gen/" in path:
            try:
                with open(path, errors="replace") as f:
                    found = {i for i, t in enumerate(f, 1) if TRANSITION_MARK in t}
            except OSError:
                pass
        _MARKS[path] = found
    return _MARKS[path]


def _has_marks(dump):
    return any(_marks(f) for f, _ in dump["lines"])


def _source_line(path, n):
    """Line n of a source file, stripped ('' when unreadable)."""
    try:
        with open(path, errors="replace") as f:
            for i, text in enumerate(f, 1):
                if i == n:
                    return text.strip()
    except OSError:
        pass
    return ""


def bench_dispatch(tree, fixtures, work, opts, jobs, batches, cg_repeat, time_reps):
    runner = tree.dir / "harness" / "faa-run"
    if not runner.exists():
        raise UsageError(f"{runner} not found (it needs valgrind/valgrind.h); run `make build`")
    vg = tools.valgrind(required=True)
    note(f"bench: building fixture libraries in {work} (content-hash cache)")
    # O0 no_alloc libraries too: they tell transitions apart (below)
    libs = _fixture_libs(tree, fixtures, work, tuple(sorted(set(opts) | {0})), jobs)
    rows = []
    # native timing first, serially, shapes interleaved (no Callgrind running meanwhile)
    for fx in fixtures:
        for opt in opts:
            pair = {m: libs.get((fx.name, m, opt)) for m in ("alloc", "noalloc")}
            if not all(pair.values()):
                note(f"bench: {fx.name} O{opt}: a library did not build; skipped")
                continue
            runs = {"alloc": [], "noalloc": []}
            for i in range(time_reps):
                for m in (("alloc", "noalloc") if i % 2 == 0 else ("noalloc", "alloc")):
                    t = parse_timing(_run([runner, "--time", "--batches", str(batches), pair[m]]))
                    runs[m].append(t.get("median_ns"))
            rows.append({"fixture": fx.name, "opt": opt, "libs": pair,
                         "alloc": {"median_ns": median(runs["alloc"]), "runs_ns": runs["alloc"]},
                         "noalloc": {"median_ns": median(runs["noalloc"]),
                                     "runs_ns": runs["noalloc"]}})
        note(f"bench: timed {fx.name}")
    scen = {fx.name: fx.scenario for fx in fixtures}

    def one(job):
        row, mode = job
        return job, _callgrind_steps(vg, runner, row["libs"][mode],
                                     work / "bench-callgrind", cg_repeat)

    def marks(name):
        # At O0 nothing is inlined, so frc's state-change line keeps its own
        # instructions: one cycle under Callgrind says which steps change state.
        lib = libs.get((name, "noalloc", 0))
        if not lib:
            return name, []
        return name, _callgrind_steps(vg, runner, lib, work / "bench-callgrind", 1)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        o0 = dict(pool.map(marks, sorted({r["fixture"] for r in rows})))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for (row, mode), steps in pool.map(one, [(r, m) for r in rows for m in ("alloc", "noalloc")]):
            # allocator calls per step, counted by the interposer's fast windows
            counts = parse_counts(_run([runner, "--count", row["libs"][mode]],
                                       env=dict(os.environ, LD_PRELOAD=str(tree.interposer))))
            for s in steps:
                st = scen[row["fixture"]].steps
                s["label"] = st[s["step"]].call if s["step"] < len(st) else "?"
                s["allocs"] = counts.get(s["step"])
            row[mode]["steps"] = steps
            row[mode]["ir_per_dispatch"] = (sum(s["ir"] for s in steps) / len(steps)) if steps else None
    for row in rows:
        a, n = row["alloc"], row["noalloc"]
        o0_steps = o0.get(row["fixture"]) or []
        for s in n["steps"]:
            s["transition_code_ir"] = next((x["transition_code_ir"] for x in o0_steps
                                            if x["step"] == s["step"]), None)
        trans = transitions(a["steps"], n["steps"])
        row["transition_rule"] = ("frc's state-change line ran (no_alloc O0)"
                                  if o0_steps and all(x["transition_code_ir"] is not None
                                                      for x in o0_steps)
                                  else f"allocating calls >= {TRANSITION_ALLOCS}")
        for s in a["steps"] + n["steps"]:
            s["transition"] = s["step"] in trans
        ir_a = {s["step"]: s["ir"] for s in a["steps"]}
        ir_n = {s["step"]: s["ir"] for s in n["steps"]}
        tr_a = sum(ir_a[j] for j in trans if j in ir_n)
        tr_n = sum(ir_n[j] for j in trans if j in ir_n)
        other = [j for j in ir_a if j not in trans and j in ir_n]
        row["ns_ratio"] = ratio(a["median_ns"], n["median_ns"])
        row["ir_ratio"] = ratio(a["ir_per_dispatch"], n["ir_per_dispatch"])
        row["ir_ratio_transitions"] = ratio(tr_a, tr_n) if trans else None
        row["ir_ratio_other"] = ratio(sum(ir_a[j] for j in other),
                                      sum(ir_n[j] for j in other)) if other else None
        row["transition_step_ratios"] = {j: ratio(ir_a[j], ir_n[j]) for j in sorted(trans)
                                         if j in ir_n}
        net_a = {s["step"]: s["ir"] - s["shim_ir"] for s in a["steps"]}
        net_n = {s["step"]: s["ir"] - s["shim_ir"] for s in n["steps"]}
        row["ir_ratio_transitions_net"] = ratio(sum(net_a[j] for j in trans if j in net_n),
                                                sum(net_n[j] for j in trans if j in net_n)) \
            if trans else None
        row["libs"] = {m: str(p) for m, p in row["libs"].items()}
    step_ratios = [r for row in rows for r in row["transition_step_ratios"].values() if r]
    g_tr = geomean([r["ir_ratio_transitions"] for r in rows])
    summary = {"geomean_ns_ratio": geomean([r["ns_ratio"] for r in rows]),
               "geomean_ir_ratio": geomean([r["ir_ratio"] for r in rows]),
               "geomean_ir_ratio_transitions": g_tr,
               "geomean_ir_ratio_transitions_net": geomean([r["ir_ratio_transitions_net"]
                                                            for r in rows]),
               "min_ir_ratio_transitions": min(step_ratios) if step_ratios else None,
               "transition_steps": len(step_ratios), "goal_ratio": GOAL_IR_RATIO,
               "met": None if g_tr is None else g_tr >= GOAL_IR_RATIO}
    out = {"opt": list(opts), "batches": batches, "time_reps": time_reps,
           "callgrind_repeat": cg_repeat, "fixtures": rows, "summary": summary}
    # What limits the ratio: the transition step with the lowest ratio, and
    # where its no_alloc instructions go.
    worst = None
    for row in rows:
        for j, r in row["transition_step_ratios"].items():
            if r and (worst is None or r < worst[2]):
                worst = (row, j, r)
    if worst:
        row, j, r = worst
        sa = next(x for x in row["alloc"]["steps"] if x["step"] == j)
        sn = next(x for x in row["noalloc"]["steps"] if x["step"] == j)
        out["limit"] = {"fixture": row["fixture"], "opt": row["opt"], "step": j,
                        "label": sn["label"], "ir": sn["ir"], "alloc_ir": sa["ir"],
                        "ratio": r, "allocs": sa["allocs"],
                        "annotate": sn["top"], "alloc_annotate": sa["top"],
                        "lines": [[n, f"{f}:{ln}", _source_line(f, ln)]
                                  for n, f, ln in sn["top_lines"]]}
    summary["fixtures_below_goal"] = sorted(
        r["fixture"] for r in rows
        if r["ir_ratio_transitions"] is not None and r["ir_ratio_transitions"] < GOAL_IR_RATIO)
    for row in rows:
        for m in ("alloc", "noalloc"):
            for s in row[m]["steps"]:
                s.pop("top", None)
                s.pop("top_lines", None)
    cmd = (f"{runner} --time --batches {batches} LIB (x{time_reps}, shapes interleaved); "
           f"valgrind --tool=callgrind --collect-atstart=no {runner} --callgrind-steps "
           f"--repeat {cg_repeat} LIB")
    return out, cmd


def print_dispatch(d):
    s = d["summary"]
    say(f"== 3. dispatch cost per fixture, O{',O'.join(map(str, d['opt']))} (ns: median of "
        f"{d['time_reps']} batch-timed runs; Ir: Callgrind, per dispatch over the steady cycle)")
    say(f"{'fixture':<16} {'O':>1} {'ns alloc':>9} {'ns noalloc':>10} {'ratio':>7} "
        f"{'Ir alloc':>9} {'Ir noalloc':>10} {'ratio':>7} {'on transitions':>15} {'other':>7}")
    for r in d["fixtures"]:
        say(f"{r['fixture']:<16} {r['opt']:>1} {fmt(r['alloc']['median_ns'], '.1f'):>9} "
            f"{fmt(r['noalloc']['median_ns'], '.1f'):>10} {fmt(r['ns_ratio'], '.1f'):>6}x "
            f"{fmt(r['alloc']['ir_per_dispatch'], '.0f'):>9} {fmt(r['noalloc']['ir_per_dispatch'], '.0f'):>10} "
            f"{fmt(r['ir_ratio'], '.1f'):>6}x {fmt(r['ir_ratio_transitions'], '.1f'):>14}x "
            f"{fmt(r['ir_ratio_other'], '.1f'):>6}x")
    say(f"geometric mean: time {fmt(s['geomean_ns_ratio'], '.1f')}x, instructions "
        f"{fmt(s['geomean_ir_ratio'], '.1f')}x, instructions on transitions "
        f"{fmt(s['geomean_ir_ratio_transitions'], '.1f')}x (worst single transition step "
        f"{fmt(s['min_ir_ratio_transitions'], '.1f')}x of {s['transition_steps']}); "
        f"goal >= {s['goal_ratio']:.0f}x on transitions (geometric mean): {verdict(s['met'])}")
    say(f"without the shim's own instructions in the window (fx_dispatch + opaque, the same "
        f"in both shapes): on transitions {fmt(s['geomean_ir_ratio_transitions_net'], '.1f')}x")
    if s["fixtures_below_goal"]:
        say(f"fixtures below {s['goal_ratio']:.0f}x on transitions: {', '.join(s['fixtures_below_goal'])}")
    lim = d.get("limit")
    if lim:
        say(f"lowest transition ratio: {lim['fixture']} O{lim['opt']} step {lim['step'] + 1} "
            f"{lim['label']}: {fmt(lim['alloc_ir'], '.0f')} / {fmt(lim['ir'], '.0f')} Ir = "
            f"{fmt(lim['ratio'], '.1f')}x ({fmt(lim['allocs'], '.0f')} allocator calls in the "
            f"allocating shape); self Ir per dispatch by function:")
        for shape, key in (("no_alloc", "annotate"), ("allocating", "alloc_annotate")):
            for n, f in lim[key][:6]:
                say(f"  {shape:<10} {n:>8.1f}  {f[:100]}")
        say("  no_alloc self Ir per dispatch by source line (what the transition's instructions do):")
        for n, where, text in lim["lines"][:12]:
            short = where.split("/library/", 1)[-1] if "/library/" in where else Path(where).name
            say(f"  {n:>8.1f}  {short:<26} {text[:86]}")
    say()


def _timed_audit(cmd, log):
    """Runs the audit, timestamping each stderr line; returns a RUN dict."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    events = []
    with open(log, "w") as lf:
        p = subprocess.Popen([str(c) for c in cmd], stdout=lf, stderr=subprocess.PIPE,
                             text=True, errors="replace")
        for line in p.stderr:
            events.append((time.monotonic() - t0, line.rstrip("\n")))
            lf.write(f"[{events[-1][0]:7.1f}] {line}")
        status = p.wait()
    end = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(end, 2), "cpu_s": round(cpu, 2), "status": status,
            "phases": phases(events, end), "build": build_line(events), "log": str(log)}


def bench_audit(tree, fixtures_dir, scratch, jobs, touch):
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
    cold = _timed_audit(audit, scratch / "cold.log")
    frs = fx_copy / f"{touch}.frs"
    frs.write_text(f"// touched by make bench at {time.time():.0f}\n" + frs.read_text())
    note(f"bench: warm audit after editing {touch}.frs")
    warm = _timed_audit(audit, scratch / "warm.log")
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


def write_json(data, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        json.dump(data, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(f.name, path)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="bench", description="Benchmarks: interposer overhead, window cost, dispatch "
        "cost in both shapes, the audit's own wall time (see scripts/faa/bench.py).")
    ap.add_argument("--build-dir", default=str(ROOT / "build"), help="default: %(default)s")
    ap.add_argument("--fixtures-dir", default=str(ROOT / "fixtures"), help="default: %(default)s")
    ap.add_argument("--only", action="append", choices=SECTIONS,
                    help="run only this section (repeatable; default: all)")
    ap.add_argument("--fixtures", nargs="+", metavar="NAME", help="dispatch: these fixtures (default: all)")
    ap.add_argument("--opt", default="3", help="dispatch: opt-levels, e.g. 0,3 (default: 3)")
    ap.add_argument("--reps", type=int, default=5,
                    help="overhead: interleaved runs per condition (default: %(default)s)")
    ap.add_argument("--scale", type=float, default=0.5,
                    help="overhead: loop length factor (default: %(default)s)")
    ap.add_argument("--batches", type=int, default=15,
                    help="dispatch: timed batches per run (default: %(default)s)")
    ap.add_argument("--time-reps", type=int, default=3,
                    help="dispatch: timing runs per library (default: %(default)s)")
    ap.add_argument("--callgrind-repeat", type=int, default=20,
                    help="dispatch: steady cycles per step under Callgrind (default: %(default)s)")
    ap.add_argument("--jobs", type=int, default=None, help="parallel builds / Callgrind runs")
    ap.add_argument("--work-dir", help="dispatch: fixture libraries (default: BUILD/bench/work)")
    ap.add_argument("--scratch", help="audit: scratch for the cold/warm runs (default: BUILD/bench/audit)")
    ap.add_argument("--touch", default="port_reset",
                    help="audit: the fixture edited before the warm run (default: %(default)s)")
    ap.add_argument("--out", help="default: BUILD/reports/bench.json")
    args = ap.parse_args(argv)
    try:
        return _main(args)
    except ToolMissing as e:
        note(f"bench: error: {e}")
        return 3
    except UsageError as e:
        note(f"bench: error: {e}")
        return 2
    except AuditError as e:
        note(str(e))
        return 1


def _main(args):
    tree = tools.BuildTree(args.build_dir)
    only = args.only or list(SECTIONS)
    try:
        opts = tuple(int(x) for x in args.opt.split(","))
    except ValueError:
        raise UsageError(f"--opt {args.opt}: expected e.g. 3 or 0,3")
    jobs = args.jobs or max(1, os.cpu_count() or 1)
    out_path = Path(args.out) if args.out else tree.reports / "bench.json"
    data = {"schema": SCHEMA,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": {"cpus": os.cpu_count(), "loadavg_start": list(os.getloadavg())},
            "commands": {}}
    say(f"bench: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start "
        f"(benchmarks on a shared machine: compare the ratios, which are measured in the same run)")
    say()
    if "overhead" in only or "window" in only:
        o, w, cmd = bench_overhead(tree, args.reps, args.scale)
        data["overhead"], data["window"] = o, w
        data["commands"]["overhead"] = data["commands"]["window"] = cmd
        print_overhead(o, w)
    if "dispatch" in only:
        fixtures = run.discover(Path(args.fixtures_dir), args.fixtures)
        work = Path(args.work_dir) if args.work_dir else tree.dir / "bench" / "work"
        d, cmd = bench_dispatch(tree, fixtures, work.resolve(), opts, jobs, args.batches,
                                args.callgrind_repeat, args.time_reps)
        data["dispatch"], data["commands"]["dispatch"] = d, cmd
        print_dispatch(d)
    if "audit" in only:
        scratch = Path(args.scratch) if args.scratch else tree.dir / "bench" / "audit"
        scratch.mkdir(parents=True, exist_ok=True)
        a, cmd = bench_audit(tree, Path(args.fixtures_dir), scratch.resolve(), args.jobs, args.touch)
        data["audit"], data["commands"]["audit"] = a, cmd
        print_audit(a)
    data["host"]["loadavg_end"] = list(os.getloadavg())
    write_json(data, out_path)
    say(f"bench: figures written to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
