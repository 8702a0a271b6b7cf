"""The (state x event) coverage matrix: which handlers a scenario ran.

A zero must not hide behind an untested path.  frc writes a mapping
comment above every handler it emits (`// FILE.frs:LINE $State.event`,
with `$>` / `<$` for enter / exit) followed by the handler's `fn`.  The
O0 library (no inlining, so every handler keeps its own function) is run
once under Callgrind by faa-run; a handler whose function appears in
Callgrind's profile was executed.  Compilers that write no such comments
get no matrix (reported as unavailable, never as covered).

A scenario may name handlers it cannot reach, with the reason:
    uncovered = { "$Fault.reset" = "only reachable after a hardware fault" }
"""

import re
import subprocess
from pathlib import Path

_HANDLER = re.compile(r"//\s*\S+\.frs:\d+\s+\$(\w+)\.(\$>|<\$|\w+)\s*\n\s*(?:pub\s+)?fn\s+(\w+)")
_FN = re.compile(r"^c?fn=(?:\(\d+\)\s*)?(.+)$")
TIMEOUT = 600


def handlers(module_text):
    """{function name: (state, event)} from frc's mapping comments."""
    return {m.group(3): (m.group(1), m.group(2)) for m in _HANDLER.finditer(module_text)}


def executed_functions(valgrind, runner, lib, outdir):
    """Names of every function Callgrind saw run in faa-run over lib."""
    outdir.mkdir(parents=True, exist_ok=True)
    out = outdir / (Path(lib).stem + ".callgrind.out")
    cmd = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
           "--compress-strings=no", runner, "--repeat", "1", str(lib)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0 or not out.exists():
        raise RuntimeError(f"callgrind failed on {lib} (exit {r.returncode}): {r.stderr[-400:]}")
    names = set()
    for line in out.read_text(errors="replace").splitlines():
        m = _FN.match(line)
        if m:
            names.add(m.group(1).strip())
    return names


def ran(fn, names):
    """True when a Callgrind function name is the handler `fn`."""
    pat = re.compile(r"(^|::)" + re.escape(fn) + r"($|[<(\s])")
    return any(pat.search(n) for n in names)


def matrix(per_mode):
    """per_mode: {mode: ({fn: (state, event)}, executed names)} -> matrix dict."""
    cells, states, events = {}, [], []
    for mode, (hs, names) in per_mode.items():
        for fn, (st, ev) in hs.items():
            if st not in states:
                states.append(st)
            if ev not in events:
                events.append(ev)
            cells.setdefault(f"{st}.{ev}", {})[mode] = ran(fn, names)
    lifecycle = [e for e in ("$>", "<$") if e in events]
    events = lifecycle + [e for e in events if e not in lifecycle]
    return {"states": states, "events": events, "cells": cells}


def unexercised(mx, allowed):
    """Handlers some shape never ran, minus the scenario's declared exceptions."""
    out = []
    for key, modes in mx["cells"].items():
        if all(modes.values()):
            continue
        if f"${key}" in allowed:
            continue
        missing = [m for m, v in modes.items() if not v]
        out.append((f"${key}", missing))
    return out
