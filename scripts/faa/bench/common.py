"""Shared by the bench sections: statistics, formatting, running programs,
writing bench.json."""

import math
import statistics
import sys

from .. import procs, tools
from ..errors import AuditError

ROOT = tools.ROOT


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(x, spec=".2f", none="—"):
    return none if x is None else format(x, spec)


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "NOT MET")


def say(msg=""):
    print(msg, flush=True)


def note(msg):
    print(msg, file=sys.stderr, flush=True)


def run_cmd(cmd, env=None, timeout=600):
    """Runs a program; its stdout, or AuditError (status 1) when it fails."""
    r = procs.run(cmd, env=env, timeout=timeout)
    if r.returncode != 0:
        raise AuditError(f"bench: `{' '.join(map(str, cmd))}` exited {r.returncode}:\n"
                         f"{r.stderr[-2000:]}", status=1)
    return r.stdout


