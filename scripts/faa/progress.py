"""Live progress on stderr, and colour for the verdict.

Every phase that can take more than a couple of seconds (compile, build,
harness, Valgrind, coverage, bench) reports `done/total`, the elapsed time
and an estimate of what is left, one line per finished job:

    audit: build [5/16] 12.4 s, ~27 s left — fxb_alloc_3f2a…_o3 (7 fixtures) built

`-q` silences all of it (findings and the verdict are still printed);
colour (PASS green, FAIL red, notes yellow) is on for a terminal, off with
NO_COLOR set or `--color never`, forced with `--color always`.
"""

import os
import sys
import threading
import time

_lock = threading.Lock()
_quiet = False
_color = None          # None: decide from the terminal


def configure(quiet=False, color="auto"):
    """-q and --color for the whole run."""
    global _quiet, _color
    _quiet = bool(quiet)
    _color = {"always": True, "never": False}.get(color)


def quiet():
    return _quiet


def say(text):
    """One progress line on stderr (nothing under -q)."""
    if _quiet:
        return
    with _lock:
        print(text, file=sys.stderr, flush=True)


def _use_color(stream):
    if _color is not None:
        return _color
    if os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty() and os.environ.get("TERM") != "dumb"


_CODES = {"pass": "32;1", "fail": "31;1", "note": "33"}


def paint(text, what, stream=None):
    """`text` in the colour of `what` (pass, fail, note) when colour is on."""
    stream = stream or sys.stdout
    if what not in _CODES or not _use_color(stream):
        return text
    return f"\033[{_CODES[what]}m{text}\033[0m"


def _fmt(seconds):
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


class Phase:
    """done/total of one phase: `tick(what)` after each job.  The estimate
    is the mean time per finished job times the jobs left (shown once a job
    has finished)."""

    def __init__(self, name, total, unit="job"):
        self.name, self.total, self.unit = name, total, unit
        self.done = 0
        self.t0 = time.monotonic()

    def tick(self, what="", n=1):
        """`n` more jobs finished (one line for them all)."""
        with _lock:
            self.done += n
            done = self.done
        elapsed = time.monotonic() - self.t0
        left = ""
        if 0 < done < self.total:
            left = f", ~{_fmt(elapsed / done * (self.total - done))} left"
        say(f"audit: {self.name} [{done}/{self.total}] {_fmt(elapsed)}{left}"
            + (f" — {what}" if what else ""))

    def end(self, summary=""):
        say(f"audit: {self.name} done: {self.total} {self.unit}(s) in "
            f"{_fmt(time.monotonic() - self.t0)}" + (f"; {summary}" if summary else ""))


class Watch:
    """Progress of a job that runs elsewhere (the harness: one process for
    every library), from a count it can poll: `count()` is called every
    `interval` seconds and each new unit is ticked.  Use as a context
    manager around the wait."""

    def __init__(self, phase, count, interval=1.0):
        self.phase, self.count, self.interval = phase, count, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        seen = 0
        while not self._stop.wait(self.interval):
            try:
                n = min(self.count(), self.phase.total)
            except OSError:
                continue
            if n > seen:
                self.phase.tick(n=n - seen)
                seen = n

    def __enter__(self):
        if not _quiet:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return False
