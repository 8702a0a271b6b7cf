"""`audit run`, top to bottom: the data flow of one audit.

    compile           build.compile_all     fixtures -> {(name, mode): build.Compiled}
    build             build.build_libraries shim + rustc -> {(name, mode): build.Outcome}
    measure           run.measure           libraries under the interposer -> run.HarnessRun
    second counter    valgrind.stage        memcheck, Valgrind's count, massif -> valgrind.ValgrindRun
    coverage          coverage.stage        Callgrind: handlers and .frs lines run
    gate              gate.check_*          one function per rule -> [gate.Finding]
    report            report / html         report.json, report.md, junit.xml, report.html

Each stage is a function of its own module; this one only passes their
results along, times the phases (WORK_DIR/phases.json) and prints.
"""

import os
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import progress as progress_mod
from . import (build, cbuild, coverage, gate, html, junit, model, procs, report, run, scenario, shard, sites,
               tools, valgrind, variant, workdir)
from .errors import EXIT_GATE, EXIT_OK, ToolMissing, UsageError

ROOT = tools.ROOT
BASELINE = ROOT / "reports" / "baseline.json"


def progress(msg):
    """A progress line on stderr (progress.py: nothing under -q)."""
    progress_mod.say(msg)


@dataclass
class Options:
    """What `audit run` was asked to do (cli.py fills it from the command line)."""
    build_dir: str
    fixtures_dir: str
    fixtures: list = field(default_factory=list)     # names; empty: all
    compiler: str | None = None
    generated: str | None = None
    lang: str | None = None                          # --lang rust|c of --generated (default: its extension)
    scenario: str | None = None
    mode: str = "noalloc"
    opt: tuple = build.OPT_LEVELS
    baseline: str | None = None
    jobs: int | None = None
    no_cache: bool = False
    no_rejects: bool = False
    valgrind: str = "auto"
    report_dir: str | None = None
    work_dir: str | None = None
    strict: bool = False
    non_blocking: bool = False   # --non-blocking: every no_alloc window must make no blocking call
    allow_unchecked: list = field(default_factory=list)
    interposer: str | None = None
    verbose: bool = False
    quiet: bool = False          # -q: only the findings and the verdict
    junit_flavour: str = "plain"     # --junit-flavour plain | gitlab (junit.FLAVOURS)
    annotations: str | None = None   # --annotations github
    color: str = "auto"          # --color auto | always | never (NO_COLOR: never)
    shard: object = None               # --shard K/N (a shard.Spec): this machine's 1/N of the selection
    shard_costs: str | None = None     # --shard-costs FILE: balance the shards by its costs

    @property
    def workers(self):
        return self.jobs or max(1, os.cpu_count() or 1)


@dataclass
class Target:
    """What this run audits: the fixtures, the shapes and the compiler."""
    fixtures: list
    modes: tuple
    compiler: build.Compiler
    generated: dict | None = None          # --generated: {fixture name: module} instead of a compiler
    discovery: run.Discovery | None = None  # fixtures/ as found (None with --generated)
    shard: dict | None = None              # --shard: report.json's `shard` (shard.take)
    check_rejects: bool = True             # fixtures/reject: not with --generated, --no-rejects
                                           # or on shards 2..N (shard 1 checks them)


@dataclass
class Run:
    """Everything the stages produced, handed to the gate and the report."""
    outcomes: dict
    findings: list = field(default_factory=list)
    harness: run.HarnessRun | None = None
    vg: valgrind.ValgrindRun = field(default_factory=valgrind.ValgrindRun)
    coverage: dict = field(default_factory=dict)
    rejects: list = field(default_factory=list)
    unchecked: dict = field(default_factory=dict)

    @property
    def measurements(self):
        return self.harness.measurements if self.harness else []

    @property
    def modules(self):
        return {k: o.module for k, o in self.outcomes.items() if o.module}


class PhaseClock:
    """The run's phase timings, written to WORK_DIR/phases.json (read by
    `bench`'s audit section):

      {"schema": "frame-alloc-audit/phases@1",
       "phases": {name: {"wall_s": seconds, "cpu_s": CPU seconds of the
                         audit and the children it waited for}}}

    Phases in run order: build, harness, valgrind+coverage (side by side),
    rejects+report;
    a phase the run did not reach is absent.  build also carries
    "compiler_s" and "rustc_s" (wall seconds summed over build tasks),
    "built" and "cached" (libraries)."""

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

    def built(self, outcomes):
        rs = outcomes.values()
        self.phases["build"] = {"compiler_s": round(sum(o.compile_s for o in rs), 2),
                                "rustc_s": round(sum(o.rustc_s for o in rs), 2),
                                "built": sum(o.built for o in rs), "cached": sum(o.cached for o in rs),
                                "crates_built": len(getattr(outcomes, "crates_built", [])),
                                "crates_cached": getattr(outcomes, "crates_cached", 0),
                                "crates_rebuilt": list(getattr(outcomes, "crates_built", []))}

    def write(self, path):
        self.start(None)
        model.Phases(self.phases).write(path)


def audit(opts):
    """One audit run; returns the exit status (0 pass, 1 the gate failed).

    Everything is checked before anything is written (arguments, fixtures,
    scenarios, the report dir); then the work dir is locked for the run
    (workdir.py); the previous run's reports stay as they are until this
    run's are complete (write_report)."""
    clock = PhaseClock()
    clock.start("build")
    tree = tools.BuildTree(opts.build_dir, opts.work_dir)
    interposer = _interposer(opts)
    rustc = tools.rustc()
    if opts.valgrind == "on":
        tools.valgrind(required=True)      # fail before an hour of building, not after
    reports_dir = _reports_dir(opts, tree)
    target = select(opts, tree)
    apis = {}
    if target.generated:                 # its module is there: check before anything is written
        apis = check_scenarios([(fx, target.generated[fx.name]) for fx in target.fixtures], rustc,
                               generated=True)
    with workdir.lock(tree.work):
        return _stages(opts, tree, target, clock, reports_dir, interposer, rustc, apis)


def _stages(opts, tree, target, clock, reports_dir, interposer, rustc, apis=None):
    """audit(), once everything is checked and the work dir is locked."""
    (tree.work / "criterion.xml").unlink(missing_ok=True)
    progress(f"audit: {len(target.fixtures)} fixture(s) x {len(target.modes)} shape(s) x "
             f"O{',O'.join(map(str, opts.opt))} with {target.compiler.label}")

    t0 = time.monotonic()
    compiled = build.compile_all(target.fixtures, target.compiler, tree, target.modes, jobs=opts.jobs,
                                 generated=target.generated)
    if not target.generated:
        apis = check_scenarios([(c.fixture, c.module) for c in compiled.values()
                                if c.module and not c.error], rustc)
    for c in compiled.values():          # the shim's build takes the API checked here
        c.api = (apis or {}).get(_module_key(c.module)) if c.module else None
    r = Run(outcomes=build.build_libraries(compiled, rustc, jobs=opts.jobs, progress=progress,
                                           opts=opts.opt, since=t0, reuse=not opts.no_cache))
    clock.built(r.outcomes)
    gate_build(target, r)
    if any(o.libs for o in r.outcomes.values()):
        clock.start("harness")
    r.harness = run.measure(tree, r.outcomes, jobs=opts.jobs, junit=tree.work / "criterion.xml",
                            interposer=interposer, progress=progress)
    if r.harness:
        gate_measurements(opts, target, r)
    if r.measurements:
        clock.start("valgrind+coverage")
        second_counter(opts, target, tree, r)
    clock.start("rejects+report")
    gate_rest(opts, target, tree, r)
    status = write_report(opts, target, tree, reports_dir, r)
    clock.write(tree.work / "phases.json")
    return status


def second_counter(opts, target, tree, r):
    """Valgrind (memcheck, massif) and coverage (Callgrind), side by side:
    both only read the libraries, so neither waits for the other's tail."""
    from concurrent.futures import ThreadPoolExecutor
    if opts.valgrind == "off":
        return
    vg_bin = tools.valgrind(required=opts.valgrind == "on")
    runner = tree.dir / "harness" / "faa-run"
    with ThreadPoolExecutor(max_workers=2) as pool:
        vg = pool.submit(valgrind.stage, r.measurements, r.modules, vg_bin, runner, tree.work / "valgrind",
                         opts.workers, reuse=not opts.no_cache, progress=progress)
        cov = None
        # C fixtures (cbuild.py): their coverage is ccoverage.py's (#line directives)
        rust = [fx for fx in target.fixtures if not cbuild.is_c(fx)]
        rust_ms = [m for m in r.measurements if m.fixture in {fx.name for fx in rust}]
        if vg_bin and runner.exists() and rust:
            cov = pool.submit(coverage.stage, rust, r.modules, rust_ms, vg_bin, runner,
                              tree.work / "coverage", ROOT, opts.workers, reuse=not opts.no_cache,
                              progress=progress)
        r.vg = vg.result()
        gate.check_valgrind(r.vg, r.measurements, r.modules, target.fixtures, r.findings)
        if cov is not None and r.vg.results:
            r.coverage, found = cov.result()
            gate.check_coverage(found, r.findings)
        c_fx = [fx for fx in target.fixtures if cbuild.is_c(fx)]
        if vg_bin and runner.exists() and c_fx and r.vg.results:
            from . import ccoverage
            c_names = {fx.name for fx in c_fx}
            c_cov, found = ccoverage.stage(c_fx, r.modules, [m for m in r.measurements if m.fixture in c_names],
                                           vg_bin, runner, tree.work / "coverage" / "c", ROOT,
                                           jobs=opts.workers, reuse=not opts.no_cache)
            r.coverage = {**(r.coverage or {}), **c_cov}
            gate.check_coverage(found, r.findings)


def _interposer(opts):
    if not opts.interposer:
        return None
    path = Path(opts.interposer).resolve()
    if not path.is_file():
        raise UsageError(f"--interposer {opts.interposer}: no such library")
    return path


def _reports_dir(opts, tree):
    """Where the reports go, checked but not touched: a run that stops
    early (a usage error, SIGINT, SIGTERM) leaves the previous run's
    reports as they were; write_report replaces them all at the end."""
    d = Path(opts.report_dir) if opts.report_dir else tree.reports
    if d.exists() and not d.is_dir():
        raise UsageError(f"report dir {d} is not a directory")
    for f in report.REPORT_FILES:
        if (d / f).is_dir():
            raise UsageError(f"{d / f} is a directory: the report cannot be written there")
    near = d
    while not near.exists() and near != near.parent:
        near = near.parent
    if not os.access(near, os.W_OK | os.X_OK):
        raise UsageError(f"report dir {d}: {near} is not writable")
    if opts.baseline and not Path(opts.baseline).is_file():
        raise UsageError(f"--baseline {opts.baseline}: no such file")
    build.compile_timeout()                 # FAA_COMPILE_TIMEOUT must make sense
    return d


def _replace_reports(reports_dir, rep, criterion, prev=None, junit_flavour="plain"):
    """The previous run's report files, all of them, replaced by this
    run's (report.md compared with `prev`, a report.Previous); a stopping
    signal waits until the set is complete."""
    with procs.deferred():
        reports_dir.mkdir(parents=True, exist_ok=True)
        for old in report.REPORT_FILES:
            (reports_dir / old).unlink(missing_ok=True)
        report.write_reports(rep, reports_dir, prev, junit_flavour=junit_flavour)
        if criterion.exists():
            report.write_atomic(reports_dir / "criterion.xml",
                                criterion.read_text(encoding="utf-8", errors="replace"))
        try:
            html.write(rep, reports_dir)
        except ToolMissing as e:
            print(f"note [html] report.html skipped: {e}")


def _module_key(module):
    return str(Path(module).resolve())


def check_scenarios(pairs, rustc=None, generated=False):
    """Each (fixture, generated Rust module): the scenario against the
    module's API (shim.check_module: system, constructor, methods,
    arity, argument types, domain fields; with `rustc`, the arguments
    whose type their text does not say, type-checked by rustc).  A mistake is a usage error
    (exit 2) naming the scenario's lines, found before anything is built:
    with --generated before anything is written, else right after the
    compile.  A module the shim cannot read at all (shim.ModuleProblem) is
    a usage error with --generated, else that fixture's build failure
    (build.prepare reports it) and the audit goes on.  Returns {resolved
    module path: its shim.ModuleApi} of the Rust modules checked, for
    build.prepare (which reads and checks a module only when it is not there)."""
    from . import cshim, shim
    problems, apis = [], {}
    for fx, module in pairs:
        if getattr(fx, "target", "rust") == "c":
            # C (cshim.check_module): with --generated, a module the shim
            # cannot read, a scenario that does not fit it, or a runtime
            # that is not in it is exit 2; a compiler's is its build failure
            if generated:
                try:
                    cshim.check_module(Path(module).read_text(encoding="utf-8", errors="replace"),
                                       fx.scenario, module)
                except UsageError as e:
                    problems.append(str(e))
            continue
        if getattr(fx, "target", "rust") != "rust":
            continue
        try:
            apis[_module_key(module)] = shim.check_module(
                Path(module).read_text(encoding="utf-8", errors="replace"),
                fx.scenario, where=str(module), module_path=module, rustc=rustc)
        except shim.ModuleProblem as e:
            if generated:
                problems.append(str(e))
        except UsageError as e:
            problems.append(str(e))
    if problems:
        raise UsageError("\n".join(dict.fromkeys(problems)))
    return apis


def check_names(fixtures):
    """Fixture names become file names, manifest fields and crate names
    (build.crate_ident): no control characters, and no two names of one
    run may come out as the same crate."""
    seen = {}
    for fx in fixtures:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in fx.name):
            raise UsageError(f"fixture name {fx.name!r}: control characters (a tab, a newline) "
                             f"cannot be in a fixture's name; rename {fx.toml}")
        ident = build.crate_ident(fx.name)
        if ident in seen and seen[ident] != fx.name:
            raise UsageError(f"fixtures {seen[ident]!r} and {fx.name!r} would both build crate "
                             f"{ident!r}: rename one")
        seen[ident] = fx.name


def select(opts, tree):
    """The fixtures of fixtures/ (all, or the named ones) with the compiler
    under audit, or the --generated module(s) with their --scenario; with
    --shard K/N, this shard's share of them (shard.take)."""
    if opts.shard_costs and not opts.shard:
        raise UsageError("--shard-costs goes with --shard K/N")
    if opts.shard and (opts.generated or opts.scenario):
        raise UsageError("--shard shares out fixtures of fixtures/; --generated audits one module")
    if not (opts.generated or opts.scenario):
        if getattr(opts, "mode", None):
            raise UsageError(f"--mode {opts.mode}: --mode is the shape of a --generated module; a run "
                             f"over fixtures/ builds both shapes of every fixture and compares them")
        compiler = (build.identify(shutil.which(opts.compiler) or opts.compiler, bundled=False)
                    if opts.compiler else build.identify(tree.frc, bundled=True))
        disc = run.survey(Path(opts.fixtures_dir), opts.fixtures or None)
        check_names(disc.fixtures)
        target = Target(fixtures=disc.fixtures, modes=variant.MODES, compiler=compiler,
                        discovery=disc, check_rejects=not opts.no_rejects)
        return _shard(opts, target) if opts.shard else target
    if not (opts.generated and opts.scenario):
        raise UsageError("--generated and --scenario go together")
    scen_path = Path(opts.scenario)
    generated = generated_modules(opts.generated, scen_path.stem)
    scen = scenario.load(scen_path)
    fixtures = [run.Fixture(name=name, frs=None, toml=scen_path, scenario=scen,
                            target=opts.lang or ("c" if path.suffix == ".c" else "rust"))
                for name, path in generated.items()]
    check_names(fixtures)
    first = next(iter(generated.values()))
    compiler = build.Compiler(path=str(first), name="generated", bundled=False,
                              version=first.name if len(generated) == 1 else f"{len(generated)} modules")
    return Target(fixtures=fixtures, modes=(opts.mode or "noalloc",), compiler=compiler, generated=generated,
                  check_rejects=False)


def generated_modules(args, scenario_stem):
    """--generated [NAME=]MODULE, once or more: {fixture name: module}, each
    module its own fixture under the one --scenario.  One module without a
    NAME goes by the scenario's name; of several, each by NAME or else by
    its folder's name."""
    args = [args] if isinstance(args, (str, Path)) else list(args)
    out = {}
    for arg in map(str, args):
        name, sep, path = arg.partition("=")
        if not (sep and name and "/" not in name) or Path(arg).is_file():
            name, path = None, arg
        module = Path(path).resolve()
        if not module.is_file():
            raise UsageError(f"{module}: no such module")
        name = name or (scenario_stem if len(args) == 1 else module.parent.name)
        if name in out:
            raise UsageError(f"--generated: two modules go by the fixture name {name!r} "
                             f"({out[name]}, {module}): name them NAME=MODULE")
        out[name] = module
    return out


def _shard(opts, target):
    """--shard K/N: the target narrowed to shard K's fixtures; what is
    about the whole corpus (fixtures/reject, the survey's .frs files
    without a scenario and SKIP.toml's stale entries) is shard 1's alone."""
    target.fixtures, target.shard = shard.take(target.fixtures, opts.shard, opts.shard_costs)
    if opts.shard.k != 1:
        target.check_rejects = False
        disc = target.discovery
        disc.unscenarioed, disc.stale_skips, disc.skipped_with_scenario = [], [], []
    progress(f"audit: shard {opts.shard}: {len(target.fixtures)} of {len(target.shard['fixtures'])} "
             f"fixture(s), shared out by {target.shard['balance']}"
             f"{'; fixtures/reject and the fixtures/ survey on shard 1' if opts.shard.n > 1 else ''}")
    return target


def gate_build(target, r):
    """The rules that need only the build: scenario, build, nostd, golden."""
    if target.discovery:
        gate.check_scenario(target.discovery, r.findings)
    for o in r.outcomes.values():
        gate.check_build(o, r.findings)
        gate.check_nostd(o, r.findings)
    if target.compiler.bundled:
        gate.check_golden(target.fixtures, r.outcomes, r.findings, ROOT)


def gate_measurements(opts, target, r):
    """The rules over the interposer's counts: calibration, zero, the
    records' completeness, differential, steady, baseline."""
    ms, out, findings = r.measurements, r.harness.output, r.findings
    failed = gate.check_calibration(out, findings)
    gate.check_calibration_records(ms, findings, harness_failed=failed)
    gate.check_zero(ms, findings, r.modules)
    gate.check_nonblocking(gate.non_blocking(target.fixtures, ms, opts.non_blocking),
                           findings, r.modules)
    gate.check_records(ms, findings, out)
    gate.check_differential(target.fixtures, ms, findings)
    gate.check_steady(target.fixtures, ms, findings)
    if opts.baseline:
        gate.check_baseline_report(opts.baseline, ms, target.fixtures, findings)
    elif target.compiler.bundled:
        gate.check_baseline(ms, BASELINE, target.compiler, findings)
    gate.check_harness(r.harness, findings)


def gate_rest(opts, target, tree, r):
    """What could not be checked, the reject fixtures, and --strict."""
    r.unchecked = gate.unchecked(
        r.measurements, r.vg.results, r.coverage, valgrind_mode=opts.valgrind,
        baseline=bool(opts.baseline or not target.compiler.bundled or BASELINE.exists()),
        rejects=not (opts.no_rejects and not target.generated))
    if target.check_rejects:
        compiled = build.compile_rejects(target.compiler, Path(opts.fixtures_dir), tree.work / "rejects")
        r.rejects = gate.check_reject(compiled, target.compiler.bundled, r.findings)
        progress(f"audit: {sum(x['ok'] for x in r.rejects)}/{len(r.rejects)} reject fixtures "
                 f"rejected as expected")
    if opts.strict:
        gate.check_strict(r.unchecked, opts.allow_unchecked, r.findings)


def write_report(opts, target, tree, reports_dir, r):
    """The table, report.json/.md/.html and junit.xml, the findings and the
    verdict line; returns the exit status."""
    status = EXIT_GATE if any(f.failure for f in r.findings) else EXIT_OK
    ms = r.measurements
    if not opts.quiet:
        print(report.table(target.fixtures, ms, target.compiler))
    rep = report.build(target.fixtures, ms, r.outcomes, target.compiler, r.findings, r.rejects,
                       status, r.vg.results, r.coverage, unchecked=r.unchecked,
                       skips=target.discovery.skips if target.discovery else {}, strict=opts.strict,
                       performance=report.performance(tree.reports / "bench.json"),
                       massif=r.vg.massif, work_dir=tree.work, fixtures_dir=opts.fixtures_dir,
                       non_blocking=opts.non_blocking)
    rep.shard = target.shard
    sites.attach(rep, r.vg.results, r.outcomes, tree.work)
    prev = opts.baseline or (BASELINE if target.compiler.bundled and BASELINE.exists() else None)
    _replace_reports(reports_dir, rep, tree.work / "criterion.xml",
                     report.previous(prev, rep) if prev else None, junit_flavour=opts.junit_flavour)
    shard.record_costs(tree.work / "costs.json", r.outcomes)
    if opts.verbose and r.harness and r.harness.output:
        print(r.harness.output)
    for f in r.findings:
        word = progress_mod.paint("FAIL", "fail") if f.failure else progress_mod.paint("note", "note")
        print(f"{word} [{f.rule}] {f.message}")
    if opts.annotations:
        for line in junit.annotations(rep, opts.annotations):
            print(line)
    nfail = sum(f.failure for f in r.findings)
    verdict = report.verdict_word(status, r.unchecked)
    print(f"audit: {progress_mod.paint(verdict, 'pass' if status == 0 else 'fail')} — {len(ms)} librar"
          f"{'y' if len(ms) == 1 else 'ies'} measured, {nfail} failure(s); reports in {reports_dir}")
    return status
