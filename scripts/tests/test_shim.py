import pytest

from faa import scenario, shim
from faa.errors import UsageError

MODULE = r'''
// pub struct Decoy { pub nope: u8 }
pub struct Sys {
    pub total: i32,
    _state: State,
    pub map: Wrapper<u8, u16>,
    pub(crate) hidden: u8,
}
impl Sys {
    pub fn new() -> Sys { todo!() }
    pub fn __create() -> Sys { todo!() }
    pub fn connect(&mut self) { let s = "pub fn fake(&mut self, a: u8)"; }
    pub fn load(&mut self, n: u8, s: String) -> i32 { 0 }
    pub fn pair(&mut self, p: Pair<u8, u16>,) {}
    fn private(&mut self, x: u8) {}
}
'''


def test_read_api_finds_pub_fields_and_method_arities():
    api = shim.read_api(MODULE, "Sys")
    assert api.fields == ["total", "map"]
    assert api.methods == {"connect": 0, "load": 2, "pair": 1}


def test_read_api_requires_the_struct_and_create():
    with pytest.raises(UsageError, match="no `pub struct Nope`"):
        shim.read_api(MODULE, "Nope")
    with pytest.raises(UsageError, match="__create"):
        shim.read_api(MODULE.replace("__create", "make"), "Sys")


def scen(tmp_path, steps):
    p = tmp_path / "x.toml"
    p.write_text('system = "Sys"\n' + "".join(f"[[step]]\ncall = '{c}'\n" for c in steps))
    return scenario.load(p)


@pytest.mark.parametrize("call,needle", [
    ("nope()", "not an interface method"),
    ("load(1)", "takes 2 argument(s), the call passes 1"),
    ("connect(1)", "takes 0 argument(s)"),
])
def test_check_steps_names_file_and_line_of_a_bad_call(tmp_path, call, needle):
    api = shim.read_api(MODULE, "Sys")
    with pytest.raises(UsageError) as e:
        shim.check_steps(api, scen(tmp_path, ["connect()", call]))
    assert "x.toml:5" in str(e.value) and needle in str(e.value)


def test_generated_shim_builds_arguments_before_the_window_opens(tmp_path):
    api = shim.read_api(MODULE, "Sys")
    src = shim.generate(scen(tmp_path, ['load(3, String::from("a"))']), api, "/m.rs", "alloc")
    line = next(l for l in src.splitlines() if "s.load(" in l and "open(ctx)" in l)
    assert line.index("String::from") < line.index("open(ctx)") < line.index("s.load(") < line.index("close(ctx)")
    assert "drop(r); close(ctx)" in line


def test_read_api_names_where_an_unterminated_literal_opened():
    with pytest.raises(UsageError, match=r"^gen/m\.rs: unterminated string \(opened on line 3\)$"):
        shim.read_api('pub struct Sys {}\nimpl Sys {\n  fn f() { "open }\n}\n', "Sys", where="gen/m.rs")
