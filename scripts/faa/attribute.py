"""Attribution: which generated line and Rust symbol made a forbidden call.

The interposer captures raw return addresses only when a must-be-zero
window sees an allocator call; the harness writes them as
`library+0xOFFSET`.  Here, long after the window, binutils' addr2line
(-i: the whole inline chain, -C: Rust demangling) turns them into
function and file:line using the DWARF line tables rustc emitted
(-C debuginfo=1), and the first location inside the generated module is
the culprit.  frc's `// path.frs:N` comments then lead back to the
fixture's handler.
"""

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(.*)\+0x([0-9a-f]+)$")
_FRS_COMMENT = re.compile(r"//.*?(\S+\.frs):(\d+)")


@dataclass
class Site:
    function: str
    file: str
    line: int
    frs: str = ""          # "fixtures/x.frs:12" from frc's mapping comments

    def __str__(self):
        where = f"{self.file}:{self.line} in {self.function}"
        return where + (f" (from {self.frs})" if self.frs else "")


def symbolise(stack):
    """[(frame string, [(function, file, line), ...inline chain innermost first])]"""
    addr2line = shutil.which("addr2line")
    by_lib, out = {}, []
    for fr in stack:
        m = _FRAME.match(fr)
        if m and m.group(1).endswith(".so") and Path(m.group(1)).exists():
            by_lib.setdefault(m.group(1), []).append(int(m.group(2), 16))
    resolved = {}
    for lib, offs in by_lib.items():
        if not addr2line:
            break
        # A return address points after the call; -1 lands inside it.
        args = [addr2line, "-e", lib, "-a", "-f", "-i", "-C"] + [hex(max(o - 1, 0)) for o in offs]
        try:
            text = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        chunks = re.split(r"^0x0*([0-9a-f]+)\n", text, flags=re.M)[1:]
        for addr, body in zip(chunks[0::2], chunks[1::2]):
            lines = body.strip("\n").split("\n")
            chain = []
            for func, loc in zip(lines[0::2], lines[1::2]):
                file, _, ln = loc.rpartition(":")
                ln = re.match(r"\d+", ln)
                chain.append((func, file, int(ln.group(0)) if ln else 0))
            resolved[(lib, int(addr, 16) + 1)] = chain
    for fr in stack:
        m = _FRAME.match(fr)
        key = (m.group(1), int(m.group(2), 16)) if m else None
        out.append((fr, resolved.get(key, [])))
    return out


def frs_line(module, line):
    """The nearest frc mapping comment at or above `line` of the module."""
    try:
        lines = Path(module).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for i in range(min(line, len(lines)) - 1, -1, -1):
        m = _FRS_COMMENT.search(lines[i])
        if m:
            return f"{m.group(1)}:{m.group(2)}"
    return ""


def culprit(stack, module):
    """The first location in the generated module, or None."""
    if not stack or not module:
        return None
    mod = Path(module).resolve()
    for _, chain in symbolise(stack):
        for func, file, line in chain:
            if file and Path(file).name == mod.name and _same(file, mod):
                return Site(function=func, file=str(mod), line=line, frs=frs_line(mod, line))
    return None


def _same(file, mod):
    try:
        return Path(file).resolve() == mod
    except OSError:
        return False
