"""The C shim (faa/cshim.py + templates/shim.c.tmpl): what it reads from a
generated C module, and the fixture ABI it exports, called here through
ctypes: the window hooks around exactly the call, observe's text equal to
the Rust shim's (Rust's Debug formatting), construct/dispatch/destroy of
both shapes."""

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

from faa import cshim, scenario
from faa.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "c"
HOOK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

pytestmark = pytest.mark.skipif(not shutil.which("gcc"), reason="gcc not installed")


def api_of(name, system):
    return cshim.read_api((DATA / name).read_text(), system, where=name)


def build(tmp_path, module, toml, mode, prefix="fx_t__", opt=0):
    """The shim of `module` compiled into a library of its own; (ctypes lib, scenario)."""
    scen = scenario.load(DATA / toml)
    api = cshim.read_api((DATA / module).read_text(), scen.system, where=module)
    cshim.check_steps(api, scen, mode)
    src = tmp_path / f"shim_{mode}.c"
    src.write_text(cshim.generate(scen, api, (DATA / module).resolve(), mode, prefix))
    lib = tmp_path / f"lib_{mode}.so"
    r = subprocess.run(["gcc", "-std=gnu11", f"-O{opt}", "-g", "-fPIC", "-shared", "-Wall",
                        "-Werror", "-I", str(ROOT / "harness"), "-o", str(lib), str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return ctypes.CDLL(str(lib)), scen


class Hooks:
    """open/close hooks that record the order of events."""

    def __init__(self):
        self.log = []
        self.open = HOOK(lambda ctx: self.log.append("open"))
        self.close = HOOK(lambda ctx: self.log.append("close"))


def observe(lib, prefix, i, hooks):
    fn = getattr(lib, prefix + "observe")
    fn.restype = ctypes.c_int64
    buf = ctypes.create_string_buffer(512)
    n = fn(ctypes.c_uint32(i), buf, ctypes.c_size_t(512), hooks.open, hooks.close, None)
    assert n == len(buf.value), (n, buf.value)
    return buf.value.decode()


def test_read_api_finds_both_shapes_of_port_reset():
    a = api_of("port_reset_alloc.c", "PortReset")
    n = api_of("port_reset_noalloc.c", "PortReset")
    assert (a.shape, n.shape) == ("alloc", "noalloc")
    assert sorted(a.methods) == sorted(n.methods) == ["connect", "reset_done", "timeout"]
    assert a.fields == n.fields == ["resets"]          # `_`-members are the machinery's
    assert [m.name for m in n.members][:2] == ["resets", "__state"]


def test_read_api_reads_types_declarators_typedefs_and_skips_what_it_cannot_print():
    api = api_of("values_noalloc.c", "Values")
    types = {m.name: (m.ctype, m.array) for m in api.members}
    assert types["tiny"] == ("uint8_t", "")              # `uint8_t small, tiny;`
    assert types["arr"] == ("uint16_t", "[3]")
    assert "_inner" not in types                         # a nested struct member
    assert api.kinds["word_t"] == "u" and api.kinds["Values_Kind"] == "s"
    assert api.methods["poke"].params == [("uint16_t", "a"), ("word_t", "b")]
    assert api.methods["ratio"].ret == "double"
    assert "_clamp" not in api.methods and "init" not in api.methods   # static; lifecycle
    assert "_private" not in api.fields and "__stack_overflows" not in api.fields


def test_read_api_rejects_a_module_without_the_system_or_its_lifecycle():
    text = (DATA / "port_reset_noalloc.c").read_text()
    with pytest.raises(UsageError, match="no `struct Nope"):
        cshim.read_api(text, "Nope")
    with pytest.raises(UsageError, match="neither `PortReset_create"):
        cshim.read_api(text.replace("PortReset_init", "PortReset_start"), "PortReset")
    with pytest.raises(UsageError, match="no `PortReset_deinit"):
        cshim.read_api(text.replace("PortReset_deinit", "PortReset_stop"), "PortReset")


def test_check_steps_names_a_wrong_shape_method_arity_and_member():
    scen = scenario.load(DATA / "port_reset.toml")
    api = api_of("port_reset_noalloc.c", "PortReset")
    cshim.check_steps(api, scen, "noalloc")
    with pytest.raises(UsageError, match="noalloc shape .* expected the alloc shape"):
        cshim.check_steps(api, scen, "alloc")
    del api.methods["timeout"]
    with pytest.raises(UsageError, match="`timeout` is not an interface method"):
        cshim.check_steps(api, scen)
    api = api_of("port_reset_noalloc.c", "PortReset")
    api.members = [m for m in api.members if m.name != "resets"]
    with pytest.raises(UsageError, match="`resets` is not a member"):
        cshim.check_steps(api, scen)


def test_rust_spelled_arguments_become_c():
    assert cshim.c_arg("5u8") == "5"
    assert cshim.c_arg("1_000_000i64") == "1000000"
    assert cshim.c_arg("0xFF_FFu16") == "0xFFFF"
    assert cshim.c_arg("0b101") == "5"
    assert cshim.c_arg("-3") == "-3"
    assert cshim.c_arg("KEY_OK") == "KEY_OK"
    assert cshim.c_arg("b'a'") == "'a'"
    assert cshim.c_arg('String::from("a,b")') == '"a,b"'
    assert cshim.c_arg('"x".to_string()') == '"x"'
    assert cshim.c_arg("1.5e-5") == "1.5e-5"


@pytest.mark.parametrize("opt", [0, 3])
def test_observe_prints_rust_debug_text_for_every_type(tmp_path, opt):
    lib, scen = build(tmp_path, "values_noalloc.c", "values.toml", "noalloc", opt=opt)
    h = Hooks()
    assert lib.fx_t__construct(h.open, h.close, None) == 0
    for i, step in enumerate(scen.steps):
        text = observe(lib, "fx_t__", i, h)
        fields = dict(kv.split("=", 1) for kv in text.split("\x1f"))
        if step.returns is not None:
            assert fields["ret"] == step.returns, (step.call, text)
        for k, v in step.domain.items():
            assert fields[k] == v, (step.call, k, text)
        # the domain fields in declaration order, the `_` one the scenario names
        assert list(fields) == ["ret", "total", "small", "tiny", "flag", "ratio", "half", "neg",
                                "arr", "word", "kind", "big", "__stack_overflows"]
    assert h.log == ["open", "close"] * (len(scen.steps) + 1)


def test_observe_truncates_but_returns_the_full_length(tmp_path):
    lib, _ = build(tmp_path, "port_reset_noalloc.c", "port_reset.toml", "noalloc")
    h = Hooks()
    lib.fx_t__construct(h.open, h.close, None)
    lib.fx_t__observe.restype = ctypes.c_int64
    buf = ctypes.create_string_buffer(8)
    n = lib.fx_t__observe(ctypes.c_uint32(0), buf, ctypes.c_size_t(8), h.open, h.close, None)
    assert buf.value == b"ret=()\x1f"                  # 7 bytes and the NUL
    assert n == len("ret=()\x1fresets=1")


def test_the_abi_of_both_shapes(tmp_path):
    for mode in ("alloc", "noalloc"):
        lib, scen = build(tmp_path, f"port_reset_{mode}.c", "port_reset.toml", mode)
        lib.fx_t__mode.restype = lib.fx_t__system_name.restype = ctypes.c_char_p
        lib.fx_t__step_label.restype = ctypes.c_char_p
        lib.fx_t__size_of.restype = ctypes.c_size_t
        assert lib.fx_t__abi_version() == 2
        assert lib.fx_t__mode() == mode.encode() and lib.fx_t__system_name() == b"PortReset"
        assert lib.fx_t__step_count() == 6 and lib.fx_t__step_label(4) == b"reset_done()"
        assert lib.fx_t__step_label(99) == b"?"
        assert (lib.fx_t__steady_from(), lib.fx_t__steady_to(), lib.fx_t__steady_repeat()) == (0, 1, 200)
        a, f = ctypes.c_int64(), ctypes.c_int64()
        lib.fx_t__expect(-1, ctypes.byref(a), ctypes.byref(f))
        assert (a.value, f.value) == (5, 1)
        lib.fx_t__expect(1, ctypes.byref(a), ctypes.byref(f))
        assert (a.value, f.value) == (9, -1)            # no `frees` in step 2
        assert lib.fx_t__size_of() > 0
        h = Hooks()
        assert lib.fx_t__dispatch(0, h.open, h.close, None) == -1      # nothing constructed
        assert lib.fx_t__construct(h.open, h.close, None) == 0
        assert [lib.fx_t__dispatch(i, h.open, h.close, None) for i in range(6)] == [0] * 6
        assert lib.fx_t__dispatch(6, h.open, h.close, None) == -1
        assert h.log == ["open", "close"] * 7
        lib.fx_t__destroy()
        lib.fx_t__destroy()                             # twice: nothing left to drop
        assert lib.fx_t__dispatch(0, h.open, h.close, None) == -1


def test_the_shim_exports_only_the_abi_when_built_as_the_audit_builds_it(tmp_path):
    """-fvisibility=hidden: the module's own public functions stay inside."""
    scen = scenario.load(DATA / "port_reset.toml")
    api = api_of("port_reset_alloc.c", "PortReset")
    src = tmp_path / "s.c"
    src.write_text(cshim.generate(scen, api, (DATA / "port_reset_alloc.c").resolve(), "alloc", "fx_a__"))
    lib = tmp_path / "libs.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-fvisibility=hidden", "-I", str(ROOT / "harness"),
                    "-o", str(lib), str(src)], check=True)
    dyn = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True).stdout
    names = {ln.split()[-1] for ln in dyn.splitlines() if ln.split()[1] in "TD"}
    assert names == {f"fx_a__{f}" for f in ("abi_version", "mode", "system_name", "step_count",
                                            "step_label", "steady_from", "steady_to", "steady_repeat",
                                            "expect", "construct", "dispatch", "observe", "destroy",
                                            "size_of")}


def test_c_strings_are_escaped():
    assert cshim.c_string('a"b\\c\n??=') == '"a\\"b\\\\c\\n\\?\\?="'


def test_constructor_arguments_reach_init_and_a_wrong_count_is_named(tmp_path):
    """[construct] args = [...] are passed to SYS_init after self (SYS_create's own)."""
    src = (DATA / "port_reset_noalloc.c").read_text()
    src = src.replace("void PortReset_init(PortReset *self)\n{\n    self->resets = 0;",
                      "void PortReset_init(PortReset *self, uint32_t start)\n{\n    self->resets = start;")
    mod = tmp_path / "port_reset.c"
    mod.write_text(src)
    toml = tmp_path / "port_reset.toml"
    toml.write_text((DATA / "port_reset.toml").read_text().replace(
        "[construct]\n", '[construct]\nargs = ["40u32"]\n').replace('resets = "1"', 'resets = "41"'))
    scen = scenario.load(toml)
    api = cshim.read_api(src, "PortReset")
    assert api.ctor_params == [("uint32_t", "start")]
    cshim.check_steps(api, scen, "noalloc")
    (tmp_path / "shim.c").write_text(cshim.generate(scen, api, mod, "noalloc", "fx_t__"))
    lib = tmp_path / "lib.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-I", str(ROOT / "harness"), "-o", str(lib),
                    str(tmp_path / "shim.c")], check=True)
    so, h = ctypes.CDLL(str(lib)), Hooks()
    assert so.fx_t__construct(h.open, h.close, None) == 0
    assert observe(so, "fx_t__", 0, h) == "ret=()\x1fresets=41"
    scen.construct_args = []
    with pytest.raises(UsageError, match=r"port_reset.toml:\d+: `PortReset_init` takes 1 constructor argument"):
        cshim.check_steps(api, scen, "noalloc")
