"""Compile fixtures with the compiler under audit and build fixture libraries.

Per fixture the work directory (BUILD/audit/NAME/) holds:
  variants/{alloc,noalloc}/fixtures/NAME.frs   the two sources (variant.py),
                                      under the fixture's own name (source_name)
  gen/{alloc,noalloc}/NAME.rs         the compiler's output
  shim/NAME_{mode}.rs                 the fixture's ABI module (shim.py), its
                                      functions exported as fx_IDENT__construct, ...
                                      (IDENT: crate_ident(NAME), e.g. my_fixture_1a2b3c4d
                                      for `my-fixture`; records and reports keep NAME)
and for all fixtures (bundle.py) BUILD/audit/bundles/:
  src/fxb_MODE_HASH_oN.rs             a bundle crate's root: its members' shims as modules
  lib/libfxb_MODE_HASH_oN.so          one cdylib per bundle x opt-level (fxs_: one
                                      fixture rebuilt alone after its bundle failed)
  nostd/                              the no_std proof of the no_alloc modules (nostd.py)

rustc runs are cached by content: a library is rebuilt only when the hash
of its inputs (root, shims, modules, rustc version, flags) changes.
"""

import hashlib
import os
import re
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import bundle, cbuild, procs, rustdiag, shim, tools, variant
from .progress import Phase
from .errors import EXIT_GATE, AuditError, ToolMissing, UsageError

OPT_LEVELS = (0, 3)
RUSTC_TIMEOUT = 600


def compile_timeout():
    """Seconds the compiler under audit gets per file: $FAA_COMPILE_TIMEOUT
    (a positive number), else 120."""
    text = os.environ.get("FAA_COMPILE_TIMEOUT", "120")
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not value > 0 or value == float("inf"):
        raise UsageError(f"FAA_COMPILE_TIMEOUT={text!r}: expected a positive number of seconds")
    return value


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def crate_ident(name):
    """The identifier a fixture goes by in symbol and module names
    (fx_IDENT__construct, mod fx_IDENT in a bundle, nostd_IDENT): its name
    when that is one ([A-Za-z_][A-Za-z0-9_]*), else
    the name with every other character turned into `_` (and `_` in front
    of a leading digit) plus `_` and 8 hex digits of the name's sha256, so
    that `my-fixture` and `my_fixture` stay distinct crates.  Two names of
    one run that still meet are refused (audit.check_names)."""
    if _IDENT.match(name):
        return name
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not safe or safe[0].isdigit():
        safe = "_" + safe
    return f"{safe}_{hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


@dataclass
class Compiler:
    path: str
    name: str
    version: str
    bundled: bool

    @property
    def label(self):
        return f"{self.name} {self.version}"


def identify(path, bundled):
    """Runs `COMPILER --version`; the first word is the name, the rest the version."""
    try:
        r = procs.run([path, "--version"], timeout=30)
    except FileNotFoundError as e:
        raise UsageError(f"compiler {path} not found") from e
    except PermissionError as e:
        raise UsageError(f"compiler {path} is not executable") from e
    except subprocess.TimeoutExpired as e:
        raise UsageError(f"`{path} --version` did not answer within 30 s") from e
    words = (r.stdout.strip().splitlines() or [""])[0].split()
    name = words[0] if words else Path(path).name
    version = " ".join(words[1:]) or "unknown"
    return Compiler(path=str(path), name=name, version=version, bundled=bundled)


@dataclass
class Outcome:
    """What happened to one fixture x mode on its way to libraries."""
    fixture: str
    mode: str
    module: Path | None = None
    libs: dict = field(default_factory=dict)      # opt -> Path (a bundle: bundle.py)
    errors: list = field(default_factory=list)    # human-readable failures
    nostd: str = "not run"                        # ok / failed / not run / n/a
    nostd_log: str = ""
    nostd_problems: list = field(default_factory=list)   # one finding each
    prefix: str = "fx_"                           # its ABI functions' symbol prefix in libs
    cached: int = 0
    built: int = 0
    compile_s: float = 0.0                        # wall seconds in the compiler
    rustc_s: float = 0.0                          # wall seconds in rustc (libs + no_std)
    target: str = "rust"                          # the generated code's language: rust or c (cbuild.py)


def run_tool(cmd, cwd=None, timeout=None):
    """procs.run (the child in its own process group, the whole group
    stopped on a timeout) that turns a missing program into ToolMissing."""
    try:
        return procs.run(cmd, cwd=cwd, timeout=timeout)
    except FileNotFoundError as e:
        raise ToolMissing(Path(str(cmd[0])).name, Path(str(cmd[0])).name) from e


def source_name(frs):
    """The path a fixture goes by: relative to the project when it is in
    it (fixtures/NAME.frs), else its folder's name and its own."""
    frs = Path(frs).resolve()
    try:
        return frs.relative_to(tools.ROOT)
    except ValueError:
        return Path(frs.parent.name, frs.name)


LANG_EXT = {"rust": "rs", "c": "c"}


def compile_variant(compiler, frs, mode, work, lang="rust"):
    """Writes the variant and compiles it; returns (module path or None, error).

    The variant goes to variants/MODE/ + the fixture's own name
    (source_name) and the compiler runs in variants/MODE/ on that relative
    path, so its diagnostics and mapping comments name the fixture; the
    variant keeps every line where it was (variant.py)."""
    name = source_name(frs)
    vdir = (work / "variants" / mode).resolve()
    gdir = (work / "gen" / mode).resolve()
    (vdir / name).parent.mkdir(parents=True, exist_ok=True)
    gdir.mkdir(parents=True, exist_ok=True)
    (vdir / name).write_text(variant.make(frs.read_text(encoding="utf-8"), mode),
                             encoding="utf-8")
    out = gdir / f"{frs.stem}.{LANG_EXT[lang]}"
    if out.exists():
        out.unlink()
    prog = Path(compiler.path).resolve() if os.sep in compiler.path else compiler.path
    cmd = [prog, "compile", "-l", lang, "-o", gdir, name]
    timeout = compile_timeout()
    try:
        r = run_tool(cmd, cwd=vdir, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, (f"{compiler.label} did not finish within {timeout:g} s on {frs} "
                      f"(FAA_COMPILE_TIMEOUT; it was stopped with every process it started)")
    if r.returncode < 0:
        return None, f"{compiler.label} crashed (signal {-r.returncode}) on {frs}\n{r.stderr}"
    if r.returncode == 65 and mode == "noalloc" and not compiler.bundled:
        return None, (f"no_alloc not supported by {compiler.label}: it rejected the "
                      f"@@[no_alloc] variant of {frs}\n{r.stderr}")
    if r.returncode != 0:
        return None, (f"{compiler.label} rejected the {mode} variant of {frs} "
                      f"(exit {r.returncode}):\n{r.stderr}")
    if not out.exists() or out.stat().st_size == 0:
        return None, f"{compiler.label} exited 0 but wrote nothing to {out}"
    return out, None


@dataclass
class Compiled:
    """One fixture x shape after the compile stage: the module, or why there is none."""
    fixture: object               # run.Fixture
    mode: str
    work: Path                    # BUILD/audit/NAME/
    module: Path | None = None
    error: str | None = None
    compile_s: float = 0.0        # wall seconds in the compiler
    api: object = None            # shim.ModuleApi, read and checked by audit.check_scenarios


def compile_all(fixtures, compiler, tree, modes=variant.MODES, jobs=None, generated=None):
    """The compile stage: every fixture x shape through the compiler under
    audit, in parallel; with `generated` ({fixture name: module}), each
    fixture's output is its module.
    Returns {(name, mode): Compiled} in fixture x mode order."""
    tasks = [(fx, m) for fx in fixtures for m in modes]
    phase = Phase("compile", len(tasks), "module")

    def one(task):
        fx, mode = task
        work = tree.work / fx.name
        work.mkdir(parents=True, exist_ok=True)
        c = Compiled(fixture=fx, mode=mode, work=work, module=generated and generated[fx.name])
        if generated is None:
            t0 = time.monotonic()
            c.module, c.error = compile_variant(compiler, fx.frs, mode, work,
                                                lang=getattr(fx, "target", "rust"))
            c.compile_s = time.monotonic() - t0
            phase.tick(f"{fx.name} {mode}" + (": FAILED" if c.error else ""))
        return c

    with ThreadPoolExecutor(max_workers=jobs or max(1, os.cpu_count() or 1)) as pool:
        return {(c.fixture.name, c.mode): c for c in pool.map(one, tasks)}


def prepare(c):
    """Shim one compiled module: (Outcome, bundle.Member or None when it
    cannot be built: the Outcome's errors say why)."""
    fx, mode, work, module = c.fixture, c.mode, c.work, c.module
    o = Outcome(fixture=fx.name, mode=mode, compile_s=c.compile_s)
    if c.error:
        o.errors.append(c.error)
        return o, None
    o.module = module
    text = module.read_text(encoding="utf-8", errors="replace")
    try:
        api = c.api             # audit.check_scenarios read and checked it; else do it here
        if api is None:
            api = shim.read_api(text, fx.scenario.system, where=str(module))
            shim.check_steps(api, fx.scenario)
    except UsageError as e:
        o.errors.append(str(e))
        return o, None
    ident = crate_ident(fx.name)
    o.prefix = bundle.prefix(ident)
    shim_rs = work / "shim" / f"{fx.name}_{mode}.rs"
    bundle.write_if_changed(shim_rs, shim.generate(fx.scenario, api, module.resolve(), mode, o.prefix))
    o.nostd = "n/a" if mode == "alloc" else "not run"
    return o, bundle.Member(fixture=fx.name, ident=ident, shim=shim_rs, module=module, text=text)


def _take_crates(results, mode, crates):
    """Each member's share of the crates built: its libraries, the counts
    and rustc's wall time (split evenly between a crate's members)."""
    for c in crates:
        for m in c.members:
            o = results[(m.fixture, mode)]
            o.rustc_s += c.seconds / len(c.members)
            if c.lib:
                o.libs[c.opt] = c.lib
                o.cached += c.cached
                o.built += not c.cached
            elif len(c.members) == 1:
                o.errors += c.errors


def nostd_check(o, member, ndir, rustc, rustc_ver, sysroot_cache):
    """Gate rule 4 (nostd.py) for one no_alloc module on its own."""
    from . import nostd
    wrapper = ndir / f"{member.fixture}_nostd.rs"
    bundle.write_if_changed(wrapper, shim.nostd_wrapper(member.module.resolve()))
    problems = nostd.prove(rustc, rustc_ver, wrapper, member.module, member.text, ndir,
                           f"nostd_{member.ident}", sysroot_cache=sysroot_cache)
    o.nostd = "failed" if problems else "ok"
    o.nostd_problems = problems
    o.nostd_log = "\n".join(problems)


def nostd_bucket(results, members, bdir, rustc, rustc_ver):
    """Gate rule 4 for a bucket of no_alloc modules: one proof crate of
    them all; only when it finds a problem is each module proved on its
    own, so every problem is named against its own fixture."""
    from . import nostd
    t0 = time.monotonic()
    ndir = bdir / "nostd"
    ndir.mkdir(parents=True, exist_ok=True)
    sysroot_cache = bdir.parent / "nostd-sysroot"
    if len(members) == 1:       # a bucket of one: its own proof, once (not the bucket's, then its own)
        o = results[(members[0].fixture, "noalloc")]
        nostd_check(o, members[0], ndir, rustc, rustc_ver, sysroot_cache)
        o.rustc_s += time.monotonic() - t0
        return
    name = bundle.crate_name("nostd", "noalloc", members)
    root = ndir / f"{name}.rs"
    bundle.write_if_changed(root, bundle.nostd_root(members))
    problems = nostd.prove(rustc, rustc_ver, root, root, "\0".join(m.text for m in members), ndir,
                           name, sysroot_cache=sysroot_cache)
    for m in members:
        o = results[(m.fixture, "noalloc")]
        if problems:
            nostd_check(o, m, ndir, rustc, rustc_ver, sysroot_cache)
        else:
            o.nostd = "ok"
        o.rustc_s += (time.monotonic() - t0) / len(members)


def _sources(compiled):
    """For rustdiag.once_per_fixture: per fixture x shape, its shim and a
    reader of the .frs its module names (the variant the compiler read,
    whose lines are the fixture's), None where there is none."""
    def reader(vdir):
        def read(rel):
            p = vdir / rel
            return p.read_text(encoding="utf-8", errors="replace") if p.is_file() else None
        return read
    return {key: (c.work / "shim" / f"{c.fixture.name}_{c.mode}.rs", reader(c.work / "variants" / c.mode))
            for key, c in compiled.items()}


class Outcomes(dict):
    """{(name, mode): Outcome}, and the crates built for them: the names of
    those rustc built in this run, and how many came from the cache."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.crates_built = []
        self.crates_cached = 0


def build_libraries(compiled, rustc, jobs=None, progress=None, opts=OPT_LEVELS, since=None, reuse=True):
    """The build stage: shim every compiled module, build them in bundle
    crates (bundle.py) and prove the no_alloc ones need neither std nor
    alloc; returns {(name, mode): Outcome}.  `since`: when the stage's wall
    time started (default now; build_all counts the compile too)."""
    rustc_ver = procs.run([rustc, "--version"], timeout=60).stdout.strip()
    jobs = jobs or max(1, os.cpu_count() or 1)
    t0 = time.monotonic() if since is None else since
    results, members = Outcomes(), {}
    c_part = {k: c for k, c in compiled.items() if cbuild.is_c(c.fixture)}
    for c in cbuild.build_libraries(c_part, results, Outcome, jobs=jobs, opts=opts):
        if c.lib and not c.cached:
            results.crates_built.append(bundle.crate_label(c))
        results.crates_cached += bool(c.lib and c.cached)
    compiled = {k: c for k, c in compiled.items() if k not in c_part}
    for key, c in compiled.items():
        results[key], m = prepare(c)
        if m:
            members.setdefault(c.mode, []).append(m)
    if not members:
        return results
    bdir = next(iter(compiled.values())).work.parent / "bundles"
    crates = 0
    phase = Phase("build", sum(len(bundle.tasks(ms, opts)) for ms in members.values()), "crate")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for mode, ms in members.items():
            built = bundle.build(ms, mode, opts, bdir, rustc, rustc_ver, pool, tick=phase.tick,
                                 reuse=reuse)
            _take_crates(results, mode, built)
            crates += len(built)
            results.crates_built += [bundle.crate_label(c) for c in built if c.lib and not c.cached]
            results.crates_cached += sum(1 for c in built if c.lib and c.cached)
        noalloc = [m for m in members.get("noalloc", []) if results[(m.fixture, "noalloc")].libs]
        proofs = bundle.buckets(noalloc) if noalloc else []
        nphase = Phase("no_std proof", len(proofs), "proof")

        def prove(b):
            nostd_bucket(results, b, bdir, rustc, rustc_ver)
            nphase.tick(f"{len(b)} no_alloc module(s)")
        list(pool.map(prove, proofs))
    rustdiag.once_per_fixture(results, _sources(compiled))
    if progress:
        rs = results.values()
        progress(f"audit: build phase {time.monotonic() - t0:.1f} s wall with {jobs} job(s): "
                 f"compiler {sum(o.compile_s for o in rs):.1f} s, rustc "
                 f"{sum(o.rustc_s for o in rs):.1f} s (summed over tasks); {crates} crate(s); "
                 f"fixture libraries: {sum(o.built for o in rs)} built, {sum(o.cached for o in rs)} cached")
    return results


def build_all(fixtures, compiler, tree, rustc, modes=variant.MODES, jobs=None,
              progress=None, generated=None, opts=OPT_LEVELS):
    """compile_all, then build_libraries: {(name, mode): Outcome}."""
    t0 = time.monotonic()
    compiled = compile_all(fixtures, compiler, tree, modes, jobs=jobs, generated=generated)
    return build_libraries(compiled, rustc, jobs=jobs, progress=progress, opts=opts, since=t0)


def compile_rejects(compiler, fixtures_dir, outdir):
    """Compiles each fixtures/reject/*.frs as it is, and each
    fixtures/reject/c/*.frs with `-l c` (gate.check_reject judges the
    result); returns [(frs, exit status or None when it timed out, stderr)]."""
    outdir.mkdir(parents=True, exist_ok=True)
    out = []
    rejects = [(frs, "rust") for frs in sorted((fixtures_dir / "reject").glob("*.frs"))]
    rejects += [(frs, "c") for frs in sorted((fixtures_dir / "reject" / "c").glob("*.frs"))]
    for frs, lang in rejects:
        try:
            r = run_tool([compiler.path, "compile", "-l", lang, "-o", outdir, frs],
                         timeout=compile_timeout())
            out.append((frs, r.returncode, r.stderr))
        except subprocess.TimeoutExpired:
            out.append((frs, None, "timed out"))
    return out


def regen_goldens(frc, fixtures_dir, generated_dir, write=True):
    """Compiles every fixture with the bundled frc; returns the goldens
    (generated_dir/NAME/MODE.rs, and generated_dir/NAME/c_MODE.c for the C
    fixtures in fixtures_dir/c) that differ from its output, rewritten
    when `write`.  A fixture frc rejects is an AuditError (exit 1)."""
    stale = []
    # Rust fixtures: generated/NAME/MODE.rs; C fixtures (fixtures/c/NAME.frs,
    # `frc compile -l c`): generated/NAME/c_MODE.c
    sources = [(frs, "rust", "{mode}.rs") for frs in sorted(Path(fixtures_dir).glob("*.frs"))]
    sources += [(frs, "c", "c_{mode}.c") for frs in sorted((Path(fixtures_dir) / "c").glob("*.frs"))]
    with tempfile.TemporaryDirectory() as tmp:
        for frs, lang, golden_name in sources:
            for mode in variant.MODES:
                module, err = compile_variant(frc, frs, mode, Path(tmp) / lang / frs.stem, lang=lang)
                if err:
                    raise AuditError(err, status=EXIT_GATE)
                golden = Path(generated_dir) / frs.stem / golden_name.format(mode=mode)
                new = module.read_text()
                if golden.exists() and golden.read_text() == new:
                    continue
                stale.append(golden)
                if write:
                    golden.parent.mkdir(parents=True, exist_ok=True)
                    golden.write_text(new)
    return stale
