#!/usr/bin/env python3
"""Run a command with an adjusted environment and check its exit status and
output.

Used for behaviour that a test process cannot check from the inside: that
the Criterion binary fails loudly without LD_PRELOAD (exit non-zero AND the
calibration message, since a crash or a missing library also exits
non-zero), that AUDIT_* options read at load time take effect, and what a
test-only variant of the library prints that the shipped one must not.
"""
import argparse
import os
import subprocess
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unset", action="append", default=[], metavar="NAME",
                    help="remove NAME from the environment")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="set an environment variable")
    ap.add_argument("--exit", choices=["zero", "nonzero"], required=True,
                    help="required exit status")
    ap.add_argument("--contains", action="append", default=[], metavar="TEXT",
                    help="text the combined stdout+stderr must contain")
    ap.add_argument("--lacks", action="append", default=[], metavar="TEXT",
                    help="text the combined stdout+stderr must not contain")
    ap.add_argument("cmd", nargs=argparse.REMAINDER,
                    help="-- COMMAND [ARGS...]")
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command given")

    env = {k: v for k, v in os.environ.items() if k not in args.unset}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            ap.error(f"--set {item!r}: expected NAME=VALUE")
        env[name] = value

    res = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         errors="replace")
    out = res.stdout + res.stderr
    print(out[-4000:])
    shown = " ".join(cmd)
    failures = []
    if (res.returncode == 0) != (args.exit == "zero"):
        failures.append(f"exit status {res.returncode}, wanted {args.exit}")
    failures += [f"output lacks {t!r}" for t in args.contains if t not in out]
    failures += [f"output contains {t!r}" for t in args.lacks if t in out]
    for f in failures:
        print(f"FAIL: {shown}: {f}")
    if not failures:
        print(f"ok: {shown}: exit {res.returncode}, output as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
