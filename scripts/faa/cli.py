"""`audit`: the command line of frame-alloc-audit.

Exit status: 0 every check held, 1 the gate failed, 2 usage or
configuration error, 3 a required tool is missing.
"""

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import VERSION, bench, build, compare, coverage, gate, html, mutate, report, run, tools, valgrind, variant
from concurrent.futures import ThreadPoolExecutor
from .errors import EXIT_GATE, EXIT_OK, EXIT_USAGE, AuditError, ToolMissing, UsageError

ROOT = tools.ROOT
# The checks gate.unchecked() can name.
UNCHECKABLE = ("coverage", "second counter", "memcheck", "baseline", "rejects")


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


def _compiler(args, tree):
    if args.compiler:
        path = shutil.which(args.compiler) or args.compiler
        return build.identify(path, bundled=False)
    return build.identify(tree.frc, bundled=True)


def _opts(text):
    try:
        opts = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected a comma-separated list such as 0,3")
    if any(o not in (0, 1, 2, 3) for o in opts):
        raise argparse.ArgumentTypeError("opt-levels are 0..3")
    return opts


class PhaseClock:
    """The run's phase timings, written to WORK_DIR/phases.json (read by
    `bench`'s audit section):

      {"schema": "frame-alloc-audit/phases@1",
       "phases": {name: {"wall_s": seconds, "cpu_s": CPU seconds of the
                         audit and the children it waited for}}}

    Phases in run order: build, harness, valgrind, coverage, rejects+report;
    a phase the run did not reach is absent.  build also carries
    "compiler_s" and "rustc_s" (wall seconds summed over build tasks),
    "built" and "cached" (libraries)."""

    SCHEMA = "frame-alloc-audit/phases@1"

    def __init__(self):
        self.phases, self._name, self._t = {}, None, None

    @staticmethod
    def _now():
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.monotonic(), me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def start(self, name):
        """Ends the current phase, if any, and starts `name` (None: none)."""
        now = self._now()
        if self._name:
            self.phases.setdefault(self._name, {}).update(
                wall_s=round(now[0] - self._t[0], 2), cpu_s=round(now[1] - self._t[1], 2))
        self._name, self._t = name, now

    def write(self, path):
        self.start(None)
        report.write_atomic(path, json.dumps({"schema": self.SCHEMA, "phases": self.phases},
                                             indent=1) + "\n")


def cmd_run(args):
    clock = PhaseClock()
    clock.start("build")
    tree = tools.BuildTree(args.build_dir, args.work_dir)
    interposer = None
    if args.interposer:
        interposer = Path(args.interposer).resolve()
        if not interposer.is_file():
            raise UsageError(f"--interposer {args.interposer}: no such library")
    rustc = tools.rustc()
    if args.valgrind == "on":
        tools.valgrind(required=True)      # fail before an hour of building, not after
    reports_dir = Path(args.report_dir) if args.report_dir else tree.reports
    reports_dir.mkdir(parents=True, exist_ok=True)
    # An interrupted run must not leave the previous run's report looking
    # like this one's: clear it first, write the new one at the very end.
    for old in report.REPORT_FILES:
        (reports_dir / old).unlink(missing_ok=True)
    fixtures_dir = Path(args.fixtures_dir)
    modes = variant.MODES
    generated = None
    disc = None
    if args.generated or args.scenario:
        if not (args.generated and args.scenario):
            raise UsageError("--generated and --scenario go together")
        generated = Path(args.generated).resolve()
        if not generated.is_file():
            raise UsageError(f"{generated}: no such module")
        scen_path = Path(args.scenario)
        fixtures = [run.Fixture(name=scen_path.stem, frs=None, toml=scen_path,
                                scenario=run.scenario_mod.load(scen_path))]
        modes = (args.mode,)
        compiler = build.Compiler(path=str(generated), name="generated",
                                  version=generated.name, bundled=False)
    else:
        compiler = _compiler(args, tree)
        disc = run.survey(fixtures_dir, args.fixtures or None)
        fixtures = disc.fixtures
    progress(f"audit: {len(fixtures)} fixture(s) x {len(modes)} shape(s) x "
             f"O{',O'.join(map(str, args.opt))} with {compiler.label}")

    outcomes = build.build_all(fixtures, compiler, tree, rustc, modes=modes, jobs=args.jobs,
                               progress=progress, generated=generated, opts=args.opt)
    rs = outcomes.values()
    clock.phases["build"] = {"compiler_s": round(sum(o.compile_s for o in rs), 2),
                             "rustc_s": round(sum(o.rustc_s for o in rs), 2),
                             "built": sum(o.built for o in rs), "cached": sum(o.cached for o in rs)}
    findings = []
    if disc:
        gate.check_scenarios(disc, findings)
    for o in outcomes.values():
        for e in o.errors:
            findings.append(gate.Finding("build", o.fixture, e))
        for problem in o.nostd_problems:
            findings.append(gate.Finding("nostd", o.fixture, f"{o.fixture}: {problem}"))
    if compiler.bundled:
        gate.check_golden(fixtures, outcomes, findings, ROOT)

    entries = [(o.fixture, o.mode, opt, lib) for o in outcomes.values()
               for opt, lib in sorted(o.libs.items())]
    measurements, harness_out = [], ""
    if entries:
        clock.start("harness")
        progress(f"audit: measuring {len(entries)} fixture librar{'y' if len(entries) == 1 else 'ies'} "
                 f"under the interposer")
        hr = run.run_harness(tree, entries, jobs=args.jobs, junit=reports_dir / "criterion.xml",
                             interposer=interposer)
        measurements, harness_out = hr.measurements, hr.output
        failed = gate.check_calibration(hr.output, findings)
        gate.check_calibration_records(measurements, findings, harness_failed=failed)
        gate.check_zero(measurements, findings,
                        {k: o.module for k, o in outcomes.items() if o.module})
        gate.check_records(measurements, findings, hr.output)
        gate.check_differential(fixtures, measurements, findings)
        gate.check_steady_closes(fixtures, measurements, findings)
        if args.baseline:
            gate.check_baseline_report(args.baseline, measurements, fixtures, findings)
        elif compiler.bundled:
            gate.check_baseline(measurements, ROOT / "reports" / "baseline.json", compiler, findings)
        if hr.status != 0 and not any(f.failure for f in findings):
            findings.append(gate.Finding("harness", "*",
                f"the harness exited {hr.status}:\n{hr.output[-2000:]}"))

    if measurements:
        clock.start("valgrind")
    vg = run_valgrind(args, tree, measurements, findings, outcomes, fixtures) if measurements else {}
    if vg:
        clock.start("coverage")
    cov = run_coverage(args, tree, fixtures, outcomes, measurements, findings) if vg else {}
    unchecked = gate.unchecked(measurements, vg, cov, valgrind_mode=args.valgrind,
                               baseline=bool(args.baseline or not compiler.bundled
                                             or (ROOT / "reports" / "baseline.json").exists()),
                               rejects=not (args.no_rejects and not generated))

    clock.start("rejects+report")
    rejects = []
    if not generated and not args.no_rejects:
        rejects = gate.check_reject(build.compile_rejects(compiler, fixtures_dir, tree.work / "rejects"),
                                    compiler.bundled, findings)
        progress(f"audit: {sum(r['ok'] for r in rejects)}/{len(rejects)} reject fixtures rejected as expected")

    strict_fails = {what: why for what, why in unchecked.items()
                    if what not in (args.allow_unchecked or ())}
    if strict_fails and args.strict:
        findings.append(gate.Finding("strict", "*",
            "--strict: not checked in this run: " + "; ".join(
                f"{what} ({why})" for what, why in strict_fails.items())))
    status = EXIT_GATE if any(f.failure for f in findings) else EXIT_OK
    print(report.table(fixtures, measurements, compiler))
    rep = report.to_json(fixtures, measurements, outcomes, compiler, findings, rejects, status, vg, cov,
                         unchecked=unchecked, skips=disc.skips if disc else {}, strict=args.strict)
    perf = report.performance(tree.reports / "bench.json")
    if perf:
        rep["performance"] = perf
    report.write_reports(rep, reports_dir)
    try:
        html.write(rep, reports_dir)
    except ToolMissing as e:
        print(f"note [html] report.html skipped: {e}")
    if args.verbose and harness_out:
        print(harness_out)
    for f in findings:
        tag = "FAIL" if f.failure else "note"
        print(f"{tag} [{f.rule}] {f.message}")
    nfail = sum(f.failure for f in findings)
    print(f"audit: {report.verdict_word(status, unchecked)} — {len(measurements)} librar"
          f"{'y' if len(measurements) == 1 else 'ies'} measured, {nfail} failure(s); "
          f"reports in {reports_dir}")
    clock.write(tree.work / "phases.json")
    return status


def _stamp(path):
    """What a file was built from (its build.py key) or, failing that, its
    size and modification time: a cache key for results derived from it."""
    key = Path(str(path) + ".key")
    if key.exists():
        return key.read_text()
    st = Path(path).stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def run_valgrind(args, tree, measurements, findings, outcomes=None, fixtures=()):
    """Gate rule 6 and the independent count: memcheck every library,
    massif the highest opt-level of each fixture x shape.  Valgrind's own
    stacks (memcheck's xtree) name the line of a call the interposer missed."""
    modules = {k: o.module for k, o in (outcomes or {}).items() if o.module}
    labels = {fx.name: [s.call for s in fx.scenario.steps] for fx in fixtures}
    if args.valgrind == "off":
        return {}
    vgbin = tools.valgrind(required=args.valgrind == "on")
    runner = tree.dir / "harness" / "faa-run"
    if not vgbin or not runner.exists():
        why = "apt-get install -y valgrind" + ("" if vgbin else "") + (
            ", then `make build` (faa-run needs valgrind/valgrind.h)" if not runner.exists() else "")
        findings.append(gate.Finding("valgrind", "*", f"Valgrind checks skipped: {why}", failure=False))
        return {}
    logdir = tree.work / "valgrind"
    top = {}
    for m in measurements:
        key = (m.fixture, m.mode)
        if m.verdict and m.opt >= top.get(key, (-1,))[0]:
            top[key] = (m.opt, m)
    jobs = [(m, "memcheck") for m in measurements if m.verdict] + [(m, "massif") for _, m in top.values()]
    progress(f"audit: Valgrind: {len(jobs)} run(s) (memcheck every library, massif per shape)")
    libs = {(m.fixture, m.mode, m.opt): m.meta_lib for m, _ in jobs}

    vg_version = build.run_tool([vgbin, "--version"], timeout=60).stdout.strip()

    def one(job):
        m, tool = job
        fn, cls = (valgrind.memcheck, valgrind.Memcheck) if tool == "memcheck" else (
            valgrind.massif, valgrind.Massif)
        lib = Path(libs[(m.fixture, m.mode, m.opt)])
        key = [_stamp(lib), _stamp(runner), vg_version, tool, valgrind.STEADY_REPEAT]
        extra = ()
        if tool == "memcheck":
            module = modules.get((m.fixture, m.mode))
            extra = (valgrind.STEADY_REPEAT, module.name if module else None)
            key += ["xtree", extra[1]]
        logdir.mkdir(parents=True, exist_ok=True)
        return job, valgrind.cached(fn, cls, key, logdir / f"{lib.stem}.{tool}.json",
                                    vgbin, str(runner), str(lib), logdir, *extra,
                                    reuse=not args.no_cache)

    out = {}
    with ThreadPoolExecutor(max_workers=args.jobs or max(1, os.cpu_count() or 1)) as pool:
        for (m, tool), res in pool.map(one, jobs):
            out[(m.fixture, m.mode, m.opt, tool)] = res
            tag = f"{m.fixture} {m.mode} O{m.opt}"
            if tool == "memcheck":
                if not res.ok:
                    findings.append(gate.Finding("memcheck", m.fixture, f"{tag}: {res.message}"))
                for d in valgrind.compare(m, res, modules.get((m.fixture, m.mode)),
                                          labels.get(m.fixture)):
                    findings.append(gate.Finding("valgrind-count", m.fixture,
                        f"{tag}: the interposer and Valgrind disagree — {d}"))
            elif not res.ok:
                findings.append(gate.Finding("massif", m.fixture, f"{tag}: {res.message}"))
    return out


def run_coverage(args, tree, fixtures, outcomes, measurements, findings):
    """Handler and .frs line coverage per fixture, from the O0 libraries (coverage.py)."""
    libs = {(m.fixture, m.mode): m.meta_lib for m in measurements if m.opt == 0 and m.verdict}
    modules = {k: o.module for k, o in outcomes.items() if o.module}
    cov, found = coverage.audit(fixtures, modules, libs, tools.valgrind(), tree.dir / "harness" / "faa-run",
                                tree.work / "coverage", ROOT, _stamp,
                                jobs=args.jobs or max(1, os.cpu_count() or 1),
                                reuse=not args.no_cache, progress=progress)
    findings += [gate.Finding("coverage", fx, msg, failure=fail) for fx, msg, fail in found]
    return cov


def cmd_mutate(args):
    """Mutation self-test of the gate on one fixture's no_alloc output (mutate.py)."""
    return mutate.command(args, progress=progress)


def cmd_regen(args):
    tree = tools.BuildTree(args.build_dir)
    frc = build.identify(tree.frc, bundled=True)
    fixtures_dir = Path(args.fixtures_dir)
    stale, written = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for frs in sorted(fixtures_dir.glob("*.frs")):
            for mode in variant.MODES:
                work = Path(tmp) / frs.stem
                module, err = build.compile_variant(frc, frs, mode, work)
                if err:
                    raise AuditError(err, status=EXIT_GATE)
                golden = ROOT / "generated" / frs.stem / f"{mode}.rs"
                new = module.read_text()
                if golden.exists() and golden.read_text() == new:
                    continue
                stale.append(golden.relative_to(ROOT))
                if not args.check:
                    golden.parent.mkdir(parents=True, exist_ok=True)
                    golden.write_text(new)
                    written += 1
    if args.check:
        for s in stale:
            print(f"stale golden: {s} (run `make regen` and review the diff)")
        print(f"regen --check: {len(stale)} stale golden(s)")
        return EXIT_GATE if stale else EXIT_OK
    print(f"regen: {written} golden(s) rewritten")
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
    rep = json.loads(src.read_text())
    doc = compare.baseline_document(compare.of_report(rep), rep["compiler"]["name"],
                                    rep["compiler"]["version"])
    dest = ROOT / "reports" / "baseline.json"
    compare.write_baseline(doc, dest)
    print(f"baseline: {len(doc['fixtures'])} fixture(s) written to {dest.relative_to(ROOT)}")
    return EXIT_OK


def cmd_compare(args):
    """Window-by-window difference of two runs; exit 1 on a regression."""
    a = compare.of_report(compare.load_report(args.old))
    b = compare.of_report(compare.load_report(args.new))
    regress = better = 0
    for c in compare.changes(a, b):
        k = c.key
        if c.old is None or c.new is None:
            print(f"{'only in new' if c.old is None else 'only in old'}: "
                  f"{k.fixture} {k.mode} {k.opt} {k.label()}")
            continue
        worse = c.more_allocations or (k.mode == "noalloc" and c.new != (0, 0))
        regress += worse
        better += not worse
        print(f"{'REGRESSION' if worse else 'changed'}: {k.fixture} {k.mode} O{k.opt} {k.label()}: "
              f"{c.old[0]}/{c.old[1]} -> {c.new[0]}/{c.new[1]} (allocations/frees)")
    print(f"compare: {len(set(a) & set(b))} window(s) in both, {regress} regression(s), "
          f"{better} other change(s)")
    return EXIT_GATE if regress else EXIT_OK


def cmd_publish(args):
    """Copies a run's reports to reports/<compiler>-<version>/."""
    src = Path(args.report_dir or tools.BuildTree(args.build_dir).reports)
    rep = compare.load_report(src / "report.json")
    c = rep["compiler"]
    name = "-".join(c["name"].split() + c["version"].split())
    dest = Path(args.into) / "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    if dest.exists() and not args.force:
        raise UsageError(f"{dest} exists; pass --force to replace it")
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in report.PUBLISHED_FILES:
        if (src / f).exists():
            shutil.copy2(src / f, tmp / f)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    print(f"publish: {rep['verdict']} run of {c['name']} {c['version']} -> {dest}/")
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

    r = sub.add_parser("run", help="audit fixtures (the CI gate)", description=(
        "Compile each fixture without and with @@[no_alloc], build one library per shape and "
        "opt-level, count allocator calls per dispatch under the interposer, and gate."))
    r.add_argument("fixtures", nargs="*", metavar="FIXTURE", help="fixture names (default: all)")
    r.add_argument("--compiler", metavar="PATH",
                   help="a framec-compatible compiler to audit instead of the bundled frc")
    r.add_argument("--generated", metavar="MODULE.rs", help="audit already generated code (one shape)")
    r.add_argument("--scenario", metavar="FILE.toml", help="the scenario for --generated")
    r.add_argument("--mode", choices=variant.MODES, default="noalloc",
                   help="the shape of the --generated module (default: %(default)s)")
    r.add_argument("--opt", type=_opts, default=build.OPT_LEVELS, metavar="0,3",
                   help="rustc opt-levels (default: 0,3)")
    r.add_argument("--baseline", metavar="REPORT.json",
                   help="fail on any window that allocates more than in this earlier report "
                        "(default for frc: reports/baseline.json)")
    r.add_argument("--jobs", type=int, default=None, help="parallel builds and harness workers")
    r.add_argument("--no-cache", action="store_true",
                   help="re-run Valgrind and Callgrind even for libraries that were not rebuilt "
                        "(their results are otherwise reused, keyed by the library's build hash)")
    r.add_argument("--no-rejects", action="store_true", help="skip fixtures/reject")
    r.add_argument("--valgrind", choices=("auto", "on", "off"), default="auto",
                   help="memcheck + massif + Valgrind's own count: auto runs them when Valgrind "
                        "is installed (else a note), on requires it (exit 3 without), off skips")
    r.add_argument("--report-dir", help="where reports go (default: BUILD/reports)")
    r.add_argument("--work-dir", help="scratch for variants, libraries and records (default: BUILD/audit); "
                                      "give concurrent runs different ones")
    r.add_argument("--strict", action="store_true",
                   help="a check that could not run (Valgrind absent or off: memcheck, the second "
                        "counter, coverage; coverage for a compiler without mapping comments) fails "
                        "the gate instead of showing as `PASS (unchecked: ...)`")
    r.add_argument("--allow-unchecked", metavar="CHECK", action="append",
                   choices=UNCHECKABLE,
                   help="with --strict, let this check stay unchecked (repeatable; it is still "
                        "named on the verdict line): e.g. coverage for a compiler that writes no "
                        ".frs mapping comments; one of " + ", ".join(UNCHECKABLE))
    r.add_argument("--interposer", metavar="PATH",
                   help="preload this libaudit.so instead of the build's (for the self-test with "
                        "deliberately broken interposers)")
    r.add_argument("-v", "--verbose", action="store_true", help="print the harness output")
    r.set_defaults(func=cmd_run)

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
    c = sub.add_parser("compare", help="compare two report.json files (exit 1 on a regression)",
                       description="Window-by-window comparison: more allocations in any window, or any "
                                   "allocation in a no_alloc window, is a regression.")
    c.add_argument("old")
    c.add_argument("new")
    c.set_defaults(func=cmd_compare)

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
    mu.add_argument("--jobs", type=int, default=None, help="audits run at once (default 2)")
    mu.set_defaults(func=cmd_mutate)

    u = sub.add_parser("publish", help="copy a run's reports to reports/<compiler>-<version>/")
    u.add_argument("--report-dir", help="the run to publish (default: BUILD/reports)")
    u.add_argument("--force", action="store_true", help="replace an existing published report")
    u.add_argument("--into", default=str(ROOT / "reports"), help="default: %(default)s")
    u.set_defaults(func=cmd_publish)

    bn = sub.add_parser("bench", help="benchmarks: interposer overhead, window cost, dispatch cost, "
                                      "the audit's own time", description=bench.DESCRIPTION)
    bench.add_arguments(bn)
    bn.set_defaults(func=cmd_bench)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.func(args)
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
