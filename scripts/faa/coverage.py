"""Coverage of the Frame source: which handlers, and which .frs lines, ran.

A zero must not hide behind an untested path.  The O0 libraries of each
shape (no inlining: every handler keeps its own function, every line its
own code) are run once each under Callgrind by faa-run, with line-level
output; a bundle library (bundle.py) runs all its fixtures in that one
process, and each fixture's lines, functions (own_names: those in its own
shim module) and call sites are read from the one profile.

Handlers.  frc writes a mapping comment above every handler it emits
(`// FILE.frs:LINE $State.event`, `$>` / `<$` for enter / exit; `// FILE.frs:LINE
action NAME` above an action) followed by its `fn`.  A handler whose
function appears in Callgrind's profile was executed: that gives the
(state x event) matrix.

Lines.  frc ends every line of a handler or action body with a marker
`// frs:N` (`// frs:N:C` when the generated line starts at column C), the
.frs line that generated line starts on; a line that ends inside a
multi-line string has none and maps one for one to the lines above the next
marker.  A statement form (transition, push$, => $^, @@:return(e), @@:(e))
sharing its .frs line with other code gets a generated line of its own.
The lines of the generated module that have code are the rows of the
library's DWARF line table (readelf's decoded line table); the lines that
ran are those Callgrind charged an instruction to.  A .frs body line is
uncovered when some of its code never ran: entirely, or in part (`if c {
-> $S }` where the transition never happened).  Code inside a handler's
function that carries no marker (frc's own prologue, or anything written
into the module afterwards) is reported by its generated line when it
never ran.

What line coverage cannot see: two branches of native code on one .frs
line (`if c { a() } else { b() }`) count as run once the line ran; frc's
own branches inside an expansion (push$ on a full stack, -> pop$ on an
empty one) are not asked for.

Calls out of the library.  Line granularity lets a line like `if rare {
unsafe { strdup(p) }; }` count as run when only its `if` did, and the
zero never saw the call.  So the same Callgrind run also records every
executed instruction (--dump-instr=yes; Callgrind writes the addresses of a
shared object relative to the object, i.e. as the ELF file has them, which
library_calls() checks against the disassembly before trusting them), and
objdump gives every call instruction of the module's own functions (those
whose entry lies on a line of the module in the DWARF line table): a call
through the PLT (`call <name@plt>`) or through the GOT to a symbol the
library does not define (`call *GOT(%rip)`, rustc's default) leaves the
library.  Each such call site must have run, except the mem* family
(memcpy, memmove, memset, memcmp, bcmp: no allocation) and _Unwind_Resume
(only in landing pads, which run only while a panic unwinds, and starting
a panic allocates its payload, which the count sees); so must
every direct call to a module function that contains such a call.  One that
never ran is a finding naming the callee, the generated line and its .frs
line; an [uncovered] entry for that .frs line (or its handler) excuses it.

Other compilers.  A module without mapping comments has its handlers
recognised by framec's names (framec 4.x's Rust back end: one dispatcher
`fn _state_S(&mut self, __e: ...)` per state, whose match arms call
`_s_S_hdl_user_EVENT`, `_s_S_hdl_frame_enter` ($>) and
`_s_S_hdl_frame_exit` (<$); recognise(), framec_handlers()).  framec
leaves no reference to the .frs, so its matrix and findings name handlers
as $State.event, lines inside a handler are not judged (a note says so),
and a call out of the library that never ran is named, and excused, by its
handler.  A module whose handlers are recognised neither way -- or a
framec-like one whose dispatchers call anything else, so that part of the
handlers would go unseen -- gets no matrix: a note says coverage was not
checked and why, the fixture is `unchecked: coverage`, and --strict fails.
A scenario lists what it cannot reach, with
the reason, under [uncovered] (scenario.py): handler keys
(`"$Fault.reset" = "..."`) and line keys (`"line 42"`, `"lines 42-45"`).
An entry naming something that is not there, or that ran in every shape,
is a finding of its own (a stale exception).
"""

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import procs, rustlex
from .progress import Phase

TIMEOUT = 600
FORMAT = 7          # of the cached Callgrind/DWARF/objdump results
SHAPE = {"alloc": "allocating", "noalloc": "no_alloc"}
# calls out of the library that need not have run (see the module docstring)
EXEMPT = frozenset({"memcpy", "memmove", "memset", "memcmp", "bcmp", "_Unwind_Resume"})


# ---- the module: handlers, bodies, the generated -> .frs line map --------

_HANDLER = re.compile(r"//\s*\S+\.frs:\d+\s+\$(\w+)\.(\$>|<\$|\w+)\s*\n\s*(?:pub\s+)?fn\s+(\w+)")
_MAPPING = re.compile(r"^\s*//\s*(\S+\.frs):(\d+)\s+(.*?)\s*$")
_BODY_OWNER = re.compile(r"^(\$\w+\.(?:\$>|<\$|\w+)|action \w+)$")
_REGION_END = re.compile(r"^(// ---- end of system|\})")
_MARKER = re.compile(r"\s// frs:(\d+)(?::(\d+))?\s*$")


def handlers(module_text):
    """{function name: (state, event)} from frc's mapping comments."""
    return {m.group(3): (m.group(1), m.group(2)) for m in _HANDLER.finditer(module_text)}


# ---- other compilers: handler functions recognised by their names -----------

@dataclass
class Handlers:
    """A module's handler functions {fn: (state, event)}, the naming they
    were recognised by ("frc": its mapping comments; "framec": its method
    names, no .frs line), or why none was ("" kind, `why`)."""
    fns: dict
    kind: str = ""
    why: str = ""


UNRECOGNISED = ("none of its functions is a handler the audit recognises (frc's `// FILE.frs:N "
                "$State.event` mapping comments, or framec's `_state_S` dispatchers calling "
                "`_s_S_hdl_user_EVENT` / `_s_S_hdl_frame_enter` / `_s_S_hdl_frame_exit`)")


def recognise(module_text):
    """The module's handlers by frc's mapping comments, else by framec's
    names (framec_handlers), else none, with the reason."""
    hs = handlers(module_text)
    if hs:
        return Handlers(hs, "frc")
    hs, why = framec_handlers(module_text)
    if hs:
        return Handlers(hs, "framec")
    return Handlers({}, "", f"{UNRECOGNISED}: {why}" if why else UNRECOGNISED)


_FRAMEC_STATE = re.compile(r"\bfn\s+_state_(\w+)\s*\(\s*&\s*mut\s+self\s*,\s*__e\s*:")
_FRAMEC_FN = re.compile(r"\bfn\s+(_s_\w+?_hdl_\w+)\s*\(")
_SELF_CALL = re.compile(r"\bself\s*\.\s*(\w+)\s*\(")
_FRAMEC_LIFECYCLE = {"frame_enter": "$>", "frame_exit": "<$"}


def framec_name(fn, states):
    """(state, event) of a framec 4.x handler method name, or None:
    `_s_S_hdl_user_EVENT`, `_s_S_hdl_frame_enter` ($>), `_s_S_hdl_frame_exit`
    (<$) for a state S of `states` (state and event names may hold `_`)."""
    for st in sorted(states, key=len, reverse=True):
        head = f"_s_{st}_hdl_"
        if not fn.startswith(head):
            continue
        rest = fn[len(head):]
        if rest in _FRAMEC_LIFECYCLE:
            return st, _FRAMEC_LIFECYCLE[rest]
        if rest.startswith("user_") and len(rest) > 5:
            return st, rest[5:]
    return None


def framec_handlers(module_text):
    """({fn: (state, event)}, why not) from framec's naming: one dispatcher
    `fn _state_S(&mut self, __e: ...)` per state, whose match arms call the
    handler methods (framec_name).  Every method a dispatcher calls must be
    such a handler, defined in the module, or another state's dispatcher
    (a parent's): any other call means a naming this code does not know,
    and then nothing is recognised rather than part of it."""
    try:
        text = rustlex.blank(module_text, tolerant=True)
    except rustlex.LexError:
        return {}, "the module could not be read as Rust"
    states = {m.group(1): m.end() for m in _FRAMEC_STATE.finditer(text)}
    if not states:
        return {}, ""
    defined = list(dict.fromkeys(_FRAMEC_FN.findall(text)))     # in the module's order
    for st, at in states.items():
        open_at = text.find("{", at)
        body = _braced(text, open_at) if open_at >= 0 else None
        if body is None:
            return {}, f"the body of `_state_{st}` has no closing brace"
        for name in _SELF_CALL.findall(body):
            if name.startswith("_state_") and name[len("_state_"):] in states:
                continue
            if framec_name(name, states) is None or name not in defined:
                return {}, f"`_state_{st}` calls `{name}`, which is no framec handler method"
    out = {fn: hd for fn in defined if (hd := framec_name(fn, states))}
    return out, "" if out else "framec state dispatchers, but no handler method"


def _braced(text, open_at):
    """The text between the brace at text[open_at] and its match (comments
    and literals blanked already), or None when it is never closed."""
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:j]
    return None


@dataclass
class Region:
    """The function frc emitted for one handler or action."""
    key: str            # "$State.event" or "action NAME"
    fn: str             # its Rust name ("" when no `fn` follows the comment)
    frs: str            # the .frs path the mapping comment names
    frs_line: int       # the header line of the handler / action
    first: int          # generated lines first..last (1-based, inclusive)
    last: int
    lines: dict = field(default_factory=dict)   # generated line -> .frs line
    cols: dict = field(default_factory=dict)    # generated line -> .frs column it starts at


def regions(module_text):
    """The handler and action functions of a generated module, with the
    .frs line of every body line (see the module docstring)."""
    lines = module_text.splitlines()
    out, cur = [], None
    for n, text in enumerate(lines, 1):
        m = _MAPPING.match(text)
        if cur and (m or _REGION_END.match(text)):
            cur.last = n - 1
            out.append(cur)
            cur = None
        if m and _BODY_OWNER.match(m.group(3)):
            fn = re.search(r"\bfn\s+(\w+)", lines[n]) if n < len(lines) else None
            cur = Region(key=m.group(3), fn=fn.group(1) if fn else "", frs=m.group(1),
                         frs_line=int(m.group(2)), first=n + 1, last=n + 1)
    if cur:
        cur.last = len(lines)
        out.append(cur)
    for r in out:
        r.lines = line_map(lines, r.first, r.last)
        r.cols = {n: int(m.group(2)) for n in r.lines
                  if (m := _MARKER.search(lines[n - 1])) and m.group(2)}
    return out


def line_map(lines, first, last):
    """{generated line: .frs line} for lines first..last of a module.

    Marked lines map to their marker.  A run of unmarked lines right above a
    marked one maps one for one when each of them ends inside a string
    literal that the marked line closes (a multi-line string in the body);
    any other unmarked line is not Frame source.
    """
    marked = {}
    for n in range(first, last + 1):
        m = _MARKER.search(lines[n - 1])
        if m:
            marked[n] = int(m.group(1))
    out = dict(marked)
    n = first
    while n <= last:
        if n in marked:
            n += 1
            continue
        end = n
        while end <= last and end not in marked:
            end += 1
        if end <= last:
            for start in range(n, end):
                if _all_end_in_string(lines[start - 1:end - 1]):
                    for k in range(start, end):
                        out[k] = marked[end] - (end - k)
                    break
        n = end + 1
    return out


def _all_end_in_string(seq):
    """True when, lexed from the start of seq[0], every line of seq ends
    inside a string literal ("...", b"...", r#"..."#)."""
    close = None            # what ends the open string: '"' or '"##..'
    for text in seq:
        i = 0
        while i < len(text):
            if close:
                if close == '"' and text[i] == "\\":
                    i += 2
                    continue
                if text.startswith(close, i):
                    i += len(close)
                    close = None
                    continue
                i += 1
                continue
            ch = text[i]
            if text.startswith("//", i):
                break
            m = re.match(r"b?r(#*)\"", text[i:])
            if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
                close = '"' + m.group(1)
                i += m.end()
                continue
            if ch == '"':
                close = '"'
            elif ch == "'":
                m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
                if m:
                    i += m.end()
                    continue
            i += 1
        if not close:
            return False
    return True


# ---- what ran and what has code ------------------------------------------

_FN = re.compile(r"^c?fn=(?:\(\d+\)\s*)?(.+)$")
_DL_HEADER = re.compile(r"^(?:CU: )?(\S.*?):(?:\[\+\+\])?$")


def same_file(path, module):
    """True when a path from DWARF or Callgrind (absolute, or relative to
    rustc's working directory) names the module file."""
    if not path or Path(path).name != Path(module).name:
        return False
    p = str(path)
    for mod in {str(Path(module)), str(Path(module).resolve())}:
        if p == mod or mod.endswith("/" + p.lstrip("./")):
            return True
    return False


def parse_callgrind(text, module):
    """(names of every function that ran, lines of `module` that ran) from a
    Callgrind profile written with --dump-line=yes --compress-pos=no
    --compress-strings=no (and optionally --dump-instr=yes)."""
    names, ran, _ = parse_profile(text, module)
    return names, ran


def parse_profile(text, module, lib=None):
    """(names of every function that ran, lines of `module` that ran,
    addresses of the instructions of object `lib` that ran) from a Callgrind
    profile written with --dump-line=yes --compress-pos=no
    --compress-strings=no, and --dump-instr=yes for the addresses.  The
    address of an instruction of a shared object is as Callgrind writes it:
    relative to the object (see library_calls())."""
    names, by_file, executed = parse_profile_files(text, lib)
    return names, lines_of(by_file, module), executed


def lines_of(by_file, module):
    """The lines of {file: lines} whose file names `module` (same_file)."""
    out = set()
    for f, lines in by_file.items():
        if same_file(f, module):
            out |= lines
    return out


def parse_profile_files(text, lib=None):
    """parse_profile for every source file at once: (names, {file: lines
    that ran}, addresses of `lib` that ran), so that a bundle's profile is
    read once for all its fixtures."""
    names, ran, executed = set(), {}, set()
    fl = fi = None
    fields = ["line"]
    mine = False                # the current ob= is `lib`
    for line in text.splitlines():
        if line.startswith("positions:"):
            fields = line.split(":", 1)[1].split()
        elif line.startswith("ob="):
            mine = lib is not None and _same_object(line[3:].strip(), lib)
        elif line.startswith("fl="):
            fl = fi = line[3:].strip()
        elif line.startswith(("fi=", "fe=")):
            fi = line[3:].strip()
        elif line.startswith("fn="):
            fi = fl
            m = _FN.match(line)
            names.add(m.group(1).strip())
        elif line.startswith("cfn="):
            m = _FN.match(line)
            names.add(m.group(1).strip())
        elif line[:1].isdigit() or (line[:1] and line[:1] in "+-*"):
            pos = dict(zip(fields, line.split()))
            if not all(_absolute(v) for v in pos.values()):
                raise RuntimeError(f"Callgrind wrote a compressed position ({line.strip()!r}); "
                                   f"the profile must be written with --compress-pos=no")
            n = pos.get("line", "0")
            if int(n, 0) > 0 and fi:
                ran.setdefault(fi, set()).add(int(n, 0))
            if mine and "instr" in pos:
                executed.add(int(pos["instr"], 0))
    return names, ran, executed


_ABSOLUTE = re.compile(r"0x[0-9a-fA-F]+|\d+")


def _absolute(tok):
    return _ABSOLUTE.fullmatch(tok) is not None


def _same_object(path, lib):
    try:
        return Path(path).resolve() == Path(lib).resolve()
    except OSError:
        return False


def parse_decodedline(text, module):
    """Lines of `module` with code, from `readelf -W --debug-dump=decodedline`."""
    return lines_of(parse_decoded_files(text), module)


def parse_decoded_files(text, rows=None):
    """{file: lines with code} of every file in a decoded line table (or
    its all_rows(), `rows`, when read already).  A
    row followed by another at the same address covers no instruction:
    rustc 1.63 starts every function with a zero-length row for its `fn`
    line before the prologue's end, at the same address, and Callgrind puts
    that instruction on the second row's line, so the `fn` line would look
    like code that never ran."""
    rows = all_rows(text) if rows is None else rows
    lines = {}
    for (addr, f, line), nxt in zip(rows, rows[1:] + [None]):
        if line is not None and (nxt is None or nxt[0] > addr):
            lines.setdefault(f, set()).add(line)
    return lines


def decoded_lines(lib, readelf=None):
    """`readelf -W --debug-dump=decodedline` of the library."""
    readelf = readelf or shutil.which("readelf")
    if not readelf:
        raise RuntimeError("readelf (binutils) is needed for line coverage")
    r = procs.run([readelf, "-W", "--debug-dump=decodedline", str(lib)], timeout=TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError(f"readelf failed on {lib} (exit {r.returncode}): {r.stderr[-400:]}")
    return r.stdout


def code_lines(lib, module, readelf=None):
    """Lines of the generated module that have code in the library."""
    return parse_decodedline(decoded_lines(lib, readelf), module)


# ---- calls out of the library ---------------------------------------------

_DL_ROW = re.compile(r"^(\S+)\s+(\d+|-)\s+(0x[0-9a-fA-F]+)\b")
_HEX = frozenset("0123456789abcdefABCDEF")


def line_rows(text, module):
    """[(address, line or None)] from `readelf -W --debug-dump=decodedline`,
    sorted by address: the line of `module` that the code from that address
    on belongs to; None where another file's code, line 0 or the end of a
    sequence starts."""
    return rows_for(all_rows(text), module)


def rows_for(rows, module):
    """line_rows() of `module` from all_rows()."""
    mine = {}
    out = []
    for addr, f, line in rows:
        if line is not None and f not in mine:
            mine[f] = same_file(f, module)
        out.append((addr, line if line is not None and mine[f] else None))
    return out


def cu_blocks(text, names):
    """The part of a decoded line table that can hold a line of the files
    `names` (base names): the compilation units whose text names one of
    them.  The others -- std's, core's and compiler_builtins' precompiled
    units, nine tenths of a library's rows -- hold code of other files
    only, in address ranges of their own, each sequence closed by its end
    row, so an address in them reads no line of `names` either way."""
    parts = text.split("\nCU: ")
    keep = [parts[0]] + ["CU: " + p for p in parts[1:] if any(n in p for n in names)]
    return "\n".join(keep)


def all_rows(text):
    """[(address, file, line or None)] of a decoded line table, sorted by
    address (None: line 0 or an end of sequence).  A row's file is its own
    first column: readelf names the file in a header line only now and
    then, and one codegen unit of a bundle crate (bundle.py) holds the
    functions of several fixtures' modules — a row under another module's
    header belongs to the file it names (its base name; same_file matches
    that against a module's path)."""
    rows, cur, base = [], None, None
    # (a whole table is some 150,000 rows, std's included: the usual row is
    # read with split, not a regular expression, in half the time)
    for row in text.splitlines():
        if row.endswith((":", ":[++]")):
            head = _DL_HEADER.match(row)
            if head:
                cur = head.group(1).strip()
                base = cur.rsplit("/", 1)[-1]
                continue
        parts = row.split(None, 3) if cur and row[:1] > " " else ()
        if len(parts) < 3:
            continue
        name, num, addr = parts[0], parts[1], parts[2]
        if num == "-":
            line, end = None, True
        elif num.isdigit() and num.isascii():
            line, end = int(num) or None, False
        else:
            continue
        try:
            a = int(addr, 16) if addr[:2] == "0x" and addr[2:3] in _HEX else None
        except ValueError:
            a = None        # an address glued to what follows it: the pattern decides
        if a is None:
            m = _DL_ROW.match(row)
            if not m:
                continue
            a = int(m.group(3), 16)
        f = cur if name == base else name
        # an end of sequence sorts before a sequence starting at its address
        rows.append((a, 0 if end else 1, len(rows), f, line))
    rows.sort()
    return [(addr, f, line) for addr, _, _, f, line in rows]


def _line_at(rows, addrs, addr):
    import bisect
    i = bisect.bisect_right(addrs, addr) - 1
    return rows[i][1] if i >= 0 else None


_SYM = re.compile(r"^([0-9a-f]+) <(.+)>:$")
_INSN = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")


def parse_objdump(text):
    """{function address: (name, [(address, mnemonic, operands)])} from
    `objdump -d -C --no-show-raw-insn`."""
    funcs, cur = {}, None
    for row in text.splitlines():
        m = _SYM.match(row)
        if m:
            cur = funcs.setdefault(int(m.group(1), 16), (m.group(2), []))
            continue
        m = _INSN.match(row)
        if m and cur is not None:
            cur[1].append((int(m.group(1), 16), m.group(2), m.group(3).strip()))
    return funcs


_RELOC = re.compile(r"^([0-9a-f]+)\s+(R_\w+)\s+(\S+)")
_UND = re.compile(r"^[0-9a-f]+\s+(.*?)\*UND\*.*\s(\S+)$")


def parse_imports(text):
    """({GOT slot: (symbol, is a function)} of the slots the dynamic linker
    fills with a symbol the library does not define, {GOT slot: address in
    the library} of the slots it fills with one of the library's own
    addresses), from `objdump -R -T`."""
    undefined, slots, local = {}, {}, {}
    for row in text.splitlines():
        m = _UND.match(row)
        if m:
            undefined[m.group(2)] = "F" in m.group(1)
            continue
        m = _RELOC.match(row)
        if not m:
            continue
        slot = int(m.group(1), 16)
        if m.group(2) == "R_X86_64_RELATIVE":
            add = re.fullmatch(r"\*ABS\*\+0x([0-9a-f]+)", m.group(3))
            if add:
                local[slot] = int(add.group(1), 16)
        else:
            slots[slot] = m.group(3).split("@")[0]
    return {a: (n, undefined[n]) for a, n in slots.items() if n in undefined}, local


_DIRECT = re.compile(r"^([0-9a-f]+) <([^>+]+)(\+0x[0-9a-f]+)?>")
_RIP_SLOT = re.compile(r"-?0x[0-9a-f]+\(%rip\).*#\s*([0-9a-f]+)\b")


def call_sites(funcs, imports, local, rows):
    """The sites the rule judges in the module's own functions (see the
    module docstring): ({"functions": {address: (first, end)},
    "instructions": set of their instruction addresses},
    [{"addr", "kind", "target", "via", "gen", "fn"}], {"exempt": n,
    "indirect": n}).  kind "call": a call out of the library (via "") or a
    call to a module function that makes one (via: the outside function);
    kind "address": the address of an outside function loaded from the GOT
    (a call through a pointer to it follows)."""
    addrs = [a for a, _ in rows]
    ends = sorted(funcs)
    mine, insns = {}, set()
    for i, (start, (name, code)) in enumerate(sorted(funcs.items())):
        if code and _line_at(rows, addrs, start) is not None:
            end = ends[i + 1] if i + 1 < len(ends) else code[-1][0] + 1
            mine[start] = (name, code, end)
            insns.update(a for a, _, _ in code)
    out, calls, seen = {}, {}, {"exempt": 0, "indirect": 0}
    for start, (name, code, _) in mine.items():
        gen = None
        for addr, op, args in code:
            gen = _line_at(rows, addrs, addr) or gen
            m = _RIP_SLOT.search(args)
            slot = int(m.group(1), 16) if m and ("*" in args or not op.startswith("call")) else None
            kind = "call" if op.startswith("call") else "address"
            target = None
            if kind == "address":
                if slot not in imports or not imports[slot][1]:
                    continue
                target = imports[slot][0]
            elif slot in imports:
                target = imports[slot][0]
            elif slot in local:
                calls.setdefault(start, []).append((addr, local[slot], gen))
                continue
            elif (d := _DIRECT.match(args)) and d.group(2).endswith("@plt"):
                target = d.group(2)[:-4].split("@")[0]
            elif d:
                calls.setdefault(start, []).append((addr, int(d.group(1), 16), gen))
                continue
            else:
                seen["indirect"] += 1
                continue
            if target in EXEMPT:
                seen["exempt"] += 1
                continue
            out.setdefault(start, []).append({"addr": addr, "kind": kind, "target": target,
                                              "via": "", "gen": gen, "fn": name})
    # module functions that contain a judged call out of the library (directly:
    # a closure over the router would name frc's dispatch paths no event takes)
    reach = {f: sites[0]["target"] for f, sites in out.items()}
    sites = [s for f in sorted(out) for s in out[f]]
    for f, cs in sorted(calls.items()):
        for addr, t, gen in cs:
            if t in reach:
                sites.append({"addr": addr, "kind": "call", "target": _short(mine[t][0]),
                              "via": reach[t], "gen": gen, "fn": mine[f][0]})
    ranges = {a: (a, end) for a, (_, _, end) in mine.items()}
    return {"functions": ranges, "instructions": insns}, sorted(sites, key=lambda s: s["addr"]), seen


def _short(name):
    """`crate::fx_module::Sys::helper` -> `Sys::helper`."""
    parts = re.sub(r"<.*>", "", name).split("::")
    return "::".join(parts[-2:])


def _tool(name, args, lib):
    exe = shutil.which(name)
    if not exe:
        raise RuntimeError(f"{name} (binutils) is needed for line coverage")
    r = procs.run([exe, *args, str(lib)], timeout=TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError(f"{name} failed on {lib} (exit {r.returncode}): {r.stderr[-400:]}")
    return r.stdout


def library_calls(lib, module, executed, decoded, objdump=None, parsed=None):
    """The judged call sites of the module's code in `lib`, each with `ran`,
    and the counts of exempt and indirect calls.  `executed`: instruction
    addresses Callgrind saw run in the object.  Refuses (RuntimeError) when
    those addresses do not fall on the module's instructions: a load bias
    this code did not expect would otherwise read as calls that ran.
    `decoded`: readelf's decoded line table, or its all_rows(); `objdump`:
    the library's (disassembly, relocations) text, or `parsed` their
    (parse_objdump, *parse_imports) when read already (a bundle's members
    share them)."""
    if parsed is None:
        dis, rel = objdump or objdump_texts(lib)
        parsed = (parse_objdump(dis), *parse_imports(rel))
    funcs, imports, local = parsed
    rows = rows_for(decoded, module) if isinstance(decoded, list) else line_rows(decoded, module)
    seen_code, sites, seen = call_sites(funcs, imports, local, rows)
    inside = _within(executed, seen_code["functions"].values())
    stray = [a for a in inside if a not in seen_code["instructions"]]
    if seen_code["functions"] and (not inside or stray):
        what = (f"{hex(stray[0])} is no instruction start" if stray
                else "no instruction of the module's functions ran")
        raise RuntimeError(f"the addresses Callgrind recorded in {lib} do not match its "
                           f"disassembly ({what}): calls out of the library cannot be checked")
    for s in sites:
        s["ran"] = s["addr"] in executed
    return sites, seen


def _within(addrs, spans):
    """The addresses of `addrs` inside some [lo, hi) of `spans` (bisect over
    the spans merged: a bundle's profile holds tens of thousands of
    executed addresses, its module hundreds of functions)."""
    import bisect
    merged = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        elif lo < hi:
            merged.append([lo, hi])
    starts = [lo for lo, _ in merged]
    out = []
    for a in addrs:
        i = bisect.bisect_right(starts, a) - 1
        if i >= 0 and a < merged[i][1]:
            out.append(a)
    return out


def objdump_texts(lib):
    """(disassembly, dynamic relocations and symbols) of a library."""
    return (_tool("objdump", ["-d", "-C", "--no-show-raw-insn"], lib),
            _tool("objdump", ["-R", "-T"], lib))


def callgrind(valgrind, runner, lib, prefixes, outdir):
    """Runs faa-run over lib's fixtures (`prefixes`, in turn) under
    Callgrind; returns the profile's text."""
    outdir.mkdir(parents=True, exist_ok=True)
    out = outdir / (Path(lib).stem + ".callgrind.out")
    cmd = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
           "--compress-strings=no", "--compress-pos=no", "--dump-line=yes", "--dump-instr=yes",
           runner, "--repeat", "1", str(lib), *prefixes]
    r = procs.run(cmd, timeout=TIMEOUT)
    if r.returncode != 0 or not out.exists():
        raise RuntimeError(f"callgrind failed on {lib} (exit {r.returncode}): {r.stderr[-400:]}")
    return out.read_text(errors="replace")


def own_names(names, prefix):
    """The function names of one fixture of a bundle: those in its shim's
    module (`CRATE::fx_IDENT::...`, the prefix less its `__`), so that a
    handler of the same name in a bucket-mate is not taken for its own."""
    mod = prefix[:-2] if prefix.endswith("__") else None
    if not mod:
        return set(names)
    return {n for n in names if f"::{mod}::" in n or n.startswith(f"{mod}::")}


@dataclass
class Run:
    """One shape of one fixture, as Callgrind and DWARF saw it."""
    module: Path
    functions: set
    ran: set             # generated lines that ran
    code: set            # generated lines with code
    calls: list = field(default_factory=list)   # judged call sites (library_calls), with "ran"
    seen: dict = field(default_factory=dict)    # {"exempt": n, "indirect": n} calls not judged


def measure(valgrind, runner, lib, members, outdir, key, reuse=True):
    """{prefix: Run} for one O0 library and its fixtures `members`
    [(prefix, module)]: one Callgrind run of them all, each fixture's lines,
    functions and call sites read from it; cached in outdir under `key`
    (what the library and the runner were built from)."""
    cache = Path(outdir) / f"{Path(lib).stem}.lines.json"
    key = [FORMAT] + list(key)
    if reuse:
        # a run over more of the library's fixtures serves a run over some
        try:
            saved = json.loads(cache.read_text())
            runs = saved["runs"]
            if saved["key"] == key and all(runs.get(p, {}).get("module") == str(m) for p, m in members):
                return {p: Run(Path(runs[p]["module"]), set(runs[p]["functions"]), set(runs[p]["ran"]),
                               set(runs[p]["code"]), runs[p]["calls"], runs[p]["seen"])
                        for p, _ in members}
        except (OSError, ValueError, KeyError, AttributeError):
            pass
    text = callgrind(valgrind, runner, lib, [p for p, _ in members], Path(outdir))
    names, ran_by_file, executed = parse_profile_files(text, lib)
    decoded = cu_blocks(decoded_lines(lib), {Path(m).name for _, m in members})
    rows = all_rows(decoded)
    code_by_file = parse_decoded_files(decoded, rows)
    dis, rel = objdump_texts(lib)
    parsed = (parse_objdump(dis), *parse_imports(rel))
    out = {}
    for pfx, module in members:
        calls, seen = library_calls(lib, module, executed, rows, parsed=parsed)
        out[pfx] = Run(Path(module), own_names(names, pfx), lines_of(ran_by_file, module),
                       lines_of(code_by_file, module), calls, seen)
    cache.write_text(json.dumps({"key": key, "runs": {
        p: {"module": str(r.module), "functions": sorted(r.functions), "ran": sorted(r.ran),
            "code": sorted(r.code), "calls": r.calls, "seen": r.seen} for p, r in out.items()}}))
    return out


# ---- the matrix ------------------------------------------------------------

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


# ---- lines -------------------------------------------------------------------

@dataclass
class Line:
    """A line with code in a handler or action function, in one shape."""
    owner: str           # region key
    gen: int             # generated line
    frs: int | None      # .frs line, None when it is not Frame source
    ran: bool
    owner_ran: bool
    col: int = 0         # .frs column the generated line starts at (0: the line's start)
    end: int = 0         # .frs column the next generated line of that .frs line starts at (0: none)


def shape_lines(run):
    """(every line with code inside a handler or action function of the
    run's module, with whether it ran; the module's lines)."""
    text = run.module.read_text(errors="replace")
    out = []
    for r in regions(text):
        owner_ran = bool(r.fn) and ran(r.fn, run.functions)
        starts = {}
        for n, frs in r.lines.items():
            starts.setdefault(frs, set()).add(r.cols.get(n, 0))
        for n in range(r.first, r.last + 1):
            if n in run.code:
                frs, col = r.lines.get(n), r.cols.get(n, 0)
                end = min((c for c in starts.get(frs, ()) if c > col), default=0)
                out.append(Line(r.key, n, frs, n in run.ran, owner_ran, col, end))
    return out, text.splitlines()


def _shapes(modes):
    names = [SHAPE.get(m, m) for m in modes]
    return f"{' and '.join(names)} shape{'s' if len(names) > 1 else ''}"


def display(path, root):
    """A fixture file's path as the user knows it: relative to the project
    when it is in it.  A relative path (as a module's mapping comments give
    it: `fixtures/x.frs`) is already that and is kept as written, never
    resolved against the working directory."""
    p = Path(path)
    if not p.is_absolute():
        return str(p)
    try:
        p = p.resolve().relative_to(Path(root).resolve())
    except (OSError, ValueError):
        pass
    return str(p)


class Source:
    """The fixture's .frs: its display path and the text of its lines."""

    def __init__(self, fx, module_lines, root):
        named = next((m.group(1) for m in map(_MAPPING.match, module_lines) if m), f"{fx.name}.frs")
        self.path = display(fx.frs or named, root)
        self.lines = []
        for p in ([fx.frs] if fx.frs else []) + [Path(root) / self.path]:
            try:
                self.lines = Path(p).read_text(errors="replace").splitlines()
                break
            except OSError:
                continue

    def text(self, n):
        return self.lines[n - 1].strip() if 0 < n <= len(self.lines) else ""

    def part(self, n, col, end):
        """Line n from column col (1-based; 0: its start) up to column end (0: its end)."""
        if not 0 < n <= len(self.lines):
            return ""
        return self.lines[n - 1][max(col - 1, 0):end - 1 if end else None].strip()


def _by_frs(lines):
    """{.frs line: {owner, ran, owner_ran, gen, unran}}: a line ran when all
    its code did; `unran` are the .frs columns of the generated pieces of it
    that never ran, each with the column where the next piece starts."""
    out = {}
    for ln in lines:
        if ln.frs is None:
            continue
        d = out.setdefault(ln.frs, {"owner": ln.owner, "ran": True, "owner_ran": ln.owner_ran,
                                    "gen": ln.gen, "pieces": {}})
        d["ran"] = d["ran"] and ln.ran
        ran_, _ = d["pieces"].get(ln.col, (True, 0))
        d["pieces"][ln.col] = (ran_ and ln.ran, ln.end)
    for d in out.values():
        pieces = sorted(d.pop("pieces").items())
        d["partly"] = not d["ran"] and any(r for _, (r, _) in pieces)
        d["unran"] = [(c, end) for c, (r, end) in pieces if not r]
    return out


def evaluate(fx, runs, root):
    """Line coverage of one fixture: (report {mode: {...}}, finding messages).

    runs: {mode: Run}.  A handler that never ran is the matrix's finding
    (handler_findings); its lines appear in the report only.
    """
    scen, toml = fx.scenario, display(fx.toml, root)
    per = {mode: shape_lines(run) for mode, run in runs.items()}
    src = Source(fx, next(iter(per.values()))[1] if per else [], root)
    excused = line_exceptions(scen)
    report, failing, actions, unmapped = {}, {}, {}, []
    code_any, ran_all = set(), None
    for mode, (lines, gen_text) in per.items():
        frs = _by_frs(lines)
        code_any |= set(frs)
        ran_here = {n for n, d in frs.items() if d["ran"]}
        ran_all = ran_here if ran_all is None else ran_all & ran_here
        unc = []
        for n, d in sorted(frs.items()):
            if d["ran"]:
                continue
            why = excused.get(n) or scen.uncovered.get(d["owner"])
            parts = tuple(src.part(n, c, e) for c, e in d["unran"]) if d["partly"] else ()
            unc.append({"line": n, "where": f"{src.path}:{n}", "in": d["owner"], "text": src.text(n),
                        "generated": d["gen"], "handler_ran": d["owner_ran"], "excused": why,
                        "never_ran": list(parts)})
            if why:
                pass
            elif d["owner_ran"]:
                failing.setdefault((n, d["owner"], parts), []).append(mode)
            elif d["owner"].startswith("action "):
                actions.setdefault(d["owner"], {}).setdefault(mode, []).append(n)
        gone = [{"generated": ln.gen, "in": ln.owner, "text": _MARKER.sub("", gen_text[ln.gen - 1]).strip()}
                for ln in lines
                if ln.frs is None and ln.owner_ran and not ln.ran and ln.owner not in scen.uncovered]
        unmapped += [(mode, item) for item in gone]
        report[mode] = {"total": len(frs), "covered": len(ran_here), "uncovered": unc, "unmapped": gone}

    out = []
    for (n, owner, parts), modes in sorted(failing.items()):
        what = (f"never ran in part in the {_shapes(modes)}: {' and '.join(f'`{p}`' for p in parts)} "
                f"of `{src.text(n)}`") if parts else f"never ran in the {_shapes(modes)}: `{src.text(n)}`"
        out.append(f"{src.path}:{n} ({owner}) {what}; extend {toml} or list it under [uncovered] "
                   f"with the reason")
    for owner, modes in actions.items():
        lines = sorted({n for v in modes.values() for n in v})
        out.append(f"{src.path}:{lines[0]} ({owner}) never ran in the {_shapes(list(modes))}: "
                   f"{_span(lines)} never ran; extend {toml} or list {_entry(lines)} under "
                   f"[uncovered] with the reason")
    for mode, item in unmapped:
        out.append(f"{runs[mode].module}:{item['generated']} (in {item['in']} of {src.path}) has code "
                   f"that never ran in the {_shapes([mode])} and no `// frs:N` line marker, so it is "
                   f"not Frame source: `{item['text']}`")
    held = set()
    for mode, run in runs.items():
        msgs, held_here, report[mode]["calls"] = call_findings(fx, mode, run, src, toml, excused)
        out += msgs
        held |= held_here
    out += stale_lines(scen, src, toml, code_any, (ran_all or set()) - held, list(runs))
    return report, out


def _vouch(mode):
    return "the zero" if mode == "noalloc" else "the count"


def call_findings(fx, mode, run, src, toml, excused):
    """Judged call sites of one shape that never ran (module docstring):
    (finding messages, .frs lines holding such a site, the report entry).
    A site is named by its generated line and the .frs line attribute.py
    gives it (the line's `// frs:N` marker, else its handler's, else the
    system's); an [uncovered] entry for that line or handler excuses it."""
    from .attribute import locate
    scen, out, held, never, named = fx.scenario, [], set(), [], None
    for s in run.calls:
        if s["ran"]:
            continue
        site = locate([(s["fn"], str(run.module), s["gen"] or 0)], run.module)
        m = re.search(r":(\d+)$", site.frs) if site else None
        n = int(m.group(1)) if m else None
        what = re.sub(r"^handler ", "", site.what) if site else ""
        if not (n or what):         # no mapping comment: a handler known by its name?
            named = named if named is not None else recognise(run.module.read_text(errors="replace"))
            what = _handler_named(s["fn"], named)
        why = (excused.get(n) if n else None) or scen.uncovered.get(what)
        if n:
            held.add(n)
        callee = (f"the call to {s['target']} (which calls {s['via']})" if s["via"] else
                  f"the load of {s['target']}'s address" if s["kind"] == "address" else
                  f"the call to {s['target']}")
        never.append({"callee": s["target"], "via": s["via"], "kind": s["kind"],
                      "generated": s["gen"], "line": n, "in": what, "excused": why})
        if why:
            continue
        where = (f"{src.path}:{n}, {what}" if n else f"in {what}, no .frs line" if what
                 else "not Frame source")
        entry = f'"line {n}"' if n else f'"{what}"' if what else "the line"
        out.append(f"{fx.name} {SHAPE.get(mode, mode)}: {callee} at {run.module}:{s['gen']} ({where}) "
                   f"never ran: {_vouch(mode)} cannot vouch for a call that never ran; make a step "
                   f"reach it, or list {entry} under [uncovered] in {toml} with the reason")
    report = {"judged": len(run.calls), "ran": sum(1 for s in run.calls if s["ran"]),
              "exempt": run.seen.get("exempt", 0), "indirect": run.seen.get("indirect", 0),
              "never_ran": never}
    return out, held, report


def _handler_named(fn, named):
    """"$State.event" of a function Callgrind / objdump names
    (`crate::m::Sys::_s_A_hdl_user_go`), by the module's Handlers."""
    base = re.sub(r"<.*>", "", fn).split("::")[-1].strip()
    hd = named.fns.get(base) if named.kind != "frc" else None
    return f"${hd[0]}.{hd[1]}" if hd else ""


def _span(lines):
    return f"line {lines[0]}" if len(lines) == 1 else f"lines {', '.join(map(str, lines))}"


def _entry(lines):
    if len(lines) == 1:
        return f'"line {lines[0]}"'
    if lines == list(range(lines[0], lines[-1] + 1)):
        return f'"lines {lines[0]}-{lines[-1]}"'
    return ", ".join(f'"line {n}"' for n in lines)


def line_exceptions(scen):
    """{.frs line: reason} from the scenario's line entries."""
    out = {}
    for lo, hi, why in scen.uncovered_lines.values():
        for n in range(lo, hi + 1):
            out[n] = why
    return out


def stale_lines(scen, src, toml, code_any, ran_all, modes):
    """[uncovered] line entries that name no body line with code, or a line
    that ran in every shape."""
    out = []
    every = "every shape" if len(modes) > 1 else f"the {_shapes(modes)}"
    for key, (lo, hi, _) in scen.uncovered_lines.items():
        named = [n for n in range(lo, hi + 1) if n in code_any]
        if not named:
            out.append(f"{toml}: [uncovered] \"{key}\" names no line with code in a handler or "
                       f"action body of {scen.system} ({src.path}:{lo}: `{src.text(lo)}`); remove it")
            continue
        done = [n for n in named if n in ran_all]
        if done:
            out.append(f"{toml}: [uncovered] \"{key}\" is stale: {src.path}:"
                       f"{','.join(map(str, done))} ran in {every} (`{src.text(done[0])}`); "
                       f"remove {'the entry' if len(done) == len(named) else 'those lines from it'}")
    return out


def handler_findings(name, scen, mx, toml, held=()):
    """Handlers some shape never ran (minus [uncovered]), and [uncovered]
    handler entries that are no handler or ran in every shape (unless the
    entry excuses a call site in it that never ran: `held`)."""
    out = []
    for handler, modes in unexercised(mx, scen.uncovered):
        out.append(f"{name}: handler {handler} never ran in the {_shapes(modes)}; "
                   f"extend {toml}, or list it under [uncovered] with the reason")
    for handler in scen.uncovered:
        cell = mx["cells"].get(handler[1:])
        if cell is None:
            out.append(f"{toml}: [uncovered] names {handler}, which is not a handler of {scen.system}")
        elif all(cell.values()) and handler not in held:
            out.append(f"{toml}: [uncovered] \"{handler}\" is stale: the handler ran in every "
                       f"shape; remove it")
    return out


def _sees_bodies(run):
    """Did DWARF and Callgrind both see lines of the module's bodies?  A
    module with marked body lines of which none has code, or none ran, was
    not measured (a path that matched nothing), never covered."""
    marked = set()
    for r in regions(run.module.read_text(errors="replace")):
        marked |= set(r.lines)
    return not marked or bool(marked & run.code and marked & run.ran)


# ---- the audit step ----------------------------------------------------------

def audit(fixtures, modules, libs, valgrind, runner, workdir, root, stamp, jobs=1, reuse=True,
          progress=print):
    """Handler and line coverage of every fixture with an O0 library.

    modules: {(fixture name, mode): path}; libs: {(fixture name, mode):
    (library, symbol prefix)} (several fixtures may share a bundle library:
    one Callgrind run serves them all); stamp(path) is what a file was
    built from (the cache key).  Returns ({fixture: matrix with a `lines`
    entry per shape}, [(fixture, message, is_failure)]).
    """
    from concurrent.futures import ThreadPoolExecutor

    groups, found, unseen = {}, [], set()     # library -> [(fx, mode, Handlers, module, prefix)]
    for fx in fixtures:
        for mode in SHAPE:
            key = (fx.name, mode)
            if key in modules and key in libs:
                rec = recognise(Path(modules[key]).read_text(errors="replace"))
                if rec.fns:
                    lib, prefix = libs[key]
                    groups.setdefault(str(lib), []).append((fx, mode, rec, modules[key], prefix))
                else:
                    unseen.add(fx.name)
                    found.append((fx.name, f"{fx.name} {SHAPE[mode]}: coverage not checked: "
                                           f"{modules[key]}: {rec.why}", False))
    if not groups:
        return {}, found
    progress(f"audit: handler coverage: {len(groups)} Callgrind run(s) over "
             f"{sum(len(g) for g in groups.values())} fixture librar(ies), handlers and .frs lines")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    def one(item):
        lib, group = item
        try:
            return group, measure(valgrind, str(runner), lib, [(g[4], g[3]) for g in group], workdir,
                                  [stamp(Path(lib)), stamp(Path(runner))], reuse=reuse)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            return group, e

    per = {}
    phase = Phase("coverage", len(groups), "Callgrind run")

    def timed(item):
        res = one(item)
        phase.tick(f"{len(item[1])} fixture(s)")
        return res

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for group, res in pool.map(timed, groups.items()):
            for fx, mode, hs, module, prefix in group:
                if isinstance(res, Exception):
                    found.append((fx.name, f"{fx.name} {mode}: {res}", True))
                else:
                    per.setdefault(fx.name, {})[mode] = (hs, res[prefix])
    out = {}
    for fx in fixtures:
        # a fixture one of whose shapes has no handlers to check is not covered
        if fx.name in per and fx.name not in unseen:
            out[fx.name] = _fixture_coverage(fx, per[fx.name], root, found)
    return out, found


def _fixture_coverage(fx, runs, root, found):
    """One fixture's matrix (with its `lines`) from its shapes' Runs
    {mode: (Handlers, Run)}; its findings are added to `found`."""
    mx = matrix({mode: (rec.fns, run.functions) for mode, (rec, run) in runs.items()})
    toml = display(fx.toml, root)
    mx["lines"], msgs = evaluate(fx, {mode: run for mode, (_, run) in runs.items()}, root)
    by_line = line_exceptions(fx.scenario)
    held = {c["in"] for r in mx["lines"].values() for c in r["calls"]["never_ran"]
            if c["excused"] and not by_line.get(c["line"])}      # excused by the handler's entry
    found += [(fx.name, msg, True) for msg in handler_findings(fx.name, fx.scenario, mx, toml, held)]
    blind = [m for m, (_, run) in runs.items() if not _sees_bodies(run)]
    for mode in blind:
        found.append((fx.name, f"{fx.name} {mode}: no line of a handler or action body of "
                      f"{runs[mode][1].module} has code in the O0 library's line table (or none "
                      f"ran): line coverage could not be measured", True))
    found += [(fx.name, msg, True) for msg in msgs]
    by_name = sorted({SHAPE[m] for m, (rec, _) in runs.items() if rec.kind != "frc"})
    if by_name:
        found.append((fx.name, f"{fx.name}: coverage by handler only in the {' and '.join(by_name)} "
                      f"shape{'s' if len(by_name) > 1 else ''}: the handlers were recognised by "
                      f"framec's method names and the module maps no line to the .frs, so lines "
                      f"inside a handler were not checked (calls out of the library were)", False))
    return mx


def stage(fixtures, modules, measurements, valgrind_bin, runner, workdir, root, jobs, reuse=True,
          progress=print):
    """The coverage stage: handler and .frs line coverage from the O0
    libraries that produced a verdict; returns audit()'s (coverage, found)."""
    from . import tools
    libs = {(m.fixture, m.mode): (m.meta_lib, m.prefix) for m in measurements if m.opt == 0 and m.verdict}
    return audit(fixtures, modules, libs, valgrind_bin, runner, workdir, root, tools.stamp,
                 jobs=jobs, reuse=reuse, progress=progress)
