"""Attribution: which generated line and Rust symbol made a forbidden call,
and which part of the Frame source it belongs to.

Two witnesses give stacks.  The interposer captures raw return addresses
only when a must-be-zero window sees an allocator call; the harness writes
them as `library+0xOFFSET`, and binutils' addr2line (-i: the whole inline
chain, -C: Rust demangling) turns them into function and file:line using
the DWARF line tables rustc emitted (-C debuginfo=1).  Valgrind's xtree
(valgrind.py) gives function and file:line directly.  Either way the
stack becomes a list of frames, innermost first, and locate() does the
rest:

* the generated line is the innermost frame inside the generated module;
* the .frs line comes from frc's mapping comments, read from the module
  text, walking the frames outward: the first frame whose enclosing `fn`
  is a handler (event, enter/exit handler or action: a mapping comment
  directly above its `fn`) names it — so an allocation in a Drop impl or
  a helper names the handler that ran it; an allocation in the body of an
  interface method names its declaration; a frame in `__create`/`new`
  names the system (frc's `// ---- system NAME (FILE.frs:LINE)` comment)
  and its start state; anything else (the router, `__enter`, `__drain`,
  helpers no handler ran) names the system the line lies in.  When the
  allocating line itself is a handler statement carrying frc's `// frs:N`
  marker, N is the .frs line.
"""

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import procs, rustlex

# frc's comments in the generated module, as ModuleMap reads them
_MAPPING = re.compile(r"^\s*//\s*(\S+\.frs):(\d+)\s*(.*)$")
_SYSTEM = re.compile(r"^//\s*-+\s*system\s+(\w+)\s+\((\S+\.frs):(\d+)\)")
_END_SYSTEM = re.compile(r"^//\s*-+\s*end of system\b")


@dataclass
class Site:
    function: str
    file: str
    line: int
    frs: str = ""          # "fixtures/x.frs:12" from frc's mapping comments
    what: str = ""         # "handler $Idle.connect", "system PortReset, start state $Idle", ...

    def __str__(self):
        where = f"{self.file}:{self.line} in {self.function}"
        if not self.frs:        # no .frs line (framec's output): the handler its name gives, if any
            return where + (f" ({self.what})" if self.what else "")
        return where + f" (from {self.frs}" + (f", {self.what})" if self.what else ")")


# a stack frame as the harness records it: OBJECT+0xOFFSET
_FRAME = re.compile(r"^(.*)\+0x([0-9a-f]+)$")


# addr2line's answers, per library as it is on disk: (path, mtime_ns, size)
# -> {offset: inline chain}.  The gate symbolises the same few stacks in
# window after window (the call-site table of every failing window), and
# one addr2line process per window was most of a failing audit's gate time.
_SYMBOLS = {}
_SYMBOLS_MAX = 200000        # offsets kept in all; the table starts over past it


def _lib_key(lib):
    try:
        st = Path(lib).stat()
    except OSError:
        return None
    return (lib, st.st_mtime_ns, st.st_size)


def _addr2line(addr2line, lib, offs):
    """{offset: [(function, file, line), ...]} for the return addresses
    `offs` in `lib`, from one addr2line run ({} when it cannot run)."""
    # A return address points after the call; -1 lands inside it.
    args = [addr2line, "-e", lib, "-a", "-f", "-i", "-C"] + [hex(max(o - 1, 0)) for o in offs]
    try:
        text = procs.run(args, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    resolved = {}
    chunks = re.split(r"^0x0*([0-9a-f]+)\n", text, flags=re.M)[1:]
    for addr, body in zip(chunks[0::2], chunks[1::2]):
        lines = body.strip("\n").split("\n")
        chain = []
        for func, loc in zip(lines[0::2], lines[1::2]):
            file, _, ln = loc.rpartition(":")
            ln = re.match(r"\d+", ln)
            chain.append((func, file, int(ln.group(0)) if ln else 0))
        resolved[int(addr, 16) + 1] = chain
    return resolved


def _by_lib(frames):
    """{library path: [offsets]} of the frames in a library that exists."""
    by_lib = {}
    for fr in frames:
        m = _FRAME.match(fr)
        if m and m.group(1).endswith(".so") and Path(m.group(1)).exists():
            by_lib.setdefault(m.group(1), []).append(int(m.group(2), 16))
    return by_lib


def _resolve(addr2line, lib, offs, chunk=2000):
    """The table of `lib` with `offs` resolved: the offsets not seen
    before in addr2line runs of up to `chunk` addresses."""
    key = _lib_key(lib)
    table = _SYMBOLS.get(key, {}) if key else {}
    todo = sorted({o for o in offs if o not in table})
    if not (todo and addr2line):
        return table
    if sum(len(t) for t in _SYMBOLS.values()) + len(todo) > _SYMBOLS_MAX:
        _SYMBOLS.clear()
    got = {}
    for i in range(0, len(todo), chunk):
        got.update(_addr2line(addr2line, lib, todo[i:i + chunk]))
    if got:
        table = {**table, **{o: got.get(o, []) for o in todo}}
        if key:
            _SYMBOLS[key] = table
    return table


def prefetch(stacks):
    """Resolves every frame of `stacks` in one addr2line run per library,
    so that the symbolise() calls that follow (window after window, each
    with a few new offsets) start no addr2line of their own: a failing
    mutant audit started some 380 before."""
    addr2line = shutil.which("addr2line")
    for lib, offs in _by_lib(fr for st in stacks for fr in st).items():
        _resolve(addr2line, lib, offs)


def symbolise(stack):
    """[(frame string, [(function, file, line), ...inline chain innermost first])];
    each library's offsets not seen before resolved in one addr2line run."""
    addr2line = shutil.which("addr2line")
    known = {lib: _resolve(addr2line, lib, offs) for lib, offs in _by_lib(stack).items()}
    out = []
    for fr in stack:
        m = _FRAME.match(fr)
        chain = known.get(m.group(1), {}).get(int(m.group(2), 16), []) if m else []
        out.append((fr, chain))
    return out


# What ModuleMap reads of a module, shared by every map of the same file
# as it is on disk: (resolved path, mtime_ns, size) -> {"lines", "spans"}.
# The gate locates many stacks in one module, and re-lexing it for each
# (rustlex over the whole text) was a fifth of a mutant audit's time.
_SHARED = {}
_SHARED_MAX = 512


def _shared_state(path):
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        return {"lines": []}
    state = _SHARED.get(key)
    if state is None:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            return {"lines": []}
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        state = _SHARED[key] = {"lines": lines}
    return state


class ModuleMap:
    """What the generated module's text says about each of its lines."""

    def __init__(self, module):
        self.path = Path(module)
        self._state = _shared_state(self.path)
        self.lines = self._state["lines"]

    def _fn_spans(self):
        """[(first line, last line, name, header line)] of every fn with a body,
        by brace matching on the text without comments and strings (so a
        mutant's unindented line still lies in its function)."""
        if self.lines is not self._state["lines"]:
            self._state = {"lines": self.lines}     # a caller replaced the lines: its own spans
        if "spans" in self._state:
            return self._state["spans"]
        code = rustlex.blank("\n".join(self.lines), tolerant=True)
        starts = [0]
        for i, ch in enumerate(code):
            if ch == "\n":
                starts.append(i + 1)

        def line_at(off):
            lo, hi = 0, len(starts) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if starts[mid] <= off:
                    lo = mid
                else:
                    hi = mid - 1
            return lo + 1
        spans = []
        for m in re.finditer(r"\bfn\s+(\w+)", code):
            j = m.end()
            while j < len(code) and code[j] not in "{;":
                j += 1
            if j >= len(code) or code[j] == ";":
                continue              # a declaration (extern block, trait): no body
            depth, k = 0, j
            while k < len(code):
                if code[k] == "{":
                    depth += 1
                elif code[k] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            header = line_at(m.start())
            spans.append((header, line_at(k), m.group(1), header))
        self._state["spans"] = spans
        return spans

    def enclosing_fn(self, line):
        """(name, 1-based line of its `fn`) of the innermost function whose
        header or body holds `line`, or None."""
        best = None
        for first, last, name, header in self._fn_spans():
            if first <= line <= last and (best is None or first >= best[0]):
                best = (first, name, header)
        return (best[1], best[2]) if best else None

    def fn_header(self, function):
        """The `fn` line of `function` (a demangled path: its last part is
        the name), when exactly one function of the module has that name."""
        name = re.sub(r"(::\{\{closure\}\}|::\{closure#\d+\})+$", "", function).rsplit("::", 1)[-1]
        found = [header for _, _, n, header in self._fn_spans() if n == name]
        return found[0] if len(found) == 1 else None

    def mapping_above(self, fn_line):
        """The mapping comment directly above line `fn_line` (attributes and
        doc comments may sit between): ("FILE.frs:N", description) or None."""
        i = fn_line - 2
        while i >= 0 and re.match(r"\s*(#\[|///)", self.lines[i]):
            i -= 1
        if i >= 0:
            m = _MAPPING.match(self.lines[i])
            if m:
                return f"{m.group(1)}:{m.group(2)}", m.group(3).strip()
        return None

    def system_of(self, line):
        """("FILE.frs:N", system name) of the `// ---- system` block holding line."""
        for i in range(min(line, len(self.lines)) - 1, -1, -1):
            if _END_SYSTEM.match(self.lines[i]) and i != line - 1:
                break
            m = _SYSTEM.match(self.lines[i])
            if m:
                return f"{m.group(2)}:{m.group(3)}", m.group(1)
        for text in self.lines:                     # a module with one system
            m = _SYSTEM.match(text)
            if m:
                return f"{m.group(2)}:{m.group(3)}", m.group(1)
        return None

    def start_state(self, new_line):
        """The start state frc's `new()` builds (`__compartment: Sys::__comp_S()`)."""
        for text in self.lines[new_line - 1:new_line + 40]:
            m = re.search(r"__compartment\s*:\s*\w+::__comp_(\w+)\s*\(", text)
            if m:
                return m.group(1)
        return None

    def nearest_mapping(self, line):
        for i in range(min(line, len(self.lines)) - 1, -1, -1):
            m = _MAPPING.match(self.lines[i])
            if m:
                return f"{m.group(1)}:{m.group(2)}"
        return ""


def frs_line(module, line):
    """The nearest frc mapping comment at or above `line` of the module."""
    return ModuleMap(module).nearest_mapping(line)


def _in_module(file, mod):
    if not file or Path(file).name != mod.name:
        return False
    try:
        # Valgrind gives base names only; addr2line gives the full path.
        return "/" not in file or Path(file).resolve() == mod
    except OSError:
        return False


# the generated functions that build a system
_CONSTRUCTORS = ("__create", "new")


def locate(frames, module, mm=None):
    """frames: [(function, file, line)] innermost first -> Site or None.
    `mm`: the module's ModuleMap, for a caller that locates many stacks in it."""
    if not frames or not module:
        return None
    mod = Path(module).resolve()
    own = [(f, ln) for f, file, ln in frames if _in_module(file, mod)]
    if not own:
        return None
    mm = mm or ModuleMap(mod)
    # A frame of the module with no line: rustc 1.63 gives drop glue inlined
    # at O3 line 0 in its caller.  The function's own `fn` line, not the
    # next frame's line in the caller's caller, says whose the call is.
    mine = []
    for f, ln in own:
        if ln <= 0:
            ln = mm.fn_header(f) or 0
        if ln > 0:
            mine.append((f, ln))
    if not mine:
        return None
    func, line = mine[0]
    site = Site(function=func, file=str(mod), line=line)
    for k, (_, ln) in enumerate(mine):
        fn = mm.enclosing_fn(ln)
        if not fn:
            continue
        name, fn_line = fn
        mapped = mm.mapping_above(fn_line)
        desc = mapped[1] if mapped else ""
        if mapped and (desc.startswith("$") or desc.startswith("action ")
                       or (k == 0 and desc.startswith("interface "))):
            site.frs, site.what = mapped[0], _describe(desc)
            return _statement_line(site, mm) if k == 0 else site
        if name in _CONSTRUCTORS:
            system = mm.system_of(fn_line)
            if system:
                site.frs = system[0]
                new = next((i + 1 for i, t in enumerate(mm.lines)
                            if re.match(r"\s*pub\s+fn\s+new\s*\(", t)), None)
                start = mm.start_state(new) if new else None
                site.what = f"system {system[1]}" + (f", start state ${start}" if start else "")
                return site
        if mapped:
            break       # an interface method that ran no handler: the machinery's own code
    system = mm.system_of(line)
    if system:
        site.frs, site.what = system[0], f"system {system[1]}"
    return site


_STATEMENT = re.compile(r"//\s*frs:(\d+)(?::\d+)?\s*$")


def _statement_line(site, mm):
    """frc ends every line of a handler or action body with `// frs:N` (or
    `// frs:N:COL`): the .frs line of that statement, more precise than the
    handler's own line when the allocating line is one of them."""
    if not site.frs or not 1 <= site.line <= len(mm.lines):
        return site
    m = _STATEMENT.search(mm.lines[site.line - 1])
    if m:
        site.frs = re.sub(r":\d+$", f":{m.group(1)}", site.frs)
    return site


def _describe(desc):
    """frc's comment text -> what the finding calls it."""
    if desc.startswith("$"):
        return f"handler {desc}"
    return desc


def culprit(stack, module):
    """The generated-module site of an interposer stack, or None."""
    if not stack or not module:
        return None
    frames = [fr for _, chain in symbolise(stack) for fr in chain]
    return locate(frames, module)


@dataclass
class CallSite:
    """One call site of a window's site table, attributed: `calls` calls of
    `kind` from `stack`; `site` the generated-module line (None: no frame
    of the module, e.g. a call the shim made)."""
    calls: int
    kind: str
    stack: list
    site: Site | None = None

    def label(self):
        """'fixtures/x.frs:12 $A.go' (the .frs line and construct), else the
        generated line, else the innermost frame."""
        s = self.site
        if s and s.frs:
            what = s.what[len("handler "):] if s.what.startswith("handler ") else s.what
            return f"{s.frs} {what}".rstrip()
        if s:
            return f"{Path(s.file).name}:{s.line} in {s.function}" + (f" ({s.what})" if s.what else "")
        return f"{self.stack[0]} (no generated-source line)" if self.stack else "(no stack)"


def call_sites(sites, module):
    """[CallSite] of a window's site table ({calls, kind, stack} records),
    every stack symbolised in one addr2line run per library and located in
    one ModuleMap."""
    sites = [s for s in sites or [] if s.get("stack")]
    if not sites:
        return []
    flat = [fr for s in sites for fr in s["stack"]]
    resolved = symbolise(flat)
    mm = ModuleMap(Path(module).resolve()) if module else None
    out, at = [], 0
    for s in sites:
        part = resolved[at:at + len(s["stack"])]
        at += len(s["stack"])
        frames = [fr for _, chain in part for fr in chain]
        site = locate(frames, module, mm) if module else None
        out.append(CallSite(int(s.get("calls", 0)), str(s.get("kind", "?")), list(s["stack"]), site))
    return out


def grouped(call_sites_):
    """[(calls, label, kind, first CallSite)]: the sites with the same label
    and kind merged (several generated lines of one .frs statement), most
    calls first, first seen first among equals."""
    groups = {}
    for cs in call_sites_:
        key = (cs.label(), cs.kind)
        if key in groups:
            groups[key][0] += cs.calls
        else:
            groups[key] = [cs.calls, key[0], cs.kind, cs]
    return sorted((tuple(g) for g in groups.values()), key=lambda g: -g[0])


def sites_text(groups, lost=0):
    """'3 × fixtures/x.frs:12 $A.go (malloc), 1 × … (free)' (+ lost calls)."""
    text = ", ".join(f"{n} × {label} ({kind})" for n, label, kind, _ in groups)
    if lost:
        text += f"{', ' if text else ''}{lost} call(s) whose site was not recorded"
    return text
