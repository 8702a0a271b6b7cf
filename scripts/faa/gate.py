"""The gate: every rule of DESIGN.md "The gate" that this run can check.

Each rule adds Finding objects; the audit exits 1 when any finding is a
failure.  Findings say which fixture, shape, opt-level and step broke which
rule, in words a compiler developer reading a CI log can act on.

The rules, by the name the report prints, and the function that checks each
(audit.py calls them in this order):

  scenario        check_scenario          every .frs has a scenario or a SKIP.toml reason
  build, nostd    check_build, check_nostd    (freestanding: nostd's C counterpart, cbuild.py)
  golden          check_golden            frc's output equals generated/ (a note)
  calibration     check_calibration, check_calibration_records
  zero            check_zero              every no_alloc window reads 0
  nonblocking     check_nonblocking       --non-blocking: no no_alloc window makes a blocking call
  panic, harness, expect   check_records: check_panic, check_harness_records, check_expect
  differential    check_differential      both shapes agree (expect: the scenario's values)
  steady          check_steady            the [steady] cycle returns to its start
  baseline        check_baseline, check_baseline_report (run --baseline)
  harness         check_harness           the harness's exit status
  memcheck, valgrind-count, massif        check_valgrind (one function each)
  coverage        check_coverage
  reject          check_reject
  strict          check_strict            --strict: what could not run fails
"""

import re
from pathlib import Path

from . import attribute, compare, panic, valgrind, variant
from .model import Baseline, Finding, Report  # noqa: F401  (Finding: the gate's output type)


OS_KINDS = ("mmap", "mremap", "munmap", "brk", "sbrk")
HEAP_KINDS = ("malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign",
              "aligned_alloc", "memalign", "valloc", "pvalloc")
MEMORY_KINDS = HEAP_KINDS + OS_KINDS
# calls that can block or take a lock (interposer/audit.h's blocking kinds)
BLOCKING_KINDS = ("pthread_mutex_lock", "pthread_mutex_trylock", "pthread_mutex_timedlock",
                  "pthread_rwlock_rdlock", "pthread_rwlock_tryrdlock", "pthread_rwlock_timedrdlock",
                  "pthread_rwlock_wrlock", "pthread_rwlock_trywrlock", "pthread_rwlock_timedwrlock",
                  "pthread_cond_wait", "pthread_cond_timedwait", "sem_wait", "sem_timedwait",
                  "pthread_join", "futex", "nanosleep", "clock_nanosleep", "usleep", "sleep",
                  "read", "write", "open", "openat", "poll", "select", "epoll_wait", "accept",
                  "connect", "recv", "recvfrom", "recvmsg", "send", "sendto", "sendmsg", "fsync")


def _fmt_counts(rec):
    calls = ", ".join(f"{k} {v}" for k, v in sorted(rec.calls.items()) if k in MEMORY_KINDS)
    text = f"{rec.allocs} allocation(s), {rec.frees} free(s)"
    if rec.os:
        text += f", {rec.os} OS memory call(s)"
    return text + (f" [{calls}]" if calls else "")


def _verb(rec, kind):
    """What the first call of a window did, for "<verb> at FILE:LINE"."""
    if kind == "free" or (kind is None and not rec.allocs and not rec.os and rec.frees):
        return "freed at"
    if kind in OS_KINDS or kind in BLOCKING_KINDS:
        return f"called {kind} at"
    return "allocated at"


def _first(rec, kinds):
    """(stack, kind) of the window's first call of one of `kinds`: the
    captured first call when it is one, else the first such site of the
    window's site table (a no_alloc window's first call may be another
    rule's)."""
    if rec.stack and (rec.first_kind is None or rec.first_kind in kinds):
        return rec.stack, rec.first_kind
    site = next((s for s in rec.sites if s.get("kind") in kinds and s.get("stack")), None)
    return (site["stack"], site["kind"]) if site else ([], None)


def _culprit(stack, module):
    """The generated-module Site of one stack, or None."""
    if str(module).endswith(".c"):           # generated C: #line names the .frs (clocate.py)
        from . import clocate
        return clocate.culprit(stack, module)
    return attribute.culprit(stack, module)


def _where(rec, module, cache, kinds=MEMORY_KINDS):
    """Attribution text for a window's first call of `kinds` (stored as
    rec.site for the memory kinds); symbolised once per distinct stack.
    Returns (text, Site or None)."""
    stack, kind = _first(rec, kinds)
    if not stack:
        return "", None
    key = (tuple(stack), str(module))
    if key not in cache:
        cache[key] = _culprit(stack, module)
    site = cache[key]
    if site:
        if kinds is MEMORY_KINDS:
            rec.site = str(site)
        return f"; {_verb(rec, kind)} {site}", site
    return f"; first call from {stack[0]} (no generated-source line found)", None


def _call_sites(rec, module):
    """attribute.CallSite per site record of the window's table."""
    if str(module).endswith(".c"):
        return [attribute.CallSite(int(s.get("calls", 0)), str(s.get("kind", "?")), s["stack"],
                                   _culprit(s["stack"], module))
                for s in rec.sites if s.get("stack")]
    return attribute.call_sites(rec.sites, module)


def _all_sites(rec, module, cache, kinds):
    """'; every call site: 3 × fixtures/x.frs:12 $A.go (malloc), …' over the
    window's site table (the sites of `kinds`); attributes each site record
    (site, frs, gen).  '' when the window has no table."""
    if not rec.sites and not rec.sites_lost:
        return ""
    key = ("sites", tuple(tuple(s.get("stack", ())) for s in rec.sites), str(module))
    if key not in cache:
        cache[key] = _call_sites(rec, module)
    mine = []
    for rec_site, cs in zip([s for s in rec.sites if s.get("stack")], cache[key]):
        if cs.site:
            rec_site.update(site=str(cs.site), gen=f"{cs.site.file}:{cs.site.line}",
                            frs=cs.site.frs or None)
        if cs.kind in kinds:
            mine.append(cs)
    text = attribute.sites_text(attribute.grouped(mine), rec.sites_lost)
    return f"; every call site: {text}" if text else ""


def _thread(rec):
    if rec.thread == "other":
        return f" on another thread (tid {rec.tid if rec.tid is not None else '?'})"
    return ""


def _summary(rows, step):
    return next((r for r in rows if r.step == step), None)


def window_what(m, rec):
    """Names the window precisely: which phase, step, repeat or batch."""
    phase, step, label = rec.phase, rec.step, rec.label
    stepname = f"step {step + 1} {label}".rstrip()
    if phase == "construct":
        return "construction (__create())"
    if phase == "step":
        return stepname
    if phase == "steady":
        s = _summary(m.steady, step)
        rep = f", repeat {rec.repeat}" if rec.repeat is not None else ""
        tail = (f" ({s.violations} of {s.n} replay windows of this step not zero; the first)"
                if s and s.violations else "")
        return f"steady-state replay of {stepname}{rep}{tail}"
    if phase == "batch":
        b = rec.batch if rec.batch is not None else "?"
        which = "timing warm-up batch (0)" if b == 0 else f"timing batch {b}"
        to = rec.step_to if rec.step_to is not None else step
        bs = m.batches
        cycles = rec.cycles if rec.cycles is not None else (bs.cycles if bs and bs.cycles else "?")
        tail = (f" ({bs.violations} of {bs.n} batches not zero; the first)"
                if bs and bs.violations else "")
        return f"{which}: steps {step + 1}..{to + 1} x {cycles} cycles{tail}"
    if phase == "observe":
        where = "construction" if step < 0 else stepname
        return f"observation pass {where}"
    if phase == "destroy":
        return "destroy (drop of the system)"
    return f"{phase} window {stepname}"


def check_zero(measurements, findings, modules=None):
    """Rule 1: every no_alloc window reads zero: construction, each step,
    the steady replay, the timing batches, the observation pass and the
    destroy.  Allocations, frees and OS memory calls all count, on any
    thread.  `modules` maps (fixture, mode) to the generated module, for
    attribution.  One finding per library and allocation site: the first
    window that allocated there, and how many more did."""
    _judge_noalloc(measurements, findings, modules, "zero", MEMORY_KINDS, lambda rec: rec.counted,
                   lambda rec: f"{_fmt_counts(rec)}{_thread(rec)}, expected 0")


def _judge_noalloc(measurements, findings, modules, rule, kinds, hit, describe):
    """The walk the zero and nonblocking rules share: every no_alloc window
    that `hit`s is described (`describe`), attributed to its first call of
    `kinds` and followed by every call site of those kinds in it; one
    finding of `rule` per library and first site (_per_site)."""
    modules = modules or {}
    cache = {}
    attribute.prefetch(st for m in measurements if m.mode == "noalloc" for rec in m.windows if hit(rec)
                       for st in [rec.stack or []] + [s.get("stack") or [] for s in rec.sites])
    for m in measurements:
        if m.mode != "noalloc":
            continue
        module = modules.get((m.fixture, m.mode))
        by_site = {}
        for rec in m.windows:
            if not hit(rec):
                continue
            where, site = _where(rec, module, cache, kinds)
            msg = (f"{m.fixture} no_alloc O{m.opt} {window_what(m, rec)}: {describe(rec)}{where}"
                   f"{_all_sites(rec, module, cache, kinds)}")
            by_site.setdefault(where, []).append((rec.phase, msg, site))
        for msg, gen, frs in _per_site(by_site):
            findings.append(Finding(rule, m.fixture, msg, opt=m.opt, gen=gen, frs=frs))


def _per_site(by_site):
    """One (message, gen, frs) per first site: the first window's message,
    and how many more windows (of which phases) had their first call there."""
    for msgs in by_site.values():
        more = ""
        if len(msgs) > 1:
            phases = sorted({p for p, _, _ in msgs[1:]})
            more = (f" (and {len(msgs) - 1} more window(s) at the same site: "
                    f"{', '.join(phases)})")
        site = msgs[0][2]
        yield (msgs[0][1] + more, f"{site.file}:{site.line}" if site else None,
               (site.frs or None) if site else None)


def non_blocking(fixtures, measurements, everywhere=False):
    """The measurements the nonblocking rule judges: every fixture's with
    --non-blocking (`everywhere`), else those whose scenario says
    `non_blocking = true`."""
    names = {fx.name for fx in fixtures
             if everywhere or getattr(fx.scenario, "non_blocking", False)}
    return [m for m in measurements if m.fixture in names]


def check_nonblocking(measurements, findings, modules=None):
    """Rule nonblocking (--non-blocking, or `non_blocking = true` in the
    scenario): no no_alloc window makes a call that can block or take a
    lock (interposer/audit.h's blocking kinds: locks, condition and
    semaphore waits, joins, futex, sleeps, blocking I/O), on any thread.
    Attributed like the zero rule: the first blocking call's site, then
    every blocking call site of the window with its count.  `measurements`:
    those of the fixtures that must be non-blocking."""
    def describe(rec):
        calls = ", ".join(f"{k} {v}" for k, v in sorted(rec.calls.items()) if k in BLOCKING_KINDS)
        return f"{rec.blocking} blocking call(s) [{calls}], expected 0 (non-blocking)"
    _judge_noalloc(measurements, findings, modules, "nonblocking", BLOCKING_KINDS,
                   lambda rec: rec.blocking, describe)


def check_records(measurements, findings, harness_output=""):
    """Every library must have left complete records (else it crashed):
    the rules panic, harness and expect, library by library."""
    panics = panic.parse(harness_output)
    for m in measurements:
        if check_panic(m, panics, findings):
            continue
        if (m.calibration is not None and not m.calibration.ok) or (
                not m.verdict and any(f.rule == "calibration" and f.fixture == "*" for f in findings)):
            continue            # the calibration finding says why nothing was measured
        check_harness_records(m, findings)
        check_expect(m, findings)


def check_panic(m, panics, findings):
    """A library that panicked, with where (faa.panic: the first panic in the fixture's own
    module of the library's shape, else the first not the other shape's; either rustc
    layout); True when it did."""
    if not (m.verdict and "panicked" in m.verdict.message):
        return False
    first = panic.pick(panics, m.fixture, m.mode)
    where = first.one_line() if first else ""
    findings.append(Finding("panic", m.fixture,
        m.verdict.message.replace(" (message above, on stderr)", "") +
        (f": panicked at {where}" if where else "")))
    return True


def check_harness_records(m, findings):
    """Rule `harness` over one library's records: a one-thread measuring
    process, all-threads windows for no_alloc, every observed step in a
    window, and a verdict at the end."""
    for problem in m.problems:
        findings.append(Finding("harness", m.fixture, f"{m.fixture} {m.mode} O{m.opt}: {problem}"))
    threads = m.meta.threads
    if threads is not None and threads != 1:
        findings.append(Finding("harness", m.fixture,
            f"{m.fixture} {m.mode} O{m.opt}: the measuring process had {threads} threads before "
            f"the library was loaded (must be 1: an all-threads window would count the "
            f"harness's own threads)"))
    if m.mode == "noalloc" and m.meta.windows is not None and m.meta.windows != "all-threads":
        findings.append(Finding("harness", m.fixture,
            f"{m.fixture} no_alloc O{m.opt}: its windows counted only the measuring thread "
            f"(meta windows={m.meta.windows!r}); another thread's allocations went "
            f"unseen"))
    unwindowed = m.observe_windows.unwindowed if m.observe_windows else 0
    if unwindowed:
        findings.append(Finding("harness", m.fixture,
            f"{m.fixture} {m.mode} O{m.opt}: {unwindowed} observed step(s) ran outside any "
            f"window (a fixture ABI v1 library): rebuild it with this shim"))
    if not m.verdict:
        findings.append(Finding("harness", m.fixture,
            f"{m.fixture} {m.mode} O{m.opt}: no verdict in its records — the "
            f"worker crashed, panicked or timed out (see the harness output)"))


def check_expect(m, findings):
    """Rule `expect` from the harness's verdict: a library that failed the
    scenario's expectations for a reason no zero or calibration finding
    already names (check_differential compares the values themselves)."""
    if m.verdict and not m.verdict.ok and not any(
            f.rule in ("zero", "calibration") and f.fixture in (m.fixture, "*") for f in findings):
        findings.append(Finding("expect", m.fixture,
            f"{m.verdict.message} ({m.verdict.failures} failure(s))"))


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
                if ra.text != rn.text:
                    step = fx.scenario.steps[ra.step]
                    oa, on = ra.values(), rn.values()
                    diff = ", ".join(f"{k}: {oa.get(k)!s} vs {on.get(k)!s}"
                                     for k in sorted(set(oa) | set(on)) if oa.get(k) != on.get(k))
                    findings.append(Finding("differential", fx.name,
                        f"{fx.name} O{opt} step {ra.step + 1} {step.call}: the shapes "
                        f"disagree (allocating vs no_alloc) — {diff}"))
                    break   # later steps follow from the first divergence


def _check_expected(fx, m, findings):
    for rec in m.observe:
        step = fx.scenario.steps[rec.step]
        seen = rec.values()
        wants = dict(step.domain)
        if step.returns is not None:
            wants["ret"] = step.returns
        for k, want in wants.items():
            if seen.get(k) != want:
                what = "return value" if k == "ret" else f"domain field {k}"
                findings.append(Finding("expect", fx.name,
                    f"{fx.name} {m.mode} O{m.opt} step {rec.step + 1} {step.call}: "
                    f"{what} is {seen.get(k)}, the scenario expects {want} "
                    f"({fx.scenario.path}:{step.line})"))


def check_steady(fixtures, measurements, findings):
    """A steady cycle must return the system to the state it started in, or
    its replays measure some other path.  The allocating shape's counts
    give it away: a replay of step k that allocates more than the scenario
    pass did, or more than one fewer (a first-time Vec growth is at most
    one), took a different path."""
    calls = {fx.name: fx.scenario for fx in fixtures}
    for m in measurements:
        if m.mode != "alloc" or not m.steady:
            continue
        first = {s.step: s.allocs for s in m.steps}
        for r in m.steady:
            base = first.get(r.step)
            if base is None or not r.n:
                continue
            mean = r.allocs_sum / r.n
            if r.allocs_max > base or mean < base - 1:
                sc = calls[m.fixture]
                findings.append(Finding("steady", m.fixture,
                    f"{m.fixture} alloc O{m.opt}: replaying step {r.step + 1} "
                    f"{sc.steps[r.step].call} reads {mean:.2f} allocation(s) per dispatch "
                    f"(max {r.allocs_max}), the scenario pass read {base}: the [steady] cycle "
                    f"{sc.steady_from + 1}..{sc.steady_to + 1} does not return the system to the "
                    f"state it started in ({sc.path})"))
                break


def check_calibration(harness_output, findings):
    """Rule 7: the interposer proved itself live in every worker.  The
    harness's own words say which entry point read wrong; a worker that
    failed here measured nothing (and wrote no records).  Returns True
    when the harness reported a failed calibration."""
    said = []
    for m in re.finditer(r"(interposer calibration failed: [^\n]*?|interposer not loaded[^\n]*?)"
                         r"\s*(?:\(in the [^)]*\))?\s*$", harness_output, re.M):
        text = m.group(1).strip()
        if text not in said:
            said.append(text)
    if not said:
        for pat in ("interposer not loaded", "calibration failed"):
            if pat in harness_output:
                said.append(f"the interposer self-check failed ({pat})")
                break
    for text in said:
        findings.append(Finding("calibration", "*",
            f"{text}: no count from this run can be trusted"))
    return bool(said)


# Every entry point the interposer hooks (interposer/audit.h); each must read
# exactly one call of its kind in its own calibration window.
CALIBRATED_KINDS = HEAP_KINDS + OS_KINDS + BLOCKING_KINDS
CALIBRATED_ALIASES = ("__libc_malloc", "__libc_calloc", "__libc_realloc", "__libc_free",
                      "__libc_memalign", "__libc_valloc", "__libc_pvalloc", "__libc_reallocarray",
                      "open64", "openat64", "accept4", "syscall(SYS_futex)")


def calibration_problems(cal):
    """What is wrong with one worker's calibration record ([] when nothing)."""
    if cal is None:
        return ["no calibration record: the worker never proved that the interposer "
                "counts each hooked entry point"]
    entries = cal.entries
    bad = [f"{e.get('fn', '?')} read {e.get('calls', '?')} call(s) of kind {e.get('kind', '?')}, "
           f"expected 1" for e in entries if e.get("calls") != 1 or e.get("ok") is False]
    kinds = {e.get("kind") for e in entries}
    fns = {e.get("fn") for e in entries}
    missing = [k for k in CALIBRATED_KINDS if k not in kinds] + [
        a for a in CALIBRATED_ALIASES if a not in fns]
    if missing:
        bad.append(f"no calibration entry for {', '.join(missing)}")
    if not bad and not cal.ok:
        bad.append("the calibration record says ok=false")
    return bad


def check_calibration_records(measurements, findings, harness_failed=False):
    """Rule 7 per worker: the calibration record at the top of every records
    file must exist and be ok, each hooked entry point having read exactly
    one call of its own kind.  Workers that fail the same way are named in
    one finding."""
    by_msg = {}
    for m in measurements:
        if m.calibration is None and harness_failed:
            continue            # the worker's calibration failed first: already a finding
        for problem in calibration_problems(m.calibration):
            by_msg.setdefault(problem, []).append(f"{m.fixture} {m.mode} O{m.opt}")
    for problem, who in by_msg.items():
        findings.append(Finding("calibration", who[0].split()[0] if len(who) == 1 else "*",
            f"interposer calibration failed: {problem} (worker measuring {', '.join(who)}): "
            f"no count from {'this library' if len(who) == 1 else 'these libraries'} can be trusted"))


def _source_of(name):
    """(the .frs, the scenario(s) it may have) of fixture `name`: a C
    fixture NAME.c is fixtures/c/NAME.frs with fixtures/c/NAME.toml or the
    Rust twin's fixtures/NAME.toml (run._candidates)."""
    stem, dot, c = name.rpartition(".")
    if dot and c == "c":
        return f"fixtures/c/{stem}.frs", f"fixtures/c/{stem}.toml (or fixtures/{stem}.toml)"
    return f"fixtures/{name}.frs", f"fixtures/{name}.toml"


def check_scenario(disc, findings):
    """No silent skips: a fixtures/NAME.frs without NAME.toml fails rule
    `scenario` unless fixtures/SKIP.toml lists it with the reason."""
    for name in disc.unscenarioed:
        frs, toml = _source_of(name)
        findings.append(Finding("scenario", name,
            f"{frs} has no scenario: write {toml}, or list {name} in "
            f"fixtures/SKIP.toml under [skip] with the reason it is not audited"))
    for name in disc.stale_skips:
        findings.append(Finding("scenario", name,
            f"fixtures/SKIP.toml lists {name}, but there is no {_source_of(name)[0]}: remove the entry"))
    for name in disc.skipped_with_scenario:
        findings.append(Finding("scenario", name,
            f"fixtures/SKIP.toml lists {name}, which has a scenario and so was audited anyway: "
            f"remove the entry", failure=False))


def unchecked(measurements, vg, cov, valgrind_mode="auto", baseline=True, rejects=True):
    """{check: why} for each check of the gate that could not run: the
    verdict says `PASS (unchecked: ...)`, and --strict makes it a failure."""
    out = {}
    if measurements:
        ran = {k[:3] for k in (vg or {}) if k[3] == "memcheck"}
        libs = {(m.fixture, m.mode, m.opt) for m in measurements if m.verdict}
        if valgrind_mode == "off":
            vg_why = "--valgrind off"
        elif not ran:
            vg_why = "Valgrind did not run: apt-get install -y valgrind, and build faa-run"
        elif libs - ran:
            vg_why = f"Valgrind did not run on {len(libs - ran)} librar(ies)"
        else:
            vg_why = None
        fixtures = sorted({m.fixture for m in measurements})
        no_cov = [f for f in fixtures if (cov or {}).get(f) is None]
        if vg_why or no_cov:
            out["coverage"] = vg_why or (
                f"no coverage for {', '.join(no_cov)}: it needs an O0 library and handler "
                f"functions the audit recognises (frc's .frs mapping comments, or framec's "
                f"_s_STATE_hdl_* methods)")
        if vg_why:
            out["second counter"] = vg_why
            out["memcheck"] = vg_why
    if not baseline:
        out["baseline"] = "no reports/baseline.json: record one with `audit baseline`"
    if not rejects:
        out["rejects"] = "--no-rejects"
    return out


def check_baseline(measurements, baseline_path, compiler, findings):
    """Rule 2: allocating counts equal the recorded baseline."""
    path = Path(baseline_path)
    if not path.exists():
        findings.append(Finding("baseline", "*", f"no baseline at {path}: allocating counts "
                                "were not compared (record one with `audit baseline`)", failure=False))
        return
    base = Baseline.load(path)
    if base.compiler != compiler.name:
        findings.append(Finding("baseline", "*", f"{path} records {base.compiler}, this run "
                                f"audits {compiler.name}: not compared", failure=False))
        return
    ran = [m for m in measurements if m.mode == "alloc" and m.construct]
    recorded = base.fixtures
    for fixture in dict.fromkeys(m.fixture for m in ran):
        if fixture not in recorded:
            findings.append(Finding("baseline", fixture, f"{fixture}: not in {path} yet", failure=False))
    calls = {m.fixture: [s.label for s in m.steps] for m in ran}
    for c in compare.changes(base.windows(calls), compare.of_measurements(ran)):
        if c.old is None or c.new is None:
            continue        # a step or opt-level the baseline does not have (or no longer run)
        what = "construction" if c.key.step < 0 else f"step {c.key.step + 1}"
        trend = "regression: more allocations" if c.more_allocations else "counts changed"
        findings.append(Finding("baseline", c.key.fixture,
            f"{c.key.fixture} alloc O{c.key.opt} {what}: {c.new[0]} allocation(s)/{c.new[1]} free(s), "
            f"baseline {c.old[0]}/{c.old[1]} ({trend}; if intended, re-record with `audit baseline`)"))


def check_baseline_report(path, measurements, fixtures, findings):
    """Rule 2 for any compiler (`run --baseline REPORT`): no window allocates
    more than it did in a previous report.json of the same compiler."""
    old = compare.of_report(Report.load(path))
    calls = {fx.name: [s.call for s in fx.scenario.steps] for fx in fixtures}
    for c in compare.changes(old, compare.of_measurements(measurements, calls)):
        if c.more_allocations:
            k = c.key
            findings.append(Finding("baseline", k.fixture,
                f"{k.fixture} {k.mode} O{k.opt} {k.label()}: {c.new[0]} allocation(s), "
                f"{c.old[0]} in {path} (regression)"))


def check_reject(compiled, bundled, findings):
    """Rule 5: each fixtures/reject/*.frs is rejected (exit 65), with the
    code its `// expect: Ennn` line names (checked for the bundled frc,
    whose codes are known).  `compiled`: [(frs, exit status or None when it
    timed out, stderr)].  Returns the per-fixture results of report.json."""
    out = []
    for frs, code, err in compiled:
        want = expected_code(frs)
        got = sorted(set(re.findall(r"error\[(E\d+)\]", err)))
        # fixtures/reject/c/NAME.frs (frc -l c) is `c/NAME` beside the Rust reject of the same name
        name = frs.stem if frs.parent.name == "reject" else f"{frs.parent.name}/{frs.stem}"
        res = {"fixture": name, "expected": want, "got": got, "exit": code}
        if code != 65:
            res["ok"], res["message"] = False, (f"{frs}: expected rejection (exit 65"
                                                f"{', ' + want if want else ''}), got exit {code}")
        elif bundled and want and want not in got:
            res["ok"], res["message"] = False, (f"{frs}: rejected with {', '.join(got) or 'no code'}, "
                                                f"expected {want}")
        elif bundled and not want:
            res["ok"], res["message"] = False, f"{frs}: has no `// expect: Ennn` first line"
        else:
            res["ok"], res["message"] = True, ""
        if not res["ok"]:
            findings.append(Finding("reject", res["fixture"], res["message"]))
        out.append(res)
    return out


def check_golden(fixtures, outcomes, findings, root):
    """The bundled compiler's output must equal the committed goldens
    (root/generated/NAME/MODE.rs).  A note, not a failure."""
    for fx in fixtures:
        for mode in variant.MODES:
            o = outcomes.get((fx.name, mode))
            golden = root / "generated" / fx.name / f"{mode}.rs"
            if getattr(fx, "target", "rust") == "c":      # C_TARGET: generated/NAME/c_MODE.c
                golden = root / "generated" / fx.frs.stem / f"c_{mode}.c"
            if not o or not o.module:
                continue
            if not golden.exists() or golden.read_text() != o.module.read_text():
                findings.append(Finding("golden", fx.name,
                    f"{golden.relative_to(root)} is stale or missing: run `make regen` and review the diff",
                    failure=False))


def expected_code(path):
    """The `// expect: Ennn` line a reject fixture starts with."""
    first = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()[:3]
    for line in first:
        m = re.match(r"\s*//\s*expect:\s*(E\d+)", line)
        if m:
            return m.group(1)
    return None


def check_build(outcome, findings):
    """The fixture x shape compiled and built (rule `build`)."""
    for e in outcome.errors:
        findings.append(Finding("build", outcome.fixture, e))


def check_nostd(outcome, findings):
    """Rule 4: the no_alloc module builds without alloc and std, and its
    object code names no allocator entry point (nostd.py found the problems)."""
    rule = "freestanding" if getattr(outcome, "target", "rust") == "c" else "nostd"   # cbuild.prove
    for problem in outcome.nostd_problems:
        findings.append(Finding(rule, outcome.fixture, f"{outcome.fixture}: {problem}"))


def check_harness(harness, findings):
    """The harness ran to the end; its exit status is named when nothing
    else explains a failure (rule `harness`)."""
    if harness.status != 0 and not any(f.failure for f in findings):
        findings.append(Finding("harness", "*",
            f"the harness exited {harness.status}:\n{harness.output[-2000:]}"))


def _tag(key):
    return f"{key[0]} {key[1]} O{key[2]}"


def check_memcheck(key, res, findings):
    """Rule 6: memcheck is clean (no errors, nothing lost)."""
    if not res.ok:
        findings.append(Finding("memcheck", key[0], f"{_tag(key)}: {res.message}"))


def check_valgrind_count(m, res, module, labels, findings):
    """The second counter: Valgrind's count agrees with the interposer's,
    window by window (valgrind.compare)."""
    for d in valgrind.compare(m, res, module, labels):
        findings.append(Finding("valgrind-count", m.fixture,
            f"{m.fixture} {m.mode} O{m.opt}: the interposer and Valgrind disagree — {d}"))


def check_massif(res, findings):
    """massif ran (peak heap and heap over time for the report)."""
    if not res.ok:
        who = res.fixtures[0] if len(res.fixtures) == 1 else "*"
        findings.append(Finding("massif", who, f"{', '.join(res.fixtures)} {res.mode} O{res.opt}: "
                                               f"{res.message}"))


def check_valgrind(vg, measurements, modules, fixtures, findings):
    """memcheck, valgrind-count and massif over the Valgrind stage's results
    (a note when Valgrind could not run)."""
    if vg.skipped:
        findings.append(Finding("valgrind", "*", f"Valgrind checks skipped: {vg.skipped}",
                                failure=False))
    by = {(m.fixture, m.mode, m.opt): m for m in measurements}
    labels = {fx.name: [s.call for s in fx.scenario.steps] for fx in fixtures}
    for res in vg.massif:
        check_massif(res, findings)
    for key, res in vg.results.items():
        check_memcheck(key, res, findings)
        check_valgrind_count(by[key[:3]], res, modules.get(key[:2]), labels.get(key[0]), findings)


def check_coverage(found, findings):
    """Every handler and every .frs body line ran, or is excused under
    [uncovered] (coverage.py found what did not)."""
    findings += [Finding("coverage", fx, msg, failure=fail) for fx, msg, fail in found]


def check_strict(unchecked_checks, allowed, findings):
    """--strict: a check that could not run (and is not allowed to stay
    unchecked) is a failure."""
    fails = {what: why for what, why in unchecked_checks.items() if what not in (allowed or ())}
    if fails:
        findings.append(Finding("strict", "*",
            "--strict: not checked in this run: " + "; ".join(
                f"{what} ({why})" for what, why in fails.items())))
