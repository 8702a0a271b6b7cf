"""Reading Callgrind dumps (--compress-strings=no preferred)."""

import re


def _fn_name(ref, names):
    """A `fn=`/`cfn=` value, compressed `(id) name` / `(id)` or plain."""
    m = re.match(r"\((\d+)\)\s*(.*)$", ref)
    if not m:
        return ref.strip()
    if m.group(2):
        names[m.group(1)] = m.group(2).strip()
    return names.get(m.group(1), "")


def _position(pos, last):
    """A cost line's position: absolute, relative (+N, -N) or the same (*)."""
    try:
        if pos == "*":
            return last
        if pos[0] in "+-":
            return last + int(pos)
        return int(pos)
    except ValueError:
        return last


def _header(line, out, st):
    """A non-cost line: names, files, calls, totals."""
    names, files = st["names"], st["files"]
    if line.startswith(("summary:", "totals:")):
        out["ir"] = int(line.split()[1])
    elif line.startswith("desc: Trigger:"):
        out["label"] = line.split(":", 2)[2].strip()
    elif line.startswith("fn="):
        st["fn"] = _fn_name(line[3:], names)
        st["cur"] = st["fl"]
    elif line.startswith("fl="):
        st["fl"] = st["cur"] = _fn_name(line[3:], files)
    elif line.startswith(("fi=", "fe=")):
        st["cur"] = _fn_name(line[3:], files)
    elif line.startswith(("cfn=", "cfi=", "cfl=")):
        _fn_name(line[4:], names if line[1:3] == "fn" else files)
    elif line.startswith("calls="):
        st["after_call"] = True


def _cost(line, out, st):
    """A cost line: self Ir of the current function and source line."""
    parts = line.split()
    n = st["last"] = _position(parts[0], st["last"])
    if st["after_call"]:
        st["after_call"] = False
        return
    if len(parts) < 2 or not st["fn"]:
        return
    try:
        ir = int(parts[1])
    except ValueError:
        return
    out["self"][st["fn"]] = out["self"].get(st["fn"], 0) + ir
    key = (st["cur"], n)
    out["lines"][key] = out["lines"].get(key, 0) + ir


def parse_callgrind(text):
    """One Callgrind dump (--compress-strings=no preferred) ->
    {"ir": total, "label": the dump's trigger, "self": {function: self Ir},
     "lines": {(file, line): self Ir}}.
    (Call counts are not used: Callgrind counts calls even while collection
    is off, so they are not per dump.)

    Self cost is every cost line under `fn=` except the line right after a
    `calls=` line (that one is the call's inclusive cost).  Positions are
    `positions: line` with Callgrind's relative compression (+N, -N, *)."""
    out = {"ir": 0, "label": "", "self": {}, "lines": {}}
    st = {"names": {}, "files": {}, "fn": "", "fl": "", "cur": "", "after_call": False, "last": 0}
    for line in text.splitlines():
        if not line:
            continue
        if line[0].isdigit() or line[0] in "+-*":
            _cost(line, out, st)
        else:
            st["after_call"] = False
            _header(line, out, st)
    return out


def step_of(label):
    """'Client Request: faa-step 3' -> 3; None for other dumps."""
    m = re.search(r"faa-step (\d+)", label)
    return int(m.group(1)) if m else None
