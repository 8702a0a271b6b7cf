"""Mutation self-test of the gate: inject allocations into generated
no_alloc code and prove that every one fails the gate, and that
attribution names the injected line.

Sites (found in frc's no_alloc output by the functions it emits):
  handler     the first statement of an event handler (`fn _s_State_event`)
  router      the first statement of `fn __route` (runs on every dispatch)
  enter       the first statement of an enter handler (`fn _s_State_enter`)
  construct   the first statement of `pub fn new()` (under __create())
Each injected statement sits on a line of its own and its value is read
through ptr::read_volatile, so the optimiser cannot delete the allocation
at O3.
"""

import re
import subprocess
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

KINDS = {
    "box": "::std::boxed::Box::new(0x5eed_u64)",
    "vec_push": "{ let mut __v: ::std::vec::Vec<u32> = ::std::vec::Vec::new(); __v.push(1); __v }",
    "string_from": '::std::string::String::from("mutant")',
    "format": '::std::format!("{}", 42)',
    "rc_new": "::std::rc::Rc::new(7_u32)",
    "to_string": "::std::string::ToString::to_string(&7_u32)",
}

_SITES = {
    "handler": r"\n\s*fn _s_\w+?_(?!enter\b|exit\b)\w+\(&mut self[^{]*\{",
    "router": r"\n\s*fn __route\(&mut self[^{]*\{",
    "enter": r"\n\s*fn _s_\w+_enter\(&mut self[^{]*\{",
    "construct": r"\n\s*pub fn new\(\)[^{]*\{",
}


@dataclass
class Mutant:
    kind: str
    site: str
    line: int            # 1-based line of the injected statement
    source: str


def sites(module_text, exercised=None):
    """{site: offset just after the opening brace}; `exercised(fn)` filters handlers."""
    out = {}
    for site, pat in _SITES.items():
        for m in re.finditer(pat, module_text):
            fn = re.search(r"fn (\w+)", m.group(0)).group(1)
            if site == "handler" and exercised and not exercised(fn):
                continue
            out[site] = m.end()
            break
    return out


def make(module_text, kind, site, offset):
    # A volatile read of the value keeps the allocation alive at O3 (and,
    # unlike std::hint::black_box, builds with Debian's rustc 1.63); the
    # bitwise copy it returns is forgotten, so only __mutant is dropped.
    stmt = (f"let __mutant = {KINDS[kind]}; "
            f"::std::mem::forget(unsafe {{ ::std::ptr::read_volatile(&__mutant) }}); "
            f"// frame-alloc-audit mutant {kind}@{site}")
    src = module_text[:offset] + "\n" + stmt + "\n" + module_text[offset:]
    line = module_text[:offset].count("\n") + 2
    return Mutant(kind=kind, site=site, line=line, source=src)


def run_one(audit_cmd, mutant, module_name, scenario, workdir):
    """Audits one mutant; returns (caught, attributed, detail)."""
    d = Path(workdir) / f"{mutant.kind}-{mutant.site}"
    d.mkdir(parents=True, exist_ok=True)
    mod = d / module_name
    mod.write_text(mutant.source)
    cmd = audit_cmd + ["run", "--generated", str(mod), "--scenario", str(scenario),
                       "--mode", "noalloc", "--valgrind", "off", "--report-dir", str(d / "report"),
                       "--work-dir", str(d / "work")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    rep_path = d / "report" / "report.json"
    if not rep_path.exists():
        return False, False, f"no report (exit {r.returncode}): {r.stderr[-300:]}"
    rep = json.loads(rep_path.read_text())
    zero = [f for f in rep["findings"] if f["rule"] == "zero"]
    caught = r.returncode == 1 and bool(zero)
    want = f"{module_name}:{mutant.line} "
    attributed = caught and all(want in f["message"] for f in zero)
    opts = sorted({m for f in zero for m in re.findall(r"no_alloc (O\d)", f["message"])})
    detail = (f"{len(zero)} zero-rule failure(s) at {', '.join(opts) or 'no opt-level'}; "
              + (f"attributed to line {mutant.line}" if attributed else
                 f"attribution: {zero[0]['message'].split('; ')[-1] if zero else 'none'}"))
    return caught, attributed, detail


def run_all(audit_cmd, module_text, module_name, scenario, workdir, exercised=None,
            jobs=2, progress=print, kinds=None):
    found = sites(module_text, exercised)
    mutants = [make(module_text, k, s, off) for s, off in found.items() for k in (kinds or KINDS)]
    results = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futs = [(m, pool.submit(run_one, audit_cmd, m, module_name, scenario, workdir))
                for m in mutants]
        for n, (m, f) in enumerate(futs, 1):
            caught, attributed, detail = f.result()
            results.append((m, caught, attributed, detail))
            progress(f"[{n}/{len(mutants)}] {m.kind:<12} at {m.site:<10} line {m.line:<5} "
                     f"{'caught' if caught else 'MISSED'}, "
                     f"{'named' if attributed else 'NOT NAMED'} — {detail}")
    return found, results
