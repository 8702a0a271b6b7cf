"""The C build (faa/cbuild.py): the shims of a shape x opt-level linked into
one bundle library whose only global symbols are each fixture's ABI, two
fixtures of the same system side by side, caching by content, and a
fixture gcc rejects failing alone."""

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

from faa import build, cbuild, run, scenario

DATA = Path(__file__).resolve().parent / "data" / "c"
HOOK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
NOP = HOOK(lambda ctx: None)

pytestmark = pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("objcopy")),
                                reason="gcc and binutils needed")


def compiled(tmp_path, names, modes=("alloc", "noalloc"), text=None):
    """{(name, mode): build.Compiled} of the hand-written PortReset under `names`."""
    scen = scenario.load(DATA / "port_reset.toml")
    out = {}
    for name in names:
        fx = run.Fixture(name=name, frs=None, toml=DATA / "port_reset.toml", scenario=scen, target="c")
        for mode in modes:
            work = tmp_path / "work" / name
            mod = work / "gen" / mode / "port_reset.c"
            mod.parent.mkdir(parents=True, exist_ok=True)
            src = (DATA / f"port_reset_{mode}.c").read_text()
            mod.write_text(text(name, mode, src) if text else src)
            out[(name, mode)] = build.Compiled(fixture=fx, mode=mode, work=work, module=mod)
    return out


def test_two_fixtures_of_one_system_share_a_bundle_and_keep_apart(tmp_path):
    results = build.Outcomes()
    crates = cbuild.build_libraries(compiled(tmp_path, ["one.c", "two.c"]), results, build.Outcome,
                                    jobs=2, opts=(0, 3))
    assert len(crates) == 4 and all(c.lib for c in crates)       # 2 shapes x 2 opt-levels
    for (name, mode), o in results.items():
        assert not o.errors and o.target == "c"
        assert set(o.libs) == {0, 3}
        assert o.nostd == ("ok" if mode == "noalloc" else "n/a")
    one, two = results[("one.c", "alloc")], results[("two.c", "alloc")]
    assert one.libs[3] == two.libs[3] and one.prefix != two.prefix
    lib = one.libs[3]
    dyn = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True).stdout
    glob = sorted(ln.split()[-1] for ln in dyn.splitlines() if ln.split()[1] == "T")
    assert len(glob) == 28 and all(n.startswith(("fx_one_c_", "fx_two_c_")) for n in glob), glob
    assert "PortReset_create" not in dyn
    # both systems live: each fixture's construct and dispatch reach its own module
    so = ctypes.CDLL(str(lib))
    for o in (one, two):
        assert getattr(so, o.prefix + "construct")(NOP, NOP, None) == 0
    assert getattr(so, one.prefix + "dispatch")(0, NOP, NOP, None) == 0    # connect()
    assert getattr(so, one.prefix + "dispatch")(1, NOP, NOP, None) == 0    # timeout()
    buf = ctypes.create_string_buffer(64)
    getattr(so, two.prefix + "observe")(0, buf, 64, NOP, NOP, None)
    assert buf.value == b"ret=()\x1fresets=1"           # two's first connect()
    getattr(so, one.prefix + "observe")(0, buf, 64, NOP, NOP, None)
    assert buf.value == b"ret=()\x1fresets=2"           # one's second, in its own system


def test_a_second_build_is_cached_and_an_edit_rebuilds_its_objects(tmp_path):
    c = compiled(tmp_path, ["one.c"])
    first = cbuild.build_libraries(c, build.Outcomes(), build.Outcome, opts=(0,))
    again = cbuild.build_libraries(c, build.Outcomes(), build.Outcome, opts=(0,))
    assert not any(x.cached for x in first) and all(x.cached for x in again)
    mod = c[("one.c", "alloc")].module
    mod.write_text(mod.read_text() + "\n/* edited */\n")
    third = cbuild.build_libraries(c, build.Outcomes(), build.Outcome, opts=(0,))
    assert {x.mode: x.cached for x in third} == {"alloc": False, "noalloc": True}


def test_a_module_gcc_rejects_fails_alone(tmp_path):
    def broken(name, mode, src):
        return src.replace("self->resets = 0;", "self->resets = ;") if name == "bad.c" else src
    results = build.Outcomes()
    cbuild.build_libraries(compiled(tmp_path, ["bad.c", "good.c"], modes=("alloc",), text=broken),
                           results, build.Outcome, opts=(0,))
    bad, good = results[("bad.c", "alloc")], results[("good.c", "alloc")]
    assert not bad.libs and any("expected expression" in e for e in bad.errors)
    assert good.libs and not good.errors


def test_a_module_that_is_not_the_expected_shape_is_a_build_error(tmp_path):
    c = compiled(tmp_path, ["x.c"], modes=("noalloc",))
    c[("x.c", "noalloc")].module.write_text((DATA / "port_reset_alloc.c").read_text())
    results = build.Outcomes()
    cbuild.build_libraries(c, results, build.Outcome, opts=(0,))
    assert any("the alloc shape" in e for e in results[("x.c", "noalloc")].errors)


def test_c_reject_fixtures_are_compiled_with_l_c_and_named_apart(tmp_path):
    from faa import gate
    rej = tmp_path / "fixtures" / "reject"
    (rej / "c").mkdir(parents=True)
    for d in (rej, rej / "c"):
        (d / "heap.frs").write_text("// expect: E999\n@@system Heap { }\n")
    compiler = build.Compiler(path=str(DATA / "fake_frc_c"), name="fakec", version="0.1", bundled=True)
    out = build.compile_rejects(compiler, tmp_path / "fixtures", tmp_path / "out")
    assert [(f.relative_to(rej).as_posix(), code) for f, code, _ in out] == [("heap.frs", 65), ("c/heap.frs", 65)]
    assert "no rust alloc module" in out[0][2] and "no c alloc module" in out[1][2]
    findings = []
    res = gate.check_reject(out, True, findings)
    assert [r["fixture"] for r in res] == ["heap", "c/heap"] and all(r["ok"] for r in res), findings
