"""What the audit, scaling and make-test sections share: a program run and
timed (wall seconds; CPU seconds of it and every descendant it waited for;
the load average at start and end; its output, each line stamped with the
seconds since the start, in a log), the audit's command line as `make
audit` runs it, and what a finished audit left in its work dir
(phases.json; the bundle crates it built or kept: phases.json's build
phase counts and names them, the work dir's build stamps are the fallback
for an audit whose phases.json does not)."""

import os
import resource
import subprocess
import threading
import time

from .. import build, bundle, model, procs
from ..errors import UsageError
from .common import ROOT

# phases.json's phases in run order; Valgrind and coverage are one phase
# when the audit runs them side by side ("valgrind+coverage")
PHASES = ("build", "harness", "valgrind", "coverage", "valgrind+coverage", "rejects+report")
BUILD_FIGURES = ("compiler_s", "rustc_s", "built", "cached")


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def _cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, log, cwd=None, env=None, timeout=None):
    """Runs `cmd` (stdout and stderr into `log`, timestamped); returns
    {"wall_s", "cpu_s", "status", "timed_out", "loadavg_start",
    "loadavg_end", "started" (epoch seconds), "log"}.  After `timeout`
    seconds the program and everything it started are stopped."""
    fired = threading.Event()
    load0, cpu0, started, t0 = loadavg(), _cpu(), time.time(), time.monotonic()
    with open(log, "w") as lf, procs.start(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            text=True, errors="replace") as p:
        timer = None
        if timeout:
            timer = threading.Timer(timeout, lambda: (fired.set(), procs.kill_trees([p.pid])))
            timer.start()
        for line in p.stdout:
            lf.write(f"[{time.monotonic() - t0:7.1f}] {line}")
        status = p.wait()
        if timer:
            timer.cancel()
    wall = time.monotonic() - t0
    return {"wall_s": round(wall, 2), "cpu_s": round(_cpu() - cpu0, 2), "status": status,
            "timed_out": fired.is_set(), "loadavg_start": load0, "loadavg_end": loadavg(),
            "started": started, "log": str(log)}


def audit_command(tree, fixtures_dir, work, reports, jobs):
    """`make audit`'s run (--strict; Valgrind required, so memcheck, the
    second counter and coverage all run) over `fixtures_dir`."""
    cmd = [ROOT / "scripts" / "audit", "--build-dir", tree.dir, "--fixtures-dir", fixtures_dir,
           "run", "--strict", "--valgrind", "on", "--work-dir", work, "--report-dir", reports]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    return cmd


def read_phases(path):
    """WORK_DIR/phases.json -> ({phase: wall seconds}, build figures);
    ({}, {}) when the audit left none (it stopped early)."""
    phases_ = _load_phases(path)
    phases = {name: p["wall_s"] for name, p in phases_.items() if "wall_s" in p}
    b = phases_.get("build", {})
    build_figures = {"wall_s": b["wall_s"], **{k: b[k] for k in BUILD_FIGURES}} \
        if all(k in b for k in ("wall_s",) + BUILD_FIGURES) else {}
    return phases, build_figures


def read_phases_cpu(path):
    """WORK_DIR/phases.json -> {phase: CPU seconds}; {} when there is none."""
    return {name: p["cpu_s"] for name, p in _load_phases(path).items() if "cpu_s" in p}


def _load_phases(path):
    try:
        return model.Phases.load(path).phases
    except UsageError:
        return {}


def complete(phases):
    """The run went through every phase (Valgrind and coverage included,
    as phases of their own or one): its times are those of a whole audit."""
    names = list(phases)
    return (all(p in names for p in ("build", "harness", "rejects+report"))
            and any("valgrind" in p for p in names) and any("coverage" in p for p in names))


def crate_state(work, since):
    """The bundle crates in WORK/bundles/lib: {"built": [names whose
    library was (re)built at or after `since`, epoch seconds], "cached":
    [the others]}.  A library's build stamp (LIB.key, bundle.rustc_cached)
    is written only when rustc built it."""
    out = {"built": [], "cached": []}
    lib = work / "bundles" / "lib"
    for stamp in sorted(lib.glob("lib*.so.key")) if lib.is_dir() else ():
        name = stamp.name[len("lib"):-len(".so.key")]
        out["built" if stamp.stat().st_mtime >= since else "cached"].append(name)
    return out


def crates_of(work, fixture):
    """The bundle crates whose root includes `fixture`'s shim module."""
    line = f"pub mod {bundle.module_name(build.crate_ident(fixture))};"
    src = work / "bundles" / "src"
    return sorted(p.stem for p in src.glob("*.rs")
                  if line in p.read_text(encoding="utf-8", errors="replace").splitlines()) \
        if src.is_dir() else []


def crates_from_phases(path):
    """phases.json's bundle crates ({"built", "cached"}, [names built]), or
    None when its build phase does not count them (an older audit)."""
    b = _load_phases(path).get("build", {})
    if not all(k in b for k in ("crates_built", "crates_cached", "crates_rebuilt")):
        return None
    names = [label.split(" (")[0] for label in b["crates_rebuilt"]]
    return {"built": b["crates_built"], "cached": b["crates_cached"]}, names


def audit_run(cmd, work, log):
    """One timed `audit run` -> (RUN (bench.json): the timing, phases.json's
    wall and CPU seconds per phase and build figures, the crates built and
    kept (phases.json's count, else the work dir's build stamps), whether
    every phase ran; the names of the crates built)."""
    (work / "phases.json").unlink(missing_ok=True)
    t = timed(cmd, log)
    phases, build_figures = read_phases(work / "phases.json")
    started = t.pop("started")
    del t["timed_out"]
    counted = crates_from_phases(work / "phases.json")
    if counted is None:
        stamps = crate_state(work, started)
        counted = {"built": len(stamps["built"]), "cached": len(stamps["cached"])}, stamps["built"]
    return {**t, "complete": complete(phases), "phases": phases,
            "phases_cpu": read_phases_cpu(work / "phases.json"), "build": build_figures,
            "crates": counted[0]}, counted[1]
