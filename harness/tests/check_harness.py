#!/usr/bin/env python3
"""Run faa-harness over one test fixture library and check what it says.

    check_harness.py --harness H --interposer LIBAUDIT [--fixture LIB]
                     [--noise LIB] [--steal-calloc LIB] [--runner FAA_RUN]
                     [--kind K] SCENARIO

Each SCENARIO states one behaviour of the harness (meson.build names the
tests after them): the exit status, the verdict record, the window records
and the output it must produce.  The harness runs as `scripts/audit run`
runs it: FAA_MANIFEST names a one-line manifest, LD_PRELOAD the
interposer (and, for some scenarios, another test library beside it).
Exit 0 when every check holds, 1 otherwise (each failed check printed).
"""
import argparse
import json
import os
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


def run_harness(args, preload, extra_env=None):
    with tempfile.TemporaryDirectory(prefix="faa-harness-test-") as tmp:
        tmp = Path(tmp)
        records = tmp / "records.jsonl"
        manifest = tmp / "manifest.tsv"
        manifest.write_text(f"# test manifest\ntest\tnoalloc\t0\t{args.fixture}\t{records}\n")
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAA_NOISE_AT_FORK")}
        env["FAA_MANIFEST"] = str(manifest)
        if preload:
            env["LD_PRELOAD"] = ":".join(str(p) for p in preload)
        env.update(extra_env or {})
        cmd = [args.harness, "--jobs=1"]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, errors="replace",
                           timeout=300)
        out = p.stdout + p.stderr
        recs = []
        if records.exists():
            for line in records.read_text(errors="replace").splitlines():
                recs.append(json.loads(line))
        print(f"$ LD_PRELOAD={env.get('LD_PRELOAD', '')} {' '.join(cmd)}  -> exit {p.returncode}")
        print(out[-3000:])
        return Run(p.returncode, out, recs)


class Checks:
    def __init__(self):
        self.failed = 0

    def __call__(self, cond, what):
        print(("ok:   " if cond else "FAIL: ") + what)
        self.failed += not cond


def zero(w):
    return w["allocs"] == 0 and w["frees"] == 0 and w["os"] == 0


def measured_clean(check, r):
    """A clean library: every record there, every window at zero."""
    check(r.status == 0, f"harness exit status 0 (got {r.status})")
    check(r.records and r.records[0].get("kind") == "calibration", "the first record is calibration")
    cal = r.one("calibration")
    check(cal and cal["ok"] and len(cal["entries"]) == 31
          and all(e["calls"] == 1 for e in cal["entries"]),
          "calibration: 31 entry points, each read exactly 1 call")
    meta = r.one("meta")
    check(meta and meta["threads"] == 1 and meta["windows"] == "all-threads",
          "meta: threads 1, windows all-threads")
    check(r.verdict and r.verdict["ok"], f"verdict ok ({r.verdict})")
    check(len(r.windows("construct")) == 1 and len(r.windows("step")) == 3
          and len(r.windows("destroy")) == 1, "construct, 3 step and destroy windows written")
    check(all(zero(w) for w in r.kind("window")), "every window reads zero")
    b = r.one("batches")
    check(b and b["n"] > 15 and b["violations"] == 0 and b["dispatches"] > 1000
          and b["allocs_sum"] == b["frees_sum"] == b["os_sum"] == 0,
          f"batches summary: every batch windowed and at zero ({b})")
    o = r.one("observe_windows")
    check(o and o["n"] == 5 and o["violations"] == 0,
          f"observe_windows: construction, 3 steps, destroy ({o})")


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
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    args = ap.parse_args()
    # Meson passes build-dir-relative paths; LD_PRELOAD needs them absolute.
    for k in ("harness", "interposer", "fixture", "noise", "steal_calloc", "runner"):
        if getattr(args, k):
            setattr(args, k, str(Path(getattr(args, k)).resolve()))
    check = Checks()
    SCENARIOS[args.scenario](args, check)
    print(f"{args.scenario}: {'FAILED' if check.failed else 'passed'}")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
