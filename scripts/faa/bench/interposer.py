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
WORKLOAD_LOOPS = {"fixed32": 2000000, "random": 1000000, "realloc_growth": 200000,  # alloc_bench.c
                  "hook_mutex": 4000000, "hook_futex": 1000000, "hook_read": 1000000}
WORKLOAD_UNITS = {
    "fixed32": "ns per malloc(32)+free pair",
    "random": "ns per malloc(16..4096)+free pair",
    "realloc_growth": "ns per malloc+8 realloc+free sequence",
}
# The blocking kinds' hooks (issue 15), passed through when no window is
# open: shown beside the allocator workloads but kept out of worst_ratio
# and the goal (a lock pair is ~30 ns; the futex and read rows are system
# calls, their nanoseconds mostly the kernel's).
BLOCKING_UNITS = {
    "hook_mutex": "ns per uncontended pthread_mutex_lock+unlock pair",
    "hook_futex": "ns per syscall(SYS_futex, FUTEX_WAKE_PRIVATE) with no waiter",
    "hook_read": "ns per read(-1, buf, 1) (fails at once)",
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


def _blocking(bare, pre):
    out = {}
    for name, unit in BLOCKING_UNITS.items():
        b, p = [r.get(name) for r in bare], [r.get(name) for r in pre]
        if any(x is not None for x in b + p):
            out[name] = {"unit": unit, "threads": 1, "bare_ns": median(b), "preload_ns": median(p),
                         "ratio": ratio(median(p), median(b)), "bare_runs": b, "preload_runs": p}
    return out


def overhead(reps, scale, bare, pre, exe, bare_env, pre_env):
    """Section 1's figures from the interleaved runs, plus Callgrind's
    instructions per unit of the single-thread workloads and the blocking
    hooks (the latter outside the goal)."""
    workloads, blocking = _workloads(bare, pre), _blocking(bare, pre)
    vg = tools.valgrind()
    if vg:
        for name, row in [(b, workloads[b]) for b in WORKLOAD_UNITS] + list(blocking.items()):
            b, p = _instructions(vg, exe, name, bare_env), _instructions(vg, exe, name, pre_env)
            row.update({"bare_ir": b, "preload_ir": p, "ir_ratio": ratio(p, b)})
    worst = max((w["ratio"] for w in workloads.values() if w["ratio"]), default=None)
    return {"reps": reps, "scale": scale, "workloads": workloads, "blocking_hooks": blocking,
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
    if o.get("blocking_hooks"):
        say("blocking hooks, passed through with no window open (outside the goal):")
        for name, x in o["blocking_hooks"].items():
            say(f"{name:<20} {x['threads']:>7} {fmt(x['bare_ns']):>9} {fmt(x['preload_ns']):>11} "
                f"{fmt(x['ratio'], '.3f'):>6}x  {x['unit']}")
    rows = list(o["workloads"].items()) + list((o.get("blocking_hooks") or {}).items())
    irs = [(n, x) for n, x in rows if x.get("ir_ratio")]
    if irs:
        say("instructions per unit (Callgrind, deterministic): " + "; ".join(
            f"{n} {x['bare_ir']:.1f} -> {x['preload_ir']:.1f} Ir = {x['ir_ratio']:.3f}x" for n, x in irs))
    say()
