"""Where the tools are, and what to install when one is missing."""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from . import procs
from .errors import ToolMissing, UsageError

ROOT = Path(__file__).resolve().parents[2]


def rustc():
    """$RUSTC, else rustc from PATH, rustup's default place, or Debian's package."""
    env = os.environ.get("RUSTC")
    if env:
        path = shutil.which(env)
        if not path:
            raise ToolMissing("rustc", "rustc", f"RUSTC={env} is not an executable")
        return path
    for cand in (shutil.which("rustc"), str(Path.home() / ".cargo/bin/rustc"), "/usr/bin/rustc"):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise ToolMissing("rustc", "rustc", "or install a Rust toolchain with rustup")


def rustc_version(path):
    try:
        r = procs.run([path, "--version"], timeout=60)
        if r.returncode != 0:
            raise subprocess.CalledProcessError(r.returncode, r.args, r.stdout, r.stderr)
        out = r.stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise ToolMissing("rustc", "rustc", f"{path} --version failed: {e}") from e
    return out.strip()


def valgrind(required=False):
    """$VALGRIND, else valgrind from PATH; None (or ToolMissing) when absent."""
    path = shutil.which(os.environ.get("VALGRIND") or "valgrind")
    if not path and required:
        raise ToolMissing("valgrind", "valgrind")
    return path


class BuildTree:
    """The Meson build directory and what `make build` puts in it."""

    def __init__(self, build_dir, work=None):
        self.dir = Path(build_dir).resolve()
        self._work = Path(work).resolve() if work else None

    def _need(self, rel, what):
        p = self.dir / rel
        if not p.exists():
            raise UsageError(f"{p} not found ({what}); run `make build` first "
                             f"or pass --build-dir")
        return p

    @property
    def frc(self):
        return self._need("compiler/frc", "the bundled compiler")

    @property
    def interposer(self):
        return self._need("interposer/libaudit.so", "the interposer")

    @property
    def harness(self):
        return self._need("harness/faa-harness", "the Criterion harness")

    @property
    def work(self):
        """Per-run scratch: variants, generated code, libraries, records
        (--work-dir, else $FAA_WORK_DIR, else BUILD/audit)."""
        env = os.environ.get("FAA_WORK_DIR")
        return self._work or (Path(env).resolve() if env else self.dir / "audit")

    @property
    def reports(self):
        """Where reports go by default ($FAA_REPORT_DIR, else BUILD/reports)."""
        env = os.environ.get("FAA_REPORT_DIR")
        return Path(env).resolve() if env else self.dir / "reports"


def digest(*parts):
    """A cache key: sha256 over the parts (str or bytes), each NUL-terminated."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()


def stamp(path):
    """What a file was built from (its build.py key) or, failing that, its
    size and modification time: a cache key for results derived from it."""
    key = Path(str(path) + ".key")
    if key.exists():
        return key.read_text()
    st = Path(path).stat()
    return f"{st.st_size}:{st.st_mtime_ns}"
