"""Where a report comes from: report.json's `provenance`, one line of
report.md, and what `audit publish` stamps.

    date       when the report was made, UTC ISO 8601 (2026-12-02T10:11:12Z)
    audit      {commit, dirty}: `git rev-parse HEAD` of this project ("unknown"
               outside a git tree), dirty when `git status` lists a change
    compiler   {name, path, version, commit, dirty}: the compiler under audit (for
               `run --generated`, the module), its path relative to the project
               when inside it; commit and dirty when it lives in a git tree
               (for the bundled frc, the project's own), else null
    rustc      `rustc --version` of the rustc that built the fixture libraries
    valgrind   `valgrind --version`, or null when Valgrind is not installed
    host       {system, release, machine, cpus}: uname and the CPU count
    published  added by `audit publish`: the date of the publication

Nothing here fails a run: a tool that does not answer gives "unknown"."""

import datetime
import os
import platform
import subprocess
from pathlib import Path

from . import procs, tools
from .errors import ToolMissing

ROOT = tools.ROOT
UNKNOWN = "unknown"


def now():
    """The current UTC time, ISO 8601 to the second with a Z."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _out(cmd, cwd=None):
    """The stripped stdout of `cmd`, or None when it fails or is absent."""
    try:
        r = procs.run(cmd, cwd=cwd, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def git_state(where):
    """{commit, dirty} of the git work tree holding `where` (a directory or
    a file), or None outside one."""
    d = Path(where)
    d = d if d.is_dir() else d.parent
    if not d.is_dir():
        return None
    commit = _out(["git", "-C", str(d), "rev-parse", "HEAD"])
    if not commit:
        return None
    status = _out(["git", "-C", str(d), "status", "--porcelain"])
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def relative(path, root=ROOT):
    """`path` relative to the project root when it lies inside it, else as given."""
    if not path:
        return path
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except (ValueError, OSError):
        return str(path)


def _version(cmd):
    text = _out(cmd)
    return text.splitlines()[0] if text else None


def host():
    u = platform.uname()
    return {"system": u.system, "release": u.release, "machine": u.machine,
            "cpus": os.cpu_count() or 1}


def collect(compiler, rustc=None, valgrind=None, root=ROOT):
    """The provenance of a run auditing `compiler` (a build.Compiler or its
    report dict {path, version}).  `rustc` / `valgrind`: the programs'
    paths (default: where the audit finds them)."""
    get = compiler.get if isinstance(compiler, dict) else lambda k: getattr(compiler, k)
    name, path, version = get("name"), get("path"), get("version")
    try:
        rustc = rustc or tools.rustc()
    except ToolMissing:        # the run did not need it (e.g. every build failed)
        rustc = None
    valgrind = valgrind or tools.valgrind()
    audit = git_state(root) or {"commit": UNKNOWN, "dirty": None}
    cgit = git_state(path) if path else None
    return {
        "date": now(),
        "audit": audit,
        "compiler": {"name": name, "path": relative(path, root), "version": version,
                     "commit": cgit["commit"] if cgit else None,
                     "dirty": cgit["dirty"] if cgit else None},
        "rustc": (_version([rustc, "--version"]) if rustc else None) or UNKNOWN,
        "valgrind": _version([valgrind, "--version"]) if valgrind else None,
        "host": host(),
    }


def line(p):
    """One line of text: `audit 1a2b3c4d (dirty) · frc 0.1.0 at build/compiler/frc
    (commit 1a2b3c4d) · rustc 1.95.0 · valgrind-3.19.0 · Linux 6.1.0 x86_64,
    2 CPUs · 2026-12-02T10:11:12Z` (None: no provenance, an older report)."""
    if not p:
        return None

    def commit(g):
        c = (g or {}).get("commit") or UNKNOWN
        return (c[:12] if c != UNKNOWN else c) + (" (dirty)" if (g or {}).get("dirty") else "")

    c, h = p.get("compiler") or {}, p.get("host") or {}
    parts = [f"audit {commit(p.get('audit'))}",
             f"{c.get('name', 'compiler')} {c.get('version', UNKNOWN)} at {c.get('path', UNKNOWN)}"
             + (f" (commit {commit(c)})" if c.get("commit") else ""),
             str(p.get("rustc") or UNKNOWN),
             str(p.get("valgrind") or "no valgrind"),
             f"{h.get('system', '?')} {h.get('release', '?')} {h.get('machine', '?')}, "
             f"{h.get('cpus', '?')} CPUs",
             str(p.get("date") or UNKNOWN)]
    if p.get("published"):
        parts.append(f"published {p['published']}")
    return " · ".join(parts)
