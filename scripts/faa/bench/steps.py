"""Per cycle step of one fixture library (section 3): instructions from one
Callgrind run of faa-run --callgrind-steps, allocator calls from faa-run
--count, and which steps make a transition."""

import re
from pathlib import Path

from .callgrind import parse_callgrind, step_of
from .common import run_cmd

TRANSITION_ALLOCS = 3        # allocating-shape calls per dispatch that mean "transition"
# frc's dispatch loop changes state only on this line (in __drain); whether
# it ran in a step's dump says whether the step made a transition.
TRANSITION_MARK = "self.__compartment = __next"
# frc's C output (-l c) changes state on this line
TRANSITION_MARK_C = "self->__compartment = self->__next_compartment"
_MARKS = {}


def parse_timing(text):
    """The `faa-run: timing k=v ...` line -> {k: float}; {} when absent."""
    m = re.search(r"^faa-run: timing (.*)$", text, re.M)
    if not m:
        return {}
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.eE+-]+)", m.group(1))}


def parse_counts(text):
    """`faa-run: count step=J allocs=A frees=F` lines -> {J: A}."""
    return {int(m[1]): int(m[2]) for m in
            re.finditer(r"^faa-run: count step=(\d+) allocs=(\d+) frees=\d+", text, re.M)}


def _marks(path):
    """Line numbers of TRANSITION_MARK in a generated module (cached)."""
    if path not in _MARKS:
        found = set()
        mark = {".rs": TRANSITION_MARK, ".c": TRANSITION_MARK_C}.get(Path(path).suffix)
        if mark and "/gen/" in path:
            try:
                with open(path, errors="replace") as f:
                    found = {i for i, t in enumerate(f, 1) if mark in t}
            except OSError:
                pass
        _MARKS[path] = found
    return _MARKS[path]


def _has_marks(dump):
    return any(_marks(f) for f, _ in dump["lines"])


def source_line(path, n):
    """Line n of a source file, stripped ('' when unreadable)."""
    try:
        with open(path, errors="replace") as f:
            for i, text in enumerate(f, 1):
                if i == n:
                    return text.strip()
    except OSError:
        pass
    return ""


def _step(d, j, repeat):
    """One step's dump -> its figures per dispatch (repeat cycles in the dump)."""
    # the toggle itself (faa-run's collect_on) is not the dispatch's
    toggle = d["self"].pop("collect_on", 0)
    top = sorted(d["self"].items(), key=lambda kv: -kv[1])[:10]
    lines = sorted(((k, v) for k, v in d["lines"].items() if "runner.c" not in k[0]),
                   key=lambda kv: -kv[1])[:14]
    marked = [v for (f, ln), v in d["lines"].items() if ln in _marks(f)]
    # the shim's own instructions inside the window (fixture ABI glue)
    shim = sum(v for f, v in d["self"].items()
               if f == "fx_dispatch" or f.endswith("::opaque"))
    return {"step": j, "ir": (d["ir"] - toggle) / repeat,
            "shim_ir": shim / repeat,
            "transition_code_ir": (sum(marked) / repeat) if _has_marks(d) else None,
            "top": [[round(n / repeat, 1), name] for name, n in top],
            "top_lines": [[round(n / repeat, 1), f, ln] for (f, ln), n in lines]}


def callgrind_steps(vg, runner, lib, outdir, repeat):
    """Per-step Ir of one fixture library (one Callgrind run), in step
    order; `lib` is (library, the fixture's symbol prefix)."""
    path, prefix = lib
    outdir.mkdir(parents=True, exist_ok=True)
    base = outdir / f"{Path(path).stem}.{prefix}steps.callgrind"
    for old in outdir.glob(base.name + "*"):
        old.unlink()
    run_cmd([vg, "--tool=callgrind", "--collect-atstart=no", "--compress-strings=no",
             f"--callgrind-out-file={base}", runner, "--callgrind-steps", "--repeat", str(repeat),
             path, prefix], timeout=900)
    steps = {}
    for f in sorted(outdir.glob(base.name + ".*")):
        d = parse_callgrind(f.read_text(errors="replace"))
        j = step_of(d["label"])
        if j is not None:
            steps[j] = _step(d, j, repeat)
    return [steps[j] for j in sorted(steps)]


def transitions(alloc_steps, noalloc_steps):
    """The cycle steps that make a transition.

    When the no_alloc dumps say whether frc's state-change line ran
    (transition_code_ir, None for other compilers' output) that decides;
    otherwise an allocating dispatch with >= TRANSITION_ALLOCS allocator
    calls counts as a transition (DESIGN.md: 1 for a handled event, 3 or
    more for any transition — but +1 per self-call, so this fallback can
    mistake a step with self-calls for a transition)."""
    marked = {s["step"]: s.get("transition_code_ir") for s in noalloc_steps}
    if marked and all(v is not None for v in marked.values()):
        return {j for j, v in marked.items() if v > 0}
    return {s["step"] for s in alloc_steps
            if s.get("allocs") is not None and s["allocs"] >= TRANSITION_ALLOCS}
