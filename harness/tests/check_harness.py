#!/usr/bin/env python3
"""Run faa-harness over one test fixture library and check what it says.

    check_harness.py --harness H --interposer LIBAUDIT [--fixture LIB]
                     [--noise LIB] [--steal-calloc LIB] [--runner FAA_RUN]
                     [--single LIB] [--valgrind VALGRIND] [--kind K] SCENARIO

Each SCENARIO states one behaviour of the harness (meson.build names the
tests after them): the exit status, the verdict record, the window records
and the output it must produce.  The harness runs as `scripts/audit run`
runs it: FAA_MANIFEST names a one-line manifest, LD_PRELOAD the
interposer (and, for some scenarios, another test library beside it).
The bundle scenarios give --fixture a library of two fixtures (prefixes
BUNDLE below) and --single a library of one (prefix fx_).
Exit 0 when every check holds, 1 otherwise (each failed check printed).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path


class Run:
    def __init__(self, status, output, records):
        self.status, self.output, self.records = status, output, records

    def kind(self, kind):
        return [r for r in self.records if r.get("kind") == kind]

    def windows(self, phase):
        return [r for r in self.kind("window") if r["phase"] == phase]

    def one(self, kind):
        got = self.kind(kind)
        return got[0] if len(got) == 1 else None

    @property
    def verdict(self):
        return self.one("verdict")


# The bundle library's fixtures (harness/tests/meson.build): prefix ->
# (system name, steps).  fx_test.c's steady cycle is every step, 10 times.
BUNDLE = {"fx_one__": ("TestSysOne", 3), "fx_two__": ("TestSysTwo", 5)}


def run_manifest(args, rows, preload, extra_env=None):
    """Runs the harness over a manifest of `rows`, (fixture, library, prefix
    or None for no 6th column): (status, output, {fixture: records})."""
    with tempfile.TemporaryDirectory(prefix="faa-harness-test-") as tmp:
        tmp = Path(tmp)
        manifest = tmp / "manifest.tsv"
        text = "# test manifest\n"
        for name, lib, prefix in rows:
            text += f"{name}\tnoalloc\t0\t{lib}\t{tmp / (name + '.jsonl')}"
            text += f"\t{prefix}\n" if prefix is not None else "\n"
        manifest.write_text(text)
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAA_NOISE_AT_FORK")}
        env["FAA_MANIFEST"] = str(manifest)
        if preload:
            env["LD_PRELOAD"] = ":".join(str(p) for p in preload)
        env.update(extra_env or {})
        cmd = [args.harness, "--jobs=1"]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, errors="replace",
                           timeout=300)
        out = p.stdout + p.stderr
        recs = {}
        for name, _, _ in rows:
            path = tmp / (name + ".jsonl")
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            recs[name] = [json.loads(line) for line in lines]
        print(f"$ FAA_MANIFEST=<<{text}>> LD_PRELOAD={env.get('LD_PRELOAD', '')} "
              f"{' '.join(cmd)}  -> exit {p.returncode}")
        print(out[-3000:])
        return p.returncode, out, recs


def run_harness(args, preload, extra_env=None):
    status, out, recs = run_manifest(args, [("test", args.fixture, None)], preload, extra_env)
    return Run(status, out, recs["test"])


class Checks:
    def __init__(self):
        self.failed = 0

    def __call__(self, cond, what):
        print(("ok:   " if cond else "FAIL: ") + what)
        self.failed += not cond


def zero(w):
    return w["allocs"] == 0 and w["frees"] == 0 and w["os"] == 0


def measured_clean(check, r, steps=3):
    """A clean library of `steps` steps: every record there, every window at zero."""
    check(r.status == 0, f"harness exit status 0 (got {r.status})")
    check(r.records and r.records[0].get("kind") == "calibration", "the first record is calibration")
    cal = r.one("calibration")
    check(cal and cal["ok"] and len(cal["entries"]) == 69
          and all(e["calls"] == 1 for e in cal["entries"]),
          "calibration: 69 entry points, each read exactly 1 call")
    meta = r.one("meta")
    check(meta and meta["threads"] == 1 and meta["windows"] == "all-threads",
          "meta: threads 1, windows all-threads")
    check(r.verdict and r.verdict["ok"], f"verdict ok ({r.verdict})")
    check(len(r.windows("construct")) == 1 and len(r.windows("step")) == steps
          and len(r.windows("destroy")) == 1, f"construct, {steps} step and destroy windows written")
    check(all(zero(w) for w in r.kind("window")), "every window reads zero")
    b = r.one("batches")
    check(b and b["n"] > 15 and b["violations"] == 0 and b["dispatches"] > 1000
          and b["allocs_sum"] == b["frees_sum"] == b["os_sum"] == 0,
          f"batches summary: every batch windowed and at zero ({b})")
    o = r.one("observe_windows")
    check(o and o["n"] == steps + 2 and o["violations"] == 0,
          f"observe_windows: construction, {steps} steps, destroy ({o})")


def violation(check, r, phase, must_say):
    check(r.status != 0, f"harness exit status non-zero (got {r.status})")
    v = r.verdict
    check(v is not None and not v["ok"], "verdict record says not ok")
    check(v is not None and all(s in v["message"] for s in must_say),
          f"verdict message names {must_say}: {v and v['message']!r}")
    ws = [w for w in r.windows(phase) if not zero(w)]
    check(len(ws) >= 1 and ws[0].get("stack"), f"a non-zero {phase} window with its stack")
    return ws[0] if ws else None


def scenario_clean(args, check):
    measured_clean(check, run_harness(args, [args.interposer]))


def scenario_noise(args, check):
    r = run_harness(args, [args.interposer, args.noise])
    check(r.output.count("faa-noise: allocating in pid") >= 2,
          "the noise thread ran (in the runner and in the worker)")
    measured_clean(check, r)


def scenario_thread(args, check):
    r = run_harness(args, [args.interposer])
    w = violation(check, r, "step", ["step 2 b()", "thread other"])
    meta = r.one("meta")
    check(w is not None and w["thread"] == "other" and meta is not None
          and w["tid"] != meta["pid"], f"step 2's window: thread other, tid not the pid ({w and w.get('tid')})")
    check(meta is not None and meta["threads"] == 1, "threads 1 before the library was loaded")
    check(all(zero(x) for x in r.windows("step") if x["step"] != 1), "the other steps read zero")
    s = [x for x in r.windows("steady")]
    check(len(s) == 1 and s[0]["step"] == 1 and s[0]["repeat"] == 1, "steady: first violation of step 2, repeat 1")


def scenario_late(args, check):
    r = run_harness(args, [args.interposer])
    w = violation(check, r, "batch", ["batch ", "of steps 1-3"])
    check(all(zero(x) for x in r.windows("step")) and not r.windows("steady"),
          "steps and the steady replay read zero (the allocation is later)")
    check(w is not None and w["step"] == 0 and w["step_to"] == 2 and "batch" in w and w["cycles"] >= 1
          and w["allocs"] == 1 and w["frees"] == 1 and w["thread"] == "own",
          f"batch record: steps 0..2, batch number, cycles, 1 malloc + 1 free ({w and {k: w.get(k) for k in ('batch', 'cycles', 'allocs', 'frees')}})")
    b = r.one("batches")
    check(b and b["violations"] == 1 and b["allocs_sum"] == 1, f"batches summary: 1 violation ({b})")


def scenario_destroy(args, check):
    r = run_harness(args, [args.interposer])
    w = violation(check, r, "destroy", ["destroy fx_destroy()"])
    check(w is not None and w["step"] == -1 and w["allocs"] == 1, "destroy window: step -1, 1 allocation")
    check(all(zero(x) for x in r.windows("step")), "the steps read zero")


def scenario_observe(args, check):
    r = run_harness(args, [args.interposer])
    w = violation(check, r, "observe", ["observe __create()"])
    check(w is not None and w["step"] == -1, "observe window of the construction (step -1)")
    check(all(zero(x) for x in r.windows("construct")), "the measured construction read zero")
    o = r.one("observe_windows")
    check(o and o["violations"] == 1 and o["allocs_sum"] == 1, f"observe_windows: 1 violation ({o})")


def scenario_os(args, check):
    r = run_harness(args, [args.interposer])
    w = violation(check, r, "step", ["step 3 c()", "2 OS call(s)"])
    check(w is not None and w["os"] == 2 and w["allocs"] == 0
          and w["calls"] == {"mmap": 1, "munmap": 1}, f"step 3: os 2 (mmap 1, munmap 1) ({w and w['calls']})")
    s = r.kind("steady")
    check(any(x["step"] == 2 and x["os_sum"] == 20 and x["violations"] == 10 for x in s),
          "steady summary of step 3: os_sum 20 over 10 repeats")


def calibration_failed(check, r, must_say):
    check(r.status != 0, f"harness exit status non-zero (got {r.status})")
    check(must_say in r.output, f"output says {must_say!r}")
    check(not r.kind("verdict") or not r.verdict["ok"], "no passing verdict")


def scenario_steal_calloc(args, check):
    r = run_harness(args, [args.steal_calloc, args.interposer])
    calibration_failed(check, r, "interposer calibration failed: calloc read 0 call(s) of kind calloc, expected 1")
    check(not r.records, "nothing measured (the worker's own calibration failed first)")


def scenario_broken(args, check):
    lib = Path(args.interposer)
    check(lib.exists(), f"{lib} exists")
    r = run_harness(args, [lib])
    calibration_failed(check, r, "interposer calibration failed: ")
    check(f"of kind {args.kind}, expected 1" in r.output,
          f"the failing entry is of kind {args.kind}")


def scenario_two_threads(args, check):
    r = run_harness(args, [args.interposer, args.noise], {"FAA_NOISE_AT_FORK": "1"})
    check(r.status != 0, f"harness exit status non-zero (got {r.status})")
    v = r.verdict
    check(v is not None and "refusing to measure" in v["message"]
          and "had 2 thread(s)" in v["message"], f"verdict: refuses, 2 threads ({v and v['message']!r})")
    check(not r.kind("window"), "no window was measured")


def scenario_old_abi(args, check):
    says = "fixture ABI version 1, harness expects 2"
    r = run_harness(args, [args.interposer])
    check(r.status != 0, f"harness exit status non-zero (got {r.status})")
    v = r.verdict
    check(v is not None and says in v["message"], f"verdict says {says!r} ({v and v['message']!r})")
    check(not r.kind("window"), "no window was measured")
    if not args.runner:
        return
    p = subprocess.run([args.runner, args.fixture], capture_output=True, text=True, timeout=60)
    print(f"$ {args.runner} {args.fixture}  -> exit {p.returncode}\n{p.stdout}{p.stderr}")
    check(p.returncode == 4, f"faa-run exits 4 (got {p.returncode})")
    check(says in p.stderr, f"faa-run says {says!r}")
    check("FAA-OPEN" not in p.stdout + p.stderr and "steps" not in p.stdout, "faa-run ran nothing")


def scenario_no_preload(args, check):
    r = run_harness(args, [])
    calibration_failed(check, r, "interposer not loaded")
    check(not r.records, "no records at all")


# ---- bundles: several fixtures in one library, one prefix each ---------

def scenario_bundle(args, check):
    """Two manifest lines name the bundle with its two prefixes, a third
    (no prefix column) a library of one fixture: three fixtures measured."""
    rows = [(p, args.fixture, p) for p in BUNDLE] + [("single", args.single, None)]
    status, out, recs = run_manifest(args, rows, [args.interposer])
    check("Tested: 4 | Passing: 4 | Failing: 0" in out,
          "three Criterion parameters and harness::calibration, all passing")
    pids = set()
    for name, (system, steps) in list(BUNDLE.items()) + [("single", ("TestSys", 3))]:
        print(f"-- {name}")
        r = Run(status, out, recs[name])
        measured_clean(check, r, steps)
        meta = r.one("meta") or {}
        check(meta.get("fixture") == name and meta.get("system") == system
              and meta.get("steps") == steps,
              f"{name}: meta says fixture {name}, system {system}, {steps} steps "
              f"({meta.get('fixture')}, {meta.get('system')}, {meta.get('steps')})")
        pids.add(meta.get("pid"))
    check(len(pids) == 3, f"each fixture measured in a process of its own (pids {pids})")


def scenario_wrong_prefix(args, check):
    """A prefix the bundle lacks, or one too long, fails that line only."""
    rows = [("one", args.fixture, "fx_one__"), ("three", args.fixture, "fx_three__"),
            ("long", args.fixture, "x" * 201)]
    status, out, recs = run_manifest(args, rows, [args.interposer])
    check(status != 0, f"harness exit status non-zero (got {status})")
    check("Tested: 4 | Passing: 2 | Failing: 2" in out,
          "one line (and harness::calibration) passes, two fail")
    one = Run(status, out, recs["one"])
    check(one.verdict and one.verdict["ok"], "fx_one__: verdict ok")
    for name, says in (("three", "(prefix fx_three__): fixture library lacks fx_three__abi_version"),
                       ("long", "fixture symbol prefix of 201 bytes")):
        r = Run(status, out, recs[name])
        v = r.verdict
        check(v is not None and not v["ok"] and says in v["message"],
              f"{name}: verdict says {says!r} ({v and v['message']!r})")
        check(not r.kind("window"), f"{name}: no window was measured")
    if not args.runner:
        return
    p = run_runner(args, [args.fixture, "fx_one__", "fx_three__"])
    check(p.returncode == 4, f"faa-run exits 4 (got {p.returncode})")
    says = "(prefix fx_three__): fixture library lacks fx_three__abi_version"
    check(says in p.stderr, f"faa-run says {says!r}")
    check(p.stdout == "", "faa-run ran nothing, not even fx_one__ (every prefix is bound first)")
    p = run_runner(args, [args.fixture])
    check(p.returncode == 4 and "fixture library lacks fx_abi_version" in p.stderr,
          "faa-run with no PREFIX looks for fx_abi_version, which a bundle lacks")


def run_runner(args, argv, valgrind=()):
    cmd = [*valgrind, args.runner, *argv]
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=120)
    print(f"$ {' '.join(cmd)}  -> exit {p.returncode}\n{p.stdout}{p.stderr[-2000:]}")
    return p


def expected_opens(steps, repeat):
    """faa-run's markers for one fixture of fx_test.c: (phase, step) per window."""
    return ([("construct", 0)] + [("step", i) for i in range(steps)]
            + [("steady", i) for _ in range(repeat) for i in range(steps)] + [("destroy", 0)])


def marker_groups(log):
    """{prefix or None: [(phase, step)]} from FAA-FIXTURE / FAA-OPEN markers,
    in order, and the allocator calls traced inside windows."""
    groups, cur, inside, calls = [], None, False, 0
    for line in log.splitlines():
        m = re.match(r"^\*\*\d+\*\* FAA-(FIXTURE (\S+)|OPEN (\w+) (\d+)|CLOSE)$", line)
        if not m:
            calls += inside and re.match(r"^--\d+-- \w+\(", line) is not None
            continue
        if m.group(2):
            groups.append((m.group(2), []))
        elif m.group(3):
            if not groups:
                groups.append((None, []))
            groups[-1][1].append((m.group(3), int(m.group(4))))
        inside = bool(m.group(3))
    return groups, calls


def bundle_under_valgrind(args, check, tmp):
    log = tmp / "memcheck.log"
    vg = [args.valgrind, "--tool=memcheck", "--trace-malloc=yes", f"--log-file={log}"]
    run_runner(args, ["--repeat", "2", args.fixture, *BUNDLE], vg)
    groups, calls = marker_groups(log.read_text(errors="replace"))
    want = [(p, expected_opens(steps, 2)) for p, (_, steps) in BUNDLE.items()]
    check(groups == want, "memcheck log: FAA-FIXTURE fx_one__, its 3 steps' markers, then "
          f"FAA-FIXTURE fx_two__, its 5 steps' ({[(g, len(o)) for g, o in groups]})")
    check(calls == 0, f"no allocator call inside a window ({calls})")
    run_runner(args, ["--repeat", "2", args.single], vg)
    groups, _ = marker_groups(log.read_text(errors="replace"))
    check(groups == [(None, expected_opens(3, 2))], "no PREFIX: no FAA-FIXTURE line, markers as before")
    out = tmp / "cg.out"
    p = run_runner(args, ["--callgrind", "--repeat", "2", args.fixture, *BUNDLE],
                   [args.valgrind, "--tool=callgrind", "--collect-atstart=no",
                    f"--callgrind-out-file={out}"])
    dumps = {}
    for f in sorted(tmp.glob("cg.out.*")):
        text = f.read_text(errors="replace")
        d = re.search(r"^desc: Trigger: Client Request: faa-fixture (\S+)$", text, re.M)
        t = re.search(r"^totals: (\d+)", text, re.M)
        dumps[d and d.group(1)] = int(t.group(1)) if t else 0
    check(p.returncode == 0 and list(dumps) == list(BUNDLE) and all(dumps.values()),
          f"--callgrind: one dump per fixture, faa-fixture PREFIX, each with a cost ({dumps})")


def scenario_bundle_run(args, check):
    """faa-run LIBRARY PREFIX PREFIX: each fixture in turn, told apart."""
    p = run_runner(args, [args.fixture, *BUNDLE])
    want = "".join(f"faa-run: fixture {px}\nfaa-run: {n} steps, {10 * n} steady-state dispatches\n"
                   for px, (_, n) in BUNDLE.items())
    check(p.returncode == 0 and p.stdout == want, f"stdout is exactly {want!r}")
    p = run_runner(args, [args.single])
    check(p.returncode == 0 and p.stdout == "faa-run: 3 steps, 30 steady-state dispatches\n",
          "no PREFIX: stdout as before (one summary line, no fixture line)")
    if not args.valgrind:
        print("note: no Valgrind: its markers are not checked")
        return
    with tempfile.TemporaryDirectory(prefix="faa-run-test-") as tmp:
        bundle_under_valgrind(args, check, Path(tmp))


def scenario_prefix_usage(args, check):
    """--time, --count and --callgrind-steps drive one fixture."""
    for mode in ("--time", "--count", "--callgrind-steps"):
        p = run_runner(args, [mode, args.fixture, *BUNDLE])
        check(p.returncode == 2 and "at most one PREFIX" in p.stderr and "usage:" in p.stderr
              and p.stdout == "", f"{mode} with two PREFIXes: usage error, exit 2, nothing run")
    p = run_runner(args, ["--time", "--batches", "3", args.fixture, "fx_two__"])
    lines = p.stdout.splitlines()
    check(p.returncode == 0 and len(lines) == 2 and lines[0] == "faa-run: fixture fx_two__"
          and lines[1].startswith("faa-run: timing "), "--time with one PREFIX times that fixture")
    p = run_runner(args, ["--help"])
    check(p.returncode == 0 and "LIBRARY [PREFIX...]" in p.stdout, "--help names PREFIX...")


SCENARIOS = {
    "clean": scenario_clean,
    "noise": scenario_noise,
    "thread": scenario_thread,
    "late": scenario_late,
    "destroy": scenario_destroy,
    "observe": scenario_observe,
    "os": scenario_os,
    "steal-calloc": scenario_steal_calloc,
    "broken": scenario_broken,
    "two-threads": scenario_two_threads,
    "no-preload": scenario_no_preload,
    "old-abi": scenario_old_abi,
    "bundle": scenario_bundle,
    "wrong-prefix": scenario_wrong_prefix,
    "bundle-run": scenario_bundle_run,
    "prefix-usage": scenario_prefix_usage,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--harness", required=True)
    ap.add_argument("--interposer", required=True, help="libaudit.so (or a broken variant)")
    ap.add_argument("--fixture", required=True, help="the test fixture library")
    ap.add_argument("--noise", help="noise.c's preload")
    ap.add_argument("--steal-calloc", help="steal_calloc.c's preload")
    ap.add_argument("--runner", help="faa-run, for the scenarios that check it too")
    ap.add_argument("--kind", help="the kind the broken interposer does not count")
    ap.add_argument("--single", help="a library of one fixture, beside a bundle")
    ap.add_argument("--valgrind", help="valgrind, for the faa-run scenarios' markers")
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    args = ap.parse_args()
    # Meson passes build-dir-relative paths; LD_PRELOAD needs them absolute.
    for k in ("harness", "interposer", "fixture", "noise", "steal_calloc", "runner", "single"):
        if getattr(args, k):
            setattr(args, k, str(Path(getattr(args, k)).resolve()))
    check = Checks()
    SCENARIOS[args.scenario](args, check)
    print(f"{args.scenario}: {'FAILED' if check.failed else 'passed'}")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
