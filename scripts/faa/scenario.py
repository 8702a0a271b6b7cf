"""Scenario files: fixtures/NAME.toml, the script one audit run drives.

Format (all keys but `system` and `step` optional)::

    system = "PortReset"            # the @@system to construct

    [construct]                     # expectations for Sys::__create()
    alloc = 4                       #   allocating shape: allocation calls
    frees = 2                       #   allocating shape: free calls

    [[step]]                        # one interface call, in Rust syntax
    call = "connect()"
    alloc = 4                       # allocating-shape expectation
    frees = 3
    returns = "()"                  # Debug text of the return value
    domain = { total = "0" }        # Debug text of domain fields after it

    [uncovered]                     # what no scenario can reach, and why:
    "$Fault.reset" = "needs a hardware fault"          # a whole handler
    "line 42" = "the sensor never reads above 4095"    # one .frs line
    "lines 50-53" = "only after 2^32 ticks"            # .frs lines 50..53

    [steady]                        # right after step `to`, replay steps
    from = 1                        # from..to (1-based, inclusive) `repeat`
    to = 2                          # times; `to` defaults to the last step.
    repeat = 1000                   # The cycle must end where it started.

The no_alloc shape needs no expectation: it must read 0 everywhere.
Arguments are Rust expressions; they are evaluated before the window opens.

Coverage (coverage.py): every handler, and every .frs line with code in a
handler, enter/exit handler or action body, must run in both shapes, or be
listed under [uncovered] with a reason that says why the scenario cannot
reach it.  Line numbers are those of the fixture's .frs; a range may
include lines without code (blank, comments, `}`).  An entry that names no
handler, no line with code, or something that ran in every shape is a
finding of its own: exceptions cannot go stale silently.
"""

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import rustlex
from .errors import UsageError

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STEP_KEYS = {"call", "alloc", "frees", "returns", "domain"}
_TOP_KEYS = {"system", "construct", "step", "steady", "description", "uncovered"}


@dataclass
class Step:
    call: str
    method: str
    args: list
    line: int
    alloc: int | None = None
    frees: int | None = None
    returns: str | None = None
    domain: dict = field(default_factory=dict)


@dataclass
class Scenario:
    path: Path
    system: str
    steps: list
    construct_alloc: int | None = None
    construct_frees: int | None = None
    steady_from: int = 0          # 0-based, inclusive
    steady_to: int = 0            # 0-based, inclusive
    steady_repeat: int = 0
    description: str = ""
    uncovered: dict = field(default_factory=dict)   # "$State.event" -> why
    uncovered_lines: dict = field(default_factory=dict)   # "lines 4-6" -> (4, 6, why)


def split_call(text):
    """Splits `name(arg, arg)` into (name, [arg, ...]) at top-level commas.

    Commas and brackets inside literals and comments do not count (the
    scan runs over rustlex.blank's text, which keeps every offset), so
    `load(3, String::from("a,b"))` has two arguments.  Raises ValueError.
    """
    text = text.strip()
    m = _IDENT.match(text)
    if not m or text[m.end():m.end() + 1] != "(" or not text.endswith(")"):
        raise ValueError("expected `method(arg, ...)`")
    name, inner = m.group(0), text[m.end() + 1:-1]
    code = rustlex.blank(inner)
    args, depth, start = [], 0, 0
    for i, ch in enumerate(code):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced brackets")
        elif ch == "," and depth == 0:
            args.append(inner[start:i].strip())
            start = i + 1
    if depth != 0:
        raise ValueError("unbalanced brackets")
    tail = inner[start:].strip()
    if tail or args:
        args.append(tail)
    if any(not a for a in args):
        raise ValueError("empty argument")
    return name, args


def _call_lines(text):
    """Line numbers of the `call = ...` keys, in order of appearance."""
    return [n for n, line in enumerate(text.splitlines(), 1)
            if re.match(r"\s*call\s*=", line)]


def _int(table, key, where):
    v = table.get(key)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise UsageError(f"{where}: `{key}` must be a non-negative integer")
    return v


_LINES = re.compile(r"lines?\s+(\d+)(?:\s*-\s*(\d+))?")


def _key_line(text, key):
    """The line of the scenario file where [uncovered] key `key` is written."""
    for n, line in enumerate(text.splitlines(), 1):
        if re.match(r"\s*(\"" + re.escape(key) + r"\"|'" + re.escape(key) + r"')\s*=", line):
            return n
    return 0


def _uncovered(table, path, text):
    """({"$State.event": why}, {"lines A-B": (A, B, why)}) from [uncovered]."""
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [uncovered] must be a table of \"$State.event\" or \"line N\" = \"reason\"")
    handlers, lines, seen = {}, {}, {}
    for key, why in table.items():
        n = _key_line(text, key)
        where = f"{path}:{n}" if n else f"{path}: [uncovered]"
        if not isinstance(why, str) or not why.strip():
            raise UsageError(f"{where}: [uncovered] \"{key}\" needs the reason it cannot be reached, "
                             f"as a non-empty string")
        if re.fullmatch(r"\$\w+\.(\$>|<\$|\w+)", key):
            handlers[key] = why
            continue
        m = _LINES.fullmatch(key.strip())
        if not m:
            raise UsageError(f"{where}: [uncovered] key \"{key}\" is neither \"$State.event\", "
                             f"\"line N\" nor \"lines N-M\"")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if lo < 1 or hi < lo or (m.group(2) is None) != key.strip().startswith("line "):
            raise UsageError(f"{where}: [uncovered] \"{key}\": write \"line N\" for one line or "
                             f"\"lines N-M\" with N <= M")
        for k in range(lo, hi + 1):
            if k in seen:
                raise UsageError(f"{where}: [uncovered] \"{key}\" repeats line {k} of \"{seen[k]}\"")
            seen[k] = key
        lines[key] = (lo, hi, why)
    return handlers, lines


def load(path):
    """Reads and validates a scenario file; UsageError names file and line."""
    path = Path(path)
    text, data = _read_toml(path)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise UsageError(f"{path}: unknown key(s): {', '.join(sorted(unknown))}")
    system = data.get("system")
    if not isinstance(system, str) or not _IDENT.fullmatch(system):
        raise UsageError(f"{path}: `system` must name the @@system (an identifier)")
    raw_steps = data.get("step")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise UsageError(f"{path}: at least one [[step]] with a `call` is required")
    lines = _call_lines(text)
    steps = [_step(raw, n, lines[n] if n < len(lines) else 0, path) for n, raw in enumerate(raw_steps)]
    construct = data.get("construct", {})
    if not isinstance(construct, dict):
        raise UsageError(f"{path}: [construct] must be a table")
    s_from, s_to, s_rep = _steady(data.get("steady", {}), path, len(steps))
    uncovered, uncovered_lines = _uncovered(data.get("uncovered", {}), path, text)
    return Scenario(path=path, system=system, steps=steps, uncovered=uncovered,
                    uncovered_lines=uncovered_lines,
                    construct_alloc=_int(construct, "alloc", f"{path}: [construct]"),
                    construct_frees=_int(construct, "frees", f"{path}: [construct]"),
                    steady_from=(s_from - 1) if s_from else 0,
                    steady_to=s_to - 1,
                    steady_repeat=s_rep if s_from else 0,
                    description=str(data.get("description", "")))


def _read_toml(path):
    """(text, parsed table) of a scenario file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"{path}: cannot read scenario: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: scenario is not UTF-8") from e
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: invalid TOML: {e}") from e


def _step(raw, n, line, path):
    """One [[step]] (0-based `n`, its `call` on .toml line `line`)."""
    where = f"{path}:{line}" if line else f"{path}: step {n + 1}"
    if not isinstance(raw, dict) or not isinstance(raw.get("call"), str):
        raise UsageError(f"{where}: step {n + 1} needs `call = \"method(args)\"`")
    bad = set(raw) - _STEP_KEYS
    if bad:
        raise UsageError(f"{where}: unknown step key(s): {', '.join(sorted(bad))}")
    try:
        method, args = split_call(raw["call"])
    except ValueError as e:
        raise UsageError(f"{where}: bad call `{raw['call']}`: {e}") from e
    domain = raw.get("domain", {})
    if not isinstance(domain, dict) or not all(isinstance(v, str) for v in domain.values()):
        raise UsageError(f"{where}: `domain` must map field names to Debug text strings")
    returns = raw.get("returns")
    if returns is not None and not isinstance(returns, str):
        raise UsageError(f"{where}: `returns` must be the Debug text of the value, as a string")
    return Step(call=raw["call"].strip(), method=method, args=args, line=line,
                alloc=_int(raw, "alloc", where), frees=_int(raw, "frees", where),
                returns=returns, domain=dict(domain))


def _steady(steady, path, nsteps):
    """[steady] as (from, to, repeat), from and to 1-based as written
    (from None when there is no cycle)."""
    if not isinstance(steady, dict):
        raise UsageError(f"{path}: [steady] must be a table")
    s_from = _int(steady, "from", f"{path}: [steady]")
    s_rep = _int(steady, "repeat", f"{path}: [steady]") or 0
    if s_rep and s_from is None:
        raise UsageError(f"{path}: [steady] needs `from` (the 1-based step the cycle starts at)")
    s_to = _int(steady, "to", f"{path}: [steady]") or nsteps
    if s_from is not None and not 1 <= s_from <= s_to <= nsteps:
        raise UsageError(f"{path}: [steady] from = {s_from}, to = {s_to} is not a range "
                         f"of step numbers (1..{nsteps})")
    bad = set(steady) - {"from", "to", "repeat"}
    if bad:
        raise UsageError(f"{path}: [steady] unknown key(s): {', '.join(sorted(bad))}")
    return s_from, s_to, s_rep
