"""The work directory's lock: one audit at a time in a work directory.

Two audits sharing WORK (BUILD/audit unless --work-dir) overwrite each
other's variants, libraries and records: a linker crash in one, false
coverage failures in the other.  lock() takes an exclusive flock(2) on
WORK/.lock for the whole run and writes the holder's pid into it; a second
run is refused at once (exit 2) with "another audit (pid N) is using WORK".

The lock belongs to the open file, not to the path: it is released when
the holder closes it or exits, however it exits (SIGKILL included), so a
stale WORK/.lock never blocks a later run.  The descriptor is
close-on-exec: no child of the audit (a compiler's daemon, say) can keep
the lock after the audit is gone.
"""

import fcntl
import os
import time
from pathlib import Path

from .errors import UsageError

LOCK_FILE = ".lock"
_PID_WAIT_S = 0.5        # the holder writes its pid right after it locks


class WorkLock:
    """An exclusive lock on a work directory, held until release() or exit."""

    def __init__(self, work, fd):
        self.work, self.path, self._fd = Path(work), Path(work) / LOCK_FILE, fd

    def release(self):
        if self._fd is not None:
            os.close(self._fd)      # closing the file releases the flock
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _holder(fd):
    """The pid written in a lock file (another process's, being written
    perhaps just now), or None."""
    deadline = time.monotonic() + _PID_WAIT_S
    while True:
        try:
            text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        except OSError:
            text = ""
        if text.isdigit() or time.monotonic() >= deadline:
            return int(text) if text.isdigit() else None
        time.sleep(0.02)


def lock(work):
    """Takes WORK/.lock (creating WORK); returns the WorkLock, or raises
    UsageError when another process holds it."""
    work = Path(work)
    if work.exists() and not work.is_dir():
        raise UsageError(f"work directory {work} is not a directory")
    work.mkdir(parents=True, exist_ok=True)
    fd = os.open(work / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder(fd)
        os.close(fd)
        who = f"pid {pid}" if pid else "pid unknown"
        raise UsageError(f"another audit ({who}) is using {work}: wait for it to finish, "
                         f"or give this run its own --work-dir") from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return WorkLock(work, fd)
