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
    """Stands in for `audit run`: answers per mutant directory name."""

    def __init__(self, mutants, miss=(), control_fails=False, calibration=()):
        self.by_dir = {re.sub(r"[^\w.-]", "_", m.name): m for m in mutants}
        self.miss, self.control_fails, self.calibration = set(miss), control_fails, set(calibration)
        self.calls = []

    def __call__(self, audit_cmd, module_path, scen, report_dir, opts, interposer=None, timeout=600,
                 valgrind=False):
        name = module_path.parent.name
        self.calls.append((name, tuple(opts), interposer, valgrind))
        if name == "control":
            return (1, {"findings": [{"rule": "zero", "failure": True, "message": "x"}]}, "") \
                if self.control_fails else (0, {"findings": []}, "")
        m = self.by_dir[name]
        if interposer and any(k in str(interposer) for k in self.calibration):
            return 1, {"findings": [{"rule": "calibration", "failure": True, "message": "c"}]}, ""
        if interposer or m.name in self.miss:
            return 0, {"findings": []}, ""
        assert module_path.read_text() == m.source
        extra = f" (timing {m.spec.phase} 0)" if m.spec.phase else ""
        if m.spec.rule != "zero":
            return 1, {"findings": [_finding(m, 0, rule=r) for r in (m.spec.rule, *m.spec.also)]}, ""
        static = [] if m.spec.nostd_clean else [_finding(m, 0, rule="nostd")]
        return 1, {"findings": [_finding(m, o, extra=extra) for o in opts] + static}, ""


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
    assert fake.calls[0][0] == "control"
    kinds_at_o0 = [c for c in fake.calls if c[0] in ("malloc", "mmap", "__libc_free")]
    assert all(c[1] == (0,) for c in kinds_at_o0)
    assert all(c[1] == (0, 3) for c in fake.calls if "@" in c[0])
    assert {c[0] for c in fake.calls if c[3]} == {"control", "dlsym_next"}


def test_one_missed_mutant_fails_the_self_test(monkeypatch, tmp_path):
    rc, out = _run(monkeypatch, tmp_path, FakeGate(all_mutants(), miss={"pvalloc"}))
    assert rc == EXIT_GATE
    assert f"caught {mutate.CATALOGUE_SIZE - 1}/{mutate.CATALOGUE_SIZE}" in out
    assert re.search(r"^pvalloc .* MISSED$", out, re.M)


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
    used = {c[2].name for c in fake.calls if c[2]}
    assert used == {f"libaudit-broken-{k}.so" for k in mutate.COUNTED_KINDS}
    assert all(c[1] == (0,) for c in fake.calls if c[2])


def test_a_broken_kind_the_self_test_stays_green_for_fails(monkeypatch, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for k in mutate.COUNTED_KINDS:
        if k != "brk":            # one library missing: that kind is not proven
            (broken / f"libaudit-broken-{k}.so").write_text("")

    class StillCounts(FakeGate):
        def __call__(self, audit_cmd, module_path, scen, report_dir, opts, interposer=None, timeout=600,
                 valgrind=False):
            if interposer and "broken-sbrk" in str(interposer):
                return super().__call__(audit_cmd, module_path, scen, report_dir, opts)
            return super().__call__(audit_cmd, module_path, scen, report_dir, opts, interposer, timeout)

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
