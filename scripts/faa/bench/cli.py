"""`audit bench`'s options and run: the sections asked for, printed and
written to bench.json."""

import argparse
import datetime
import os
from pathlib import Path

from .. import run as fixtures_mod
from .. import tools
from ..errors import AuditError, ToolMissing, UsageError, positive_float, positive_int
from .audit_time import bench_audit, print_audit
from ..model import BenchResult
from .common import note, say
from .dispatch import bench_dispatch, print_dispatch
from .interposer import interleaved_runs, overhead, print_overhead
from .make_test import bench_make_test, print_make_test
from .scaling import FACTORS, bench_scaling, print_scaling
from .window import print_window, window

SECTIONS = ("overhead", "window", "dispatch", "audit", "make-test", "scaling")
# `audit bench` alone runs these; --all (what `make bench` passes) adds the
# slow two, make-test (a fresh clone's `make test`) and scaling (7 cold audits)
DEFAULT_SECTIONS = ("overhead", "window", "dispatch", "audit")
DESCRIPTION = ("Benchmarks: interposer overhead, window cost, dispatch cost in both shapes, the "
               "audit's own time, make test from a fresh clone, the audit's scaling with the corpus "
               "(see scripts/faa/bench/__init__.py).")


def _factors(text):
    try:
        fs = tuple(int(x) for x in text.split(","))
    except ValueError:
        fs = ()
    if not fs or min(fs) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive integers, e.g. 1,2,4")
    return fs


def add_arguments(ap):
    """bench's options on the `audit bench` subparser.  --build-dir and
    --fixtures-dir are the audit's own (before `bench`); accepted after it too."""
    ap.add_argument("--build-dir", default=argparse.SUPPRESS, help="as the audit's --build-dir")
    ap.add_argument("--fixtures-dir", default=argparse.SUPPRESS, help="as the audit's --fixtures-dir")
    ap.add_argument("--only", action="append", choices=SECTIONS,
                    help="run only this section (repeatable; default: " + ", ".join(DEFAULT_SECTIONS)
                    + "; --all: every section)")
    ap.add_argument("--all", action="store_true",
                    help="every section, make-test and scaling included (`make bench` passes it; "
                         "--only wins)")
    ap.add_argument("--fixtures", nargs="+", metavar="NAME", help="dispatch: these fixtures (default: all)")
    ap.add_argument("--opt", default="3", help="dispatch: opt-levels, e.g. 0,3 (default: 3)")
    ap.add_argument("--reps", type=positive_int, default=5,
                    help="overhead: interleaved runs per condition (default: %(default)s)")
    ap.add_argument("--scale", type=positive_float, default=0.5,
                    help="overhead: loop length factor (default: %(default)s)")
    ap.add_argument("--batches", type=positive_int, default=15,
                    help="dispatch: timed batches per run (default: %(default)s)")
    ap.add_argument("--time-reps", type=positive_int, default=3,
                    help="dispatch: timing runs per library (default: %(default)s)")
    ap.add_argument("--callgrind-repeat", type=positive_int, default=20,
                    help="dispatch: steady cycles per step under Callgrind (default: %(default)s)")
    ap.add_argument("--jobs", type=positive_int, default=None, help="parallel builds / Callgrind runs")
    ap.add_argument("--work-dir", help="dispatch: fixture libraries (default: BUILD/bench/work)")
    ap.add_argument("--scratch", help="audit: scratch for the cold/warm runs (default: BUILD/bench/audit)")
    ap.add_argument("--touch", default="port_reset",
                    help="audit: the fixture edited (a comment line appended) before the warm run "
                         "(default: %(default)s)")
    ap.add_argument("--scaling-factors", type=_factors, default=FACTORS, metavar="1,2,4",
                    help="scaling: corpus sizes as multiples of the fixtures (default: 1,2,4)")
    ap.add_argument("--out", help="default: BUILD/reports/bench.json")


def run(args):
    """The benchmarks for parsed options; the exit status."""
    try:
        return _run(args)
    except ToolMissing as e:
        note(f"bench: error: {e}")
        return 3
    except UsageError as e:
        note(f"bench: error: {e}")
        return 2
    except AuditError as e:
        note(str(e))
        return 1


def _micro(args, tree, opts, data, only, jobs):
    """overhead, window, dispatch."""
    if "overhead" in only or "window" in only:
        bare, pre, exe, bare_env, pre_env, cmd = interleaved_runs(tree, args.reps, args.scale)
        o = overhead(args.reps, args.scale, bare, pre, exe, bare_env, pre_env)
        w = window(pre)
        data["overhead"], data["window"] = o, w
        data["commands"]["overhead"] = data["commands"]["window"] = cmd
        print_overhead(o)
        print_window(w)
    if "dispatch" in only:
        fixtures = fixtures_mod.discover(Path(args.fixtures_dir), args.fixtures)
        work = Path(args.work_dir) if args.work_dir else tree.dir / "bench" / "work"
        d, cmd = bench_dispatch(tree, fixtures, work.resolve(), opts, jobs, args.batches,
                                args.callgrind_repeat, args.time_reps)
        data["dispatch"], data["commands"]["dispatch"] = d, cmd
        print_dispatch(d)


def _whole(args, tree, data, only):
    """audit, make-test, scaling: the audit and the tests as users run them."""
    fixtures_dir = Path(args.fixtures_dir).resolve()
    if "audit" in only:
        scratch = Path(args.scratch) if args.scratch else tree.dir / "bench" / "audit"
        scratch.mkdir(parents=True, exist_ok=True)
        a, cmd = bench_audit(tree, fixtures_dir, scratch.resolve(), args.jobs, args.touch)
        data["audit"], data["commands"]["audit"] = a, cmd
        print_audit(a)
    if "make-test" in only:
        m, cmd = bench_make_test((tree.dir / "bench" / "make-test").resolve())
        data["make-test"], data["commands"]["make-test"] = m, cmd
        print_make_test(m)
    if "scaling" in only:
        scratch = (tree.dir / "bench" / "scaling").resolve()
        scratch.mkdir(parents=True, exist_ok=True)
        s, cmd = bench_scaling(tree, fixtures_dir, scratch, args.jobs, args.scaling_factors)
        data["scaling"], data["commands"]["scaling"] = s, cmd
        print_scaling(s)


def sections(args):
    """The sections asked for, in SECTIONS order."""
    only = set(args.only or (SECTIONS if args.all else DEFAULT_SECTIONS))
    return [s for s in SECTIONS if s in only]


def _sections(args, tree, opts, data):
    """Runs, prints and records each section asked for."""
    only = sections(args)
    jobs = args.jobs or max(1, os.cpu_count() or 1)
    _micro(args, tree, opts, data, only, jobs)
    _whole(args, tree, data, only)


def _run(args):
    tree = tools.BuildTree(args.build_dir)
    try:
        opts = tuple(int(x) for x in args.opt.split(","))
    except ValueError:
        raise UsageError(f"--opt {args.opt}: expected e.g. 3 or 0,3")
    out_path = Path(args.out) if args.out else tree.reports / "bench.json"
    fx = Path(args.fixtures_dir)
    if "audit" in sections(args) and not ((fx / f"{args.touch}.frs").is_file()
                                          and (fx / f"{args.touch}.toml").is_file()):
        raise UsageError(f"--touch {args.touch}: no fixture {args.touch}.frs + .toml in {fx}")
    result = BenchResult(
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        sections={"host": {"cpus": os.cpu_count(), "loadavg_start": list(os.getloadavg())},
                  "commands": {}})
    data = result.sections
    say(f"bench: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start "
        f"(benchmarks on a shared machine: compare the ratios, which are measured in the same run)")
    say()
    _sections(args, tree, opts, data)
    data["host"]["loadavg_end"] = list(os.getloadavg())
    result.write(out_path)
    say(f"bench: figures written to {out_path}")
    return 0
