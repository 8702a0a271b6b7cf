"""Runs the rustc-sensitive tests with one given rustc (meson's rustc-VER
tests): `rustc_run.py RUSTC PYTEST-ARG...`.

The plain pytest-* tests already run every one of these tests with the
rustc the audit picks by default (tools.rustc: $RUSTC, else rustc on PATH,
...).  Running them again with that same rustc proves nothing new, so when
RUSTC is that rustc (the same `rustc --version`) this exits 77 (skipped),
naming it; otherwise it runs pytest with RUSTC set to it.  The comparison
is made here, when the tests run, with the environment the plain tests
see, not when meson configured."""
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faa import tools  # noqa: E402
from faa.errors import AuditError  # noqa: E402

SKIP = 77


def default_rustc():
    """(path, version) of the rustc the plain tests build with, or None."""
    try:
        path = tools.rustc()
        return path, tools.rustc_version(path)
    except AuditError:
        return None


def main(argv):
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if len(argv) < 2:
        print("usage: rustc_run.py RUSTC PYTEST-ARG...", file=sys.stderr)
        return 2
    rustc, pytest_args = argv[0], argv[1:]
    try:
        version = tools.rustc_version(rustc)
    except AuditError as e:
        print(f"rustc_run: {e}", file=sys.stderr)
        return 1
    default = default_rustc()
    if default is not None and default[1] == version:
        print(f"{rustc} is {version}, the rustc the plain tests already build with "
              f"({default[0]}): pytest-audit_e2e, pytest-sites_all, ... ran these tests with it")
        return SKIP
    print(f"running the rustc-sensitive tests with {rustc} ({version}); the plain tests use "
          f"{default[1] + ' (' + default[0] + ')' if default else 'no rustc'}", flush=True)
    env = dict(os.environ, RUSTC=rustc)
    return subprocess.run([sys.executable, "-m", "pytest", *pytest_args], env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
