"""Scenario files: fixtures/NAME.toml, the script one audit run drives.

Format (all keys but `system` and `step` optional)::

    system = "PortReset"            # the @@system to construct
    non_blocking = true             # no_alloc must also make no lock/wait/sleep/
                                    #   blocking-I/O call (rule nonblocking; default false)

    [construct]                     # Sys::__create(), or Sys::new() without one
    args = ["3", "10"]              #   constructor arguments (Rust expressions;
                                    #   integers and booleans may be written bare)
    # call = "__create(3, 10)"      #   or the call itself, as a step's (not both)
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
An unknown key anywhere (top level, [construct], [[step]], [steady]) is a
usage error naming the file and line; so is a call that the generated
module's API cannot take (shim.check_steps: method, arity, argument types,
domain fields, the system's name), found before anything is built.

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
_TOP_KEYS = {"system", "construct", "step", "steady", "description", "uncovered", "non_blocking"}
_CONSTRUCT_KEYS = {"alloc", "frees", "args", "call"}
_STEADY_KEYS = {"from", "to", "repeat"}
CONSTRUCTORS = ("__create", "new")


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
    domain_line: int = 0          # the line of `domain =` (0: none, or not found)


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
    non_blocking: bool = False     # the nonblocking rule for this fixture's no_alloc shape
    uncovered: dict = field(default_factory=dict)   # "$State.event" -> why
    uncovered_lines: dict = field(default_factory=dict)   # "lines 4-6" -> (4, 6, why)
    construct_args: list = field(default_factory=list)    # Rust expressions
    construct_method: str | None = None   # "__create" or "new" when `call` names it
    construct_line: int = 0       # the line of [construct]'s `args`/`call` (else its header)
    system_line: int = 0          # the line of `system =`

    def where(self, line):
        """`FILE:LINE`, or `FILE` when the line is not known."""
        return f"{self.path}:{line}" if line else str(self.path)


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


_HEADER = re.compile(r"\s*(\[\[|\[)\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""\s*("[^"\n]*"|'[^'\n]*'|[A-Za-z0-9_-]+)\s*=""")


def key_lines(text):
    """{(table, n, key): line} for each `key = ...` that starts a line:
    table "" is the top level, n the 0-based number of an [[array]]
    table (0 for a plain one); (table, n, None) is the header's line.
    A light scan beside tomllib, which keeps no positions: only the
    first line of a multi-line string or array counts."""
    out, table, counts, open_ml = {}, "", {}, None
    for num, line in enumerate(text.splitlines(), 1):
        if open_ml:
            if line.count(open_ml) % 2:
                open_ml = None
            continue
        h = _HEADER.match(line)
        if h:
            table = h.group(2).strip()
            counts[table] = counts.get(table, -1) + 1 if h.group(1) == "[[" else 0
            out.setdefault((table, counts[table], None), num)
            continue
        k = _KEY.match(line)
        if k:
            out.setdefault((table, counts.get(table, 0), k.group(1).strip("\"'")), num)
            rest = line[k.end():]
            open_ml = next((q for q in ('"""', "'''") if rest.count(q) % 2), None)
    return out


def _line(lines, table, n, key):
    """The line of `key` in a table (else the table's header; 0: unknown)."""
    return lines.get((table, n, key)) or lines.get((table, n, None)) or 0


def _reject_unknown(data, known, path, lines, table, n, what):
    """Unknown keys are a usage error naming the first one's line and
    the keys `what` takes."""
    bad = [k for k in data if k not in known]
    if not bad:
        return
    where = lambda k: (lines.get((table, n, k)) or lines.get((k, 0, None))
                       or lines.get((table, n, None)) or 0)
    key = min(bad, key=lambda k: (where(k) or 1 << 30, k))
    more = f" (and {', '.join(sorted(set(bad) - {key}))})" if len(bad) > 1 else ""
    line = where(key)
    raise UsageError((f"{path}:{line}" if line else str(path)) +
                     f": unknown key `{key}` in {what}{more}; it takes: {', '.join(sorted(known))}")


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
    lines = key_lines(text)
    _reject_unknown(data, _TOP_KEYS, path, lines, "", 0, "the scenario's top level")
    system = data.get("system")
    system_line = _line(lines, "", 0, "system")
    if not isinstance(system, str) or not _IDENT.fullmatch(system):
        raise UsageError(f"{path}{f':{system_line}' if system_line else ''}: "
                         f"`system` must name the @@system (an identifier)")
    raw_steps = data.get("step")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise UsageError(f"{path}: at least one [[step]] with a `call` is required")
    steps = [_step(raw, n, lines, path) for n, raw in enumerate(raw_steps)]
    construct = data.get("construct", {})
    if not isinstance(construct, dict):
        raise UsageError(f"{path}:{_line(lines, '', 0, 'construct')}: [construct] must be a table")
    c_method, c_args, c_line = _construct(construct, path, lines)
    s_from, s_to, s_rep = _steady(data.get("steady", {}), path, len(steps), lines)
    uncovered, uncovered_lines = _uncovered(data.get("uncovered", {}), path, text)
    non_blocking = data.get("non_blocking", False)
    if not isinstance(non_blocking, bool):
        raise UsageError(f"{path}:{_line(lines, '', 0, 'non_blocking')}: `non_blocking` must be "
                         f"true or false, not {non_blocking!r}")
    where = f"{path}:{_line(lines, 'construct', 0, None)}: [construct]"
    return Scenario(path=path, system=system, steps=steps, uncovered=uncovered,
                    uncovered_lines=uncovered_lines,
                    construct_alloc=_int(construct, "alloc", where),
                    construct_frees=_int(construct, "frees", where),
                    construct_args=c_args, construct_method=c_method, construct_line=c_line,
                    system_line=system_line,
                    steady_from=(s_from - 1) if s_from else 0,
                    steady_to=s_to - 1,
                    steady_repeat=s_rep if s_from else 0,
                    description=str(data.get("description", "")), non_blocking=non_blocking)


def _arg_text(v, where):
    """One [construct] `args` element as Rust text: a string is an
    expression as written; an integer or a boolean its literal."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if not isinstance(v, str) or not v.strip():
        raise UsageError(f"{where}: [construct] `args` holds Rust expressions as strings "
                         f"(integers and booleans may be bare), not {v!r}")
    try:
        _name, parts = split_call(f"f({v})")
    except ValueError as e:
        raise UsageError(f"{where}: [construct] argument `{v}`: {e}") from e
    if len(parts) != 1:
        raise UsageError(f"{where}: [construct] argument `{v}` is {len(parts)} arguments: "
                         f"give each its own element of `args`")
    return v.strip()


def _construct(table, path, lines):
    """[construct]'s constructor: (method or None, [Rust argument text],
    line).  `args = [...]` passes arguments to whichever constructor the
    module has (__create, else new); `call = "__create(3, 10)"` names it."""
    _reject_unknown(table, _CONSTRUCT_KEYS, path, lines, "construct", 0, "[construct]")
    if "args" in table and "call" in table:
        line = _line(lines, "construct", 0, "call")
        raise UsageError(f"{path}:{line}: [construct] takes `args = [...]` or `call = "
                         f"\"__create(...)\"`, not both")
    if "call" in table:
        line = _line(lines, "construct", 0, "call")
        call = table["call"]
        if not isinstance(call, str):
            raise UsageError(f"{path}:{line}: [construct] `call` must be a string, "
                             f"e.g. \"__create(3, 10)\"")
        try:
            method, args = split_call(call)
        except ValueError as e:
            raise UsageError(f"{path}:{line}: bad constructor call `{call}`: {e}") from e
        if method not in CONSTRUCTORS:
            raise UsageError(f"{path}:{line}: [construct] `call` must call `__create(...)` "
                             f"or `new(...)`, not `{method}`")
        return method, args, line
    line = _line(lines, "construct", 0, "args")
    raw = table.get("args", [])
    if not isinstance(raw, list):
        raise UsageError(f"{path}:{line}: [construct] `args` must be a list, e.g. [\"3\", \"10\"]")
    return None, [_arg_text(v, f"{path}:{line}") for v in raw], line


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


def _step(raw, n, lines, path):
    """One [[step]] (0-based `n`)."""
    line = _line(lines, "step", n, "call")
    where = f"{path}:{line}" if line else f"{path}: step {n + 1}"
    if not isinstance(raw, dict) or not isinstance(raw.get("call"), str):
        raise UsageError(f"{where}: step {n + 1} needs `call = \"method(args)\"`")
    _reject_unknown(raw, _STEP_KEYS, path, lines, "step", n, f"[[step]] {n + 1}")
    try:
        method, args = split_call(raw["call"])
    except ValueError as e:
        raise UsageError(f"{where}: bad call `{raw['call']}`: {e}") from e
    domain = raw.get("domain", {})
    dline = lines.get(("step", n, "domain"), 0)
    if not isinstance(domain, dict) or not all(isinstance(v, str) for v in domain.values()):
        raise UsageError(f"{path}:{dline or line}: `domain` must map field names to Debug text strings")
    returns = raw.get("returns")
    if returns is not None and not isinstance(returns, str):
        raise UsageError(f"{where}: `returns` must be the Debug text of the value, as a string")
    return Step(call=raw["call"].strip(), method=method, args=args, line=line,
                alloc=_int(raw, "alloc", where), frees=_int(raw, "frees", where),
                returns=returns, domain=dict(domain), domain_line=dline)


def _steady(steady, path, nsteps, lines):
    """[steady] as (from, to, repeat), from and to 1-based as written
    (from None when there is no cycle)."""
    head = _line(lines, "steady", 0, None)
    where = f"{path}:{head}: [steady]" if head else f"{path}: [steady]"
    if not isinstance(steady, dict):
        raise UsageError(f"{where} must be a table")
    _reject_unknown(steady, _STEADY_KEYS, path, lines, "steady", 0, "[steady]")
    s_from = _int(steady, "from", where)
    s_rep = _int(steady, "repeat", where) or 0
    if s_rep and s_from is None:
        raise UsageError(f"{where} needs `from` (the 1-based step the cycle starts at)")
    s_to = _int(steady, "to", where) or nsteps
    if s_from is not None and not 1 <= s_from <= s_to <= nsteps:
        raise UsageError(f"{where} from = {s_from}, to = {s_to} is not a range "
                         f"of step numbers (1..{nsteps})")
    return s_from, s_to, s_rep
