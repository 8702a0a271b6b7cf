"""Section 3, dispatch cost per fixture: libraries built as the audit builds
them, timed natively (faa-run --time) and counted per cycle step under
Callgrind (steps.py); ratios allocating / no_alloc."""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import build, tools
from ..errors import UsageError
from .common import fmt, geomean, median, note, ratio, run_cmd, say, verdict
from .steps import TRANSITION_ALLOCS, callgrind_steps, parse_counts, parse_timing, source_line, \
    transitions

GOAL_IR_RATIO = 10.0
SHAPES = ("alloc", "noalloc")


def _fixture_libs(tree, fixtures, work, opts, jobs):
    """Builds (or finds in the content-hash cache) every fixture library:
    {(fixture, mode, opt): (library, symbol prefix)}."""
    rustc = tools.rustc()
    frc = build.identify(tree.frc, bundled=True)
    btree = tools.BuildTree(tree.dir, work)
    outcomes = build.build_all(fixtures, frc, btree, rustc, jobs=jobs, opts=opts)
    libs = {}
    for (name, mode), o in outcomes.items():
        for e in o.errors:
            note(f"bench: {name} {mode}: {e.splitlines()[0]}")
        for opt, lib in o.libs.items():
            libs[(name, mode, opt)] = (lib, o.prefix)     # faa-run LIB PREFIX
    return libs


def _time_native(runner, fixtures, libs, opts, batches, time_reps):
    """Native timing first, serially, shapes interleaved (no Callgrind
    running meanwhile) -> one row per fixture x opt-level."""
    rows = []
    for fx in fixtures:
        for opt in opts:
            pair = {m: libs.get((fx.name, m, opt)) for m in SHAPES}
            if not all(pair.values()):
                note(f"bench: {fx.name} O{opt}: a library did not build; skipped")
                continue
            runs = {"alloc": [], "noalloc": []}
            for i in range(time_reps):
                for m in (SHAPES if i % 2 == 0 else SHAPES[::-1]):
                    t = parse_timing(run_cmd([runner, "--time", "--batches", str(batches), *pair[m]]))
                    runs[m].append(t.get("median_ns"))
            rows.append({"fixture": fx.name, "target": getattr(fx, "target", "rust"), "opt": opt, "libs": pair,
                         "alloc": {"median_ns": median(runs["alloc"]), "runs_ns": runs["alloc"]},
                         "noalloc": {"median_ns": median(runs["noalloc"]),
                                     "runs_ns": runs["noalloc"]}})
        note(f"bench: timed {fx.name}")
    return rows


def _o0_marks(vg, runner, libs, rows, outdir, jobs):
    """{fixture: steps of its no_alloc O0 library, one cycle}.  At O0 nothing
    is inlined, so frc's state-change line keeps its own instructions: one
    cycle under Callgrind says which steps change state."""
    def marks(name):
        lib = libs.get((name, "noalloc", 0))
        if not lib:
            return name, []
        return name, callgrind_steps(vg, runner, lib, outdir, 1)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return dict(pool.map(marks, sorted({r["fixture"] for r in rows})))


def _count_steps(tree, vg, runner, rows, fixtures, outdir, jobs, cg_repeat):
    """Each row's shapes: Ir per step (Callgrind) and allocator calls per
    step (counted by the interposer's fast windows)."""
    scen = {fx.name: fx.scenario for fx in fixtures}

    def one(job):
        row, mode = job
        return job, callgrind_steps(vg, runner, row["libs"][mode], outdir, cg_repeat)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for (row, mode), steps in pool.map(one, [(r, m) for r in rows for m in SHAPES]):
            counts = parse_counts(run_cmd([runner, "--count", *row["libs"][mode]],
                                          env=dict(os.environ, LD_PRELOAD=str(tree.interposer))))
            for s in steps:
                st = scen[row["fixture"]].steps
                s["label"] = st[s["step"]].call if s["step"] < len(st) else "?"
                s["allocs"] = counts.get(s["step"])
            row[mode]["steps"] = steps
            row[mode]["ir_per_dispatch"] = (sum(s["ir"] for s in steps) / len(steps)) if steps else None


def _mark_transitions(row, o0_steps):
    """Which of the row's steps make a transition, and by which rule."""
    a, n = row["alloc"], row["noalloc"]
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
    return trans


def _row_ratios(row, trans):
    """Allocating / no_alloc: time, instructions, on transitions and not."""
    a, n = row["alloc"], row["noalloc"]
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
    row["libs"] = {m: f"{lib} {prefix}" for m, (lib, prefix) in row["libs"].items()}


def _summary(rows, by_target=True):
    """Geometric means over the rows; with by_target, also per target
    (rust, c: each language's fixtures next to the other's)."""
    step_ratios = [r for row in rows for r in row["transition_step_ratios"].values() if r]
    g_tr = geomean([r["ir_ratio_transitions"] for r in rows])
    targets = sorted({r.get("target", "rust") for r in rows})
    extra = {"by_target": {t: {k: v for k, v in _summary([r for r in rows if r.get("target", "rust") == t],
                                                         False).items()
                               if k.startswith("geomean") or k == "transition_steps"}
                           for t in targets}} if by_target else {}
    return {**extra,"geomean_ns_ratio": geomean([r["ns_ratio"] for r in rows]),
            "geomean_ir_ratio": geomean([r["ir_ratio"] for r in rows]),
            "geomean_ir_ratio_transitions": g_tr,
            "geomean_ir_ratio_transitions_net": geomean([r["ir_ratio_transitions_net"]
                                                         for r in rows]),
            "min_ir_ratio_transitions": min(step_ratios) if step_ratios else None,
            "transition_steps": len(step_ratios), "goal_ratio": GOAL_IR_RATIO,
            "met": None if g_tr is None else g_tr >= GOAL_IR_RATIO}


def _limit(rows):
    """What limits the ratio: the transition step with the lowest ratio, and
    where its no_alloc instructions go (None: no transition step)."""
    worst = None
    for row in rows:
        for j, r in row["transition_step_ratios"].items():
            if r and (worst is None or r < worst[2]):
                worst = (row, j, r)
    if not worst:
        return None
    row, j, r = worst
    sa = next(x for x in row["alloc"]["steps"] if x["step"] == j)
    sn = next(x for x in row["noalloc"]["steps"] if x["step"] == j)
    return {"fixture": row["fixture"], "opt": row["opt"], "step": j,
            "label": sn["label"], "ir": sn["ir"], "alloc_ir": sa["ir"],
            "ratio": r, "allocs": sa["allocs"],
            "annotate": sn["top"], "alloc_annotate": sa["top"],
            "lines": [[n, f"{f}:{ln}", source_line(f, ln)] for n, f, ln in sn["top_lines"]]}


def bench_dispatch(tree, fixtures, work, opts, jobs, batches, cg_repeat, time_reps):
    """Section 3 -> (figures, command line)."""
    runner = tree.dir / "harness" / "faa-run"
    if not runner.exists():
        raise UsageError(f"{runner} not found (it needs valgrind/valgrind.h); run `make build`")
    vg = tools.valgrind(required=True)
    note(f"bench: building fixture libraries in {work} (content-hash cache)")
    # O0 no_alloc libraries too: they tell transitions apart
    libs = _fixture_libs(tree, fixtures, work, tuple(sorted(set(opts) | {0})), jobs)
    rows = _time_native(runner, fixtures, libs, opts, batches, time_reps)
    outdir = work / "bench-callgrind"
    o0 = _o0_marks(vg, runner, libs, rows, outdir, jobs)
    _count_steps(tree, vg, runner, rows, fixtures, outdir, jobs, cg_repeat)
    for row in rows:
        _row_ratios(row, _mark_transitions(row, o0.get(row["fixture"]) or []))
    summary = _summary(rows)
    out = {"opt": list(opts), "batches": batches, "time_reps": time_reps,
           "callgrind_repeat": cg_repeat, "fixtures": rows, "summary": summary}
    limit = _limit(rows)
    if limit:
        out["limit"] = limit
    summary["fixtures_below_goal"] = sorted(
        r["fixture"] for r in rows
        if r["ir_ratio_transitions"] is not None and r["ir_ratio_transitions"] < GOAL_IR_RATIO)
    for row in rows:
        for m in SHAPES:
            for s in row[m]["steps"]:
                s.pop("top", None)
                s.pop("top_lines", None)
    cmd = (f"{runner} --time --batches {batches} LIB (x{time_reps}, shapes interleaved); "
           f"valgrind --tool=callgrind --collect-atstart=no {runner} --callgrind-steps "
           f"--repeat {cg_repeat} LIB")
    return out, cmd


def _print_limit(lim):
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


def print_dispatch(d):
    s = d["summary"]
    say(f"== 3. dispatch cost per fixture, O{',O'.join(map(str, d['opt']))} (ns: median of "
        f"{d['time_reps']} batch-timed runs; Ir: Callgrind, per dispatch over the steady cycle)")
    say(f"{'fixture':<16} {'lang':<4} {'O':>1} {'ns alloc':>9} {'ns noalloc':>10} {'ratio':>7} "
        f"{'Ir alloc':>9} {'Ir noalloc':>10} {'ratio':>7} {'on transitions':>15} {'other':>7}")
    for r in d["fixtures"]:
        say(f"{r['fixture']:<16} {r.get('target', 'rust'):<4} {r['opt']:>1} {fmt(r['alloc']['median_ns'], '.1f'):>9} "
            f"{fmt(r['noalloc']['median_ns'], '.1f'):>10} {fmt(r['ns_ratio'], '.1f'):>6}x "
            f"{fmt(r['alloc']['ir_per_dispatch'], '.0f'):>9} {fmt(r['noalloc']['ir_per_dispatch'], '.0f'):>10} "
            f"{fmt(r['ir_ratio'], '.1f'):>6}x {fmt(r['ir_ratio_transitions'], '.1f'):>14}x "
            f"{fmt(r['ir_ratio_other'], '.1f'):>6}x")
    say(f"geometric mean: time {fmt(s['geomean_ns_ratio'], '.1f')}x, instructions "
        f"{fmt(s['geomean_ir_ratio'], '.1f')}x, instructions on transitions "
        f"{fmt(s['geomean_ir_ratio_transitions'], '.1f')}x (worst single transition step "
        f"{fmt(s['min_ir_ratio_transitions'], '.1f')}x of {s['transition_steps']}); "
        f"goal >= {s['goal_ratio']:.0f}x on transitions (geometric mean): {verdict(s['met'])}")
    for t, g in sorted(s.get("by_target", {}).items()) if len(s.get("by_target", {})) > 1 else ():
        say(f"  {t}: time {fmt(g['geomean_ns_ratio'], '.1f')}x, instructions {fmt(g['geomean_ir_ratio'], '.1f')}x, "
            f"on transitions {fmt(g['geomean_ir_ratio_transitions'], '.1f')}x ({g['transition_steps']} step(s))")
    say(f"without the shim's own instructions in the window (fx_dispatch + opaque, the same "
        f"in both shapes): on transitions {fmt(s['geomean_ir_ratio_transitions_net'], '.1f')}x")
    if s["fixtures_below_goal"]:
        say(f"fixtures below {s['goal_ratio']:.0f}x on transitions: {', '.join(s['fixtures_below_goal'])}")
    lim = d.get("limit")
    if lim:
        _print_limit(lim)
    say()
