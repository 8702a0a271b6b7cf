"""Valgrind: memcheck (errors, leaks, an independent per-window count) and
massif (peak heap and heap over time) for each fixture library.

The independent count: harness/faa-run drives the library with no
interposer and writes FAA-OPEN/FAA-CLOSE markers into Valgrind's log;
with --trace-malloc=yes Valgrind logs every allocator call its own malloc
replacement serves.  The calls between two markers are that window's count,
measured by a second, unrelated mechanism; the gate compares them with the
interposer's, window by window.  Valgrind's count covers every thread of
the process (its trace lines carry no thread filter, and Valgrind runs one
thread at a time, so another thread's call between two markers lands in
that window).

Valgrind's own stacks: --trace-malloc has none, so the same memcheck run
also writes its heap execution tree (--xtree-memory=full, Massif format,
which keeps inlined frames): for every distinct stack, the blocks it
allocated (totBk) and freed (totFdBk) over the whole run.  The stacks that
pass through the generated module are kept (parse_xtree); when Valgrind
sees more calls in a window than the interposer, the finding names the
allocating generated line and .frs line from them (attribute.locate).  In a
no_alloc library every call the module makes happens inside some window,
so a whole-run tree is enough; the window a stack belongs to is told by the
interface method (or __create) on it.
"""

import dataclasses
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import procs, sites as alloc_sites, xtree
from .progress import Phase

STEADY_REPEAT = 20          # steady cycles under Valgrind (it is ~50x slower)
TIMEOUT = 900

_ALLOC_FUNCS = {"malloc", "calloc", "realloc", "memalign", "posix_memalign",
                "aligned_alloc", "valloc", "pvalloc", "reallocarray"}
_TRACE = re.compile(r"^--\d+-- (\w+)\(")
_MARK = re.compile(r"^\*\*\d+\*\* FAA-(OPEN (\w+) (\d+)|CLOSE)")


@dataclass
class Memcheck:
    lib: str
    ok: bool = False
    errors: int = -1
    definitely_lost: int = 0
    indirectly_lost: int = 0
    windows: list = field(default_factory=list)   # [{phase, step, allocs, frees}]
    message: str = ""
    log: str = ""
    # Valgrind's stacks through the generated module (parse_xtree):
    # [{"frames": [[function, file, line], ...innermost first], "allocs": n, "frees": n}]
    stacks: list = field(default_factory=list)
    # Every allocating stack through the module, cut to the module's and the
    # fixture's ABI frames, uncapped (sites.collect; sites.table reads them)
    sites: list = field(default_factory=list)


_FIXTURE = re.compile(r"^\*\*\d+\*\* FAA-FIXTURE (\S+)")


def split_fixtures(log, default="fx_"):
    """{prefix: the part of a faa-run log about that fixture}: faa-run over a
    bundle writes `FAA-FIXTURE PREFIX` before each fixture's markers; a
    log without one is all about `default`."""
    parts, cur = {}, default
    for line in log.splitlines(keepends=True):
        m = _FIXTURE.match(line)
        if m:
            cur = m.group(1)
            parts.setdefault(cur, [])
            continue
        parts.setdefault(cur, []).append(line)
    return {k: "".join(v) for k, v in parts.items()}


def parse_trace(log):
    """Per-window allocator calls from a --trace-malloc=yes log with markers."""
    windows, cur = [], None
    for line in log.splitlines():
        m = _MARK.match(line)
        if m:
            if m.group(1) == "CLOSE":
                if cur is not None:
                    windows.append(cur)
                cur = None
            else:
                cur = {"phase": m.group(2), "step": int(m.group(3)), "allocs": 0, "frees": 0}
            continue
        if cur is None:
            continue
        t = _TRACE.match(line)
        if t:
            name = t.group(1)
            if name == "free":
                cur["frees"] += 1
            elif name in _ALLOC_FUNCS:
                cur["allocs"] += 1
    return windows


def _num(pattern, text):
    m = re.search(pattern, text)
    return int(m.group(1).replace(",", "")) if m else 0


def _run_tool(cmd, result, tool):
    """Runs a valgrind tool: the finished process, or None (with `result.message`
    saying so) when it did not finish within TIMEOUT."""
    try:
        return procs.run(cmd, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        result.message = f"{tool} did not finish within {TIMEOUT} s"
        return None


def memcheck(valgrind, runner, lib, logdir, prefixes=("fx_",), module_names=None,
             repeat=STEADY_REPEAT, sites=False):
    """One memcheck run of faa-run over `lib` and the fixtures of `prefixes`
    (a bundle: bundle.py); returns {prefix: Memcheck}.  Errors and leaks are
    the run's, so every fixture of the run shares them; the windows and the
    xtree stacks (kept when they pass through the fixture's generated
    module, `module_names` {prefix: file name}) are each fixture's own;
    with `sites`, so are all their allocating stacks (sites.collect)."""
    logdir.mkdir(parents=True, exist_ok=True)
    log = logdir / (Path(lib).stem + ".memcheck.log")
    xtree = logdir / (Path(lib).stem + ".xtree.ms")
    xtree.unlink(missing_ok=True)
    cmd = [valgrind, "--tool=memcheck", "--trace-malloc=yes", "--leak-check=full",
           "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
           "--xtree-memory=full", f"--xtree-memory-file={xtree}", "--num-callers=40",
           f"--log-file={log}", runner, "--repeat", str(repeat), str(lib), *prefixes]
    run = Memcheck(lib=str(lib))
    p = _run_tool(cmd, run, "memcheck")
    if p is None:
        return {pfx: dataclasses.replace(run) for pfx in prefixes}
    text = log.read_text(errors="replace") if log.exists() else ""
    run.log = str(log)
    run.errors = _num(r"ERROR SUMMARY: ([\d,]+) errors", text)
    run.definitely_lost = _num(r"definitely lost: ([\d,]+) bytes", text)
    run.indirectly_lost = _num(r"indirectly lost: ([\d,]+) bytes", text)
    others = f" (one run of {len(prefixes)} fixtures: {', '.join(prefixes)})" if len(prefixes) > 1 else ""
    if p.returncode not in (0, 99):
        run.message = f"faa-run exited {p.returncode} under memcheck{others}: {p.stderr.strip()[-500:]}"
    elif run.errors or run.definitely_lost or run.indirectly_lost:
        run.message = (f"memcheck: {run.errors} error(s), {run.definitely_lost} bytes definitely "
                       f"and {run.indirectly_lost} indirectly lost{others} (log: {log})")
    else:
        run.ok = True
    tree = xtree.read_text(errors="replace") if xtree.exists() else ""
    parts = split_fixtures(text, default=prefixes[0])
    collected = alloc_sites.collect(tree, module_names or {}) if sites and tree else {}
    stacks = parse_xtree_modules(tree, [n for n in (module_names or {}).values() if n]) if tree else {}
    out = {}
    for pfx in prefixes:
        name = (module_names or {}).get(pfx)
        out[pfx] = dataclasses.replace(run, windows=parse_trace(parts.get(pfx, "")),
                                       stacks=stacks.get(name, []) if name else [],
                                       sites=collected.get(pfx, []))
    return out


@dataclass
class Massif:
    lib: str
    mode: str = ""
    opt: int = 0
    fixtures: list = field(default_factory=list)   # the fixtures the process ran, in order
    peak: int = 0
    series: list = field(default_factory=list)   # [(time, heap bytes)]
    ok: bool = False
    message: str = ""


def massif(valgrind, runner, lib, logdir, prefixes=("fx_",), repeat=STEADY_REPEAT):
    """Peak heap and heap over time (massif's instruction clock) of one
    faa-run process driving the fixtures of `prefixes` in turn."""
    logdir.mkdir(parents=True, exist_ok=True)
    out = logdir / (Path(lib).stem + ".massif.out")
    # Only the heap sizes over time are read, never the snapshots' trees:
    # without inline info (massif reads it by default) the same series
    # costs about a quarter less CPU (Valgrind's start-up is most of a run)
    cmd = [valgrind, "--tool=massif", "--read-inline-info=no", f"--massif-out-file={out}",
           "--max-snapshots=200", runner, "--repeat", str(repeat), str(lib), *prefixes]
    r = Massif(lib=str(lib))
    p = _run_tool(cmd, r, "massif")
    if p is None:
        return r
    if p.returncode != 0 or not out.exists():
        r.message = f"massif run failed (exit {p.returncode}): {p.stderr.strip()[-500:]}"
        return r
    t = None
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith("time="):
            t = int(line[5:])
        elif line.startswith("mem_heap_B=") and t is not None:
            r.series.append((t, int(line[11:])))
    r.peak = max((b for _, b in r.series), default=0)
    r.ok = True
    return r


_XT_FRAME = re.compile(r"^0x[0-9A-Fa-f]+: (.*) \(([^()]*?):(\d+)\)$")
_XT_EVENTS = {"totBk": "allocs", "totFdBk": "frees"}


def parse_xtree(text, module_name, limit=200):
    """Stacks through `module_name` from an --xtree-memory=full file in
    Massif format: one detailed tree per event; a root-to-leaf path is one
    stack (innermost frame first) and its leaf's count is that stack's."""
    return parse_xtree_modules(text, [module_name], limit)[module_name]


def parse_xtree_modules(text, module_names, limit=200):
    """parse_xtree for several modules in one pass over the tree (a
    bundle's memcheck run: one tree, a module per fixture):
    {module name: stacks through it}.  (A tree is some 20,000 nodes, nearly
    all of them std's and the harness's: a node's frame is parsed only when
    a stack through a module needs it.)"""
    names = set(module_names)
    found = {n: {} for n in names}
    frames = {}                           # node text -> (function, file, line)
    for ev, lines in xtree.trees(text, _XT_EVENTS, naming=names):
        event, path, bases = _XT_EVENTS[ev], [], []     # path: node texts; bases: each frame's file name
        for line in lines:
            nd = xtree.node(line)
            if nd is None:
                continue
            depth, children, count, rest = nd
            del path[depth - 1:]
            del bases[depth - 1:]
            path.append(rest)
            bases.append(_xt_base(rest, names, frames))
            if children == 0 and count:
                for name in names.intersection(bases):
                    key = tuple(path)
                    st = found[name].get(key)
                    if st is None:
                        st = found[name][key] = {"frames": [list(_xt_frame(r, frames)) for r in path],
                                                 "allocs": 0, "frees": 0}
                    st[event] += count
    return {n: list(stacks.values())[:limit] for n, stacks in found.items()}


def _xt_frame(rest, cache):
    """(function, file, line) of a node's text, or (text, "", 0)."""
    fr = cache.get(rest)
    if fr is None:
        f = _XT_FRAME.match(rest)
        fr = cache[rest] = (f.group(1), f.group(2), int(f.group(3))) if f else (rest, "", 0)
    return fr


def _xt_base(rest, names, cache):
    """The base name of a node's file when it is one of `names` (the only
    base names asked about), else "".  The file is what follows the last
    " (" up to the last ":" (where _XT_FRAME finds it when it matches);
    _XT_FRAME decides for a name that is asked about."""
    if not rest.endswith(")"):
        return ""
    base = rest[rest.rfind(" (") + 2:-1].rpartition(":")[0].rsplit("/", 1)[-1]
    if base not in names:
        return ""
    return _xt_frame(rest, cache)[1].rsplit("/", 1)[-1]


def _sites(mc, module, entry):
    """Distinct attribution texts of Valgrind's module stacks, those whose
    stack passes through `entry` (an interface method or __create) first."""
    from . import attribute
    if not mc.stacks or not module:
        return []
    def through(st):
        return entry and any(fr[0] == entry or fr[0].endswith("::" + entry) for fr in st["frames"])
    chosen = [st for st in mc.stacks if through(st)] or mc.stacks
    out = []
    for st in chosen:
        site = attribute.locate([tuple(fr) for fr in st["frames"]], module)
        if site:
            verb = "allocated at" if st["allocs"] else "freed at"
            text = f"{verb} {site}"
            if text not in out:
                out.append(text)
    return out


def compare(measurement, mc, module=None, labels=None):
    """Interposer vs Valgrind, window by window; returns disagreement strings.
    When Valgrind saw more, the text names the line from Valgrind's stacks.
    `labels`: the scenario's step calls, to name the step."""
    labels = labels or []
    ours = {}      # the interposer's windows: (allocs, frees)
    if measurement.construct:
        ours[("construct", 0)] = measurement.construct.pair
    for s in measurement.steps:
        ours[("step", s.step)] = s.pair
    theirs = {(w["phase"], w["step"]): (w["allocs"], w["frees"])
              for w in mc.windows if w["phase"] != "steady"}
    if measurement.destroy and ("destroy", 0) in theirs:
        ours[("destroy", 0)] = measurement.destroy.pair
    else:
        theirs.pop(("destroy", 0), None)      # records v1, or an older faa-run: not compared
    out = []
    if set(ours) != set(theirs):
        out.append(f"window sets differ: interposer {len(ours)}, valgrind {len(theirs)}")

    def name(step):
        return f"step {step + 1}" + (f" {labels[step]}" if 0 <= step < len(labels) else "")

    def entry(step):
        call = labels[step] if 0 <= step < len(labels) else ""
        return call.split("(", 1)[0] if call else None

    def more(vg, ip, ent):
        if vg <= ip:
            return ""
        sites = _sites(mc, module, ent)
        if not sites:
            return "; Valgrind's stack names no line of the generated module"
        extra = f" (and {len(sites) - 1} more site(s))" if len(sites) > 1 else ""
        return f"; Valgrind: {sites[0]}{extra}"

    for key in sorted(set(ours) & set(theirs)):
        a, b = ours[key], theirs[key]
        if a != b:
            what = {"construct": "construction (__create())", "destroy": "destroy (drop of the system)"
                    }.get(key[0]) or name(key[1])
            ent = {"construct": "__create", "destroy": "drop"}.get(key[0]) or entry(key[1])
            out.append(f"{what}: Valgrind counted {b[0]} allocation(s), {b[1]} free(s), "
                       f"the interposer {a[0]}/{a[1]}" + more(sum(b), sum(a), ent))
    vg = steady_means(mc)
    for r in measurement.steady:
        if r.step in vg and r.n:
            ip, theirs_ = (r.allocs_sum / r.n, r.frees_sum / r.n), vg[r.step]
            if abs(ip[0] - theirs_[0]) > 1e-9 or abs(ip[1] - theirs_[1]) > 1e-9:
                out.append(f"steady-state replay of {name(r.step)}: Valgrind counted "
                           f"{theirs_[0]:.3f}/{theirs_[1]:.3f} per dispatch, the interposer "
                           f"{ip[0]:.3f}/{ip[1]:.3f} (allocations/frees)"
                           + more(sum(theirs_), sum(ip), entry(r.step)))
    return out


def steady_means(mc):
    """{step: (allocs per dispatch, frees per dispatch)} over the steady replay."""
    acc = {}
    for w in mc.windows:
        if w["phase"] == "steady":
            n, a, f = acc.get(w["step"], (0, 0, 0))
            acc[w["step"]] = (n + 1, a + w["allocs"], f + w["frees"])
    return {k: (a / n, f / n) for k, (n, a, f) in acc.items()}


def cached(fn, key_parts, cache_file, prefixes, *args, reuse=True, load=None, dump=None, ok=None):
    """Runs fn(*args) unless cache_file holds its result for the same key
    and for every fixture in `prefixes` (a run of more of the library's
    fixtures serves a run of some: each fixture's windows are its own).

    The key is the library's build stamp (the hash of everything it was
    built from) plus the tool's settings: a library rustc did not rebuild
    gives the same Valgrind result, so a warm audit skips the slow part.
    load/dump convert the result from/to JSON; only a result `ok` says is
    good is kept.
    """
    key = json.dumps(key_parts, default=str)
    try:
        saved = json.loads(Path(cache_file).read_text()) if reuse else {}
        if saved.get("key") == key and set(prefixes) <= set(saved.get("prefixes", ())):
            return load(saved["result"])
    except (OSError, ValueError, TypeError, KeyError):
        pass
    result = fn(*args)
    if ok(result):
        Path(cache_file).write_text(json.dumps({"key": key, "prefixes": list(prefixes),
                                                "result": dump(result)}))
    return result


@dataclass
class ValgrindRun:
    """The Valgrind stage's results: `results` {(fixture, mode, opt,
    "memcheck"): Memcheck}, and `massif` [Massif], one per process of the
    highest opt-level of each shape (a bundle's fixtures run in one
    process, so its heap is theirs together); or the reason Valgrind did
    not run."""
    results: dict = field(default_factory=dict)
    massif: list = field(default_factory=list)
    skipped: str | None = None


def _fields(result):
    """A Memcheck or Massif as a dict of its fields, for json.dumps: the
    fields' lists and dicts as they are (dataclasses.asdict copies every
    nested one, a second of a full audit's CPU)."""
    return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}


def _memcheck_job(valgrind_bin, runner, version, lib, ms, modules, logdir, reuse, sites=False):
    prefixes = tuple(m.prefix for m in ms)
    names = {m.prefix: modules[(m.fixture, m.mode)].name
             for m in ms if modules.get((m.fixture, m.mode))}
    from . import tools
    key = [tools.stamp(lib), tools.stamp(runner), version, "memcheck+sites" if sites else "memcheck",
           STEADY_REPEAT]
    return cached(memcheck, key, logdir / f"{lib.stem}.memcheck.json", prefixes, valgrind_bin,
                  str(runner), str(lib), logdir, prefixes, names, STEADY_REPEAT, sites, reuse=reuse,
                  load=lambda d: {p: Memcheck(**r) for p, r in d.items()},
                  dump=lambda res: {p: _fields(r) for p, r in res.items()},
                  ok=lambda res: all(r.ok for r in res.values()))


def _massif_job(valgrind_bin, runner, version, lib, ms, logdir, reuse):
    prefixes = tuple(m.prefix for m in ms)
    from . import tools
    key = [tools.stamp(lib), tools.stamp(runner), version, "massif", STEADY_REPEAT]

    def run():
        r = massif(valgrind_bin, str(runner), str(lib), logdir, prefixes)
        r.mode, r.opt, r.fixtures = ms[0].mode, ms[0].opt, [m.fixture for m in ms]
        return r
    # the fixtures are those the process ran (a cached run may have run more)
    return cached(run, key, logdir / f"{lib.stem}.massif.json", prefixes, reuse=reuse,
                  load=lambda d: Massif(**d), dump=_fields, ok=lambda r: r.ok)


def stage(measurements, modules, valgrind_bin, runner, logdir, jobs, reuse=True, progress=print):
    """memcheck every measured library, massif those of the highest
    opt-level of each shape, one Valgrind process per library (a bundle's
    fixtures in turn: faa-run LIB PREFIX...), each result cached by the
    library's build stamp.  `modules` {(fixture, mode): generated module}
    selects the xtree stacks kept for attribution; the allocating
    libraries of the lowest opt-level also keep every allocating stack
    (sites.py)."""
    from concurrent.futures import ThreadPoolExecutor
    runner = Path(runner)
    if not valgrind_bin or not runner.exists():
        why = "apt-get install -y valgrind" + (
            ", then `make build` (faa-run needs valgrind/valgrind.h)" if not runner.exists() else "")
        return ValgrindRun(skipped=why)
    libs = {}
    for m in measurements:
        if m.verdict:
            libs.setdefault(Path(m.meta_lib), []).append(m)
    top, low = {}, {}
    for ms in libs.values():
        top[ms[0].mode] = max(top.get(ms[0].mode, -1), ms[0].opt)
        low[ms[0].mode] = min(low.get(ms[0].mode, 9), ms[0].opt)
    jobs_ = [(lib, ms, "memcheck") for lib, ms in libs.items()] + [
        (lib, ms, "massif") for lib, ms in libs.items() if ms[0].opt == top[ms[0].mode]]
    progress(f"audit: Valgrind: {len(jobs_)} run(s) over {len(libs)} librar(ies) "
             f"(memcheck each, massif the top opt-level of each shape)")
    version = procs.run([valgrind_bin, "--version"], timeout=60).stdout.strip()
    logdir.mkdir(parents=True, exist_ok=True)

    def one(job):
        lib, ms, tool = job
        if tool == "memcheck":
            sites = ms[0].mode == "alloc" and ms[0].opt == low["alloc"]
            return job, _memcheck_job(valgrind_bin, runner, version, lib, ms, modules, logdir, reuse,
                                      sites)
        return job, _massif_job(valgrind_bin, runner, version, lib, ms, logdir, reuse)

    out = ValgrindRun()
    phase = Phase("Valgrind", len(jobs_), "run")

    def timed(job):
        res = one(job)
        phase.tick(f"{job[2]} {job[1][0].mode} O{job[1][0].opt} ({len(job[1])} fixture(s))")
        return res

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for (lib, ms, tool), res in pool.map(timed, sorted(jobs_, key=lambda j: j[2] != "massif")):
            if tool == "massif":
                out.massif.append(res)
                continue
            for m in ms:
                out.results[(m.fixture, m.mode, m.opt, "memcheck")] = res[m.prefix]
    out.massif.sort(key=lambda r: (r.mode, r.fixtures))
    return out
