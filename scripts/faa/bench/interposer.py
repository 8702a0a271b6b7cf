"""Section 1, interposer overhead: bench/faa-alloc-bench run alternately
without and with LD_PRELOAD=libaudit.so.  The same preloaded runs give
section 2 (window.py)."""

import os
import tempfile
from pathlib import Path

from .. import procs, tools
from ..errors import UsageError
from .callgrind import parse_callgrind
from .common import fmt, median, note, ratio, run_cmd, say, verdict

GOAL_OVERHEAD = 1.10
WORKLOAD_LOOPS = {"fixed32": 2000000, "random": 1000000, "realloc_growth": 200000}  # alloc_bench.c
WORKLOAD_UNITS = {
    "fixed32": "ns per malloc(32)+free pair",
    "random": "ns per malloc(16..4096)+free pair",
    "realloc_growth": "ns per malloc+8 realloc+free sequence",
}


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


def interleaved_runs(tree, reps, scale):
    """reps bare and reps preloaded runs, alternating which goes first so
    drift hits both alike -> (bare, preloaded, exe, bare_env, preload_env, cmdline)."""
    exe = tree.dir / "bench" / "faa-alloc-bench"
    if not exe.exists():
        raise UsageError(f"{exe} not found; run `make build`")
    bare_env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    pre_env = dict(bare_env, LD_PRELOAD=str(tree.interposer))
    cmd = [exe, "--scale", str(scale)]
    bare, pre = [], []
    for i in range(reps):
        order = [(bare, bare_env), (pre, pre_env)]
        for runs, env in (order if i % 2 == 0 else order[::-1]):
            runs.append(parse_alloc_bench(run_cmd(cmd, env=env)))
        note(f"bench: overhead repetition {i + 1}/{reps}")
    cmdline = f"{exe} --scale {scale}  (x{reps}, alternately with LD_PRELOAD={tree.interposer})"
    return bare, pre, exe, bare_env, pre_env, cmdline


def _workloads(bare, pre):
    out = {}
    for base in WORKLOAD_UNITS:
        for suffix, threads in (("", 1), ("_2t", 2)):
            name = base + suffix
            b = [r.get(name) for r in bare]
            p = [r.get(name) for r in pre]
            out[name] = {"unit": WORKLOAD_UNITS[base] + (" (each of 2 threads)" if threads == 2 else ""),
                         "threads": threads, "bare_ns": median(b), "preload_ns": median(p),
                         "ratio": ratio(median(p), median(b)),
                         "bare_runs": b, "preload_runs": p}
    return out


def overhead(reps, scale, bare, pre, exe, bare_env, pre_env):
    """Section 1's figures from the interleaved runs, plus Callgrind's
    instructions per unit of the single-thread workloads."""
    workloads = _workloads(bare, pre)
    vg = tools.valgrind()
    if vg:
        for base in WORKLOAD_UNITS:
            b, p = _instructions(vg, exe, base, bare_env), _instructions(vg, exe, base, pre_env)
            workloads[base].update({"bare_ir": b, "preload_ir": p, "ir_ratio": ratio(p, b)})
    worst = max((w["ratio"] for w in workloads.values() if w["ratio"]), default=None)
    return {"reps": reps, "scale": scale, "workloads": workloads,
            "worst_ratio": worst, "goal_ratio": GOAL_OVERHEAD,
            "met": None if worst is None else worst <= GOAL_OVERHEAD}


def _instructions(vg, exe, name, env, scales=(0.005, 0.01)):
    """Instructions per unit of one workload under Callgrind (deterministic):
    the difference between two loop lengths cancels start-up and set-up."""
    irs = []
    with tempfile.TemporaryDirectory() as tmp:
        for sc in scales:
            out = Path(tmp) / f"cg.{sc}"
            procs.run([vg, "--tool=callgrind", f"--callgrind-out-file={out}", exe,
                       "--only", name, "--inner", "1", "--scale", sc], env=env, timeout=300)
            irs.append(parse_callgrind(out.read_text(errors="replace"))["ir"] if out.exists() else None)
    if None in irs:
        return None
    # each timed loop runs n units after a warm-up of n/20 (alloc_bench.c)
    units = WORKLOAD_LOOPS[name] * (scales[1] - scales[0]) * 1.05
    return (irs[1] - irs[0]) / units


def print_overhead(o):
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
