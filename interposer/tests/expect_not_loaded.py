#!/usr/bin/env python3
"""Run the interposer test binary WITHOUT LD_PRELOAD; pass only if it fails
loudly.

"Loudly" means both a non-zero exit and the calibration message
"interposer not loaded" in its output: any non-zero exit is not enough,
since a crash or a missing shared library exits non-zero too.
"""
import os
import subprocess
import sys

MESSAGE = "interposer not loaded"


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: expect_not_loaded.py TEST-BINARY [ARGS...]")
        return 2
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    cmd = sys.argv[1:]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         errors="replace")
    out = res.stdout + res.stderr
    print(out[-4000:])
    if res.returncode == 0:
        print(f"FAIL: {' '.join(cmd)} passed without LD_PRELOAD "
              "(a false zero: the calibration did not notice)")
        return 1
    if MESSAGE not in out:
        print(f"FAIL: {' '.join(cmd)} exited {res.returncode} without "
              f"saying {MESSAGE!r}")
        return 1
    print(f"ok: exit {res.returncode} and {MESSAGE!r} without LD_PRELOAD")
    return 0


if __name__ == "__main__":
    sys.exit(main())
