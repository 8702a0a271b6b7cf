"""`audit`: the command line of frame-alloc-audit.

Exit status: 0 every check held, 1 the gate failed, 2 usage or
configuration error, 3 a required tool is missing.
"""

import argparse
import dataclasses
import sys
from pathlib import Path

from . import (VERSION, audit, bench, build, compare, junit, model, mutate, procs, progress, release, report,
               shard, tools, variant)
from .errors import EXIT_GATE, EXIT_OK, EXIT_USAGE, AuditError, UsageError, positive_int

ROOT = tools.ROOT
# The checks gate.unchecked() can name.
UNCHECKABLE = ("coverage", "second counter", "memcheck", "baseline", "rejects")


def _opts(text):
    try:
        opts = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected a comma-separated list such as 0,3")
    if any(o not in (0, 1, 2, 3) for o in opts):
        raise argparse.ArgumentTypeError("opt-levels are 0..3")
    return opts


def _count(text):
    """A whole number >= 0 (compare --limit)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def cmd_run(args):
    """`audit run`: the pipeline of audit.py."""
    opts = audit.Options(**{f.name: getattr(args, f.name) for f in dataclasses.fields(audit.Options)})
    progress.configure(quiet=opts.quiet, color=opts.color)
    return audit.audit(opts)


def cmd_merge(args):
    """`audit merge DIR...`: the shards' reports as one report set, one verdict."""
    progress.configure(color=args.color)
    out = args.report_dir or tools.BuildTree(args.build_dir).reports
    return shard.command(args.dirs, out)


def cmd_mutate(args):
    """Mutation self-test of the gate on one fixture's no_alloc output (mutate.py)."""
    return mutate.command(args, progress=audit.progress)


def cmd_regen(args):
    """Rewrites (or, with --check, lists) the stale goldens under generated/."""
    frc = build.identify(tools.BuildTree(args.build_dir).frc, bundled=True)
    stale = build.regen_goldens(frc, Path(args.fixtures_dir), ROOT / "generated", write=not args.check)
    if args.check:
        for s in stale:
            print(f"stale golden: {s.relative_to(ROOT)} (run `make regen` and review the diff)")
        print(f"regen --check: {len(stale)} stale golden(s)")
        return EXIT_GATE if stale else EXIT_OK
    print(f"regen: {len(stale)} golden(s) rewritten")
    return EXIT_OK


def cmd_variant(args):
    src = Path(args.file).read_text(encoding="utf-8")
    sys.stdout.write(variant.make(src, args.mode))
    return EXIT_OK


def cmd_baseline(args):
    """Records the allocating counts of the last run as reports/baseline.json."""
    src = Path(args.report or tools.BuildTree(args.build_dir).reports / "report.json")
    if not src.exists():
        raise UsageError(f"{src}: no report; run `make audit` first")
    rep = model.Report.load(src)
    base = model.Baseline.of_windows(compare.of_report(rep), rep.compiler["name"],
                                     rep.compiler["version"])
    dest = ROOT / "reports" / "baseline.json"
    base.write(dest)
    print(f"baseline: {len(base.fixtures)} fixture(s) written to {dest.relative_to(ROOT)}")
    return EXIT_OK


def cmd_compare(args):
    """Window-by-window comparison of two runs (compare.py); exit 1 on a
    regression or a missing fixture or window."""
    return compare.command(args.old, args.new, args.format, args.limit)


def cmd_publish(args):
    """Publishes a run's reports as reports/<compiler>-<version>/ (a
    failing run only with --allow-failing) and regenerates the release
    index reports/index.md + index.html."""
    src = Path(args.report_dir or tools.BuildTree(args.build_dir).reports)
    if not (src / "report.json").exists():
        raise UsageError(f"{src / 'report.json'}: no report; run `make audit` first")
    rep = model.Report.load(src / "report.json")
    dest = report.publish(rep, src, Path(args.into), force=args.force,
                          allow_failing=args.allow_failing)
    c = rep.compiler
    size = sum(f.stat().st_size for f in dest.iterdir()) // 1024
    print(f"publish: {rep.verdict} run of {c['name']} {c['version']} -> {dest}/ "
          f"({size} KiB, report.json.gz; published {rep.provenance['published']})")
    n, regressions = release.write_index(args.into)
    print(f"publish: release index {Path(args.into) / 'index.md'} and index.html: {n} release(s), "
          f"{regressions} regression(s) between consecutive releases")
    return EXIT_OK


def cmd_bench(args):
    """Benchmarks (faa/bench): printed, and written to BUILD/reports/bench.json."""
    return bench.run(args)


def parser():
    p = argparse.ArgumentParser(prog="audit", description=(
        "frame-alloc-audit: prove per dispatch that @@[no_alloc] Frame systems never touch "
        "the heap. Exit status: 0 all held, 1 gate failed, 2 usage/configuration error, "
        "3 a required tool is missing."))
    p.add_argument("--version", action="version", version=f"frame-alloc-audit {VERSION}")
    p.add_argument("--build-dir", default=str(ROOT / "build"),
                   help="the Meson build directory (default: %(default)s)")
    p.add_argument("--fixtures-dir", default=str(ROOT / "fixtures"), help="default: %(default)s")
    sub = p.add_subparsers(dest="cmd", required=True)
    _add_run(sub)
    _add_merge(sub)
    _add_files(sub)
    _add_mutate(sub)
    u = sub.add_parser("publish", help="publish a passing run's reports as reports/<compiler>-<version>/ "
                                       "and regenerate the release index",
                       description="Copy a run's reports (report.json compressed as report.json.gz, "
                                   "its provenance stamped with the publication date) to "
                                   "INTO/<compiler>-<version>/ and regenerate INTO/index.md and "
                                   "INTO/index.html: allocations per dispatch per fixture and shape "
                                   "across the published releases, regressions marked. A failing "
                                   "run is refused (exit 2) unless --allow-failing.")
    u.add_argument("--report-dir", help="the run to publish (default: BUILD/reports)")
    u.add_argument("--force", action="store_true", help="replace an existing published report")
    u.add_argument("--allow-failing", action="store_true",
                   help="publish a run whose gate failed (its verdict stays FAIL in the index)")
    u.add_argument("--into", default=str(ROOT / "reports"), help="default: %(default)s")
    u.set_defaults(func=cmd_publish)
    bn = sub.add_parser("bench", help="benchmarks: interposer overhead, window cost, dispatch cost, "
                                      "the audit's own time", description=bench.DESCRIPTION)
    bench.add_arguments(bn)
    bn.set_defaults(func=cmd_bench)
    return p


def _add_run(sub):
    r = sub.add_parser("run", help="audit fixtures (the CI gate)", description=(
        "Compile each fixture without and with @@[no_alloc], build one library per shape and "
        "opt-level, count allocator calls per dispatch under the interposer, and gate."))
    r.add_argument("fixtures", nargs="*", metavar="FIXTURE", help="fixture names (default: all)")
    r.add_argument("--compiler", metavar="PATH",
                   help="a framec-compatible compiler to audit instead of the bundled frc")
    r.add_argument("--generated", metavar="[NAME=]MODULE.rs", action="append",
                   help="audit already generated code (one shape); repeat it to audit several "
                        "modules in one run, each its own fixture NAME (default: the module's "
                        "folder's name; one module alone: the scenario's) under the one --scenario")
    r.add_argument("--scenario", metavar="FILE.toml", help="the scenario for --generated")
    r.add_argument("--lang", choices=("rust", "c"), default=None,
                   help="the language of the --generated module (default: from its extension, "
                        ".c is C, anything else Rust)")
    r.add_argument("--mode", choices=variant.MODES, default=None,
                   help="the shape of the --generated module (default: noalloc); a run over "
                        "fixtures/ builds and compares both shapes, so it refuses --mode")
    r.add_argument("--opt", type=_opts, default=build.OPT_LEVELS, metavar="0,3",
                   help="opt-levels: rustc -C opt-level=N, gcc -ON for C fixtures (default: 0,3)")
    r.add_argument("--baseline", metavar="REPORT.json",
                   help="fail on any window that allocates more than in this earlier report "
                        "(default for frc: reports/baseline.json)")
    r.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                   help="parallel builds and harness workers, N >= 1 (default: the CPU count)")
    r.add_argument("--no-cache", action="store_true",
                   help="re-run Valgrind and Callgrind even for libraries that were not rebuilt "
                        "(their results are otherwise reused, keyed by the library's build hash)")
    r.add_argument("--no-rejects", action="store_true", help="skip fixtures/reject")
    r.add_argument("--valgrind", choices=("auto", "on", "off"), default="auto",
                   help="memcheck + massif + Valgrind's own count: auto runs them when Valgrind "
                        "is installed (else a note), on requires it (exit 3 without), off skips")
    _add_run_gate(r)
    _add_run_output(r)
    r.set_defaults(func=cmd_run)


def _add_run_gate(r):
    """`run`'s options that decide what the gate asks and where it works."""
    r.add_argument("--report-dir", help="where reports go (default: BUILD/reports)")
    r.add_argument("--work-dir", help="scratch for variants, libraries and records (default: BUILD/audit); "
                                      "give concurrent runs different ones")
    r.add_argument("--strict", action="store_true",
                   help="a check that could not run (Valgrind absent or off: memcheck, the second "
                        "counter, coverage; coverage of a module whose handlers cannot be recognised) fails "
                        "the gate instead of showing as `PASS (unchecked: ...)`")
    r.add_argument("--non-blocking", action="store_true",
                   help="the no_alloc shape must also be non-blocking: no window may call a lock, "
                        "wait, sleep or blocking I/O function (rule nonblocking; a scenario asks "
                        "the same of its own fixture with non_blocking = true)")
    r.add_argument("--allow-unchecked", metavar="CHECK", action="append",
                   choices=UNCHECKABLE,
                   help="with --strict, let this check stay unchecked (repeatable; it is still "
                        "named on the verdict line): e.g. coverage for a compiler whose handlers the "
                        "audit cannot recognise (neither frc's .frs mapping comments nor framec's "
                        "method names); one of " + ", ".join(UNCHECKABLE))
    r.add_argument("--interposer", metavar="PATH",
                   help="preload this libaudit.so instead of the build's (for the self-test with "
                        "deliberately broken interposers)")


def _add_run_output(r):
    """`run`'s options for what it prints and how it shares out (CI)."""
    r.add_argument("-v", "--verbose", action="store_true", help="print the harness output")
    r.add_argument("-q", "--quiet", action="store_true",
                   help="print only the findings and the verdict (no progress, no table)")
    r.add_argument("--junit-flavour", choices=junit.FLAVOURS, default="plain",
                   help="junit.xml valid against the strict JUnit schema (plain, the default), or with "
                        "file/line attributes on each failing testcase for GitLab and similar readers "
                        "(gitlab; the strict schema refuses them)")
    r.add_argument("--annotations", choices=junit.ANNOTATIONS, default=None,
                   help="also print one CI annotation per finding that names a .frs or generated line "
                        "(github: ::error file=F,line=N,title=T::MSG workflow commands)")
    r.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour PASS/FAIL/note: auto = on a terminal unless NO_COLOR is set "
                        "(default: %(default)s)")
    r.add_argument("--shard", type=shard.parse_spec, metavar="K/N",
                   help="audit shard K of N (1 <= K <= N): a deterministic 1/N of the selected "
                        "fixtures, the same on every machine; fixtures/reject and the fixtures/ "
                        "survey on shard 1 only; combine the N report dirs with `audit merge`")
    r.add_argument("--shard-costs", metavar="COSTS.json",
                   help="with --shard: balance the shards by the per-fixture seconds in this file "
                        "(a run writes WORK/costs.json; give every shard the same file, e.g. a "
                        "committed one) instead of by a hash of the names")


def _add_merge(sub):
    m = sub.add_parser("merge", help="combine the report dirs of `run --shard K/N` into one report set "
                                     "with one verdict (exit 1 if any shard failed)",
                       description=(
        "Check that the DIRs hold the N shards of one selection (each K once, same N, same fixtures, "
        "same balance, same compiler and --strict; exit 2 naming what is wrong) and write the "
        "combined report.json, report.md, junit.xml and report.html. Exit status: 0 pass, 1 the gate "
        "failed on some shard, 2 usage."))
    m.add_argument("dirs", nargs="+", metavar="DIR", help="a shard's --report-dir (its report.json)")
    m.add_argument("--report-dir", help="where the merged reports go (default: BUILD/reports)")
    m.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour PASS/FAIL/note (default: %(default)s)")
    m.set_defaults(func=cmd_merge)


def _add_files(sub):
    """The subcommands over goldens, variants and reports."""
    g = sub.add_parser("regen", help="rewrite generated/ goldens from frc",
                       description="Compile every fixture with the bundled frc into generated/NAME/{alloc,noalloc}.rs.")
    g.add_argument("--check", action="store_true", help="only report stale goldens (exit 1 if any)")
    g.set_defaults(func=cmd_regen)

    v = sub.add_parser("variant", help="print the alloc or noalloc variant of a .frs file")
    v.add_argument("--mode", choices=variant.MODES, required=True)
    v.add_argument("file")
    v.set_defaults(func=cmd_variant)

    b = sub.add_parser("baseline", help="record the last run's allocating counts as reports/baseline.json")
    b.add_argument("--report", help="report.json to read (default: BUILD/reports/report.json)")
    b.set_defaults(func=cmd_baseline)
    c = sub.add_parser("compare", help="compare two runs (report.json or baseline.json): exit 1 on a "
                                       "regression or a missing fixture/window",
                       description="Window by window (fixture, shape, opt-level, step): allocations, "
                                   "frees and bytes. A regression is more allocations or bytes, or any "
                                   "count in a no_alloc window that changed; an improvement fewer; a "
                                   "fixture, run or window in OLD but not in NEW is missing, a failure "
                                   "too; what is only in NEW is listed, not judged. A baseline.json on "
                                   "either side is compared on what it records (the allocating shape's "
                                   "allocations and frees). Exit status: 0 no regression and nothing "
                                   "missing, 1 otherwise, 2 a file that is neither a report.json nor a "
                                   "baseline.json.")
    c.add_argument("old", help="the earlier run's report.json or a baseline.json")
    c.add_argument("new", help="the later run's report.json or a baseline.json")
    c.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                   help="text (default), json (schemas/compare.schema.json) or markdown (a table "
                        "for a pull-request comment)")
    c.add_argument("--limit", type=_count, default=50, metavar="N",
                   help="list at most N lines per section in text and markdown (0: all; "
                        "default %(default)s); json lists everything")
    c.set_defaults(func=cmd_compare)


def _add_mutate(sub):
    mu = sub.add_parser("mutate", help="mutation self-test: inject allocations, prove the gate catches each",
                        description="Audit the unmutated no_alloc output of a fixture (the control, which "
                                    f"must pass), then {mutate.CATALOGUE_SIZE} mutants of it (every counted "
                                    "allocator and OS kind through extern \"C\", glibc's aliases, another "
                                    "thread, a late call in the timing batches, a lazy first use, a Drop, a "
                                    "helper, __create, strdup, and the std kinds " + ", ".join(mutate.KINDS)
                                    + " at the handler, router, enter handler and construction) must "
                                    "fail the zero rule at its own generated and .frs line; three that no "
                                    "hook sees (#[global_allocator], a syscall instruction, dlsym'd malloc) "
                                    "must fail the static proof or Valgrind's count. Prints the mutant "
                                    "table and `caught N/N`.")
    mu.add_argument("fixture", nargs="?", default="debounce_button")
    mu.add_argument("--only", "--kinds", dest="only", nargs="+", metavar="PATTERN",
                    help="run only the mutants whose name or class matches (fnmatch); a subset never "
                         "counts as a full self-test")
    mu.add_argument("--broken-interposers", action="store_true",
                    help="also audit each kind's mutants under libaudit-broken-KIND.so (counting off "
                         "for that kind): the self-test must go red for every kind")
    mu.add_argument("--broken-dir", help="where the broken libraries are (default: BUILD/interposer/broken)")
    mu.add_argument("--no-control", action="store_true", help="skip the control run (development only)")
    mu.add_argument("--list", action="store_true", help="list the mutants and exit")
    mu.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                    help="audits run at once, N >= 1 (default 2)")
    mu.set_defaults(func=cmd_mutate)


def main(argv=None):
    args = parser().parse_args(argv)
    procs.install()         # SIGINT/SIGTERM: stop every child, exit 130/143
    try:
        return args.func(args)
    except procs.Interrupted as e:
        print(f"audit: interrupted by {e}: every process it started was stopped; reports are "
              f"only replaced whole, at the end of a run (a previous run's are left as they were)",
              file=sys.stderr)
        return e.status
    except AuditError as e:
        print(f"audit: error: {e}", file=sys.stderr)
        return e.status
    except OSError as e:
        where = f" {e.filename}" if e.filename else ""
        print(f"audit: error:{where}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("audit: interrupted; no report was written for this run", file=sys.stderr)
        return 130
    finally:
        procs.uninstall()   # a signal from here on ends the process the default way
