"""Section `make-test`: `make test` from a fresh clone, as a newcomer runs
it.  The repository's HEAD is cloned (`git clone`, so uncommitted changes
of the working tree are not in it) into BUILD/bench/make-test/clone, and
`make test` runs there with make's and the audit's own environment
variables removed: it installs what is missing (deps.sh), configures and
builds (meson, ninja) and runs every suite, all of it timed — the target is
"from a fresh clone".  Target (issue 12): <= 4 minutes.

From the timestamped log: when the build ended (the Makefile's echo of
`meson test`), meson's summary (Ok, Fail, Skipped, ...) and the slowest
tests."""

import os
import re
import shutil
import time

from .. import procs
from ..errors import AuditError, UsageError
from .common import ROOT, fmt, note, say, verdict
from .runs import timed

GOAL_S = 240.0
TIMEOUT_S = 3600
NESTED = "FAA_BENCH_IN_MAKE_TEST"
COMMAND = ("make", "test")

_STAMP = re.compile(r"^\[\s*([0-9.]+)\] (.*)$")
_TEST = re.compile(r"^\s*\d+/\d+\s+(?P<name>\S.*?)\s+(?P<status>OK|FAIL|SKIP|TIMEOUT|EXPECTEDFAIL|"
                   r"UNEXPECTEDPASS|ERROR|INTERRUPT)\s+(?P<s>[0-9.]+)s\b")
_SUMMARY = re.compile(r"^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout):\s+([0-9]+)\s*$")


def parse_log(lines, slowest=5):
    """The timestamped log of `make test` -> {"build_s": seconds until
    meson test started (None: it never did), "tests": meson's summary
    ({} when it printed none), "failed": [names], "slowest": [[name, s]]}."""
    build_s, tests, failed, times = None, {}, [], []
    for raw in lines:
        m = _STAMP.match(raw)
        t, line = (float(m.group(1)), m.group(2)) if m else (None, raw)
        if build_s is None and line.startswith("meson test -C"):
            build_s = t
        m = _TEST.match(line)
        if m:
            times.append([m.group("name"), float(m.group("s"))])
            if m.group("status") in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS", "INTERRUPT"):
                failed.append(m.group("name"))
        m = _SUMMARY.match(line.strip())
        if m:
            tests[m.group(1).lower().replace(" ", "_")] = int(m.group(2))
    times.sort(key=lambda x: -x[1])
    return {"build_s": build_s, "tests": tests, "failed": failed, "slowest": times[:slowest]}


def clean_env():
    """The environment of a newcomer's shell: without make's variables (a
    jobserver that is not theirs) and the audit's (FAA_*); the nesting
    guard set."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAKE", "FAA_")) and k not in ("MFLAGS", "GNUMAKEFLAGS")}
    env[NESTED] = "1"
    return env


def _git(root, *args):
    r = procs.run(["git", "-C", root, *args], timeout=600)
    if r.returncode != 0:
        raise AuditError(f"bench: git {' '.join(args)} in {root} exited {r.returncode}: "
                         f"{r.stderr.strip()}", status=1)
    return r.stdout.strip()


def bench_make_test(scratch, root=ROOT, command=COMMAND, timeout=TIMEOUT_S):
    """Section `make-test` -> (figures, command line)."""
    if os.environ.get(NESTED):
        raise UsageError("make-test: this is already the make test of a make-test bench "
                         "(it would clone and test again, without end)")
    commit = _git(root, "rev-parse", "HEAD")
    dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    clone = scratch / "clone"
    t0 = time.monotonic()
    _git(scratch, "clone", "--quiet", str(root), str(clone))
    clone_s = round(time.monotonic() - t0, 2)
    note(f"bench: `{' '.join(command)}` in a fresh clone of {commit[:12]} ({clone}; "
         f"log {scratch / 'make-test.log'})")
    r = timed(list(command), scratch / "make-test.log", cwd=clone, env=clean_env(), timeout=timeout)
    del r["started"]
    parsed = parse_log((scratch / "make-test.log").read_text(errors="replace").splitlines())
    test_s = round(r["wall_s"] - parsed["build_s"], 2) if parsed["build_s"] is not None else None
    return {"commit": commit, "dirty_tree": dirty, "clone": str(clone), "clone_s": clone_s,
            "command": " ".join(command), **r, **parsed, "test_s": test_s, "goal_s": GOAL_S,
            "met": r["status"] == 0 and r["wall_s"] <= GOAL_S}, \
        f"git clone {root} {clone} && cd {clone} && {' '.join(command)}"


def print_make_test(m):
    say(f"== 5. `{m['command']}` from a fresh clone of {m['commit'][:12]} (configure, build and every suite)")
    if m["dirty_tree"]:
        say("      (the clone is HEAD: the working tree's uncommitted changes are not in it)")
    say(f"{m['command']}: {m['wall_s']:.1f} s wall (target <= {m['goal_s']:.0f} s: {verdict(m['met'])}), "
        f"{m['cpu_s']:.1f} s CPU ({m['cpu_s'] / max(m['wall_s'], 0.01):.2f} cores busy); exit {m['status']}"
        f"{' (stopped: timed out)' if m['timed_out'] else ''}; load average {m['loadavg_start'][0]:.2f} "
        f"at start, {m['loadavg_end'][0]:.2f} at end")
    say(f"      deps + configure + build {fmt(m['build_s'], '.1f')} s, then meson test "
        f"{fmt(m['test_s'], '.1f')} s; git clone {m['clone_s']:.1f} s (not counted)")
    t = m["tests"]
    say("      meson: " + (", ".join(f"{k} {v}" for k, v in t.items()) if t else "no summary (see the log)")
        + (f"; failed: {', '.join(m['failed'])}" if m["failed"] else ""))
    if m["slowest"]:
        say("      slowest: " + ", ".join(f"{n} {s:.1f} s" for n, s in m["slowest"]))
    say(f"      log: {m['log']}")
    say()
