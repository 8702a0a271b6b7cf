"""Every allocation site of a failing no_alloc window (issue 14): the
interposer's call-site table goes through the harness records into the
zero finding, grouped by .frs line and kind with counts.  A handler that
allocates on three lines names all three, not only the first."""
import json
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

from faa import attribute, gate
from faa.model import Measurement, Window

FRS = """\
// Several allocations from several lines of one handler (a volatile read
// keeps each at O3 too; std::hint::black_box would need rustc 1.66).
@@[target("rust")]
@@[no_alloc]
@@system Nest {
    interface:
        nest()
        rest()
    machine:
        $A {
            nest() {
                let a = unsafe { let x = std::boxed::Box::new(1u64); let r = std::ptr::read_volatile(&x); std::mem::forget(x); r };
                let b = unsafe { let x = std::boxed::Box::new(2u64); let r = std::ptr::read_volatile(&x); std::mem::forget(x); r };
                let c = unsafe { let x = std::vec![3u8; 4]; let r = std::ptr::read_volatile(&x); std::mem::forget(x); r };
                @@:self.n = @@:self.n + (*a as u32) + (*b as u32) + (c.len() as u32);
                -> $B
            }
        }
        $B {
            rest() { -> $A }
        }
    domain:
        n: u32 = 0
}
"""

TOML = """\
system = "Nest"
description = "three allocating lines in one handler"

[[step]]
call = "nest()"

[[step]]
call = "rest()"
"""


def line_of(needle):
    return next(i for i, t in enumerate(FRS.splitlines(), 1) if needle in t)


@pytest.fixture(scope="module")
def nest(build_dir, tmp_path_factory):
    """One audit of the nest fixture (both shapes, O0 and O3, Valgrind off)
    shared by the tests below: the finding reads its report, the site table
    its noalloc O0 records, which a run of noalloc O0 alone would write the
    same (one library's records do not depend on what else the run builds)."""
    tmp = tmp_path_factory.mktemp("sites-all")
    fixtures = tmp / "fixtures"
    fixtures.mkdir()
    (fixtures / "nest.frs").write_text(FRS)
    (fixtures / "nest.toml").write_text(TOML)
    r = subprocess.run([str(ROOT / "scripts" / "audit"), "--build-dir", str(build_dir),
                        "--fixtures-dir", str(fixtures), "run", "--valgrind", "off", "--no-rejects",
                        "--work-dir", str(tmp / "w"), "--report-dir", str(tmp / "r")],
                       capture_output=True, text=True, timeout=900)
    return r, json.loads((tmp / "r" / "report.json").read_text()), tmp / "w"


def test_a_failing_window_names_every_allocating_line_with_its_count(nest):
    r, rep, _ = nest
    assert r.returncode == 1, r.stdout + r.stderr
    zero = [f for f in rep["findings"] if f["rule"] == "zero" and "step 1 nest()" in f["message"]]
    assert {f["opt"] for f in zero} == {0, 3}, zero
    for f in zero:
        msg = f["message"]
        assert f["frs"] == f"fixtures/nest.frs:{line_of('Box::new(1u64)')}", msg
        assert "; every call site: " in msg, msg
        for needle in ("Box::new(1u64)", "Box::new(2u64)", "vec![3u8; 4]"):
            assert f"1 × fixtures/nest.frs:{line_of(needle)} $A.nest (malloc)" in msg, msg
        # the three drops: one site or several, three calls in all
        frees = [p for p in msg.split("every call site: ")[1].split(", ") if "(free)" in p]
        assert sum(int(p.split(" × ")[0]) for p in frees) == 3, msg
        assert "not recorded" not in msg, msg


def test_the_records_carry_the_site_table(nest):
    m = Measurement.read(nest[2] / "records" / "nest-noalloc-O0.jsonl", "nest", "noalloc", 0)
    step = m.steps[0]
    assert step.allocs == 3 and step.sites_lost == 0
    assert sum(s["calls"] for s in step.sites) == step.allocs + step.frees
    assert {s["kind"] for s in step.sites} == {"malloc", "free"}
    assert all(s["stack"] for s in step.sites)
    assert m.steps[1].sites == [] and m.steps[1].blocking == 0     # a zero window has no table


def cs(calls, kind, frs, what="handler $A.go"):
    return attribute.CallSite(calls, kind, ["lib.so+0x10"],
                              attribute.Site("f", "/x/m.rs", 3, frs=frs, what=what))


def test_sites_of_one_line_and_kind_are_merged_and_the_busiest_come_first():
    groups = attribute.grouped([cs(1, "malloc", "fixtures/x.frs:12"), cs(2, "free", "fixtures/x.frs:12"),
                                cs(2, "malloc", "fixtures/x.frs:12"), cs(1, "malloc", "fixtures/x.frs:14")])
    assert attribute.sites_text(groups, lost=2) == (
        "3 × fixtures/x.frs:12 $A.go (malloc), 2 × fixtures/x.frs:12 $A.go (free), "
        "1 × fixtures/x.frs:14 $A.go (malloc), 2 call(s) whose site was not recorded")
    no_frs = attribute.CallSite(1, "malloc", ["a.so+0x1"], attribute.Site("g", "/x/m.rs", 9))
    assert no_frs.label() == "m.rs:9 in g"
    assert attribute.CallSite(1, "malloc", ["a.so+0x1"]).label() == "a.so+0x1 (no generated-source line)"


def test_the_zero_rule_lists_only_memory_sites_and_skips_a_blocking_first_call():
    w = Window(phase="step", step=0, label="go()", allocs=1, frees=0, blocking=1,
               calls={"malloc": 1, "futex": 1}, first_kind="futex", tid=7, thread="own",
               stack=["?+0x1"], sites=[{"calls": 1, "kind": "futex", "stack": ["?+0x1"]},
                                       {"calls": 1, "kind": "malloc", "stack": ["?+0x2"]}])
    m = Measurement(fixture="x", mode="noalloc", opt=0, steps=[w])
    found = []
    gate.check_zero([m], found)
    (f,) = found
    assert "[malloc 1], expected 0; first call from ?+0x2" in f.message, f.message
    assert "every call site: 1 × ?+0x2 (no generated-source line) (malloc)" in f.message
    assert "futex" not in f.message


def test_a_site_without_a_frs_line_keeps_the_handler_its_name_gives():
    """framec's output has no .frs line; clocate/coverage name the handler
    from the function (`DoorLock_s_Locked_hdl_user_unlock`): the finding
    keeps it instead of the bare generated line."""
    s = attribute.Site("DoorLock_s_Locked_hdl_user_unlock", "/x/door_lock.c", 41,
                       what="handler $Locked.unlock")
    assert str(s) == "/x/door_lock.c:41 in DoorLock_s_Locked_hdl_user_unlock (handler $Locked.unlock)"
    assert str(attribute.Site("g", "/x/m.rs", 9)) == "/x/m.rs:9 in g"
    assert attribute.CallSite(2, "malloc", ["a.so+0x1"], s).label() == \
        "door_lock.c:41 in DoorLock_s_Locked_hdl_user_unlock (handler $Locked.unlock)"
    framed = attribute.Site("f", "/x/m.rs", 3, frs="fixtures/x.frs:12", what="handler $A.go")
    assert str(framed) == "/x/m.rs:3 in f (from fixtures/x.frs:12, handler $A.go)"


def test_addr2line_runs_once_per_library_offset_until_the_library_changes(tmp_path, monkeypatch):
    """The gate symbolises the same stacks window after window: an offset
    of a library is resolved once (one addr2line run for all the new ones
    of a stack), again only when the library on disk changes."""
    import os
    lib = tmp_path / "libfx.so"
    lib.write_bytes(b"\x7fELF")
    runs = []

    def fake(addr2line, path, offs):
        runs.append(list(offs))
        return {o: [(f"f{o:x}", "m.rs", o)] for o in offs}
    monkeypatch.setattr(attribute, "_addr2line", fake)
    monkeypatch.setattr(attribute.shutil, "which", lambda name: "/usr/bin/addr2line")
    monkeypatch.setattr(attribute, "_SYMBOLS", {})
    stack = [f"{lib}+0x10", f"{lib}+0x20"]
    first = attribute.symbolise(stack)
    assert first == [(stack[0], [("f10", "m.rs", 16)]), (stack[1], [("f20", "m.rs", 32)])]
    assert attribute.symbolise(stack) == first and runs == [[0x10, 0x20]]
    attribute.symbolise([f"{lib}+0x20", f"{lib}+0x30"])
    assert runs == [[0x10, 0x20], [0x30]]               # only the new offset
    st = lib.stat()
    os.utime(lib, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))    # rebuilt
    attribute.symbolise(stack)
    assert runs[-1] == [0x10, 0x20]


def test_prefetch_resolves_each_library_in_one_run_before_the_gate_symbolises(tmp_path, monkeypatch):
    """attribute.prefetch (the zero and nonblocking rules call it over every
    window they will attribute): one addr2line run per library for all the
    stacks' offsets (in chunks on a long list), after which symbolising
    any of those stacks starts none."""
    libs = [tmp_path / "liba.so", tmp_path / "libb.so"]
    for lib in libs:
        lib.write_bytes(b"\x7fELF")
    runs = []

    def fake(addr2line, path, offs):
        runs.append((Path(path).name, list(offs)))
        return {o: [(f"f{o:x}", "m.rs", o)] for o in offs}
    monkeypatch.setattr(attribute, "_addr2line", fake)
    monkeypatch.setattr(attribute.shutil, "which", lambda name: "/usr/bin/addr2line")
    monkeypatch.setattr(attribute, "_SYMBOLS", {})
    stacks = [[f"{libs[0]}+0x{o:x}" for o in (0x10, 0x20)], [f"{libs[1]}+0x30", f"{libs[0]}+0x40"],
              [f"{libs[0]}+0x10", "/nonexistent/libc.so+0x5"]]
    attribute.prefetch(stacks)
    assert sorted(runs) == [("liba.so", [0x10, 0x20, 0x40]), ("libb.so", [0x30])]
    for st in stacks:
        attribute.symbolise(st)
    assert len(runs) == 2
    runs.clear()
    monkeypatch.setattr(attribute, "_SYMBOLS", {})
    attribute._resolve("/usr/bin/addr2line", str(libs[0]), list(range(1, 5)), chunk=3)
    assert runs == [("liba.so", [1, 2, 3]), ("liba.so", [4])]


def test_the_zero_rule_prefetches_every_stack_it_will_attribute(monkeypatch):
    asked = []
    monkeypatch.setattr(attribute, "prefetch", lambda stacks: asked.extend(list(stacks)))
    hit = Window(phase="step", step=0, label="go()", allocs=1, frees=0, calls={"malloc": 1},
                 first_kind="malloc", stack=["a.so+0x1"], sites=[{"calls": 1, "kind": "malloc",
                                                                  "stack": ["a.so+0x2"]}])
    clean = Window(phase="step", step=1, label="go()", allocs=0, frees=0, stack=["a.so+0x9"])
    m = Measurement(fixture="x", mode="noalloc", opt=0, steps=[hit, clean])
    found = []
    gate.check_zero([m], found)
    assert len(found) == 1 and ["a.so+0x1"] in asked and ["a.so+0x2"] in asked
    assert ["a.so+0x9"] not in asked
