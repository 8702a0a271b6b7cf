"""Attribution for generated C (the C counterpart of attribute.locate).

The C target writes `#line N "fixtures/c/NAME.frs"` before every handler
body line and `#line` back to the generated file after them, and a mapping
comment (`// fixtures/c/NAME.frs:12 $Idle.connect`) above every handler
(C_TARGET.md).  So DWARF, and addr2line on an interposer stack, already
name the .frs line of a handler statement; the generated line is the one
after that `#line` directive in the module.  Walking the module's own
frames outward (innermost first), the first whose function has a mapping
comment naming a handler (`$State.event`, `$>`/`<$`, `action NAME`) names
it; a frame in SYS_create / SYS_init names the system; anything else (the
router, the kernel) names the system the line lies in (`// ---- system
NAME (FILE.frs:N)`).
"""

import re
from pathlib import Path

from . import attribute, cshim

_LINE = re.compile(r'^\s*#\s*line\s+(\d+)\s+"([^"]+)"')
_MAPPING = re.compile(r"^\s*//\s*(\S+\.frs):(\d+)\s*(.*)$")
_SYSTEM = re.compile(r"^//\s*-+\s*system\s+(\w+)\s+\((\S+\.frs):(\d+)\)")


class CModuleMap:
    """What one generated C module says about its own lines."""

    def __init__(self, module):
        self.path = Path(module)
        try:
            text = self.path.read_text(errors="replace")
        except OSError:
            text = ""
        self.lines = text.splitlines()
        self.functions = self._functions(text)
        # (frs name, frs line) -> generated line: the line after each #line directive
        self.frs_at = {}
        for i, t in enumerate(self.lines, 1):
            m = _LINE.match(t)
            if m and m.group(2).endswith(".frs"):
                self.frs_at.setdefault((Path(m.group(2)).name, int(m.group(1))), (i + 1, m.group(2)))

    @staticmethod
    def _functions(text):
        """{name: (first line, last line)} of every function defined at file scope."""
        code = cshim.blank(text)
        out, depth, k = {}, 0, 0
        for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\([^()]*\)\s*\{", code):
            if m.start() < k:
                continue
            depth, j = 0, m.end() - 1
            while j < len(code):
                depth += {"{": 1, "}": -1}.get(code[j], 0)
                if depth == 0:
                    break
                j += 1
            k = j
            out[m.group(1)] = (code.count("\n", 0, m.start()) + 1, code.count("\n", 0, j) + 1)
        return out

    def mapping_above(self, name):
        """(frs "FILE.frs:N", description) of the comment above function `name`'s header."""
        first = self.functions[name][0]
        for i in range(first - 2, max(first - 4, -1), -1):
            m = _MAPPING.match(self.lines[i]) if 0 <= i < len(self.lines) else None
            if m:
                return f"{m.group(1)}:{m.group(2)}", m.group(3).strip()
        return None

    def frs_of(self, line):
        """The .frs line a generated line was written for ("FILE.frs:N"),
        from the #line directive in force on it; "" outside handler bodies."""
        for i in range(min(line, len(self.lines)) - 2, -1, -1):
            m = _LINE.match(self.lines[i])
            if m:
                return f"{m.group(2)}:{int(m.group(1)) + line - i - 2}" if m.group(2).endswith(".frs") else ""
        return ""

    def system(self):
        for t in self.lines:
            m = _SYSTEM.match(t)
            if m:
                return f"{m.group(2)}:{m.group(3)}", m.group(1)
        return None


def _own(frames, mm):
    """[(function, generated line, frs "FILE.frs:N" or "")] of the module's frames."""
    out = []
    for func, file, line in frames:
        if func not in mm.functions:
            continue
        frs = ""
        if file and file.endswith(".frs"):
            hit = mm.frs_at.get((Path(file).name, line))
            frs_name = hit[1] if hit else Path(file).name
            frs = f"{frs_name}:{line}"
            line = hit[0] if hit else mm.functions[func][0]
        out.append((func, line, frs))
    return out


def locate(frames, module):
    """frames [(function, file, line)] innermost first -> attribute.Site or None."""
    if not frames or not module:
        return None
    mm = CModuleMap(module)
    own = _own(frames, mm)
    if not own:
        return None
    func, line, frs = own[0]
    site = attribute.Site(function=func, file=str(Path(module).resolve()), line=line, frs=frs)
    for k, (name, _, _) in enumerate(own):
        mapped = mm.mapping_above(name)
        desc = mapped[1] if mapped else ""
        if desc.startswith(("$", "action ")) or (k == 0 and desc.startswith("interface ")):
            site.frs = site.frs if k == 0 and site.frs else mapped[0]
            site.what = f"handler {desc}" if desc.startswith("$") else desc
            return site
        system = mm.system()
        if system and name in (f"{system[1]}_create", f"{system[1]}_init"):
            site.frs, site.what = system[0], f"system {system[1]}"
            return site
    system = mm.system()
    if system and not site.frs:
        site.frs, site.what = system[0], f"system {system[1]}"
    return site


def culprit(stack, module):
    """The generated-module site of an interposer stack, or None."""
    if not stack or not module:
        return None
    return locate([fr for _, chain in attribute.symbolise(stack) for fr in chain], module)
