"""Unit tests of the pieces behind the gate: Valgrind log parsing,
coverage matrix, attribution mapping, baseline comparison, atomic writes."""
import json
from pathlib import Path

import pytest

from faa import attribute, coverage, gate, report, valgrind
from faa.model import Measurement, StepSummary, Window

TRACE = """==1== Memcheck
--1-- malloc(10) = 0x1
**1** FAA-OPEN construct 0
--1-- malloc(16) = 0x2
--1-- calloc(1,8) = 0x3
--1-- free(0x2)
**1** FAA-CLOSE
**1** FAA-OPEN step 0
**1** FAA-CLOSE
**1** FAA-OPEN step 1
--1-- realloc(0x3,64) = 0x4
--1-- memalign(16,32) = 0x5
**1** FAA-CLOSE
--1-- free(0x4)
"""


def test_parse_trace_counts_calls_between_markers_only():
    w = valgrind.parse_trace(TRACE)
    assert [(x["phase"], x["step"], x["allocs"], x["frees"]) for x in w] == [
        ("construct", 0, 2, 1), ("step", 0, 0, 0), ("step", 1, 2, 0)]


def meas(construct, steps, mode="alloc"):
    m = Measurement(fixture="f", mode=mode, opt=0)
    m.construct = Window(phase="construct", step=-1, allocs=construct[0], frees=construct[1])
    m.steps = [Window(phase="step", step=i, label="x()", allocs=a, frees=f)
               for i, (a, f) in enumerate(steps)]
    return m


def test_valgrind_compare_flags_any_window_that_differs():
    mc = valgrind.Memcheck(lib="x", windows=valgrind.parse_trace(TRACE))
    assert valgrind.compare(meas((2, 1), [(0, 0), (2, 0)]), mc) == []
    diff = valgrind.compare(meas((2, 1), [(0, 0), (1, 0)]), mc)
    assert diff == ["step 2: Valgrind counted 2 allocation(s), 0 free(s), the interposer 1/0; "
                    "Valgrind's stack names no line of the generated module"]


MODULE = """
    // fixtures/x.frs:26 $Up.sample
    fn _s_Up_sample(&mut self) {
    }
    // fixtures/x.frs:30 $Up.$>
    fn _s_Up_enter(&mut self) {
    }
    // fixtures/x.frs:40 $Down.<$
    fn _s_Down_exit(&mut self) {
    }
"""


def test_coverage_matrix_from_mapping_comments_and_callgrind_names():
    hs = coverage.handlers(MODULE)
    assert hs == {"_s_Up_sample": ("Up", "sample"), "_s_Up_enter": ("Up", "$>"),
                  "_s_Down_exit": ("Down", "<$")}
    ran = {"crate::fx_module::Sys::_s_Up_sample", "crate::fx_module::Sys::_s_Up_enter_more"}
    mx = coverage.matrix({"alloc": (hs, ran), "noalloc": (hs, ran | {"m::Sys::_s_Down_exit"})})
    assert mx["events"][:2] == ["$>", "<$"]
    assert mx["cells"]["Up.sample"] == {"alloc": True, "noalloc": True}
    assert mx["cells"]["Up.$>"] == {"alloc": False, "noalloc": False}   # _enter_more is not _enter
    assert coverage.unexercised(mx, {"$Up.$>": "unreachable"}) == [("$Down.<$", ["alloc"])]


def test_frs_line_finds_the_nearest_mapping_comment(tmp_path):
    p = tmp_path / "m.rs"
    p.write_text(MODULE)
    assert attribute.frs_line(p, 4) == "fixtures/x.frs:26"
    assert attribute.frs_line(p, 9) == "fixtures/x.frs:40"
    assert attribute.frs_line(p, 1) == ""


class C:
    name = "frc"


def test_baseline_fails_on_any_changed_allocating_count(tmp_path):
    base = tmp_path / "b.json"
    base.write_text(json.dumps({"compiler": "frc", "fixtures": {"f": {"O0": {
        "construct": [4, 2], "steps": [[4, 4], [1, 1]]}}}}))
    found = []
    gate.check_baseline([meas((4, 2), [(4, 4), (1, 1)])], base, C, found)
    assert found == []
    gate.check_baseline([meas((4, 2), [(5, 4), (1, 1)])], base, C, found)
    assert len(found) == 1 and found[0].failure and "regression" in found[0].message


def test_zero_rule_fails_every_nonzero_no_alloc_window():
    m = meas((0, 0), [(0, 0), (0, 1)], mode="noalloc")
    found = []
    gate.check_zero([m], found)
    assert len(found) == 1 and "step 2" in found[0].message and "1 free(s)" in found[0].message


def test_write_atomic_leaves_old_file_when_writing_fails(tmp_path, monkeypatch):
    p = tmp_path / "report.json"
    p.write_text("old")

    def boom(self, *a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(type(p), "write_text", boom)
    with pytest.raises(OSError):
        report.write_atomic(p, "new")
    monkeypatch.undo()
    assert p.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["report.json"]


def test_steady_cycle_that_does_not_close_is_flagged():
    class Sc:
        steady_from, steady_to, path = 0, 0, "x.toml"
        steps = [type("S", (), {"call": "connect()"})()]

    class Fx:
        name, scenario = "f", Sc

    m = meas((4, 2), [(4, 4)])
    m.steady = [StepSummary(step=0, n=10, allocs_sum=10, allocs_max=1)]     # 1 per replay, 4 first
    found = []
    gate.check_steady([Fx], [m], found)
    assert len(found) == 1 and "does not return the system" in found[0].message
    m.steady = [StepSummary(step=0, n=10, allocs_sum=30, allocs_max=3)]     # first-time growth: 4 then 3
    found = []
    gate.check_steady([Fx], [m], found)
    assert found == []


def test_a_bundle_log_is_split_per_fixture_and_names_per_module():
    log = ("**7** FAA-FIXTURE fx_a__\n**7** FAA-OPEN step 0\n--7-- malloc(8) = 0x1\n**7** FAA-CLOSE\n"
           "**7** FAA-FIXTURE fx_b__\n**7** FAA-OPEN step 0\n**7** FAA-CLOSE\n")
    parts = valgrind.split_fixtures(log)
    assert set(parts) == {"fx_a__", "fx_b__"}
    assert [(w["step"], w["allocs"]) for w in valgrind.parse_trace(parts["fx_a__"])] == [(0, 1)]
    assert [(w["step"], w["allocs"]) for w in valgrind.parse_trace(parts["fx_b__"])] == [(0, 0)]
    names = {"c::fx_a::fx_module::Sys::_s_Idle_go", "c::fx_b::fx_module::Sys::_s_Idle_go", "main"}
    assert coverage.own_names(names, "fx_a__") == {"c::fx_a::fx_module::Sys::_s_Idle_go"}
    assert coverage.own_names(names, "fx_") == names          # a one-fixture library: all of them


def test_the_shim_build_takes_the_api_the_scenario_check_read(tmp_path, monkeypatch):
    """audit.check_scenarios reads and checks each module's API before any
    build; build.prepare uses that one instead of reading the module again
    (0.6 s of every run for the corpus), and reads it itself only when
    nobody did."""
    from conftest import ROOT
    from faa import audit, build, run, shim
    (fx,) = run.discover(ROOT / "fixtures", ["port_reset"])
    module = ROOT / "generated" / "port_reset" / "noalloc.rs"
    apis = audit.check_scenarios([(fx, module)])
    assert list(apis) == [str(module.resolve())]
    c = build.Compiled(fixture=fx, mode="noalloc", work=tmp_path, module=module,
                       api=apis[str(module.resolve())])
    reads = []
    real = shim.read_api
    monkeypatch.setattr(shim, "read_api", lambda *a, **k: reads.append(1) or real(*a, **k))
    o, member = build.prepare(c)
    assert member is not None and not o.errors and reads == []
    c.api = None
    o, member = build.prepare(c)
    assert member is not None and reads == [1]


DECODED = """Contents of the .debug_line section:

CU: ./gen/x.rs:
File name                            Line number    Starting address    View    Stmt
x.rs                                          12              0x10               x
x.rs                                           0              0x20
other.rs                                       5              0x28               x
x.rs                                           -              0x30
  x.rs                                         6              0x34
x.rs                                          13              0x38,
x.rs                                          14              0xzz
x.rs                                          15              0X40
x.rs                                          16              0x
./lib/y.rs:[++]
y.rs                                           9              0x30               x
"""


def test_decoded_line_rows_read_as_readelf_wrote_them():
    """all_rows (split per row, the pattern only for an odd address): every
    row readelf writes, and nothing from rows it does not."""
    assert coverage.all_rows(DECODED) == [
        (0x10, "./gen/x.rs", 12), (0x20, "./gen/x.rs", None), (0x28, "other.rs", 5),
        (0x30, "./gen/x.rs", None), (0x30, "./lib/y.rs", 9), (0x38, "./gen/x.rs", 13)]
    # an end of sequence sorts before the sequence starting at its address,
    # and a line read already is not read again
    rows = coverage.all_rows(DECODED)
    assert coverage.parse_decoded_files(DECODED, rows) == coverage.parse_decoded_files(DECODED) == {
        "./gen/x.rs": {12, 13}, "other.rs": {5}, "./lib/y.rs": {9}}


def test_addresses_within_spans_match_the_plain_search():
    import random
    rnd = random.Random(12)
    spans = [(lo, lo + rnd.randrange(0, 400)) for lo in (rnd.randrange(0, 100000) for _ in range(200))]
    spans += [(50, 60), (55, 70), (70, 80), (90, 90)]       # overlapping, touching, empty
    addrs = {rnd.randrange(0, 100000) for _ in range(20000)} | {49, 50, 69, 70, 79, 80, 90}
    assert coverage._within(addrs, spans) == [a for a in addrs if any(lo <= a < hi for lo, hi in spans)]


def test_xtree_trees_are_picked_by_event_and_nodes_read_as_written():
    from faa import xtree
    text = ("desc: x\nn1: 9 curB : currently\n n0: 9 0x1: a (a.rs:1)\n"
            "n2: 5 totBk : total\n n1: 5 0x2: b (b.rs:2)\n  n0: 5 0x3: c (c.rs:3)\n"
            "heap_tree=detailed\nn1: 4 totFdBk : freed\n n0: 4 0x4: d (d.rs:4)")
    got = list(xtree.trees(text, {"totBk", "totFdBk"}))
    assert got == [("totBk", [" n1: 5 0x2: b (b.rs:2)", "  n0: 5 0x3: c (c.rs:3)", "heap_tree=detailed"]),
                   ("totFdBk", [" n0: 4 0x4: d (d.rs:4)"])]
    assert xtree.node("  n0: 5 0x3: c (c.rs:3)") == (2, 0, 5, "0x3: c (c.rs:3)")
    for bad in ("heap_tree=detailed", " n: 5 x", " n1: x y", " n1:5 x", " m1: 5 x", " n1: 5"):
        assert xtree.node(bad) is None, bad


def test_cu_blocks_keep_the_units_that_name_a_module_and_lose_no_line_of_it():
    table = ("Contents of the .debug_line section:\n\n"
             "CU: /rustc/abc/library/core/src/slice/index.rs:\n"
             "File name  Line number  Starting address\n"
             "index.rs          10          0x100               x\n"
             "./fx/gen/m.rs:\n"
             "m.rs              12          0x110               x\n"
             "m.rs               -          0x120\n\n"
             "CU: library/core/src/str/mod.rs:\n"
             "mod.rs            40          0x200               x\n"
             "mod.rs             -          0x300\n")
    kept = coverage.cu_blocks(table, {"m.rs"})
    assert "index.rs" in kept and "library/core/src/str/mod.rs" not in kept
    full, cut = coverage.all_rows(table), coverage.all_rows(kept)
    assert [r for r in full if r[1].endswith("m.rs")] == [r for r in cut if r[1].endswith("m.rs")]
    for rows in (full, cut):              # an address in a dropped unit reads no line of m.rs
        mine = coverage.rows_for(rows, "/x/fx/gen/m.rs")
        addrs = [a for a, _ in mine]
        assert coverage._line_at(mine, addrs, 0x114) == 12
        assert coverage._line_at(mine, addrs, 0x250) is None
    assert coverage.cu_blocks(table, {"nothing.rs"}).strip() == "Contents of the .debug_line section:"


def test_xtree_trees_naming_nothing_asked_for_come_empty():
    from faa import xtree
    text = "n1: 5 totBk : t\n n0: 5 0x2: b (b.rs:2)\nn1: 4 totFdBk : f\n n0: 4 0x4: d (m.rs:4)\n"
    assert list(xtree.trees(text, {"totBk", "totFdBk"}, naming=["m.rs"])) == [
        ("totFdBk", [" n0: 4 0x4: d (m.rs:4)"])]


def test_c_coverage_profiles_are_cached_by_the_librarys_build_stamp(tmp_path, monkeypatch):
    """ccoverage.profile: one Callgrind run per library build; a run over
    more of its fixtures serves fewer; a rebuilt library, more fixtures or
    reuse=False run Callgrind again."""
    from faa import ccoverage
    lib, runner = tmp_path / "libfxc.so", tmp_path / "faa-run"
    for p, key in ((lib, "build 1"), (runner, "runner 1")):
        p.write_bytes(b"\x7fELF")
        Path(str(p) + ".key").write_text(key)
    runs = []

    def fake_callgrind(vg, run, lib_, prefixes, outdir):
        runs.append(sorted(prefixes))
        return "profile"
    monkeypatch.setattr(coverage, "callgrind", fake_callgrind)
    monkeypatch.setattr(coverage, "parse_profile_files", lambda text, lib_: ({"f"}, {"m.c": {3, 4}}, set()))
    monkeypatch.setattr(coverage, "parse_decoded_files", lambda text: {"m.c": {3, 4, 5}})
    monkeypatch.setattr(coverage, "decoded_lines", lambda lib_: "table")
    want = ({"f"}, {"m.c": {3, 4}}, {"m.c": {3, 4, 5}})
    assert ccoverage.profile("vg", runner, lib, {"fx_a__", "fx_b__"}, tmp_path) == want
    assert ccoverage.profile("vg", runner, lib, {"fx_a__"}, tmp_path) == want
    assert runs == [["fx_a__", "fx_b__"]]
    ccoverage.profile("vg", runner, lib, {"fx_a__", "fx_c__"}, tmp_path)         # a fixture not profiled
    ccoverage.profile("vg", runner, lib, {"fx_a__"}, tmp_path, reuse=False)
    Path(str(lib) + ".key").write_text("build 2")                                    # rebuilt
    ccoverage.profile("vg", runner, lib, {"fx_a__"}, tmp_path)
    assert len(runs) == 4
