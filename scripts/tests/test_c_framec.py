"""`audit run --generated x.c` on C in the shape of framec's C output
(data/framec_c/door_lock.c, written by hand in that shape: framec's runtime
objects prefixed with the system's name, DoorLock_new / DoorLock_create /
DoorLock_destroy, `RET DoorLock_EVENT(DoorLock* self, ...)`, handlers
DoorLock_s_STATE_hdl_user_EVENT called from DoorLock_state_STATE, no #line):
issue 16's per-construct counts for framec's C, framec's `_create` leak seen
by memcheck, coverage and attribution by framec's names, and exit 2 with a
clear message for a module the C shim cannot read or whose runtime is not
in it."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
DATA = Path(__file__).resolve().parent / "data" / "framec_c"
MODULE = DATA / "door_lock.c"
SCENARIO = DATA / "door_lock.toml"
AUDIT = ROOT / "scripts" / "audit"

from faa import ccoverage, clocate, cshim, scenario  # noqa: E402
from faa.errors import UsageError  # noqa: E402

gcc_only = pytest.mark.skipif(not shutil.which("gcc"), reason="gcc not installed")
valgrind_only = pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind not installed")


def audit(build_dir, tmp_path, module, *extra, mode="alloc", scen=SCENARIO):
    r = subprocess.run([str(AUDIT), "--build-dir", str(build_dir), "run", "--generated", str(module),
                        "--scenario", str(scen), "--mode", mode, "--work-dir", str(tmp_path / "w"),
                        "--report-dir", str(tmp_path / "r"), *extra],
                       capture_output=True, text=True, timeout=900)
    rep = tmp_path / "r" / "report.json"
    return r, (json.loads(rep.read_text()) if rep.exists() and r.returncode in (0, 1) else None)


def counts(rep):
    """{opt: [construct, step 1, ...]} allocations of the allocating shape."""
    return {run["opt"]: [run["construct"]["allocs"]] + [s["allocs"] for s in run["steps"]]
            for run in rep["fixtures"][0]["runs"]}


def test_the_api_reader_reads_framec_shape():
    api = cshim.read_api(MODULE.read_text(), "DoorLock", str(MODULE))
    assert (api.shape, api.ctor, api.ctor_params) == ("alloc", "create", [])
    assert api.fields == ["secret", "failures", "knocks", "locks"]     # _state_stack, __compartment: machinery
    assert [(p, api.methods[p].ret, api.methods[p].params) for p in ("unlock", "get_failures")] == \
        [("unlock", "void", [("int", "code")]), ("get_failures", "int", [])]
    assert "new" not in api.methods and "s_Locked_hdl_user_knock" not in api.methods    # static


def test_older_framec_c_without_create_is_built_by_new():
    text = MODULE.read_text()
    start = text.index("DoorLock* DoorLock_create(void) {")
    older = text[:start] + text[text.rindex("static int DoorLock_hsm_chain(DoorLock* self, const"):]
    api = cshim.read_api(older, "DoorLock")
    assert (api.shape, api.ctor) == ("alloc", "new")
    shim = cshim.generate(scenario.load(SCENARIO), api, MODULE, "alloc")
    assert "DoorLock_new();" in shim and "DoorLock_create" not in shim


def test_framec_handlers_are_named_by_attribution_and_coverage():
    mm = clocate.CModuleMap(MODULE)
    site = clocate.locate([("DoorLock_FrameDict_new", "door_lock.c", 49),
                           ("DoorLock_FrameContext_new", "door_lock.c", 140),
                           ("DoorLock_s_Locked_hdl_user_unlock", "door_lock.c", 431)], MODULE)
    assert (site.function, site.frs, site.what) == ("DoorLock_FrameDict_new", "", "handler $Locked.unlock")
    site = clocate.locate([("DoorLock_FrameVec_new", "door_lock.c", 76), ("DoorLock_new", "door_lock.c", 230),
                           ("DoorLock_create", "door_lock.c", 244)], MODULE)
    assert site.what == "system DoorLock"
    hs, why = ccoverage.framec_handlers(mm)
    assert why == "" and sorted((st, ev) for st, ev, _ in hs.values()) == [
        ("Locked", "$>"), ("Locked", "get_failures"), ("Locked", "knock"), ("Locked", "unlock"),
        ("Unlocked", "lock")]


def _unreadable(tmp_path):
    """(name, module text, the message's telling part) of modules the audit must refuse with exit 2."""
    text = MODULE.read_text()
    runtime_gone = text.replace(text[text.index("static void DoorLock_transition(DoorLock* self, "
                                                "DoorLock_Compartment* next) {"):
                                     text.index("void DoorLock_destroy(DoorLock* self) {")], "")
    return [
        ("cxx", "#include <string>\nclass DoorLock {\n public:\n  void lock();\n};\n", "looks like C++"),
        ("nul", text.replace("struct DoorLock {", "struct DoorLock\0 {"), "NUL bytes"),
        ("nostruct", text.replace("struct DoorLock {", "struct DoorLockState {"),
         "no `struct DoorLock { ... }`"),
        ("noctor", text.replace("DoorLock_create(void)", "DoorLock_make(void)")
         .replace("DoorLock* DoorLock_new(void)", "DoorLock* DoorLock_fresh(void)"),
         "neither `DoorLock_create()` / `DoorLock_new()`"),
        ("brace", text + "\nstatic void DoorLock_dangling(void) {\n", "is never closed"),
        ("header", '#include "door_lock_runtime.h"\n' + text, "door_lock_runtime.h is not next to the module"),
        ("runtime", runtime_gone, "declares `DoorLock_transition` but does not define it"),
    ]


@gcc_only
def test_a_module_the_shim_cannot_read_is_exit_2_with_what_is_wrong(build_dir, tmp_path):
    for name, text, telling in _unreadable(tmp_path):
        bad = tmp_path / name / "door_lock.c"
        bad.parent.mkdir()
        bad.write_bytes(text.encode())
        r, _ = audit(build_dir, tmp_path / name, bad, "--valgrind", "off", "--opt", "0")
        out = r.stdout + r.stderr
        assert r.returncode == 2 and telling in out, (name, out[-2000:])
        assert "Traceback" not in out and not re.search(r"\d+:\d+: (fatal )?error", out), (name, out[-2000:])


@gcc_only
def test_a_runtime_header_next_to_the_module_is_used(build_dir, tmp_path):
    text = MODULE.read_text()
    cut = text.index("// ---- DoorLock_FrameDict")
    end = text.index("#define DoorLock_CTX(self)")
    (tmp_path / "door_lock_runtime.h").write_text(text[cut:end])
    mod = tmp_path / "door_lock.c"
    mod.write_text(text[:cut] + '#include "door_lock_runtime.h"\n\n' + text[end:])
    r, rep = audit(build_dir, tmp_path, mod, "--valgrind", "off", "--opt", "0")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert counts(rep)[0] == [45, 18, 4, 7, 4, 21, 4]


@gcc_only
def test_framec_counts_per_construct(build_dir, tmp_path):
    r, rep = audit(build_dir, tmp_path, MODULE, "--valgrind", "off")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    fx = rep["fixtures"][0]
    assert (fx["name"], fx["target"]) == ("door_lock", "c")
    # _create 45, a transition 18, a call 4, a call with parameters 7, a value 4, parameters + transition 21
    assert counts(rep) == {0: [45, 18, 4, 7, 4, 21, 4], 3: [45, 18, 4, 7, 4, 21, 4]}


@gcc_only
@valgrind_only
def test_valgrind_sees_framecs_create_leak_and_coverage_goes_by_handler(build_dir, tmp_path):
    r, rep = audit(build_dir, tmp_path, MODULE, "--valgrind", "on", "--opt", "0")
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-2000:]
    failing = [f for f in rep["findings"] if f["failure"]]
    assert {f["rule"] for f in failing} == {"memcheck"}, failing     # _create overwrites what _new built
    assert re.search(r"\d+ bytes definitely and \d+ indirectly lost", failing[0]["message"])
    cov = rep["fixtures"][0]["coverage"]
    assert cov, rep["unchecked"]
    assert all(v == {"alloc": True} for v in cov["cells"].values()) and len(cov["cells"]) == 5
    assert any("coverage by handler only" in f["message"] for f in rep["findings"] if not f["failure"])
    assert "coverage" not in (rep.get("unchecked") or {})


@gcc_only
@valgrind_only
def test_handlers_not_recognised_leave_coverage_unchecked_and_strict_fails(build_dir, tmp_path):
    text = MODULE.read_text()
    inline = text.replace("        DoorLock_s_Locked_hdl_user_knock(self, __e, compartment);\n",
                          "        self->knocks = self->knocks + 1;\n")
    mod = tmp_path / "door_lock.c"
    mod.write_text(inline)
    r, rep = audit(build_dir, tmp_path, mod, "--valgrind", "on", "--opt", "0", "--strict")
    assert r.returncode == 1
    notes = [f["message"] for f in rep["findings"] if f["rule"] == "coverage"]
    assert any("coverage not checked" in n and "`DoorLock_state_Locked` handles an event without" in n
               for n in notes), notes
    assert "coverage" in rep["unchecked"] and "strict" in {f["rule"] for f in rep["findings"] if f["failure"]}
