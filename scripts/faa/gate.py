"""The gate: every rule of DESIGN.md "The gate" that this run can check.

Each rule adds Finding objects; the audit exits 1 when any finding is a
failure.  Findings say which fixture, shape, opt-level and step broke which
rule, in words a compiler developer reading a CI log can act on.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from . import attribute
from .run import parse_observation


@dataclass
class Finding:
    rule: str        # short rule id: zero, baseline, differential, nostd, ...
    fixture: str
    message: str
    failure: bool = True


def _fmt_counts(rec):
    calls = ", ".join(f"{k} {v}" for k, v in sorted(rec.get("calls", {}).items()))
    return f"{rec['allocs']} allocation(s), {rec['frees']} free(s)" + (f" [{calls}]" if calls else "")


def _where(rec, module, cache):
    """Attribution text for a window; symbolised once per distinct stack."""
    stack = rec.get("stack") or []
    if not stack:
        return ""
    key = (tuple(stack), str(module))
    if key not in cache:
        site = attribute.culprit(stack, module)
        if site:
            # frc compiled the variant; its lines are the fixture's (variant.py).
            site.frs = re.sub(r"^variants/(?:alloc|noalloc)/", "fixtures/", site.frs)
        cache[key] = site
    site = cache[key]
    if site:
        rec["site"] = str(site)
        return f"; allocated at {site}"
    return f"; first call from {stack[0]} (no generated-source line found)"


def check_zero(measurements, findings, modules=None):
    """Rule 1: no_alloc construction and dispatch windows read zero.
    `modules` maps (fixture, mode) to the generated module, for attribution.
    One finding per library and allocation site: the first window that
    allocated there, and how many more did."""
    modules = modules or {}
    cache = {}
    for m in measurements:
        if m.mode != "noalloc":
            continue
        windows = ([m.construct] if m.construct else []) + m.steps + m.violations
        by_site = {}
        for rec in windows:
            if not (rec["allocs"] or rec["frees"]):
                continue
            what = "construction" if rec["step"] < 0 else f"step {rec['step'] + 1} {rec['label']}"
            if rec["phase"] == "steady":
                n = next((r.get("violations", 1) for r in m.steady if r["step"] == rec["step"]), 1)
                total = next((r["n"] for r in m.steady if r["step"] == rec["step"]), "?")
                what = f"steady-state replay of {what} ({n} of {total} windows; the first)"
            where = _where(rec, modules.get((m.fixture, m.mode)), cache)
            msg = f"{m.fixture} no_alloc O{m.opt} {what}: {_fmt_counts(rec)}, expected 0{where}"
            by_site.setdefault(rec.get("site") or where, []).append(msg)
        for msgs in by_site.values():
            more = f" (and {len(msgs) - 1} more window(s) allocating at the same site)" if len(msgs) > 1 else ""
            findings.append(Finding("zero", m.fixture, msgs[0] + more))


def check_records(measurements, findings, harness_output=""):
    """Every library must have left complete records (else it crashed)."""
    panics = re.findall(r"panicked at ([^\n]*)\n([^\n]*)", harness_output)
    for m in measurements:
        if m.verdict and "panicked" in m.verdict["message"]:
            where = "; ".join(f"{a.strip()} {b.strip()}" for a, b in panics[:1])
            findings.append(Finding("panic", m.fixture,
                m.verdict["message"].replace(" (message above, on stderr)", "") +
                (f": panicked at {where}" if where else "")))
            continue
        if not m.verdict:
            findings.append(Finding("harness", m.fixture,
                f"{m.fixture} {m.mode} O{m.opt}: no verdict in its records — the "
                f"worker crashed, panicked or timed out (see the harness output)"))
        elif not m.verdict["ok"] and not any(
                f.rule == "zero" and f.fixture == m.fixture for f in findings):
            findings.append(Finding("expect", m.fixture,
                f"{m.verdict['message']} ({m.verdict['failures']} failure(s))"))


def check_differential(fixtures, measurements, findings):
    """Rule 3: both shapes agree on every return value and domain field,
    and both match the scenario's expectations."""
    by = {(m.fixture, m.mode, m.opt): m for m in measurements}
    for fx in fixtures:
        for opt in sorted({m.opt for m in measurements if m.fixture == fx.name}):
            a, n = by.get((fx.name, "alloc", opt)), by.get((fx.name, "noalloc", opt))
            for m in (a, n):
                if m:
                    _check_expected(fx, m, findings)
            if not (a and n):
                continue
            for ra, rn in zip(a.observe, n.observe):
                if ra["text"] != rn["text"]:
                    step = fx.scenario.steps[ra["step"]]
                    oa, on = parse_observation(ra["text"]), parse_observation(rn["text"])
                    diff = ", ".join(f"{k}: {oa.get(k)!s} vs {on.get(k)!s}"
                                     for k in sorted(set(oa) | set(on)) if oa.get(k) != on.get(k))
                    findings.append(Finding("differential", fx.name,
                        f"{fx.name} O{opt} step {ra['step'] + 1} {step.call}: the shapes "
                        f"disagree (allocating vs no_alloc) — {diff}"))
                    break   # later steps follow from the first divergence


def _check_expected(fx, m, findings):
    for rec in m.observe:
        step = fx.scenario.steps[rec["step"]]
        seen = parse_observation(rec["text"])
        wants = dict(step.domain)
        if step.returns is not None:
            wants["ret"] = step.returns
        for k, want in wants.items():
            if seen.get(k) != want:
                what = "return value" if k == "ret" else f"domain field {k}"
                findings.append(Finding("expect", fx.name,
                    f"{fx.name} {m.mode} O{m.opt} step {rec['step'] + 1} {step.call}: "
                    f"{what} is {seen.get(k)}, the scenario expects {want} "
                    f"({fx.scenario.path}:{step.line})"))


def check_steady_closes(fixtures, measurements, findings):
    """A steady cycle must return the system to the state it started in, or
    its replays measure some other path.  The allocating shape's counts
    give it away: a replay of step k that allocates more than the scenario
    pass did, or more than one fewer (a first-time Vec growth is at most
    one), took a different path."""
    calls = {fx.name: fx.scenario for fx in fixtures}
    for m in measurements:
        if m.mode != "alloc" or not m.steady:
            continue
        first = {s["step"]: s["allocs"] for s in m.steps}
        for r in m.steady:
            base = first.get(r["step"])
            if base is None:
                continue
            mean = r["allocs_sum"] / r["n"]
            if r["allocs_max"] > base or mean < base - 1:
                sc = calls[m.fixture]
                findings.append(Finding("steady", m.fixture,
                    f"{m.fixture} alloc O{m.opt}: replaying step {r['step'] + 1} "
                    f"{sc.steps[r['step']].call} reads {mean:.2f} allocation(s) per dispatch "
                    f"(max {r['allocs_max']}), the scenario pass read {base}: the [steady] cycle "
                    f"{sc.steady_from + 1}..{sc.steady_to + 1} does not return the system to the "
                    f"state it started in ({sc.path})"))
                break


def check_calibration(harness_output, findings):
    """Rule 7: the interposer proved itself live in every worker."""
    for pat in ("interposer not loaded", "calibration failed"):
        if pat in harness_output:
            findings.append(Finding("calibration", "*",
                f"the interposer self-check failed ({pat}): no count from this run can be trusted"))
            return


def baseline_counts(measurements):
    """{fixture: {"O0": {"construct": [a, f], "steps": [[a, f], ...]}}} for alloc."""
    out = {}
    for m in measurements:
        if m.mode != "alloc" or not m.construct:
            continue
        out.setdefault(m.fixture, {})[f"O{m.opt}"] = {
            "construct": [m.construct["allocs"], m.construct["frees"]],
            "steps": [[s["allocs"], s["frees"]] for s in m.steps],
        }
    return out


def check_baseline(measurements, baseline_path, compiler, findings):
    """Rule 2: allocating counts equal the recorded baseline."""
    path = Path(baseline_path)
    if not path.exists():
        findings.append(Finding("baseline", "*", f"no baseline at {path}: allocating counts "
                                "were not compared (record one with `audit baseline`)", failure=False))
        return
    base = json.loads(path.read_text())
    if base.get("compiler") != compiler.name:
        findings.append(Finding("baseline", "*", f"{path} records {base.get('compiler')}, this run "
                                f"audits {compiler.name}: not compared", failure=False))
        return
    now = baseline_counts(measurements)
    for fixture, per_opt in now.items():
        old = base.get("fixtures", {}).get(fixture)
        if old is None:
            findings.append(Finding("baseline", fixture, f"{fixture}: not in {path} yet", failure=False))
            continue
        for opt, cur in per_opt.items():
            prev = old.get(opt)
            if prev is None:
                continue
            pairs = [("construction", prev["construct"], cur["construct"])]
            pairs += [(f"step {i + 1}", p, c) for i, (p, c) in enumerate(zip(prev["steps"], cur["steps"]))]
            for what, p, c in pairs:
                if p != c:
                    trend = "regression: more allocations" if c[0] > p[0] else "counts changed"
                    findings.append(Finding("baseline", fixture,
                        f"{fixture} alloc {opt} {what}: {c[0]} allocation(s)/{c[1]} free(s), "
                        f"baseline {p[0]}/{p[1]} ({trend}; if intended, re-record with `audit baseline`)"))


def check_rejects(results, findings):
    """Rule 5: each reject fixture is rejected, with its expected code."""
    for r in results:
        if not r["ok"]:
            findings.append(Finding("reject", r["fixture"], r["message"]))


def expected_code(path):
    """The `// expect: Ennn` line a reject fixture starts with."""
    first = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()[:3]
    for line in first:
        m = re.match(r"\s*//\s*expect:\s*(E\d+)", line)
        if m:
            return m.group(1)
    return None
