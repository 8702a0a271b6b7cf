"""The mutation self-test's own plumbing: the catalogue, the sites, the
verdict per mutant, the table, and that nothing can silently shrink.  The
real audits run in the `mutation-self-test` Meson test; here the audit is
replaced by a fake gate whose answers the tests choose."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from faa import mutate, scenario, tools
from faa.errors import EXIT_GATE, EXIT_OK

GOLDEN = ROOT / "generated" / "debounce_button" / "noalloc.rs"
SCEN = scenario.load(ROOT / "fixtures" / "debounce_button.toml")
METHODS = {s.method for s in SCEN.steps}


def exercised(fn):
    return any(fn.endswith("_" + m) for m in METHODS)


def module_text():
    return GOLDEN.read_text()


def all_mutants(text=None):
    text = text or module_text()
    sites = mutate.find_sites(text, exercised)
    return [mutate.make(text, s, sites) for s in mutate.catalogue(mutate.late_call(SCEN))]


# ---- catalogue and sites -----------------------------------------------------

def test_catalogue_is_the_fixed_size_and_covers_every_counted_kind():
    specs = mutate.catalogue(mutate.late_call(SCEN))
    assert mutate.check_catalogue(specs) == []
    assert len(specs) == mutate.CATALOGUE_SIZE
    for kind in mutate.COUNTED_KINDS:
        assert any(s.counts == (kind,) for s in specs), kind
    classes = " ".join(s.cls for s in specs)
    for word in ("thread", "late call", "lazy", "Drop", "__create", "free-only", "alias", "no_std-clean"):
        assert word in classes
    assert {s.site for s in specs if s.cls.startswith("std ")} == set(mutate.STD_SITES)


def test_catalogue_check_fails_when_a_mutant_or_a_kind_goes_missing():
    specs = mutate.catalogue(mutate.late_call(SCEN))
    short = [s for s in specs if s.name != "sbrk"]
    problems = mutate.check_catalogue(short)
    assert any("CATALOGUE_SIZE" in p for p in problems)
    assert any("sbrk" in p for p in problems)


def test_late_call_lands_after_the_windowed_replay():
    # 36 steps (the cycle ends at the last one), 1000 x 17 replayed, then the batches.
    assert (SCEN.steady_to, SCEN.steady_repeat) == (35, 1000)
    assert mutate.late_call(SCEN) == 36 + 1000 * 17 + 1


def test_sites_and_their_frs_lines_in_the_golden():
    sites = mutate.find_sites(module_text(), exercised)
    assert set(sites) == set(mutate.SITES)
    got = {k: (s.fn, s.frs.rpartition(":")[2]) for k, s in sites.items()}
    assert got == {"handler": ("_s_Up_sample", "26"), "router": ("__route", "19"),
                   "enter": ("_s_LongHeld_enter", "55"), "construct": ("new", "19"),
                   "create": ("__create", "19")}


def test_each_mutant_marks_exactly_its_allocating_line():
    for m in all_mutants():
        lines = m.source.split("\n")
        marked = [i for i, ln in enumerate(lines, 1) if ln.endswith(f"{mutate.MARK} {m.name}")]
        assert marked == [m.line], m.name
        assert mutate.ALLOC not in m.source, m.name


def test_an_unmarked_allocating_line_fails_the_catalogue_check():
    specs = mutate.catalogue(mutate.late_call(SCEN))
    bad = [mutate.Spec(s.name, s.cls, s.site, tuple((a, r.replace(mutate.ALLOC, ""), al)
                                                    for a, r, al in s.parts))
           if s.name == "thread" else s for s in specs]
    assert any("thread" in p and mutate.ALLOC in p for p in mutate.check_catalogue(bad))


def test_the_thread_and_the_machinery_expect_the_system_line():
    by = {m.name: m for m in all_mutants()}
    assert by["thread"].frs.endswith(":19") and by["create"].frs.endswith(":19")
    assert by["mmap"].frs.endswith(":26")
    worker = by["thread"].source.split("\n")[by["thread"].line - 1]
    assert "malloc(16)" in worker and not worker.startswith("{")


def _rustc_or_skip():
    try:
        return tools.rustc()
    except Exception as e:          # noqa: BLE001 - ToolMissing: skip with its reason
        pytest.skip(str(e))


def test_every_mutant_compiles_and_the_std_free_ones_build_as_no_std(tmp_path):
    rustc = _rustc_or_skip()
    mods, nostd = [], []
    for i, m in enumerate(all_mutants()):
        (tmp_path / f"m{i}.rs").write_text(m.source)
        mods.append(f'#[path = "m{i}.rs"] pub mod m{i};')
        if "::std::" not in "".join(r for _, r, _ in m.spec.parts):
            nostd.append(mods[-1])
    (tmp_path / "all.rs").write_text("\n".join(mods) + "\n")
    (tmp_path / "nostd.rs").write_text("#![no_std]\n" + "\n".join(nostd) + "\n")
    assert len(nostd) == mutate.CATALOGUE_SIZE - 4 * len(mutate.KINDS)
    for crate in ("all", "nostd"):
        r = subprocess.run([rustc, "--edition", "2021", "--crate-type", "rlib", "-C", "opt-level=0",
                            "-A", "warnings", "-o", str(tmp_path / f"lib{crate}.rlib"),
                            str(tmp_path / f"{crate}.rs")], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]


def test_a_broken_snippet_does_not_compile(tmp_path):
    """The compile check above can fail."""
    rustc = _rustc_or_skip()
    text = module_text()
    sites = mutate.find_sites(text, exercised)
    bad = mutate.Spec("bad", "bad", "handler", (("handler", "let __x: u8 = malloc(16);", True),))
    (tmp_path / "bad.rs").write_text(mutate.make(text, bad, sites).source)
    r = subprocess.run([rustc, "--edition", "2021", "--crate-type", "rlib", "-A", "warnings",
                        "-o", str(tmp_path / "libbad.rlib"), str(tmp_path / "bad.rs")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode != 0


# ---- the verdict on one audit --------------------------------------------------

def _finding(m, opt, gen=None, frs=None, rule="zero", extra=""):
    gen = m.line if gen is None else gen
    frs = m.frs.rpartition(":")[2] if frs is None else frs
    return {"rule": rule, "fixture": "debounce_button", "failure": True,
            "message": f"debounce_button no_alloc O{opt} step 3 sample(true): 1 allocation(s), "
                       f"0 free(s) [malloc 1], expected 0{extra}; allocated at /w/runs/x/"
                       f"debounce_button.rs:{gen} in f (from fixtures/debounce_button.frs:{frs})"}


def _by_name(name):
    return next(m for m in all_mutants() if m.name == name)


def test_judge_catches_only_with_the_right_lines_at_every_opt_level():
    m = _by_name("box@handler")
    ok = {"findings": [_finding(m, 0), _finding(m, 3), _finding(m, 0, rule="nostd")]}
    o = mutate.judge(m, 1, ok, "", "debounce_button.rs")
    assert o.caught and o.rules == ["nostd", "zero"] and o.dynamic
    cases = {
        "exit 0": (0, ok),
        "one opt-level": (1, {"findings": [_finding(m, 0)]}),
        "wrong generated line": (1, {"findings": [_finding(m, 0), _finding(m, 3, gen=m.line + 1)]}),
        "wrong .frs line": (1, {"findings": [_finding(m, 0, frs="63"), _finding(m, 3, frs="63")]}),
        "only the static rule": (1, {"findings": [_finding(m, 0, rule="nostd")]}),
    }
    for what, (code, rep) in cases.items():
        assert not mutate.judge(m, code, rep, "", "debounce_button.rs").caught, what


def test_judge_prefers_the_gates_structured_fields_to_its_wording():
    m = _by_name("mmap")
    f = {"rule": "zero", "failure": True, "message": "reworded, no lines here", "opt": 0,
         "gen": f"/w/runs/mmap/debounce_button.rs:{m.line}", "frs": "fixtures/debounce_button.frs:26"}
    static = _finding(m, 0, rule="nostd")
    assert mutate.judge(m, 1, {"findings": [f, static]}, "", "debounce_button.rs").caught
    wrong = dict(f, frs="fixtures/debounce_button.frs:19")
    o = mutate.judge(m, 1, {"findings": [wrong, static]}, "", "debounce_button.rs")
    assert not o.caught and o.gen_ok and o.frs_lines == [19]
    unnamed = dict(f, gen=None, frs=None)
    assert not mutate.judge(m, 1, {"findings": [unnamed]}, "", "debounce_button.rs").gen_ok


def test_judge_of_the_mutants_only_the_static_proof_or_valgrind_can_catch():
    g = _by_name("global_alloc")
    static = {"rule": "nostd", "failure": True,
              "message": f"debounce_button: /w/debounce_button.rs:{g.line} declares #[global_allocator]"}
    o = mutate.judge(g, 1, {"findings": [static]}, "", "debounce_button.rs")
    assert o.caught and not o.dynamic
    lineless = dict(static, message="debounce_button: /w/debounce_button.rs: a `syscall` instruction in f")
    assert not mutate.judge(g, 1, {"findings": [lineless]}, "", "debounce_button.rs").caught
    r = _by_name("raw_syscall")
    in_fn = dict(static, message="debounce_button: /w/debounce_button.rs: a `syscall` instruction in "
                                 "nostd_x::fx_module::DebouncedButton::_s_Up_sample: ...")
    o = mutate.judge(r, 1, {"findings": [in_fn]}, "", "debounce_button.rs")
    assert o.caught and o.gen_by_fn
    other_fn = dict(in_fn, message=in_fn["message"].replace("_s_Up_sample", "_s_Down_sample"))
    assert not mutate.judge(r, 1, {"findings": [other_fn]}, "", "debounce_button.rs").caught
    d = _by_name("dlsym_next")
    assert d.spec.valgrind and d.spec.rule == "valgrind-count"
    vg = _finding(d, 0, rule="valgrind-count")
    assert mutate.judge(d, 1, {"findings": [vg, _finding(d, 0, rule="nostd")]}, "",
                        "debounce_button.rs").caught
    only_vg = mutate.judge(d, 1, {"findings": [vg]}, "", "debounce_button.rs")
    assert not only_vg.caught and "nostd did not fire" in only_vg.detail


def test_judge_holds_the_no_std_clean_mutant_and_the_late_call_to_their_promise():
    s = _by_name("strdup")
    both = [_finding(s, 0), _finding(s, 3)]
    assert mutate.judge(s, 1, {"findings": both}, "", "debounce_button.rs").caught
    flagged = mutate.judge(s, 1, {"findings": both + [_finding(s, 0, rule="nostd")]}, "",
                           "debounce_button.rs")
    assert not flagged.caught and "static proof" in flagged.detail
    late = _by_name("late")
    static = [_finding(late, 0, rule="nostd")]
    in_steps = [_finding(late, 0), _finding(late, 3)] + static
    assert not mutate.judge(late, 1, {"findings": in_steps}, "", "debounce_button.rs").caught
    in_batch = [_finding(late, o, extra=" (timing batch 0)") for o in (0, 3)]
    assert mutate.judge(late, 1, {"findings": in_batch + static}, "", "debounce_button.rs").caught
    # It names malloc: a static proof that stays silent is broken, and the self-test says so.
    silent = mutate.judge(late, 1, {"findings": in_batch}, "", "debounce_button.rs")
    assert not silent.caught and "nostd did not fire" in silent.detail


def test_table_shows_rules_dynamic_count_and_both_lines():
    m = _by_name("box@router")
    o = mutate.judge(m, 1, {"findings": [_finding(m, 0, frs="23"), _finding(m, 3, frs="23")]}, "",
                     "debounce_button.rs")
    t = mutate.table([m], [o]).splitlines()
    assert t[0].split()[:6] == ["mutant", "class", "site", "opt", "rule(s)", "fired"]
    row = t[2]
    assert row.startswith("box@router") and " zero " in row and " y " in row
    assert f"{m.line} ok" in row and "19 got 23" in row and row.endswith("MISSED")


# ---- the whole self-test against a fake gate -----------------------------------

class FakeGate:
    """Stands in for `audit run --generated NAME=MODULE ...`: one report for
    all the run's modules, each answered as its own fixture (by name)."""

    def __init__(self, mutants, miss=(), control_fails=False, calibration=()):
        self.by_dir = {mutate.fixture_name(m.name): m for m in mutants}
        self.miss, self.control_fails, self.calibration = set(miss), control_fails, set(calibration)
        self.calls = []

    def answer(self, name, path, opts, interposer):
        """The findings of one module of the run."""
        if name == "control":
            return [{"rule": "zero", "failure": True, "message": "x"}] if self.control_fails else []
        m = self.by_dir[name]
        assert path.parent.name == name and path.read_text() == m.source
        if interposer or m.name in self.miss:
            return []
        extra = f" (timing {m.spec.phase} 0)" if m.spec.phase else ""
        if m.spec.rule != "zero":
            return [_finding(m, 0, rule=r) for r in (m.spec.rule, *m.spec.also)]
        static = [] if m.spec.nostd_clean else [_finding(m, 0, rule="nostd")]
        return [_finding(m, o, extra=extra) for o in opts] + static

    def __call__(self, audit_cmd, modules, scen, report_dir, work_dir, opts, interposer=None,
                 valgrind=False, jobs=1, timeout=None):
        self.calls.append((tuple(modules), tuple(opts), interposer, valgrind))
        findings = [dict(f, fixture=name) for name, path in modules.items()
                    for f in self.answer(name, path, opts, interposer)]
        if interposer and any(k in str(interposer) for k in self.calibration):
            # several workers failed the same way: one run-wide finding
            findings.append({"rule": "calibration", "fixture": "*", "failure": True, "message": "c"})
        code = EXIT_GATE if any(f["failure"] for f in findings) else EXIT_OK
        return code, {"findings": findings, "fixtures": [{"name": n} for n in modules]}, ""


def _run(monkeypatch, tmp_path, fake, text=None, **kw):
    monkeypatch.setattr(mutate, "audit", fake)
    lines = []
    rc = mutate.self_test(["audit"], text or module_text(), "debounce_button.rs", SCEN,
                          tmp_path, exercised=exercised, jobs=2, progress=lambda s: None,
                          out=lines.append, **kw)
    return rc, "\n".join(lines)


def test_a_perfect_gate_passes_with_caught_n_of_n(monkeypatch, tmp_path):
    fake = FakeGate(all_mutants())
    rc, out = _run(monkeypatch, tmp_path, fake)
    assert rc == EXIT_OK, out
    assert f"caught {mutate.CATALOGUE_SIZE}/{mutate.CATALOGUE_SIZE}" in out
    assert fake.calls[0][0] == ("control",) and fake.calls[0][1:] == ((0, 3), None, True)
    # The catalogue by need: O0,O3 (30 mutants, 4 runs); O0 (26, 4 runs); O0
    # with Valgrind (dlsym_next); the two that change their whole library
    # in runs of their own.
    runs = fake.calls[1:]
    need = [(c[1], c[3]) for c in runs]
    assert (need.count(((0, 3), False)), need.count(((0,), False)), need.count(((0,), True))) == (5, 5, 1)
    assert {c[0] for c in runs if len(c[0]) == 1} == {("thread",), ("global_alloc",), ("dlsym_next",)}
    assert all(len(c[0]) <= mutate.RUN_SIZE for c in runs)
    audited = [n for c in runs for n in c[0]]
    assert sorted(audited) == sorted(mutate.fixture_name(m.name) for m in all_mutants())
    by_name = {mutate.fixture_name(m.name): m.spec for m in all_mutants()}
    for names, opts, _, valgrind in runs:
        assert all(by_name[n].opts == opts and by_name[n].valgrind == valgrind for n in names)
    assert {n for c in runs if c[3] for n in c[0]} == {"dlsym_next"}
    assert "in 11 audit run(s)" in out and "12 audit run(s)" in out.splitlines()[-1]


def test_each_mutant_is_judged_by_its_own_fixtures_findings():
    """In a run of several, another fixture's failure is not this one's; a
    run-wide finding (fixture "*") is everyone's; a run without a report,
    or a report without the fixture, leaves the run's exit and no report."""
    rep = {"provenance": {"rustc": "rustc 1.95.0"}, "fixtures": [{"name": "a"}, {"name": "b"}],
           "findings": [{"rule": "zero", "fixture": "a", "failure": True, "message": ""},
                        {"rule": "coverage", "fixture": "b", "failure": False, "message": ""}]}
    code, view = mutate.fixture_view(EXIT_GATE, rep, "b")
    assert code == EXIT_OK and [f["rule"] for f in view["findings"]] == ["coverage"]
    assert view["provenance"] == rep["provenance"]
    code, view = mutate.fixture_view(EXIT_GATE, rep, "a")
    assert code == EXIT_GATE and [f["rule"] for f in view["findings"]] == ["zero"]
    wide = dict(rep, findings=rep["findings"] + [{"rule": "calibration", "fixture": "*", "message": ""}])
    code, view = mutate.fixture_view(EXIT_GATE, wide, "b")
    assert code == EXIT_GATE and [f["rule"] for f in view["findings"]] == ["coverage", "calibration"]
    assert mutate.fixture_view(2, None, "a") == (2, None)
    assert mutate.fixture_view(EXIT_GATE, rep, "c") == (EXIT_GATE, None)


def test_one_missed_mutant_fails_the_self_test(monkeypatch, tmp_path):
    lines = []
    monkeypatch.setattr(mutate, "audit", FakeGate(all_mutants(), miss={"pvalloc"}))
    rc = mutate.self_test(["audit"], module_text(), "debounce_button.rs", SCEN, tmp_path,
                          exercised=exercised, progress=lines.append, out=lines.append)
    out = "\n".join(lines)
    assert rc == EXIT_GATE
    assert f"caught {mutate.CATALOGUE_SIZE - 1}/{mutate.CATALOGUE_SIZE}" in out
    assert re.search(r"^pvalloc .* MISSED$", out, re.M)
    # its run failed (the others in it were caught), its own fixture did not
    assert re.search(r"pvalloc +MISSED — .*no zero-rule finding.*; exit 0$", out, re.M)


def test_a_failing_control_fails_the_self_test(monkeypatch, tmp_path):
    rc, out = _run(monkeypatch, tmp_path, FakeGate(all_mutants(), control_fails=True))
    assert rc == EXIT_GATE and "control" in out and "FAIL" in out


def test_a_missing_site_fails_instead_of_shrinking(monkeypatch, tmp_path):
    text = module_text().replace("fn __route(", "fn __dispatch_event(")
    text = text.replace("self.__route(", "self.__dispatch_event(")
    sites = mutate.find_sites(text, exercised)
    placed = [mutate.make(text, s, sites) for s in mutate.catalogue(mutate.late_call(SCEN))
              if all(a in ("end", *sites) for a, _, _ in s.parts)]
    rc, out = _run(monkeypatch, tmp_path, FakeGate(placed), text=text)
    assert rc == EXIT_GATE
    assert "no site found for: router" in out
    at_router = sum(s.site == "router" or any(a == "router" for a, _, _ in s.parts)
                    for s in mutate.catalogue(mutate.late_call(SCEN)))
    n = mutate.CATALOGUE_SIZE
    assert f"caught {n - at_router}/{n}" in out


def test_a_subset_never_counts_as_the_full_self_test(monkeypatch, tmp_path):
    rc, out = _run(monkeypatch, tmp_path, FakeGate(all_mutants()), only=["malloc", "os *"])
    assert rc == EXIT_OK
    assert f"(a subset: 8 of {mutate.CATALOGUE_SIZE})" in out and "caught 8/8" in out


def test_broken_interposers_must_turn_the_self_test_red_for_every_kind(monkeypatch, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for k in mutate.COUNTED_KINDS:
        (broken / f"libaudit-broken-{k}.so").write_text("")
    fake = FakeGate(all_mutants(), calibration={"broken-calloc"})
    rc, out = _run(monkeypatch, tmp_path, fake, broken_dir=broken)
    assert rc == EXIT_OK, out
    assert f"self-test red for every broken kind: 15/15" in out
    assert re.search(r"^calloc\s+calloc,__libc_calloc\s+2/2\s+0/2\s+red$", out, re.M)
    assert re.search(r"^malloc\s+malloc,__libc_malloc,strdup\s", out, re.M)
    broken_runs = [c for c in fake.calls if c[2]]
    assert sorted(Path(c[2]).name for c in broken_runs) == sorted(
        f"libaudit-broken-{k}.so" for k in mutate.COUNTED_KINDS)      # one run per kind
    assert all(c[1] == (0,) and not c[3] for c in broken_runs)
    calloc = next(c for c in broken_runs if "broken-calloc" in c[2])
    assert calloc[0] == ("calloc", "__libc_calloc")


def test_a_broken_kind_the_self_test_stays_green_for_fails(monkeypatch, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for k in mutate.COUNTED_KINDS:
        if k != "brk":            # one library missing: that kind is not proven
            (broken / f"libaudit-broken-{k}.so").write_text("")

    class StillCounts(FakeGate):
        def answer(self, name, path, opts, interposer):
            if interposer and "broken-sbrk" in str(interposer):
                interposer = None
            return super().answer(name, path, opts, interposer)

    rc, out = _run(monkeypatch, tmp_path, StillCounts(all_mutants()), broken_dir=broken)
    assert rc == EXIT_GATE
    assert "self-test red for every broken kind: 13/15" in out
    assert re.search(r"^sbrk\s+sbrk\s+0/1\s+1/1\s+GREEN$", out, re.M)
    assert re.search(r"^brk\s.*not built", out, re.M)


def test_the_old_rustc_allowance_is_narrow():
    """rustc < 1.73 names an inlined Drop's call at O3 by the handler's fn
    line: accepted for the spec marked so, with that rustc, at O3 only."""
    from faa import mutate
    spec = next(s for s in mutate.catalogue(10) if s.name == "drop")
    assert spec.old_rustc_fn_line
    m = mutate.Mutant(spec=spec, source="", line=448, frs="x.frs:26", site_fn_line=356)
    o3 = {"rule": "zero", "opt": 3, "gen": "m.rs:356", "message": ""}
    o0 = {"rule": "zero", "opt": 0, "gen": "m.rs:448", "message": ""}
    old = {"provenance": {"rustc": "rustc 1.63.0"}}
    new = {"provenance": {"rustc": "rustc 1.95.0 (59807616e 2026-04-14)"}}
    assert mutate._old_rustc_fn_line(m, old, [o0, o3], "m.rs")
    assert not mutate._old_rustc_fn_line(m, new, [o0, o3], "m.rs")          # a newer rustc: exact lines
    assert not mutate._old_rustc_fn_line(m, old, [dict(o3, gen="m.rs:300")], "m.rs")   # another line
    assert not mutate._old_rustc_fn_line(m, old, [dict(o0, gen="m.rs:356")], "m.rs")   # O0 must be exact
    other = mutate.Mutant(spec=next(s for s in mutate.catalogue(10) if s.name == "helper"), source="",
                          line=448, frs="x.frs:26", site_fn_line=356)
    assert not mutate._old_rustc_fn_line(other, old, [o0, o3], "m.rs")      # only the marked spec


# ---- several modules in one audit run ------------------------------------------

def test_generated_takes_several_modules_each_its_own_fixture(tmp_path):
    from faa import audit
    from faa.errors import UsageError
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "m.rs").write_text("")
    a, b = tmp_path / "a" / "m.rs", tmp_path / "b" / "m.rs"
    assert audit.generated_modules([str(a)], "debounce_button") == {"debounce_button": a}
    assert audit.generated_modules(str(a), "s") == {"s": a}
    assert audit.generated_modules([str(a), str(b)], "s") == {"a": a, "b": b}
    assert audit.generated_modules([f"x={a}", str(b)], "s") == {"x": a, "b": b}
    with pytest.raises(UsageError, match="two modules go by the fixture name 'a'"):
        audit.generated_modules([str(a), f"a={b}"], "s")
    with pytest.raises(UsageError, match="no such module"):
        audit.generated_modules([f"x={tmp_path / 'c.rs'}"], "s")


def test_one_run_of_several_modules_judges_each_alone(build_dir, tmp_path):
    """The unmutated module, a malloc mutant and one rustc rejects, in one
    run and (FAA_BUNDLE_SIZE 8) one bundle: the rejected bundle is rebuilt
    module by module, so the broken one alone has a [build] finding, the
    mutant alone the zero rule at its line, and the clean one nothing."""
    _rustc_or_skip()
    text = module_text()
    sites = mutate.find_sites(text, exercised)
    m = _by_name("malloc")
    bad = mutate.Spec("bad", "bad", "handler", (("handler", "let __x: u8 = malloc(16);", True),))
    mods = {}
    for name, source in (("clean", text), ("malloc", m.source),
                         ("bad", mutate.make(text, bad, sites).source)):
        (tmp_path / name).mkdir()
        mods[name] = tmp_path / name / "debounce_button.rs"
        mods[name].write_text(source)
    cmd = [str(tools.ROOT / "scripts" / "audit"), "--build-dir", str(build_dir)]
    code, rep, err = mutate.audit(cmd, mods, SCEN.path, tmp_path / "rep", tmp_path / "work", (0,),
                                  jobs=2, env={"FAA_BUNDLE_SIZE": "8"})
    crates = json.loads((tmp_path / "work" / "phases.json").read_text())["phases"]["build"]
    assert sorted(crates["crates_rebuilt"])[0].startswith("fxs_"), crates     # rebuilt alone
    assert code == EXIT_GATE and rep is not None, err
    views = {n: mutate.fixture_view(code, rep, n) for n in mods}
    assert views["clean"][0] == EXIT_OK and not views["clean"][1]["findings"], views["clean"]
    assert {f["rule"] for f in views["bad"][1]["findings"] if f["failure"]} == {"build"}
    o = mutate.judge(m, *views["malloc"], err, "debounce_button.rs")
    assert o.caught and o.rules == ["nostd", "zero"], o.detail
