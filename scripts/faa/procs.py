"""Every child process the audit starts, and how it is stopped.

run() -- or start(), for a child whose output is read while it runs -- is
the one way the audit starts a program (the compiler, rustc, nm, objdump,
faa-harness, Valgrind, a nested audit).  Each child starts in a session
and process group of its own (start_new_session): a terminal's Ctrl-C
reaches the audit alone, and the audit decides what stops.  Stopping a
child (kill_trees) stops everything it started too, however that grouped
itself -- Criterion's workers call setsid(), a compiler driver's back
ends and a shell script's `sleep &` stay in the child's group: every
process whose parent, process group or session belongs to the tree is
frozen (SIGSTOP, so that none forks behind our back), sent SIGTERM and
SIGCONT, and after GRACE_S seconds whatever still runs gets SIGKILL.
A daemon -- a process that forked twice and called setsid(), so that its
parent is gone and it shares no group or session with the tree -- is not
found (only a cgroup or a child subreaper would find it); the audit's own
tools do not do that.

* on a timeout run() stops the child's tree this way and raises
  subprocess.TimeoutExpired (with the output read so far);
* while a child runs it is in a registry (`_live`); install() makes SIGINT
  and SIGTERM stop every registered tree, refuse to start any new child,
  and raise Interrupted in the main thread (in other threads run() raises
  it once its child was stopped, or instead of starting one).  cli.main
  turns Interrupted into exit status 130 (SIGINT) or 143 (SIGTERM);
* a child that exits normally but leaves processes in its group behind
  (a daemon it forked) has them stopped too.

deferred() marks a stretch of the main thread that a signal must not cut
in two (replacing the report set): the children are still stopped at
once, but Interrupted is raised only when the stretch ends.

Linux only (/proc), like the rest of the audit.
"""

import os
import signal
import subprocess
import threading
import time
from contextlib import contextmanager

GRACE_S = 5.0          # SIGTERM -> SIGKILL
POLL_S = 0.05
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """The audit is stopping on SIGINT or SIGTERM; every child was stopped.
    A BaseException, like KeyboardInterrupt: no `except Exception` in a
    stage may swallow it."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def status(self):
        """128 + the signal number: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


_live = {}                     # pid (= its process group and session) -> Popen, not yet reaped
_lock = threading.RLock()      # re-entrant: the handler runs in the main thread
_stop = threading.Event()
_signum = None
_held = 0                      # main-thread depth of deferred() / spawning
_MAIN = threading.main_thread().ident


def stopping():
    """The signal the audit is stopping on, or None."""
    return _signum if _stop.is_set() else None


def _raise_if_stopping():
    if _stop.is_set():
        raise Interrupted(_signum)


def _table():
    """{pid: (ppid, pgid, sid, state)} of every process (Linux /proc)."""
    out = {}
    for n in os.listdir("/proc"):
        if not n.isdigit():
            continue
        try:
            with open(f"/proc/{n}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 3:
            out[int(n)] = (int(fields[1]), int(fields[2]), int(fields[3]), fields[0].decode())
    return out


def _members(ids, table):
    """Grows the set `ids` by every process whose parent, process group or
    session is in it (so a Criterion worker that called setsid(), or a
    grandchild whose parent died, is still found); returns those of them
    that are running (a zombie is only waiting to be reaped)."""
    grew = True
    while grew:
        grew = False
        for pid, (ppid, pgid, sid, _) in table.items():
            if pid not in ids and (ppid in ids or pgid in ids or sid in ids):
                ids.add(pid)
                grew = True
    return {p for p in ids if p in table and table[p][3] != "Z"} - {os.getpid()}


def _send(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _freeze(ids):
    """SIGSTOP to every running process of the trees in `ids`, again and
    again until no new one appears (a stopped process forks no more);
    returns them, stopped."""
    stopped, live = set(), set()
    for _ in range(100):
        live = _members(ids, _table())
        new = live - stopped
        if not new:
            break
        _send(new, signal.SIGSTOP)
        stopped |= new
        deadline = time.monotonic() + 0.2        # a fork in flight completes first
        while time.monotonic() < deadline:
            t = _table()
            if all(t.get(p, (0, 0, 0, "T"))[3] in "TtZX" for p in new):
                break
            time.sleep(0.005)
    return live


def kill_trees(roots, grace=GRACE_S):
    """Stops every process the children `roots` started, however they
    grouped themselves: all of them are frozen (SIGSTOP), sent SIGTERM and
    SIGCONT, and whatever still runs after `grace` seconds gets SIGKILL."""
    ids = set(roots)
    live = _freeze(ids)
    _send(live, signal.SIGTERM)
    _send(live, signal.SIGCONT)
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        time.sleep(POLL_S)
        live = _members(ids, _table())
    if live:
        _send(_freeze(ids), signal.SIGKILL)


def _group_left(pgid):
    """Whether anything is left in process group `pgid` (cheap: no /proc scan)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_all(grace=GRACE_S):
    """Stops every registered child and everything it started (kill_trees)."""
    with _lock:
        roots = list(_live)
    if roots:
        kill_trees(roots, grace)


def live_groups():
    """The process groups of the children running now (for tests)."""
    with _lock:
        return sorted(_live)


def _on_signal(signum, frame):
    global _signum
    if _stop.is_set():
        return          # already stopping: the first signal's handler does it
    _signum = signum
    _stop.set()
    kill_all()
    if not _held:
        raise Interrupted(signum)


def install():
    """SIGINT and SIGTERM stop the audit (see the module docstring).  Call
    from the main thread, once, before the first child starts."""
    for s in STOP_SIGNALS:
        signal.signal(s, _on_signal)


def uninstall():
    """The default dispositions again (once no child is left)."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_DFL)


def _hold(delta):
    global _held
    if threading.get_ident() == _MAIN:
        _held += delta


@contextmanager
def deferred():
    """A stretch of the main thread that a stopping signal does not cut
    short: Interrupted is raised when it ends (children are stopped at once)."""
    _hold(1)
    try:
        yield
    finally:
        _hold(-1)
    if not _held:
        _raise_if_stopping()


def _spawn(cmd, popen_kwargs):
    """Popen in a new session, registered before any signal can be
    handled in this thread."""
    _hold(1)
    try:
        p = subprocess.Popen([str(c) for c in cmd], start_new_session=True, **popen_kwargs)
        with _lock:
            _live[p.pid] = p
    finally:
        _hold(-1)
    return p


def _finish(p):
    """Reaps the child (stopping its group first if it still runs) and
    stops what it left running in its group."""
    try:
        if p.poll() is None:
            kill_trees([p.pid])
            p.wait()
        elif _group_left(p.pid):
            kill_trees([p.pid])
    finally:
        for f in (p.stdin, p.stdout, p.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass
        with _lock:
            _live.pop(p.pid, None)


@contextmanager
def start(cmd, **popen_kwargs):
    """The child as a subprocess.Popen (any of Popen's arguments but
    start_new_session), in its own process group and registered until
    the `with` ends; leaving the `with` stops its group if it still runs.
    Raises Interrupted instead of starting it when the audit is stopping."""
    _raise_if_stopping()
    p = _spawn(cmd, popen_kwargs)
    try:
        _raise_if_stopping()     # a signal between the fork and the registration
        yield p
    finally:
        _finish(p)


def run(cmd, *, timeout=None, env=None, cwd=None, capture_output=True, text=True,
        errors="replace", input=None, stdout=None, stderr=None):
    """subprocess.run for the audit: returns a CompletedProcess; on a
    timeout stops the child's whole group and raises
    subprocess.TimeoutExpired; raises Interrupted when the audit is
    stopping; a missing program raises FileNotFoundError, as
    subprocess.run does.  `stdout`/`stderr`, if given, replace the
    captured pipes (e.g. a log file or subprocess.DEVNULL)."""
    kw = {"env": env, "cwd": cwd, "text": text}
    if text:
        kw["errors"] = errors
    if capture_output:
        kw["stdout"] = kw["stderr"] = subprocess.PIPE
    if stdout is not None:
        kw["stdout"] = stdout
    if stderr is not None:
        kw["stderr"] = stderr
    if input is not None:
        kw["stdin"] = subprocess.PIPE
    with start(cmd, **kw) as p:
        try:
            out, err = p.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_trees([p.pid])
            try:
                out, err = p.communicate(timeout=GRACE_S)
            except subprocess.TimeoutExpired:
                out, err = None, None    # a process outside the group holds the pipe
            _raise_if_stopping()
            raise subprocess.TimeoutExpired(p.args, timeout, out, err) from None
    _raise_if_stopping()
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)
