"""Unit tests of the gate's reading of records v2 (CONTRACT: calibration,
steady/batch/observe/destroy windows, OS calls, threads), its attribution
rules, the skip list, the unchecked/strict verdict and the table's means.
No build needed: records and modules are written here."""
import json
import re

import pytest

from faa import attribute, gate, junit, report, run, valgrind
from faa.model import Measurement, Report, Window

CAL_ENTRIES = ([{"fn": k, "kind": k, "calls": 1} for k in gate.CALIBRATED_KINDS]
               + [{"fn": a, "kind": a.replace("__libc_", ""), "calls": 1} for a in gate.CALIBRATED_ALIASES]
               + [{"fn": "mmap64", "kind": "mmap", "calls": 1},
                  {"fn": "syscall(SYS_mmap)", "kind": "mmap", "calls": 1}])


def win(phase, step=0, allocs=0, frees=0, os=0, **kw):
    calls = kw.pop("calls", {})
    return {"kind": "window", "phase": phase, "step": step, "label": kw.pop("label", "go()"),
            "allocs": allocs, "frees": frees, "os": os, "bytes": 8 * allocs, "live_peak": 0,
            "calls": calls, **kw}


def set_(obj, **kw):
    """Sets fields of a model object, as a test's edit of a record."""
    for k, v in kw.items():
        setattr(obj, k, v)


def records(tmp_path, lines):
    p = tmp_path / "r.jsonl"
    p.write_text("\n".join(json.dumps(x) for x in lines) + "\n{torn")
    return Measurement.read(p, "f", "noalloc", 3)


def v2(tmp_path, extra=(), cal_ok=True):
    lines = [{"kind": "calibration", "ok": cal_ok, "entries": CAL_ENTRIES},
             {"kind": "meta", "threads": 1, "windows": "all-threads", "size_of": 40},
             win("construct", -1, label="__create()"), win("step", 0), win("step", 1, label="stop()"),
             {"kind": "steady", "step": 0, "n": 4000, "allocs_sum": 0, "allocs_max": 0,
              "frees_sum": 0, "os_sum": 0, "bytes_sum": 0, "violations": 0},
             {"kind": "batches", "n": 16, "cycles": 512, "dispatches": 16384, "allocs_sum": 0,
              "frees_sum": 0, "os_sum": 0, "violations": 0},
             {"kind": "observe_windows", "n": 3, "allocs_sum": 0, "frees_sum": 0, "os_sum": 0,
              "violations": 0},
             win("destroy", -1, label="destroy"),
             {"kind": "verdict", "ok": True, "failures": 0, "message": ""}]
    return records(tmp_path, lines[:-2] + list(extra) + lines[-2:])


def zero(ms):
    found = []
    gate.check_zero(ms if isinstance(ms, list) else [ms], found)
    return [f.message for f in found]


def test_records_v2_are_read_into_their_places(tmp_path):
    m = v2(tmp_path, [win("batch", 3, 1, step_to=31, batch=3, cycles=512)])
    assert m.calibration.ok and len(m.calibration.entries) == len(CAL_ENTRIES)
    assert m.batches.n == 16 and m.observe_windows.n == 3
    assert m.destroy.phase == "destroy" and [w.phase for w in m.violations] == ["batch"]
    assert [w.phase for w in m.windows] == ["construct", "step", "step", "batch", "destroy"]
    assert zero(m) == ["f no_alloc O3 timing batch 3: steps 4..32 x 512 cycles: 1 allocation(s), "
                       "0 free(s), expected 0"]


def test_records_v1_still_read(tmp_path):
    m = records(tmp_path, [{"kind": "meta"}, {k: v for k, v in win("step", 0, 1).items() if k != "os"}])
    assert m.calibration is None and m.steps[0].os == 0
    assert zero(m) == ["f no_alloc O3 step 1 go(): 1 allocation(s), 0 free(s), expected 0"]


def test_clean_v2_records_pass_zero_and_calibration(tmp_path):
    m = v2(tmp_path)
    found = []
    gate.check_zero([m], found)
    gate.check_calibration_records([m], found)
    assert found == []


@pytest.mark.parametrize("rec,needle", [
    (win("steady", 4, 1, label="call(1)", repeat=2501),
     "steady-state replay of step 5 call(1), repeat 2501: 1 allocation(s)"),
    (win("batch", 3, 0, 1, step_to=31, batch=3, cycles=512), "timing batch 3: steps 4..32 x 512 cycles"),
    (win("batch", 0, 1, step_to=1, batch=0, cycles=512), "timing warm-up batch (0): steps 1..2 x 512 cycles"),
    (win("observe", 1, 1, label="stop()"), "observation pass step 2 stop()"),
    (win("observe", -1, 1, label="__create()"), "observation pass construction"),
])
def test_every_phase_is_named_precisely(tmp_path, rec, needle):
    msgs = zero(v2(tmp_path, [rec]))
    assert len(msgs) == 1 and needle in msgs[0], msgs


def test_steady_finding_counts_the_other_violating_replays(tmp_path):
    m = v2(tmp_path, [win("steady", 0, 1, repeat=2501)])
    set_(m.steady[0], allocs_sum=3, violations=3)
    (msg,) = zero(m)
    assert ("steady-state replay of step 1 go(), repeat 2501 (3 of 4000 replay windows of this "
            "step not zero; the first): 1 allocation(s)") in msg


def test_destroy_window_and_os_calls_fail_the_zero_rule(tmp_path):
    m = v2(tmp_path)
    set_(m.destroy, os=2, calls={"mmap": 1, "munmap": 1}, first_kind="mmap")
    (msg,) = zero(m)
    assert msg.startswith("f no_alloc O3 destroy (drop of the system): 0 allocation(s), 0 free(s), "
                          "2 OS memory call(s) [mmap 1, munmap 1], expected 0")


def test_another_thread_is_named_with_its_tid(tmp_path):
    m = v2(tmp_path)
    set_(m.steps[1], allocs=1, calls={"malloc": 1}, thread="other", tid=4242, first_kind="malloc")
    (msg,) = zero(m)
    assert "step 2 stop(): 1 allocation(s), 0 free(s) [malloc 1] on another thread (tid 4242), expected 0" in msg
    m.steps[1].thread = "own"
    assert "another thread" not in zero(m)[0]


MODULE = """\
// generated by frc 0.1.0 from fixtures/x.frs — do not edit
// ---- system Sys (fixtures/x.frs:6): no_alloc shape (RFC-0036) ----
pub struct Sys {
}

impl Sys {
    /// Builds the system in its start state without running `$>`.
    pub fn new() -> Sys {
        Sys {
            __compartment: Sys::__comp_Idle(),
        }
    }

    pub fn __create() -> Sys {
        let mut __s = Sys::new();
        __s.__drain();
        __s
    }

    // fixtures/x.frs:8 interface go
    pub fn go(&mut self) {
        self.__route();
    }

    fn __drain(&mut self) {
        helper();
    }

    fn __route(&mut self) {
        let v = vec![1];
    }

    // fixtures/x.frs:12 $Idle.go
    fn _s_Idle_go(&mut self, __e: &SysFrameEvent) {
        let _g = Guard(0);
        let s = String::from("x"); // frs:14
    }
}
// ---- end of system Sys ----

struct Guard(u8);
impl Drop for Guard {
    fn drop(&mut self) {
        helper();
    }
}

fn helper() {
    let b = Box::new(1);
}
"""


def line_of(text, needle, nth=0):
    return [i for i, l in enumerate(MODULE.splitlines(), 1) if needle in l][nth]


@pytest.fixture
def mod(tmp_path):
    p = tmp_path / "x.rs"
    p.write_text(MODULE)
    return p


def test_allocation_in_new_names_the_system_and_start_state(mod):
    ln = line_of(MODULE, "__compartment: Sys::__comp_Idle()")
    site = attribute.locate([("Sys::new", str(mod), ln), ("Sys::__create", str(mod), 15)], mod)
    assert (site.line, site.frs, site.what) == (ln, "fixtures/x.frs:6", "system Sys, start state $Idle")
    assert str(site).endswith("(from fixtures/x.frs:6, system Sys, start state $Idle)")


def test_allocation_in_a_helper_called_from_create_names_the_system_not_the_comment_above(mod):
    helper = line_of(MODULE, "let b = Box::new(1)")
    frames = [("x::helper", "x.rs", helper), ("Sys::__drain", "x.rs", line_of(MODULE, "        helper();")),
              ("Sys::__create", "x.rs", line_of(MODULE, "__s.__drain()"))]
    site = attribute.locate(frames, mod)
    assert site.line == helper and site.frs == "fixtures/x.frs:6" and site.what.startswith("system Sys")
    # the old rule (nearest mapping comment above the line) said $Idle.go: wrong
    assert attribute.frs_line(mod, helper) == "fixtures/x.frs:12"


def test_allocation_in_a_drop_names_the_handler_that_ran_it(mod):
    helper = line_of(MODULE, "let b = Box::new(1)")
    frames = [("x::helper", str(mod), helper),
              ("<x::Guard as Drop>::drop", str(mod), line_of(MODULE, "        helper();", 1)),
              ("core::ptr::drop_in_place<x::Guard>", "/rustc/library/core/src/ptr/mod.rs", 523),
              ("Sys::_s_Idle_go", str(mod), line_of(MODULE, "let _g = Guard(0);") + 2),   # the closing brace
              ("Sys::go", str(mod), line_of(MODULE, "self.__route();"))]
    site = attribute.locate(frames, mod)
    assert site.line == helper and site.frs == "fixtures/x.frs:12"
    assert site.what == "handler $Idle.go"


def test_a_handler_statement_with_an_frs_marker_names_its_own_line(mod):
    ln = line_of(MODULE, 'String::from("x")')
    site = attribute.locate([("Sys::_s_Idle_go", str(mod), ln)], mod)
    assert (site.frs, site.what) == ("fixtures/x.frs:14", "handler $Idle.go")
    unindented = MODULE.replace('        let _g = Guard(0);', 'let _g = Guard(0);')
    mod.write_text(unindented)
    site = attribute.locate([("Sys::_s_Idle_go", str(mod), line_of(MODULE, "Guard(0);"))], mod)
    assert (site.frs, site.what) == ("fixtures/x.frs:12", "handler $Idle.go")


def test_allocation_in_the_router_names_the_system_not_the_interface_comment_above(mod):
    route = line_of(MODULE, "let v = vec![1];")
    frames = [("Sys::__route", str(mod), route), ("Sys::go", str(mod), line_of(MODULE, "self.__route();"))]
    site = attribute.locate(frames, mod)
    assert (site.line, site.frs, site.what) == (route, "fixtures/x.frs:6", "system Sys")
    # in the interface method's own body: its declaration
    site = attribute.locate(frames[1:], mod)
    assert (site.frs, site.what) == ("fixtures/x.frs:8", "interface go")


def test_locate_ignores_frames_outside_the_module_and_finds_nothing_without_them(mod, tmp_path):
    assert attribute.locate([("malloc", "vg_replace_malloc.c", 381)], mod) is None
    other = tmp_path / "sub"
    other.mkdir()
    assert attribute.locate([("f", str(other / "x.rs"), 3)], mod) is None   # same name, other file


def test_a_window_that_only_frees_says_freed_at(tmp_path, monkeypatch, mod):
    m = v2(tmp_path)
    set_(m.steps[0], frees=1, calls={"free": 1}, first_kind="free", stack=["lib.so+0x10"])
    site = attribute.Site("Sys::_s_Idle_go", str(mod), 31, "fixtures/x.frs:12", "handler $Idle.go")
    monkeypatch.setattr(attribute, "culprit", lambda stack, module: site)
    found = []
    gate.check_zero([m], found, {("f", "noalloc"): mod})
    (f,) = found
    assert "; freed at " in f.message and "allocated at" not in f.message
    assert "(from fixtures/x.frs:12, handler $Idle.go)" in f.message
    set_(m.steps[0], allocs=1, first_kind="malloc")
    found = []
    gate.check_zero([m], found, {("f", "noalloc"): mod})
    assert "; allocated at " in found[0].message


def test_calibration_record_missing_or_wrong_fails_naming_the_entry_point(tmp_path):
    m = v2(tmp_path)
    found = []
    m.calibration.entries[1]["calls"] = 0            # calloc read 0
    m.calibration.ok = False
    gate.check_calibration_records([m], found)
    assert len(found) == 1 and "calloc read 0 call(s) of kind calloc, expected 1" in found[0].message
    m.calibration.entries = [e for e in CAL_ENTRIES if e["fn"] != "__libc_free"]
    m.calibration.ok = True
    found = []
    gate.check_calibration_records([m], found)
    assert "no calibration entry for __libc_free" in found[0].message
    m.calibration = None
    found = []
    gate.check_calibration_records([m], found)
    assert "no calibration record" in found[0].message and found[0].failure


def test_calibration_failures_shared_by_workers_are_one_finding(tmp_path):
    ms = []
    for opt in (0, 3):
        m = v2(tmp_path)
        m.opt = opt
        m.calibration.entries = [dict(CAL_ENTRIES[0], calls=2)] + CAL_ENTRIES[1:]
        ms.append(m)
    found = []
    gate.check_calibration_records(ms, found)
    assert len(found) == 1 and "f noalloc O0, f noalloc O3" in found[0].message


def test_mean_text_never_prints_a_nonzero_window_as_zero():
    assert report.mean_text(0, 4000) == "0.00"
    assert report.mean_text(2, 4000) == "2/4000"
    assert report.mean_text(4000, 4000) == "1.00"
    assert report.mean_text(30, 1000) == "0.03"


def test_table_shows_a_rare_steady_allocation_as_calls_over_windows(tmp_path):
    m = v2(tmp_path)
    set_(m.steady[0], allocs_sum=2, frees_sum=2, allocs_max=1, violations=2)

    class Sc:
        system, steps = "Sys", [type("S", (), {"call": "go()"})(), type("S", (), {"call": "stop()"})()]

    class Fx:
        name, scenario, frs, toml = "f", Sc, None, "f.toml"

    class C:
        label = "frc 0"
    text = report.table([Fx], [m], C)
    row = next(l for l in text.splitlines() if "steady mean" in l)
    assert "2/4000/2/4000 x4000" in row and "0.00/" not in row
    assert "timing batches" in text and "destroy" in text


def test_verdict_word():
    assert report.verdict_word(0, {}) == "PASS"
    assert report.verdict_word(0, {"coverage": "x", "second counter": "y"}) == \
        "PASS (unchecked: coverage, second counter)"
    assert report.verdict_word(1, {"coverage": "x"}) == "FAIL"


def test_unchecked_lists_what_valgrind_would_have_checked(tmp_path):
    m = v2(tmp_path)
    assert list(gate.unchecked([m], {}, {}, valgrind_mode="off")) == ["coverage", "second counter", "memcheck"]
    vg = {("f", "noalloc", 3, "memcheck"): object()}
    assert list(gate.unchecked([m], vg, {"f": {"cells": {}}})) == []
    assert list(gate.unchecked([m], vg, {})) == ["coverage"]        # no mapping comments
    assert list(gate.unchecked([m], vg, {"f": {}}, baseline=False, rejects=False)) == ["baseline", "rejects"]


def test_report_files_show_unchecked_and_skips():
    rep = Report(compiler={"name": "frc", "version": "0"}, exit_status=0,
                 unchecked_why={"coverage": "--valgrind off", "second counter": "--valgrind off"},
                 skipped={"big": "needs E042"})
    md = report.markdown(rep)
    assert "**PASS (unchecked: coverage, second counter)**" in md and "`big`: needs E042" in md
    xml = junit.render(rep)
    assert 'name="second_counter" classname="audit"' in xml and '<skipped message="not checked: --valgrind off"' in xml
    assert 'name="scenario" classname="big"' in xml


def fixtures_dir(tmp_path, names, skip=None):
    for n in names:
        (tmp_path / f"{n}.frs").write_text("")
    for n in names:
        if not n.startswith("noscen"):
            (tmp_path / f"{n}.toml").write_text('system = "S"\n[[step]]\ncall = "go()"\n')
    if skip is not None:
        (tmp_path / "SKIP.toml").write_text(skip)
    return tmp_path


def test_a_frs_without_scenario_fails_unless_skipped_with_a_reason(tmp_path):
    d = fixtures_dir(tmp_path, ["a", "noscen_b"])
    disc = run.survey(d)
    found = []
    gate.check_scenario(disc, found)
    assert [f.rule for f in found] == ["scenario"] and "noscen_b.frs has no scenario" in found[0].message
    (d / "SKIP.toml").write_text('[skip]\nnoscen_b = "needs a feature frc lacks"\n')
    disc = run.survey(d)
    found = []
    gate.check_scenario(disc, found)
    assert found == [] and disc.skips == {"noscen_b": "needs a feature frc lacks"}
    assert [fx.name for fx in disc.fixtures] == ["a"]


def test_a_c_frs_without_scenario_is_named_where_it_is(tmp_path):
    from faa.errors import UsageError
    """fixtures/c/NAME.frs (the fixture NAME.c) with no scenario of its own
    and no Rust twin's: the finding names fixtures/c/NAME.frs and both
    places its scenario may be, not fixtures/NAME.c.frs."""
    d = fixtures_dir(tmp_path, ["a"])
    (d / "c").mkdir()
    (d / "c" / "lonely.frs").write_text('@@[target("c")]\n')
    found = []
    gate.check_scenario(run.survey(d), found)
    assert [f.fixture for f in found] == ["lonely.c"]
    assert found[0].message.startswith("fixtures/c/lonely.frs has no scenario: write fixtures/c/lonely.toml "
                                       "(or fixtures/lonely.toml), or list lonely.c in fixtures/SKIP.toml")
    (d / "SKIP.toml").write_text('[skip]\n"ghost.c" = "gone"\n')
    found = []
    gate.check_scenario(run.survey(d), found)
    assert any("there is no fixtures/c/ghost.frs" in f.message for f in found)
    (d / "SKIP.toml").write_text('[skip]\nghost.c = "gone"\n')     # TOML reads ghost.c as a table
    with pytest.raises(UsageError, match='quote a C fixture\'s name: "ghost.c" = "why"'):
        run.survey(d)


def test_skip_list_errors(tmp_path):
    from faa.errors import UsageError
    d = fixtures_dir(tmp_path, ["a"], skip='[skip]\nghost = "gone"\na = "has a scenario"\n')
    disc = run.survey(d)
    found = []
    gate.check_scenario(disc, found)
    assert [(f.fixture, f.failure) for f in found] == [("ghost", True), ("a", False)]
    assert [fx.name for fx in disc.fixtures] == ["a"]          # audited anyway
    (d / "SKIP.toml").write_text('[skip]\na = ""\n')
    with pytest.raises(UsageError, match="needs a reason"):
        run.survey(d)
    fixtures_dir(tmp_path, ["noscen_c"])
    (d / "SKIP.toml").write_text('[skip]\nnoscen_c = "why"\n')
    with pytest.raises(UsageError, match="noscen_c.frs has no scenario.*skipped: why"):
        run.survey(d, ["noscen_c"])


XTREE = """\
desc: xtree.produce_report
heap_tree=detailed
n2: 3533 curB : currently allocated Bytes
 n0: 3533 0x400ACB9: calloc (rtld-malloc.h:44)
heap_tree=detailed
n2: 9 totBk : total allocated Blocks
 n1: 5 0x4E547DB: _s_Idle_go (x.rs:31)
  n2: 5 0x4E547DB: go (x.rs:22)
   n0: 3 0x4E54BC0: {closure#0} (x_noalloc.rs:0)
   n0: 2 0x4E54BC9: call_once<fx::{closure_env#0}, ()> (library/core/src/ops/function.rs:250)
 n0: 4 0x400AF98: malloc (rtld-malloc.h:56)
heap_tree=detailed
n1: 5 totFdBk : total Freed Blocks
 n1: 5 0x4E547E7: _s_Idle_go (x.rs:31)
  n0: 5 0x4E547E7: go (x.rs:22)
"""


def test_parse_xtree_keeps_the_module_stacks_with_their_counts():
    st = valgrind.parse_xtree(XTREE, "x.rs")
    assert [(s["allocs"], s["frees"], [f[0] for f in s["frames"]]) for s in st] == [
        (3, 0, ["_s_Idle_go", "go", "{closure#0}"]),
        (2, 0, ["_s_Idle_go", "go", "call_once<fx::{closure_env#0}, ()>"]),
        (0, 5, ["_s_Idle_go", "go"])]
    assert st[0]["frames"][0] == ["_s_Idle_go", "x.rs", 31]


def test_valgrind_count_names_the_line_from_valgrinds_stack(mod):
    h, g = line_of(MODULE, "let _g = Guard(0);"), line_of(MODULE, "self.__route();")
    text = XTREE.replace("x.rs:31", f"x.rs:{h}").replace("x.rs:22", f"x.rs:{g}")
    mc = valgrind.Memcheck(lib="x", windows=[{"phase": "construct", "step": 0, "allocs": 0, "frees": 0},
                                             {"phase": "step", "step": 0, "allocs": 1, "frees": 1}],
                           stacks=valgrind.parse_xtree(text, "x.rs"))
    m = Measurement(fixture="f", mode="noalloc", opt=3)
    m.construct = Window.from_record(win("construct", -1))
    m.steps = [Window.from_record(win("step", 0))]
    (d,) = valgrind.compare(m, mc, mod, ["go()"])
    assert d.startswith("step 1 go(): Valgrind counted 1 allocation(s), 1 free(s), the interposer 0/0; "
                        "Valgrind: allocated at ")
    assert re.search(rf"x\.rs:{h} in _s_Idle_go \(from fixtures/x\.frs:12, handler \$Idle\.go\)", d), d


def test_a_failing_calibration_of_either_process_is_kept(tmp_path):
    bad = {"kind": "calibration", "ok": False,
           "entries": [dict(e, calls=0) if e["fn"] == "mmap64" else e for e in CAL_ENTRIES]}
    lines = [{"kind": "calibration", "ok": True, "entries": CAL_ENTRIES}, bad,
             {"kind": "calibration", "ok": True, "entries": CAL_ENTRIES}]
    m = records(tmp_path, lines)
    found = []
    gate.check_calibration_records([m], found)
    assert len(found) == 1 and "mmap64 read 0 call(s) of kind mmap, expected 1" in found[0].message


def test_meta_must_say_one_thread_and_all_thread_windows(tmp_path):
    m = v2(tmp_path)
    found = []
    gate.check_records([m], found)
    assert found == []
    set_(m.meta, threads=3, windows="this-thread")
    gate.check_records([m], found)
    assert [f.rule for f in found] == ["harness", "harness"]
    assert "had 3 threads" in found[0].message and "counted only the measuring thread" in found[1].message
    # The allocating shape counts per thread (the process has one): not a finding.
    set_(m.meta, threads=1, windows="this-thread")
    m.mode = "alloc"
    found = []
    gate.check_records([m], found)
    assert found == []


def test_harness_calibration_message_is_quoted_once():
    out = ("[----]   interposer calibration failed: calloc read 0 call(s) of kind calloc, expected 1 "
           "(in the Criterion worker)\n") * 2
    found = []
    assert gate.check_calibration(out, found)
    assert [f.message for f in found] == [
        "interposer calibration failed: calloc read 0 call(s) of kind calloc, expected 1: "
        "no count from this run can be trusted"]


def test_records_of_another_format_version_fail_rule_harness(tmp_path):
    m = records(tmp_path, [{"kind": "meta", "version": 2, "threads": 1, "windows": "all-threads"},
                           {"kind": "verdict", "ok": True, "failures": 0, "message": ""}])
    found = []
    gate.check_records([m], found)
    assert [f.rule for f in found] == ["harness"]
    assert "records version 2, this audit reads 3" in found[0].message
    m = records(tmp_path, [{"kind": "meta", "version": 3, "threads": 1, "windows": "all-threads"},
                           {"kind": "verdict", "ok": True, "failures": 0, "message": ""}])
    found = []
    gate.check_records([m], found)
    assert found == []


def test_a_module_function_with_no_line_is_named_by_its_fn_line_not_its_caller(mod):
    """rustc 1.63 at O3: drop glue inlined into a handler has line 0, so the
    handler's frame has no line and the next one, the router, has.  The
    handler's own `fn` line says whose the allocation is."""
    frames = [("Sys::_s_Idle_go", str(mod), 0),
              ("Sys::__route", str(mod), line_of(MODULE, "let v = vec![1];")),
              ("Sys::go", str(mod), line_of(MODULE, "self.__route();"))]
    site = attribute.locate(frames, mod)
    assert (site.line, site.frs, site.what) == (
        line_of(MODULE, "fn _s_Idle_go("), "fixtures/x.frs:12", "handler $Idle.go")
    # a name the module does not define once: the old fallback (the router)
    frames[0] = ("Sys::_s_Nowhere", str(mod), 0)
    assert attribute.locate(frames, mod).what == "system Sys"


BUNDLE_XTREE = """\
heap_tree=detailed
n2: 7 totBk : total allocated Blocks
 n1: 4 0x1: alloc::alloc::alloc (library/alloc/src/alloc.rs:98)
  n0: 4 0x2: _s_Idle_go (a.rs:31)
 n1: 3 0x3: alloc::alloc::alloc (library/alloc/src/alloc.rs:98)
  n1: 3 0x4: new<u8> (library/alloc/src/rc.rs:400)
   n0: 3 0x5: _s_Up_tick (b.rs:12)
"""


def test_one_pass_over_a_bundles_heap_tree_keeps_each_modules_stacks():
    """A bundle's memcheck run has one tree for all its fixtures: each
    module's stacks are found wherever its frame sits on the stack."""
    got = valgrind.parse_xtree_modules(BUNDLE_XTREE, ["a.rs", "b.rs", "c.rs"])
    assert [(s["allocs"], s["frames"][-1][0]) for s in got["a.rs"]] == [(4, "_s_Idle_go")]
    assert [(s["allocs"], s["frames"][-1][0]) for s in got["b.rs"]] == [(3, "_s_Up_tick")]
    assert got["c.rs"] == []
    assert valgrind.parse_xtree(BUNDLE_XTREE, "b.rs") == got["b.rs"]
