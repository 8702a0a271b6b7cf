"""Allocation sites of the allocating shape: where each fixture's
allocations come from, per dispatch.

No extra run: the memcheck run of every fixture library (valgrind.py)
already writes Valgrind's heap execution tree (--xtree-memory=full), which
holds, for every distinct stack, the blocks (totBk) and bytes (totB) it
allocated over the whole run.  `collect` reads that tree once per library
and keeps, per fixture, the stacks that pass through the fixture's
generated module, cut down to the frames that matter (the module's own and
the fixture's ABI functions in the shim: fx_IDENT__construct / __dispatch /
__destroy), so stacks differing only in the standard library or the
harness merge.  `table` turns them into the report's per-fixture
`alloc_sites` (report.json, schemas/report.schema.json):

  {"source": text, "mode": "alloc", "opt": 0,
   "module": "port_reset.rs",       # the generated module (its file name)
   "constructions": 1, "dispatches": D, "destroys": 1,
   "step_dispatches": [n, ...],     # how often step i+1 was dispatched (step + steady replay)
   "sites": [{"phase": "construct" | "dispatch" | "destroy" | "other",
              "line": 141,                                   # the generated line
              "function": "PortReset::__drain",              # the Rust function holding it
              "frs": "fixtures/port_reset.frs:6",            # the .frs construct (mapping comments)
              "what": "system PortReset",
              "calls": 44, "bytes": 1056,                    # over the whole run
              "per_call": 0.957,    # calls / the phase's calls (per dispatch for dispatch sites)
              "steps": {"1": 21, "2": 21, ...}}]}            # calls per 1-based step

The step of a dispatch is told by the shim's line on the stack: the shim's
dispatch function has one `N => { ... }` arm per step.  A step's calls per
dispatch are steps[k] / step_dispatches[k-1]: for a step of the steady
cycle, the mean over its first dispatch and the replays (a Vec that grows
once shows as 1/21 of a call).

The .frs construct is attribute.py's reading of frc's mapping comments: the
handler (or interface method, or the system and its start state) on the
stack, walking outward from the allocating line.
"""

import re
from pathlib import Path

from . import attribute, xtree

# the xtree events kept, and what they count
_EVENTS = {"totBk": "allocs", "totB": "bytes"}
_ABI = ("construct", "dispatch", "destroy")
PHASES = ("construct", "dispatch", "destroy", "other")


def _frame(text):
    """(function, file, line) of an xtree node text `0xADDR: FN (FILE:LINE)`."""
    fn = text.split(": ", 1)[1] if text.startswith("0x") and ": " in text else text
    i = fn.rfind(" (")
    if i < 0 or not fn.endswith(")"):
        return fn, "", 0
    file, _, line = fn[i + 2:-1].rpartition(":")
    return fn[:i], file, int(line) if line.isdigit() else 0


def _file_of(text):
    i = text.rfind(" (")
    return text[i + 2:-1].rpartition(":")[0] if i >= 0 and text.endswith(")") else ""


def collect(tree, module_names):
    """{prefix: [{"frames": [[function, file, line], ...innermost first],
    "allocs": n, "bytes": n}]} from the text of an --xtree-memory=full file:
    one pass over the tree; `module_names` {prefix: the file name of that
    fixture's generated module}.  A stack belongs to the fixture whose
    module it passes through; only its module frames and the fixture's ABI
    frames (prefix + construct/dispatch/destroy) are kept."""
    by_file = {name: pfx for pfx, name in module_names.items()}
    acc = {}
    for ev, lines in xtree.trees(tree, _EVENTS, naming=list(by_file)):
        _collect_tree(lines, _EVENTS[ev], by_file, acc)
    return {pfx: [{"frames": [list(f) for f in key], **v} for key, v in stacks.items()]
            for pfx, stacks in acc.items()}


def _collect_tree(lines, event, by_file, acc):
    """collect() over the node lines of one event's tree, into acc."""
    path, owner = [], []
    for line in lines:
        if not line.startswith(" "):
            break                    # the tree ends at the first line that is no node
        nd = xtree.node(line)
        if nd is None:
            continue
        depth, children, count, node = nd
        del path[depth - 1:], owner[depth - 1:]
        path.append(node)
        owner.append(by_file.get(_file_of(node)))
        if children or not count:
            continue
        pfx = next((o for o in owner if o), None)
        if pfx is None:
            continue
        abi = tuple(pfx + a for a in _ABI)
        key = tuple(_frame(n) for n, o in zip(path, owner) if o == pfx or any(a in n for a in abi))
        st = acc.setdefault(pfx, {}).setdefault(key, {"allocs": 0, "bytes": 0})
        st[event] += count


_ARM = re.compile(r"^\s*(\d+)\s*=>\s*\{")


def shim_steps(shim_text, prefix):
    """{shim line: 0-based step} of the arms of the shim's dispatch function."""
    out, inside = {}, False
    for n, text in enumerate(shim_text.splitlines(), 1):
        if re.search(rf"\bfn\s+{re.escape(prefix)}dispatch\s*\(", text):
            inside = True
        elif inside and re.match(r"^\s*pub\s+extern\b", text):
            break
        elif inside:
            m = _ARM.match(text)
            if m:
                out[n] = int(m.group(1))
    return out


def _phase(frames, prefix):
    """(phase, shim line of the ABI frame) of a collected stack."""
    for fn, _, line in frames:
        for a in _ABI:
            if prefix + a in fn:
                return a, line
    return "other", 0


def _calls_of(windows):
    """(constructions, dispatches, destroys, [dispatches of step i]) of
    Valgrind's windows of one fixture (valgrind.parse_trace)."""
    n = {"construct": 0, "destroy": 0}
    per_step = {}
    for w in windows:
        if w["phase"] in ("step", "steady"):
            per_step[w["step"]] = per_step.get(w["step"], 0) + 1
        elif w["phase"] in n:
            n[w["phase"]] += 1
    steps = [per_step.get(i, 0) for i in range(max(per_step, default=-1) + 1)]
    return n["construct"], sum(steps), n["destroy"], steps


def _short(function):
    """A Rust path without the bundle crate and shim module around the
    generated module (`fxb_..::fx_NAME::fx_module::Sys::f` -> `Sys::f`)."""
    return re.sub(r"^.*?::fx_module::", "", function)


class _Locator:
    """attribute.locate over one module, once per distinct chain of module frames."""

    def __init__(self, module):
        self.module = Path(module).resolve()
        self.map = attribute.ModuleMap(self.module)
        self.seen = {}

    def __call__(self, frames):
        own = tuple(tuple(f) for f in frames if Path(f[1]).name == self.module.name)
        if own not in self.seen:
            self.seen[own] = attribute.locate(list(own), self.module, self.map)
        return self.seen[own]


def table(stacks, windows, module, shim_text, prefix, opt=0):
    """The `alloc_sites` of one fixture (module docstring) from its
    collected stacks and Valgrind's windows of the same run."""
    constructions, dispatches, destroys, step_n = _calls_of(windows)
    per_phase = {"construct": constructions, "dispatch": dispatches, "destroy": destroys}
    arms = shim_steps(shim_text, prefix) if shim_text else {}
    locate = _Locator(module)
    rows = {}
    for st in stacks:
        if not st["allocs"]:
            continue
        phase, shim_line = _phase(st["frames"], prefix)
        site = locate(st["frames"])
        if site is None:
            continue
        key = (phase, site.line, site.function, site.frs, site.what)
        row = rows.setdefault(key, {"phase": phase, "line": site.line,
                                    "function": _short(site.function), "frs": site.frs,
                                    "what": site.what, "calls": 0, "bytes": 0, "steps": {}})
        row["calls"] += st["allocs"]
        row["bytes"] += st["bytes"]
        step = arms.get(shim_line) if phase == "dispatch" else None
        if step is not None:
            row["steps"][str(step + 1)] = row["steps"].get(str(step + 1), 0) + st["allocs"]
    for row in rows.values():
        n = per_phase.get(row["phase"], 0)
        row["per_call"] = round(row["calls"] / n, 4) if n else None
        row["steps"] = dict(sorted(row["steps"].items(), key=lambda kv: int(kv[0])))
    order = {p: i for i, p in enumerate(PHASES)}
    return {"source": f"Valgrind memcheck's heap tree (--xtree-memory=full) of faa-run over the "
                      f"allocating O{opt} library: the construction, every step, the steady cycle "
                      f"replayed, the drop",
            "mode": "alloc", "opt": opt, "module": Path(module).name,
            "constructions": constructions, "dispatches": dispatches,
            "destroys": destroys, "step_dispatches": step_n,
            "sites": sorted(rows.values(), key=lambda r: (order[r["phase"]], -r["calls"], r["line"],
                                                          r["frs"]))}


def attach(rep, vg_results, outcomes, work):
    """Sets `alloc_sites` of every fixture of model.Report `rep` that has a
    memcheck result of its allocating shape (the lowest opt-level that ran
    under Valgrind): `vg_results` valgrind.ValgrindRun.results, `outcomes`
    {(fixture, mode): build.Outcome}, `work` the work directory (where the
    fixture's shim is: WORK/NAME/shim/NAME_alloc.rs)."""
    for fx in rep.fixtures:
        o = outcomes.get((fx.name, "alloc"))
        opts = sorted(opt for name, mode, opt, tool in vg_results
                      if (name, mode, tool) == (fx.name, "alloc", "memcheck"))
        if o is None or o.module is None or not opts:
            continue
        mc = vg_results[(fx.name, "alloc", opts[0], "memcheck")]
        if not mc.windows:
            continue            # Valgrind did not finish: no counts to divide by
        shim = Path(work) / fx.name / "shim" / f"{fx.name}_alloc.rs"
        text = shim.read_text(errors="replace") if shim.exists() else ""
        fx.alloc_sites = table(mc.sites, mc.windows, o.module, text, o.prefix, opts[0])
