"""Nothing lost, nothing left running (issue 12): a usage mistake touches
no output; --jobs and friends are checked by argparse; fixture names that
are no Rust identifiers build; one audit at a time per work dir; SIGINT and
SIGTERM stop every child (harness, rustc, the compiler and its children)
and leave the previous reports as they were; a compiler timeout stops the
compiler's children too.  Needs `make build` and rustc.

The usage errors (sections 1 and 2) call the command's own entry point,
faa.cli.main (what scripts/audit runs as `python -m faa`: its return
value, or argparse's SystemExit, is the exit status) in this process: a
process each spent nearly all its time importing the audit.  Everything
about processes (the lock, signals, timeouts) runs scripts/audit."""
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from conftest import ROOT, SCRIPTS

from faa import audit as audit_mod
from faa import build, cli, procs, run, workdir
from faa.errors import UsageError

AUDIT = str(SCRIPTS / "audit")
QUICK = ("--valgrind", "off", "--no-rejects")
# For runs that only need an audit to get somewhere (a finished report set,
# a work dir held, the harness running): one opt-level, half the builds.
O0 = ("--opt", "0")


def audit(build_dir, *args, env=None, fixtures_dir=None, timeout=600):
    cmd = [AUDIT, "--build-dir", str(build_dir)]
    if fixtures_dir:
        cmd += ["--fixtures-dir", str(fixtures_dir)]
    r = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout, env={**os.environ, **(env or {})})
    return r.returncode, r.stdout, r.stderr


def audit_main(build_dir, *args, env=None, fixtures_dir=None):
    """What audit() returns, from cli.main in this process, with `env` added
    to os.environ meanwhile; the environment and the signal dispositions
    main sets are as they were afterwards."""
    argv = ["--build-dir", str(build_dir)] + (["--fixtures-dir", str(fixtures_dir)] if fixtures_dir else [])
    out, err = io.StringIO(), io.StringIO()
    env = env or {}
    saved_env = {k: os.environ.get(k) for k in env}
    saved_sig = {s: signal.getsignal(s) for s in procs.STOP_SIGNALS}
    os.environ.update(env)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                status = cli.main(argv + [str(a) for a in args])
            except SystemExit as e:         # argparse's usage errors
                status = e.code
    finally:
        for s, handler in saved_sig.items():
            signal.signal(s, handler)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return status, out.getvalue(), err.getvalue()


def start(build_dir, *args, fixtures_dir=None, env=None):
    cmd = [AUDIT, "--build-dir", str(build_dir)]
    if fixtures_dir:
        cmd += ["--fixtures-dir", str(fixtures_dir)]
    return subprocess.Popen(cmd + [str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def snapshot(d):
    """{file name: bytes} of a report dir."""
    return {p.name: p.read_bytes() for p in sorted(Path(d).iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def previous(build_dir, tmp_path_factory):
    """A finished audit of port_reset: its report dir, as a later run must
    find it (O0 only: the tests compare these files byte for byte, whatever
    they hold)."""
    base = tmp_path_factory.mktemp("previous")
    status, out, err = audit(build_dir, "run", "port_reset", *QUICK, *O0,
                             "--work-dir", base / "w", "--report-dir", base / "r")
    assert status == 0, out[-2000:] + err[-2000:]
    assert (base / "r" / "report.json").stat().st_size > 0
    return base / "r"


@pytest.fixture
def reports(previous, tmp_path):
    """A copy of the previous run's reports for one test to protect."""
    d = tmp_path / "reports"
    shutil.copytree(previous, d)
    return d


def fixture_copy(d, name, repeat=None):
    """fixtures/port_reset as fixture `name` in folder d (steady repeat changed if given)."""
    d.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "fixtures" / "port_reset.frs", d / f"{name}.frs")
    toml = (ROOT / "fixtures" / "port_reset.toml").read_text()
    if repeat:
        assert "repeat = 2000\n" in toml
        toml = toml.replace("repeat = 2000\n", f"repeat = {repeat}\n")
    (d / f"{name}.toml").write_text(toml)
    return d


# ---- 1. validate before touching output --------------------------------

def _bad_scenario(tmp_path):
    d = fixture_copy(tmp_path / "fx", "port_reset")
    (d / "port_reset.toml").write_text('system = "PortReset"\n[[step]]\ncall = \n')
    return d


@pytest.mark.parametrize("case,args,env,needle", [
    ("misspelt fixture", ["port_resett"], {}, "no fixture named port_resett"),
    ("--generated without --scenario", ["--generated", ROOT / "generated/port_reset/noalloc.rs"],
     {}, "--generated and --scenario go together"),
    ("--scenario without --generated", ["--scenario", ROOT / "fixtures/port_reset.toml"],
     {}, "--generated and --scenario go together"),
    ("malformed scenario", ["port_reset"], {}, "port_reset.toml"),
    ("no such interposer", ["port_reset", "--interposer", "/nonexistent/libaudit.so"], {},
     "--interposer /nonexistent/libaudit.so: no such library"),
    ("no such baseline", ["port_reset", "--baseline", "/nonexistent/report.json"], {},
     "--baseline /nonexistent/report.json: no such file"),
    ("bad compile timeout", ["port_reset"], {"FAA_COMPILE_TIMEOUT": "soon"},
     "FAA_COMPILE_TIMEOUT='soon': expected a positive number"),
])
def test_a_usage_error_touches_neither_the_reports_nor_the_work_dir(
        build_dir, reports, tmp_path, case, args, env, needle):
    before = snapshot(reports)
    fx = _bad_scenario(tmp_path) if case == "malformed scenario" else None
    work = tmp_path / "work"
    status, out, err = audit_main(build_dir, "run", *args, *QUICK, "--work-dir", work,
                                  "--report-dir", reports, env=env, fixtures_dir=fx)
    assert status == 2, out[-1000:] + err[-1000:]
    assert needle in err, err[-1000:]
    assert "Traceback" not in err
    assert snapshot(reports) == before           # report.json byte-identical, nothing added
    assert not work.exists()


def test_a_report_dir_that_cannot_be_written_is_refused_before_the_run(build_dir, tmp_path):
    d = tmp_path / "r"
    (d / "report.json").mkdir(parents=True)
    status, out, err = audit_main(build_dir, "run", "port_reset", *QUICK, "--work-dir", tmp_path / "w",
                                  "--report-dir", d)
    assert status == 2 and "report.json is a directory" in err, err[-1000:]
    assert not (tmp_path / "w").exists()


# ---- 2. numeric options -------------------------------------------------

@pytest.mark.parametrize("args,needle", [
    (["run", "--jobs", "-3"], "must be at least 1, not -3"),
    (["run", "--jobs", "0"], "must be at least 1, not 0"),
    (["run", "--jobs", "two"], "expected a whole number >= 1, not 'two'"),
    (["mutate", "--jobs", "0"], "must be at least 1, not 0"),
    (["run", "--opt", "5"], "opt-levels are 0..3"),
    (["run", "--opt", "x"], "comma-separated list"),
])
def test_numeric_options_are_checked_with_a_clear_message(build_dir, args, needle):
    status, out, err = audit_main(build_dir, *args)
    assert status == 2, err
    assert needle in err and "Traceback" not in err, err


# ---- 3. fixture names into crate names ----------------------------------

def test_crate_ident_is_a_valid_identifier_and_keeps_names_apart():
    names = ["port_reset", "my-fixture", "my_fixture", "my fixture", "with space", "3way",
             "_3way", "a.b", "a-b", "ünï", "-", "9"]
    idents = [build.crate_ident(n) for n in names]
    assert build.crate_ident("port_reset") == "port_reset"      # valid names stay as they are
    assert len(set(idents)) == len(names)
    for i in idents:
        assert i.isascii() and (i[0].isalpha() or i[0] == "_")
        assert all(ch.isalnum() or ch == "_" for ch in i), i
    assert build.crate_ident("my-fixture").startswith("my_fixture_")


def test_two_names_that_still_meet_as_one_crate_are_refused():
    clash = build.crate_ident("a-b")            # a valid identifier: kept as it is
    fx = [run.Fixture(name=n, frs=None, toml=Path(f"{n}.toml"), scenario=None) for n in ("a-b", clash)]
    with pytest.raises(UsageError, match="would both build crate"):
        audit_mod.check_names(fx)
    with pytest.raises(UsageError, match="control characters"):
        audit_mod.check_names([run.Fixture(name="a\tb", frs=None, toml=Path("x"), scenario=None)])


def test_fixture_names_that_are_no_identifiers_build_and_keep_their_names(build_dir, tmp_path):
    """Four copies of port_reset under names rustc would refuse as crate
    names (two of them sanitising alike): each is built, measured from its
    own library and reported under its real name, with port_reset's counts."""
    names = ["my-fixture", "my_fixture", "with space", "3way"]
    fx = tmp_path / "fx"
    for n in names:
        fixture_copy(fx, n)
    status, out, err = audit(build_dir, "run", *QUICK, "--work-dir", tmp_path / "w", "--report-dir",
                             tmp_path / "r", fixtures_dir=fx)
    assert status == 0, out[-3000:] + err[-3000:]
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    assert sorted(f["name"] for f in rep["fixtures"]) == sorted(names)
    for f in rep["fixtures"]:
        runs = {(r["mode"], r["opt"]): [s["allocs"] for s in r["steps"]] for r in f["runs"]}
        assert sorted(runs) == [("alloc", 0), ("alloc", 3), ("noalloc", 0), ("noalloc", 3)], f["name"]
        assert runs[("alloc", 3)] == [4, 4, 1, 4, 4, 1] and runs[("noalloc", 3)] == [0] * 6, f["name"]


# ---- 4. the work dir's lock ---------------------------------------------

def test_the_lock_is_exclusive_records_the_pid_and_is_released(tmp_path):
    held = workdir.lock(tmp_path / "w")
    assert (tmp_path / "w" / ".lock").read_text().strip() == str(os.getpid())
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from faa import workdir, errors\n"
            "try:\n    workdir.lock(sys.argv[2])\nexcept errors.UsageError as e:\n"
            "    print(e); sys.exit(2)\n")
    other = [sys.executable, "-c", code, str(SCRIPTS), str(tmp_path / "w")]
    r = subprocess.run(other, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and f"another audit (pid {os.getpid()}) is using" in r.stdout
    held.release()
    assert subprocess.run(other, capture_output=True, text=True, timeout=60).returncode == 0


def wait_for(pred, timeout=120, what="it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def test_a_second_audit_on_the_same_work_dir_is_refused_at_once(build_dir, tmp_path):
    """The first audit holds the work dir; a second is refused at once; once
    the first has gone, a third gets in and finishes.  What is judged is the
    lock, not the libraries: the first and third build O0 only."""
    fx = fixture_copy(tmp_path / "fx", "port_reset", repeat=4000000)
    work = tmp_path / "w"
    first = start(build_dir, "run", *QUICK, *O0, "--work-dir", work, "--report-dir", tmp_path / "r1",
                  fixtures_dir=fx)
    try:
        lock = work / ".lock"
        wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid),
                 what="the first audit's lock")
        t0 = time.monotonic()
        status, out, err = audit(build_dir, "run", *QUICK, "--work-dir", work, "--report-dir",
                                 tmp_path / "r2", fixtures_dir=fx)
        assert status == 2, err[-1000:]
        assert f"another audit (pid {first.pid}) is using {work}" in err
        assert time.monotonic() - t0 < 30
        assert not (tmp_path / "r2").exists()
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    # the lock went with its holder: a third run gets in
    status, out, err = audit(build_dir, "run", *QUICK, *O0, "--work-dir", work, "--report-dir",
                             tmp_path / "r3", fixtures_dir=fixture_copy(tmp_path / "fx3", "port_reset"))
    assert status == 0, err[-2000:]


# ---- 5. signals and children --------------------------------------------

def _procs():
    """{pid: (ppid, comm, state, start time)} from /proc."""
    out = {}
    for n in os.listdir("/proc"):
        if not n.isdigit():
            continue
        try:
            s = Path(f"/proc/{n}/stat").read_bytes()
        except OSError:
            continue
        comm = s[s.index(b"(") + 1:s.rindex(b")")].decode(errors="replace")
        f = s[s.rindex(b")") + 2:].split()
        out[int(n)] = (int(f[1]), comm, f[0].decode(), int(f[19]))
    return out


def descendants(root):
    """{(pid, start time): comm} of the running processes under root."""
    table = _procs()
    kids, found, todo = {}, {}, [root]
    for pid, (ppid, *_rest) in table.items():
        kids.setdefault(ppid, []).append(pid)
    while todo:
        for k in kids.get(todo.pop(), []):
            ppid, comm, state, start_t = table[k]
            if state != "Z":
                found[(k, start_t)] = comm
            todo.append(k)
    return found


def still_running(seen):
    """The processes of `seen` that still run (same pid and start time, not a zombie)."""
    table = _procs()
    return {k: c for k, c in seen.items()
            if k[0] in table and table[k[0]][3] == k[1] and table[k[0]][2] != "Z"}


def _stop_while(p, comm, sig, count=1):
    """Waits until `count` descendants of p named `comm` run, then sends
    `sig` to p; returns every descendant seen up to then."""
    seen = {}

    def caught():
        seen.update(descendants(p.pid))
        return p.poll() is None and list(descendants(p.pid).values()).count(comm) >= count
    wait_for(caught, what=f"a {comm} under the audit")
    seen.update(descendants(p.pid))
    p.send_signal(sig)
    return seen


def settle(pred, within=0.2):
    """Polls `pred` until it holds or `within` seconds passed (what a fixed
    sleep of `within` gave, without waiting it out when it holds at once);
    returns its last value."""
    deadline = time.monotonic() + within
    while not (ok := pred()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return ok


def _check_stopped(p, seen, reports, before, status):
    out, err = p.communicate(timeout=120)
    assert p.returncode == status, out[-1000:] + err[-2000:]
    assert "interrupted by" in err, err[-1000:]
    settle(lambda: not still_running(seen))
    assert not still_running(seen), f"left running: {still_running(seen)}"
    assert snapshot(reports) == before                  # the previous reports, byte for byte
    assert not list(reports.glob(".*.tmp"))


def test_sigterm_while_the_harness_runs_stops_it_and_its_workers_and_keeps_the_reports(
        build_dir, reports, tmp_path):
    fx = fixture_copy(tmp_path / "fx", "port_reset", repeat=4000000)
    before = snapshot(reports)
    # O0 only: any harness will do, and it starts after half the builds
    p = start(build_dir, "run", *QUICK, *O0, "--work-dir", tmp_path / "w", "--report-dir", reports,
              fixtures_dir=fx)
    # the harness, a Criterion worker (its own session) and its measuring process
    seen = _stop_while(p, "faa-harness", signal.SIGTERM, count=3)
    _check_stopped(p, seen, reports, before, 143)


def test_sigint_while_rustc_runs_stops_it_and_keeps_the_reports(build_dir, reports, tmp_path):
    fx = fixture_copy(tmp_path / "fx", "port_reset")
    before = snapshot(reports)
    p = start(build_dir, "run", *QUICK, "--work-dir", tmp_path / "w", "--report-dir", reports,
              fixtures_dir=fx)
    seen = _stop_while(p, "rustc", signal.SIGINT)
    _check_stopped(p, seen, reports, before, 130)


def test_sigterm_while_rustc_runs_exits_143(build_dir, reports, tmp_path):
    fx = fixture_copy(tmp_path / "fx", "port_reset")
    before = snapshot(reports)
    p = start(build_dir, "run", *QUICK, "--work-dir", tmp_path / "w", "--report-dir", reports,
              fixtures_dir=fx)
    seen = _stop_while(p, "rustc", signal.SIGTERM)
    _check_stopped(p, seen, reports, before, 143)


def hanging_compiler(tmp_path):
    """A compiler that answers --version, then starts `sleep 1000 &` (its pid
    in sleep.pid) and hangs."""
    c = tmp_path / "hangc"
    c.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo hangc 1.0; exit 0; fi\n"
                 f"sleep 1000 &\necho $! > {tmp_path}/sleep.pid\nwhile :; do sleep 1; done\n")
    c.chmod(c.stat().st_mode | stat.S_IEXEC)
    return c


def _alive(pid):
    try:
        s = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return s[s.rindex(b")") + 2:s.rindex(b")") + 3] != b"Z"


def test_a_compiler_timeout_stops_the_compilers_children(build_dir, tmp_path):
    c = hanging_compiler(tmp_path)
    status, out, err = audit(build_dir, "run", "port_reset", *QUICK, "--compiler", c, "--work-dir",
                             tmp_path / "w", "--report-dir", tmp_path / "r",
                             env={"FAA_COMPILE_TIMEOUT": "1"})
    assert status == 1, out[-2000:] + err[-2000:]
    assert "hangc 1.0 did not finish within 1 s" in out
    pid = int((tmp_path / "sleep.pid").read_text())
    settle(lambda: not _alive(pid))
    assert not _alive(pid), f"the compiler's `sleep 1000 &` (pid {pid}) outlived the timeout"


def test_sigterm_while_the_compiler_hangs_stops_it_and_its_children(build_dir, reports, tmp_path):
    c = hanging_compiler(tmp_path)
    before = snapshot(reports)
    p = start(build_dir, "run", "port_reset", *QUICK, "--compiler", c, "--work-dir", tmp_path / "w",
              "--report-dir", reports)
    wait_for(lambda: (tmp_path / "sleep.pid").exists() and (tmp_path / "sleep.pid").read_text().strip(),
             what="the hanging compiler's sleep")
    seen = descendants(p.pid)
    p.send_signal(signal.SIGTERM)
    _check_stopped(p, seen, reports, before, 143)
    assert not _alive(int((tmp_path / "sleep.pid").read_text()))


# ---- procs itself -------------------------------------------------------

def test_run_returns_what_subprocess_run_returns():
    r = procs.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    with pytest.raises(FileNotFoundError):
        procs.run(["/nonexistent/program"])
    assert procs.live_groups() == []


def test_a_timeout_stops_the_whole_tree_even_a_child_that_left_the_group(tmp_path):
    script = (f"sleep 1000 & echo $! > {tmp_path}/a.pid; setsid sleep 1000 & echo $! > {tmp_path}/b.pid; "
              "echo started; sleep 1000")
    t0 = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as e:
        procs.run(["sh", "-c", script], timeout=1)
    assert time.monotonic() - t0 < 1 + procs.GRACE_S
    assert "started" in (e.value.output or "")
    for f in ("a.pid", "b.pid"):
        pid = int((tmp_path / f).read_text())
        assert not _alive(pid), f"{f}: pid {pid} still runs"
    assert procs.live_groups() == []


def test_a_child_that_ignores_sigterm_gets_sigkill_after_the_grace(tmp_path, monkeypatch):
    """SIGTERM ignored: SIGKILL once the grace is over, not before.  The
    grace is 1 s here instead of procs.GRACE_S's 5 (kill_trees' default and
    run's wait after it both follow it): the same code, 4 s less waiting."""
    monkeypatch.setattr(procs, "GRACE_S", 1.0)
    monkeypatch.setattr(procs.kill_trees, "__defaults__", (1.0,))
    t0 = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        procs.run(["sh", "-c", f"trap '' TERM; echo $$ > {tmp_path}/p; while :; do sleep 0.1; done"],
                  timeout=0.5)
    assert procs.GRACE_S <= time.monotonic() - t0 < procs.GRACE_S + 5
    assert not _alive(int((tmp_path / "p").read_text()))


SIGNALLED = """
import os, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
from faa import procs
procs.install()
out = sys.argv[2]
def worker():
    try:
        procs.run(["sh", "-c", f"echo $$ > {out}/t.pid; exec sleep 1000"])
    except procs.Interrupted:
        open(f"{out}/t.interrupted", "w").close()
threading.Thread(target=worker).start()
try:
    with procs.start(["sh", "-c", f"sleep 1000 & echo $! > {out}/m.pid; wait"]) as p:
        while not (os.path.exists(f"{out}/m.pid") and os.path.exists(f"{out}/t.pid")):
            time.sleep(0.01)
        os.kill(os.getpid(), int(sys.argv[3]))
        p.wait()
except procs.Interrupted as e:
    print("interrupted", e.status, procs.live_groups())
    sys.exit(e.status)
print("not interrupted")
"""


@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_every_child_of_every_thread(tmp_path, sig, status):
    r = subprocess.run([sys.executable, "-c", SIGNALLED, str(SCRIPTS), str(tmp_path), str(int(sig))],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == status, r.stdout + r.stderr
    assert f"interrupted {status}" in r.stdout
    assert (tmp_path / "t.interrupted").exists()       # the worker thread's run() raised too
    for f in ("m.pid", "t.pid"):
        assert not _alive(int((tmp_path / f).read_text())), f


def test_deferred_holds_the_interruption_until_the_stretch_ends(tmp_path):
    code = ("import os, signal, sys; sys.path.insert(0, sys.argv[1]); from faa import procs\n"
            "procs.install()\n"
            "try:\n"
            "    with procs.deferred():\n"
            "        os.kill(os.getpid(), signal.SIGTERM)\n"
            "        print('the stretch went on')\n"
            "    print('not reached')\n"
            "except procs.Interrupted as e:\n"
            "    print('interrupted after it'); sys.exit(e.status)\n")
    r = subprocess.run([sys.executable, "-c", code, str(SCRIPTS)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 143, r.stderr
    assert r.stdout.split("\n")[:2] == ["the stretch went on", "interrupted after it"]
