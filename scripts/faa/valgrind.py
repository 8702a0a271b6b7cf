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

from . import procs

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


def memcheck(valgrind, runner, lib, logdir, repeat=STEADY_REPEAT, module_name=None):
    """One memcheck run of faa-run over `lib`; `module_name` (the generated
    module's file name) selects the xtree stacks kept for attribution."""
    logdir.mkdir(parents=True, exist_ok=True)
    log = logdir / (Path(lib).stem + ".memcheck.log")
    xtree = logdir / (Path(lib).stem + ".xtree.ms")
    xtree.unlink(missing_ok=True)
    cmd = [valgrind, "--tool=memcheck", "--trace-malloc=yes", "--leak-check=full",
           "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
           "--xtree-memory=full", f"--xtree-memory-file={xtree}", "--num-callers=40",
           f"--log-file={log}", runner, "--repeat", str(repeat), str(lib)]
    r = Memcheck(lib=str(lib))
    p = _run_tool(cmd, r, "memcheck")
    if p is None:
        return r
    text = log.read_text(errors="replace") if log.exists() else ""
    r.log = str(log)
    r.errors = _num(r"ERROR SUMMARY: ([\d,]+) errors", text)
    r.definitely_lost = _num(r"definitely lost: ([\d,]+) bytes", text)
    r.indirectly_lost = _num(r"indirectly lost: ([\d,]+) bytes", text)
    r.windows = parse_trace(text)
    if module_name and xtree.exists():
        r.stacks = parse_xtree(xtree.read_text(errors="replace"), module_name)
    if p.returncode not in (0, 99):
        r.message = f"faa-run exited {p.returncode} under memcheck: {p.stderr.strip()[-500:]}"
        return r
    if r.errors or r.definitely_lost or r.indirectly_lost:
        r.message = (f"memcheck: {r.errors} error(s), {r.definitely_lost} bytes definitely "
                     f"and {r.indirectly_lost} indirectly lost (log: {log})")
        return r
    r.ok = True
    return r


@dataclass
class Massif:
    lib: str
    peak: int = 0
    series: list = field(default_factory=list)   # [(time, heap bytes)]
    ok: bool = False
    message: str = ""


def massif(valgrind, runner, lib, logdir, repeat=STEADY_REPEAT):
    """Peak heap and heap over time (massif's instruction clock)."""
    logdir.mkdir(parents=True, exist_ok=True)
    out = logdir / (Path(lib).stem + ".massif.out")
    cmd = [valgrind, "--tool=massif", f"--massif-out-file={out}", "--max-snapshots=200",
           runner, "--repeat", str(repeat), str(lib)]
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


_XT_NODE = re.compile(r"^( *)n(\d+): (\d+) (.*)$")
_XT_FRAME = re.compile(r"^0x[0-9A-Fa-f]+: (.*) \(([^()]*?):(\d+)\)$")
_XT_EVENTS = {"totBk": "allocs", "totFdBk": "frees"}


def parse_xtree(text, module_name, limit=200):
    """Stacks through `module_name` from an --xtree-memory=full file in
    Massif format: one detailed tree per event; a root-to-leaf path is one
    stack (innermost frame first) and its leaf's count is that stack's."""
    stacks, event, path = {}, None, []
    for line in text.splitlines():
        if line.startswith("n") and ":" in line and not line.startswith(" "):
            ev = line.split()[2] if len(line.split()) > 2 else ""
            event = _XT_EVENTS.get(ev)
            path = []
            continue
        if event is None:
            continue
        m = _XT_NODE.match(line)
        if not m:
            continue
        depth, children, count, rest = len(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        del path[depth - 1:]
        f = _XT_FRAME.match(rest)
        path.append((f.group(1), f.group(2), int(f.group(3))) if f else (rest, "", 0))
        if children == 0 and count and any(Path(fr[1]).name == module_name for fr in path):
            key = tuple(path)
            st = stacks.setdefault(key, {"frames": [list(fr) for fr in path], "allocs": 0, "frees": 0})
            st[event] += count
    return list(stacks.values())[:limit]


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


def cached(fn, cls, key_parts, cache_file, *args, reuse=True):
    """Runs fn(*args) unless cache_file holds its result for the same key.

    The key is the library's build stamp (the hash of everything it was
    built from) plus the tool's settings: a library rustc did not rebuild
    gives the same Valgrind result, so a warm audit skips the slow part.
    """
    key = json.dumps(key_parts)
    try:
        saved = json.loads(Path(cache_file).read_text()) if reuse else {}
        if saved.get("key") == key:
            return cls(**saved["result"])
    except (OSError, ValueError, TypeError, KeyError):
        pass
    result = fn(*args)
    if getattr(result, "ok", False):
        Path(cache_file).write_text(json.dumps({"key": key, "result": dataclasses.asdict(result)}))
    return result


@dataclass
class ValgrindRun:
    """The Valgrind stage's results: {(fixture, mode, opt, "memcheck" |
    "massif"): Memcheck | Massif}, in the order the runs were started, or
    the reason Valgrind did not run."""
    results: dict = field(default_factory=dict)
    skipped: str | None = None


def stage(measurements, modules, valgrind_bin, runner, logdir, jobs, reuse=True, progress=print):
    """memcheck every measured library, massif the highest opt-level of each
    fixture x shape (faa-run with no interposer), each result cached by the
    library's build stamp.  `modules` {(fixture, mode): generated module}
    selects the xtree stacks kept for attribution."""
    from concurrent.futures import ThreadPoolExecutor

    from . import tools
    runner = Path(runner)
    if not valgrind_bin or not runner.exists():
        why = "apt-get install -y valgrind" + (
            ", then `make build` (faa-run needs valgrind/valgrind.h)" if not runner.exists() else "")
        return ValgrindRun(skipped=why)
    top = {}
    for m in measurements:
        if m.verdict and m.opt >= top.get((m.fixture, m.mode), (-1,))[0]:
            top[(m.fixture, m.mode)] = (m.opt, m)
    jobs_ = [(m, "memcheck") for m in measurements if m.verdict] + [(m, "massif") for _, m in top.values()]
    progress(f"audit: Valgrind: {len(jobs_)} run(s) (memcheck every library, massif per shape)")
    version = procs.run([valgrind_bin, "--version"], timeout=60).stdout.strip()

    def one(job):
        m, tool = job
        lib = Path(m.meta_lib)
        key = [tools.stamp(lib), tools.stamp(runner), version, tool, STEADY_REPEAT]
        fn, cls, extra = massif, Massif, ()
        if tool == "memcheck":
            module = modules.get((m.fixture, m.mode))
            fn, cls, extra = memcheck, Memcheck, (STEADY_REPEAT, module.name if module else None)
            key += ["xtree", extra[1]]
        logdir.mkdir(parents=True, exist_ok=True)
        return job, cached(fn, cls, key, logdir / f"{lib.stem}.{tool}.json", valgrind_bin,
                           str(runner), str(lib), logdir, *extra, reuse=reuse)

    out = ValgrindRun()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for (m, tool), res in pool.map(one, jobs_):
            out.results[(m.fixture, m.mode, m.opt, tool)] = res
    return out
