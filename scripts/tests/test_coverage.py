"""Line coverage of the Frame source (coverage.py): frc's `// frs:N`
markers, the generated -> .frs line map, Callgrind and DWARF parsing, the
findings, and one audit where a line is deliberately never reached."""
import json
import os
import re
import shutil
import subprocess
from types import SimpleNamespace

import pytest

from conftest import ROOT, SCRIPTS
from faa import coverage, scenario

FRAME_SYNTAX = re.compile(r"\$|@@|->|=>|push\$|pop\$")


# ---- frc's markers -----------------------------------------------------------

def fixture_pairs():
    for frs in sorted((ROOT / "fixtures").glob("*.frs")):
        for mode in ("alloc", "noalloc"):
            golden = ROOT / "generated" / frs.stem / f"{mode}.rs"
            if golden.exists():
                yield frs, golden


def test_every_native_body_line_of_the_corpus_maps_to_its_own_frs_line():
    """A native line (no Frame syntax) is copied verbatim: its generated
    text must be the .frs line the marker names, in every golden."""
    checked = 0
    for frs, golden in fixture_pairs():
        src = frs.read_text().splitlines()
        gen = golden.read_text().splitlines()
        for r in coverage.regions(golden.read_text()):
            assert r.lines, f"{golden}: {r.key} has no marked line"
            for g, n in r.lines.items():
                if FRAME_SYNTAX.search(src[n - 1]):
                    continue
                body = coverage._MARKER.sub("", gen[g - 1]).strip()
                assert body == src[n - 1].strip(), f"{golden}:{g} -> {frs.name}:{n}"
                checked += 1
    assert checked > 300


WEIRD = """@@[target("rust")]
@@[no_alloc]
@@system Weird {
    interface:
        go(n: u32): u32
        stay()
    machine:
        $A {
            go(n: u32): u32 {
                let s = "line one
line two -> $B";
                /* block
                   comment */ let k = n + 1; // trailing
                if n > 3 {
                    -> $B(k,
                          s.len() as u32)
                }
                @@:return = k +
                    @@:self.twice(n)
            }
        }
        $B(x: u32, y: u32) {
            stay() { }
            go(n: u32): u32 { @@:(x + y) -> $A }
        }
    actions:
        twice(n: u32): u32 {
            n * 2
        }
}
"""


def frc_compile(build_dir, tmp_path, name, text):
    src = tmp_path / f"{name}.frs"
    src.write_bytes(text.encode())
    out = tmp_path / "out"
    subprocess.run([str(build_dir / "compiler" / "frc"), "compile", "-l", "rust", "-o", str(out), str(src)],
                   check=True, capture_output=True)
    return out / f"{name}.rs"


def test_frc_markers_survive_strings_comments_and_split_transitions(build_dir, tmp_path):
    module = frc_compile(build_dir, tmp_path, "weird", WEIRD)
    text = module.read_text()
    gen = text.splitlines()
    regs = {r.key: r for r in coverage.regions(text)}
    assert set(regs) == {"$A.go", "$B.go", "$B.stay", "action twice"}
    assert regs["$B.stay"].lines == {}                       # an empty body
    got = {n: coverage._MARKER.sub("", gen[g - 1]).strip()[:24] for g, n in regs["$A.go"].lines.items()}
    assert got[10].startswith('let s = "line one')         # no marker: inferred from line 11
    assert got[11].startswith('line two -> $B";')
    assert got[13].startswith("comment */ let k")
    assert got[15].startswith("{ let __sa0 = (k);")        # `-> $B(k,` + next line: one line
    assert 16 not in got and got[17] == "}"
    assert got[19].startswith("self.twice(n)")
    assert list(regs["action twice"].lines.values()) == [28]
    # `@@:(x + y) -> $A`: the transition gets a generated line of its own
    assert list(regs["$B.go"].lines.values()) == [24, 24]
    assert list(regs["$B.go"].cols.values()) == [WEIRD.splitlines()[23].index("-> $A") + 1]
    # a marker never lands inside the string literal
    assert 'line two -> $B"; // frs:11' in text and "line one //" not in text


def test_frc_output_with_markers_builds_with_crlf_and_strings(build_dir, tmp_path):
    rustc = shutil.which(os.environ.get("RUSTC", "rustc"))
    if not rustc:
        pytest.skip("rustc not installed")
    crlf = WEIRD.replace("\n", "\r\n")
    for name, text in (("weird", WEIRD), ("crlf", crlf)):
        module = frc_compile(build_dir, tmp_path, name, text)
        if name == "crlf":
            assert b" // frs:13\r\n" in module.read_bytes()
        r = subprocess.run([rustc, "--edition", "2021", "--crate-type", "lib", "-A", "warnings",
                            "-o", str(tmp_path / f"lib{name}.rlib"), str(module)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


# ---- the line map ------------------------------------------------------------

MODULE = """impl S {
    // fixtures/x.frs:20 interface go
    pub fn go(&mut self) {
    }

    // fixtures/x.frs:30 $A.go
    fn _s_A_go(&mut self, __e: &SFrameEvent, n: u32) {
        let mut p = self.__sv_A().p_p.clone();
let __mutant = ::std::boxed::Box::new(1); // frame-alloc-audit mutant box@handler
        let s = "one
two"; // frs:32
                if n > 1 { // frs:33
                    self.x = 1; // frs:34
let __late = ::std::boxed::Box::new(2);
                } // frs:35
    }

    // fixtures/x.frs:40 action helper
    fn helper(&mut self) {
        self.y = 2 // frs:41
    }

}
// ---- end of system S ----
"""


def test_regions_cover_handlers_and_actions_but_not_interface_methods():
    regs = coverage.regions(MODULE)
    assert [(r.key, r.fn, r.frs, r.frs_line) for r in regs] == [
        ("$A.go", "_s_A_go", "fixtures/x.frs", 30),
        ("action helper", "helper", "fixtures/x.frs", 40)]
    assert (regs[0].first, regs[0].last) == (7, 17)


def test_line_map_infers_string_lines_and_leaves_foreign_lines_unmapped():
    a = coverage.regions(MODULE)[0]
    # 10 opens a string closed on marked line 11: one for one (31, 32).
    # 8 (prologue), 9 (a mutant) and 14 (a line written in later) are no
    # Frame source.
    assert a.lines == {10: 31, 11: 32, 12: 33, 13: 34, 15: 35}


@pytest.mark.parametrize("lines,expected", [
    (['let s = "a', 'b";'], True),
    (['let s = "a', 'b'], True),
    (['let s = r#"a"', 'b"#;'], True),
    (['let s = "a\\"', 'b";'], True),
    (['let s = "a";'], False),
    (["let c = '\"'; let s = \"x", ''], True),
    (["let c = '\"';"], False),
    (['f(); // "quoted'], False),
    (['let lt: &\'a str = "x', ''], True),
])
def test_string_continuation_lexer(lines, expected):
    assert coverage._all_end_in_string(lines[:1]) is expected


# ---- Callgrind and DWARF -------------------------------------------------------

CALLGRIND = """# callgrind format
version: 1
positions: line
events: Ir

fl=/work/b/aw/x/gen/noalloc/x.rs
fn=fx::m::S::_s_A_go
12 4
13 2
cfi=/work/b/aw/x/shim/x_noalloc.rs
cfn=fx::helper
calls=1 50
13 9
fi=/rustc/abc/library/core/src/option.rs
13 7
fe=/work/b/aw/x/gen/noalloc/x.rs
15 1

fl=/work/b/aw/x/shim/x_noalloc.rs
fn=fx::fx_dispatch
11 3
0 5
"""


def test_parse_callgrind_keeps_module_lines_through_inlined_files():
    names, ran = coverage.parse_callgrind(CALLGRIND, "/work/b/aw/x/gen/noalloc/x.rs")
    assert names == {"fx::m::S::_s_A_go", "fx::helper", "fx::fx_dispatch"}
    # line 13 of option.rs is not the module's; the shim's 11 neither
    assert ran == {12, 13, 15}


READELF = """Contents of the .debug_line section:

CU: /rustc/abc/library/core/src/panic/unwind_safe.rs:
File name                            Line number    Starting address    View    Stmt
library/core/src/panic/unwind_safe.rs          273             0x155c0               x
library/core/src/panic/unwind_safe.rs            -             0x155db

aw/x/gen/noalloc/x.rs:
x.rs                                          12             0x15640               x
x.rs                                          13             0x15649        
x.rs                                           0             0x15650        
x.rs                                          14             0x15662       1       x
x.rs                                           -             0x15670

CU: aw/x/shim/x_noalloc.rs:
File name                            Line number    Starting address    View    Stmt
x_noalloc.rs                                  15             0x16000               x

./aw/x/gen/noalloc/x.rs:[++]
x.rs                                          20             0x16100               x
"""


def test_parse_decodedline_takes_rows_of_the_module_only(tmp_path):
    module = tmp_path / "aw" / "x" / "gen" / "noalloc" / "x.rs"
    assert coverage.parse_decodedline(READELF, module) == {12, 13, 14, 20}
    assert coverage.parse_decodedline(READELF, tmp_path / "other" / "x.rs") == set()


def test_same_file_matches_absolute_and_relative_paths(tmp_path):
    mod = tmp_path / "gen" / "x.rs"
    assert coverage.same_file(str(mod), mod)
    assert coverage.same_file("gen/x.rs", mod)
    assert not coverage.same_file("x.rs.bak", mod)
    assert not coverage.same_file("other/x.rs", mod)


# ---- findings ----------------------------------------------------------------

FRS = "\n".join(f"// line {n}" for n in range(1, 60)).splitlines()
FRS[31 - 1] = 'let s = "one'
FRS[33 - 1] = "if n > 1 {"
FRS[34 - 1] = "self.x = 1;"
FRS[41 - 1] = "self.y = 2"


def fake(tmp_path, uncovered_toml=""):
    (tmp_path / "x.frs").write_text("\n".join(FRS) + "\n")
    toml = tmp_path / "x.toml"
    toml.write_text('system = "S"\n[[step]]\ncall = "go(1)"\n' + uncovered_toml)
    module = tmp_path / "x.rs"
    module.write_text(MODULE)
    return SimpleNamespace(name="x", frs=tmp_path / "x.frs", toml=toml, scenario=scenario.load(toml)), module


def runs_of(module, ran_lines, functions=("m::S::_s_A_go",)):
    code = {3, 7, 8, 9, 10, 12, 13, 14, 16, 19, 20, 21}
    return {"noalloc": coverage.Run(module, set(functions), set(ran_lines), code)}


def test_a_line_that_never_ran_is_named_by_frs_path_line_and_text(tmp_path):
    fx, module = fake(tmp_path)
    rep, msgs = coverage.evaluate(fx, runs_of(module, {7, 8, 9, 10, 12, 14, 16}), tmp_path)
    shown = coverage.display(fx.frs, tmp_path)
    assert msgs[0] == (f"{shown}:34 ($A.go) never ran in the no_alloc shape: `self.x = 1;`; "
                       f"extend x.toml or list it under [uncovered] with the reason")
    assert "(action helper) never ran in the no_alloc shape: line 41 never ran" in msgs[1]
    assert '"line 41" under [uncovered]' in msgs[1]
    assert len(msgs) == 2
    r = rep["noalloc"]
    assert (r["total"], r["covered"]) == (4, 2)
    assert [(u["line"], u["in"], u["handler_ran"]) for u in r["uncovered"]] == [
        (34, "$A.go", True), (41, "action helper", False)]


def test_code_without_a_marker_that_never_ran_fails_by_its_generated_line(tmp_path):
    fx, module = fake(tmp_path)
    rep, msgs = coverage.evaluate(fx, runs_of(module, {7, 8, 9, 10, 12, 13, 16, 19, 20, 21},
                                              ("m::S::_s_A_go", "m::S::helper")), tmp_path)
    assert msgs == [f"{module}:14 (in $A.go of x.frs) has code that never ran in the no_alloc shape "
                    f"and no `// frs:N` line marker, so it is not Frame source: "
                    f"`let __late = ::std::boxed::Box::new(2);`"]
    assert rep["noalloc"]["unmapped"] == [{"generated": 14, "in": "$A.go",
                                           "text": "let __late = ::std::boxed::Box::new(2);"}]


def test_uncovered_line_entries_excuse_lines_and_go_stale(tmp_path):
    fx, module = fake(tmp_path, '[uncovered]\n"line 34" = "n is never above 1"\n'
                                '"lines 40-42" = "helper is for later"\n')
    rep, msgs = coverage.evaluate(fx, runs_of(module, {7, 8, 9, 10, 12, 14, 16}), tmp_path)
    assert msgs == []
    assert [u["excused"] for u in rep["noalloc"]["uncovered"]] == ["n is never above 1", "helper is for later"]
    # line 33 ran; line 25 is no body line
    fx, module = fake(tmp_path, '[uncovered]\n"line 33" = "stale"\n"line 25" = "no code"\n')
    rep, msgs = coverage.evaluate(fx, runs_of(module, {7, 8, 9, 10, 12, 13, 14, 16, 19, 20, 21},
                                              ("m::S::_s_A_go", "m::S::helper")), tmp_path)
    assert msgs == [
        'x.toml: [uncovered] "line 33" is stale: x.frs:33 ran in the no_alloc shape (`if n > 1 {`); '
        'remove the entry',
        'x.toml: [uncovered] "line 25" names no line with code in a handler or action body of S '
        '(x.frs:25: `// line 25`); remove it']


SPLIT = """    // fixtures/x.frs:30 $A.go
    fn _s_A_go(&mut self, __e: &SFrameEvent, n: u32) {
        if n > 1 { // frs:33
                { let mut __c = S::__comp_B(); self.__next_compartment = Some(__c); return; } // frs:33:12
                } // frs:33:18
    }
}
"""


def test_a_statement_form_that_never_ran_names_its_part_of_the_line(tmp_path):
    fx, module = fake(tmp_path)
    frs = FRS[:]
    frs[33 - 1] = "if n > 1 { -> $B }"
    fx.frs.write_text("\n".join(frs) + "\n")
    module.write_text(SPLIT)
    # the `}` after the transition has no code of its own: the part still ends before it
    runs = {"noalloc": coverage.Run(module, {"m::_s_A_go"}, {2, 3, 6}, {2, 3, 4, 6})}
    rep, msgs = coverage.evaluate(fx, runs, tmp_path)
    assert msgs == ["x.frs:33 ($A.go) never ran in part in the no_alloc shape: `-> $B` of "
                    "`if n > 1 { -> $B }`; extend x.toml or list it under [uncovered] with the reason"]
    assert rep["noalloc"]["uncovered"][0]["never_ran"] == ["-> $B"]
    runs["noalloc"].ran.add(4)
    assert coverage.evaluate(fx, runs, tmp_path)[1] == []


def test_a_handler_entry_excuses_its_lines_and_a_stale_one_is_a_finding():
    mx = coverage.matrix({"alloc": ({"_s_A_go": ("A", "go"), "_s_B_go": ("B", "go")}, {"m::_s_A_go"}),
                          "noalloc": ({"_s_A_go": ("A", "go"), "_s_B_go": ("B", "go")}, {"m::_s_A_go"})})
    scen = SimpleNamespace(system="S", uncovered={"$A.go": "x", "$C.go": "y"})
    assert coverage.handler_findings("x", scen, mx, "x.toml") == [
        "x: handler $B.go never ran in the allocating and no_alloc shapes; extend x.toml, or list "
        "it under [uncovered] with the reason",
        'x.toml: [uncovered] "$A.go" is stale: the handler ran in every shape; remove it',
        'x.toml: [uncovered] names $C.go, which is not a handler of S']


# ---- end to end ----------------------------------------------------------------

GATE_FRS = """@@[target("rust")]
@@[no_alloc]
@@system Gate {
    interface:
        push(n: u8)
    machine:
        $Closed {
            push(n: u8) {
                self.pushes = self.pushes + 1;
                if n > 9 { -> $Open }
            }
        }
        $Open { }
    domain:
        pushes: u32 = 0
}
"""

GATE_TOML = """system = "Gate"

[construct]
alloc = 4
frees = 2

[[step]]             # below the threshold: no transition
call = "push(1)"
alloc = 1
"""


def audit(build_dir, fixtures_dir, report_dir, work_dir):
    r = subprocess.run([str(SCRIPTS / "audit"), "--build-dir", str(build_dir), "--fixtures-dir",
                        str(fixtures_dir), "run", "--no-rejects", "--opt", "0",
                        "--work-dir", str(work_dir), "--report-dir", str(report_dir)],
                       capture_output=True, text=True, timeout=900)
    return r.returncode, r.stdout + r.stderr


def test_an_unreached_line_fails_the_gate_until_listed_with_a_reason(build_dir, tmp_path):
    """Both runs in one work dir: the [uncovered] entry changes no library,
    so the second run judges the first one's (cached) measurements and
    profiles under the new scenario, as a user's rerun after that edit does."""
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed: apt-get install -y valgrind")
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "gate.frs").write_text(GATE_FRS)
    (fixtures / "gate.toml").write_text(GATE_TOML)
    status, text = audit(build_dir, fixtures, tmp_path / "r1", tmp_path / "w")
    assert status == 1, text
    assert (f"FAIL [coverage] {fixtures / 'gate.frs'}:10 ($Closed.push) never ran in part in the "
            f"allocating and no_alloc shapes: `-> $Open` of `if n > 9 {{ -> $Open }}`; extend "
            f"{fixtures / 'gate.toml'} or list it under [uncovered] with the reason") in text
    assert sum("FAIL [" in line for line in text.splitlines()) == 1, text
    lines = json.loads((tmp_path / "r1" / "report.json").read_text())["fixtures"][0]["coverage"]["lines"]
    assert lines["noalloc"]["uncovered"][0]["line"] == 10 and lines["noalloc"]["total"] == 2

    (fixtures / "gate.toml").write_text(GATE_TOML + '\n[uncovered]\n"line 10" = "this test never '
                                        'pushes above 9"\n')
    status, text = audit(build_dir, fixtures, tmp_path / "r2", tmp_path / "w")
    assert status == 0, text


def test_a_module_whose_bodies_dwarf_or_callgrind_never_saw_is_not_measured(tmp_path):
    """A path that matches nothing must not read as full coverage."""
    module = tmp_path / "x.rs"
    module.write_text(MODULE)
    assert coverage._sees_bodies(coverage.Run(module, set(), {12, 13}, {12, 13, 14}))
    assert not coverage._sees_bodies(coverage.Run(module, set(), {12, 13}, set()))
    assert not coverage._sees_bodies(coverage.Run(module, set(), set(), {12, 13}))
    module.write_text("fn main() {}\n")               # no bodies at all: nothing to see
    assert coverage._sees_bodies(coverage.Run(module, set(), set(), set()))


# ---- calls out of the library ------------------------------------------------

PROFILE = """# callgrind format
version: 1
positions: instr line
events: Ir

ob=/work/b/harness/faa-run
fl=/work/b/harness/runner.c
fn=need
0x1df0 101 7
ob={lib}
fl={module}
fn=fx::m::S::_s_A_go
0x1000 12 1
0x1004 13 1
cob=/usr/lib/x86_64-linux-gnu/libc.so.6
cfn=strlen
calls=1 0x9a0 3
0x1008 13 40
fl=/work/b/aw/x/shim/x_noalloc.rs
fn=fx::fx_dispatch
0x2000 11 1
"""


def test_parse_profile_keeps_the_addresses_of_the_library_only(tmp_path):
    lib, module = tmp_path / "lib" / "libfx.so", tmp_path / "gen" / "x.rs"
    text = PROFILE.format(lib=lib, module=module)
    names, ran, executed = coverage.parse_profile(text, module, lib)
    assert ran == {12, 13}
    # runner.c's address and the target of calls= are not the library's
    assert executed == {0x1000, 0x1004, 0x1008, 0x2000}
    assert coverage.parse_callgrind(text, module) == (names, ran)
    assert coverage.parse_profile(text, module, tmp_path / "other.so")[2] == set()
    with pytest.raises(RuntimeError, match="compress-pos=no"):
        coverage.parse_profile(text.replace("0x1004 13 1", "+4 13 1"), module, lib)


OBJDUMP = """
Disassembly of section .text:

0000000000001000 <fx::m::S::_s_A_go>:
    1000:\tsub    $0x18,%rsp
    1004:\tcall   2000 <fx::m::S::helper>
    1009:\tcall   4f9f0 <memcpy@plt>
    100e:\tcall   *0x3dccb(%rip)        # 52620 <strdup@GLIBC_2.2.5>
    1014:\tcall   *0x3de4a(%rip)        # 52608 <_DYNAMIC+0x248>
    101a:\tcall   *%rax
    101c:\tmov    0x3dc00(%rip),%rax        # 52628 <getenv@GLIBC_2.2.5>
    1023:\tret

0000000000002000 <fx::m::S::helper>:
    2000:\tcall   4fa00 <realpath@plt>
    2005:\tcall   *0x3de4a(%rip)        # 52638 <fx_abi_version>
    200b:\tmov    0x3dc00(%rip),%rax        # 52630 <stderr@GLIBC_2.2.5>
    2012:\tret

0000000000003000 <core::ptr::drop_in_place>:
    3000:\tcall   4fa00 <realpath@plt>
    3005:\tret
"""

RELOCS = """
DYNAMIC SYMBOL TABLE:
0000000000000000  w   D  *UND*\t0000000000000000              __gmon_start__
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.2.5) strdup
0000000000000000      DF *UND*\t0000000000000000 (GLIBC_2.2.5) getenv
0000000000000000      DO *UND*\t0000000000000000 (GLIBC_2.2.5) stderr
0000000000016710 g    DF .text\t0000000000000006  Base        fx_abi_version

DYNAMIC RELOCATION RECORDS
OFFSET           TYPE              VALUE
0000000000052608 R_X86_64_RELATIVE  *ABS*+0x0000000000002000
0000000000052620 R_X86_64_GLOB_DAT  strdup@GLIBC_2.2.5
0000000000052628 R_X86_64_GLOB_DAT  getenv@GLIBC_2.2.5
0000000000052630 R_X86_64_GLOB_DAT  stderr@GLIBC_2.2.5
0000000000052638 R_X86_64_GLOB_DAT  fx_abi_version
"""

ROWS = """CU: aw/x/gen/noalloc/x.rs:
File name                            Line number    Starting address    View    Stmt
x.rs                                           7             0x1000               x
x.rs                                          12             0x1004               x
x.rs                                          13             0x100e               x
x.rs                                          14             0x101a               x
x.rs                                          19             0x2000               x
x.rs                                           -             0x200c

CU: /rustc/abc/library/core/src/ptr/mod.rs:
File name                            Line number    Starting address    View    Stmt
library/core/src/ptr/mod.rs                  500             0x3000               x
"""


def test_imports_are_the_slots_of_symbols_the_library_does_not_define():
    imports, local = coverage.parse_imports(RELOCS)
    assert imports == {0x52620: ("strdup", True), 0x52628: ("getenv", True), 0x52630: ("stderr", False)}
    assert local == {0x52608: 0x2000}


def test_call_sites_of_the_module_own_code(tmp_path):
    module = tmp_path / "aw" / "x" / "gen" / "noalloc" / "x.rs"
    imports, local = coverage.parse_imports(RELOCS)
    code, sites, seen = coverage.call_sites(coverage.parse_objdump(OBJDUMP), imports, local,
                                            coverage.line_rows(ROWS, module))
    got = [(hex(s["addr"]), s["kind"], s["target"], s["via"], s["gen"]) for s in sites]
    assert got == [
        ("0x1004", "call", "S::helper", "realpath", 12),     # a module function that calls out
        ("0x100e", "call", "strdup", "", 13),                 # through the GOT (rustc's default)
        ("0x1014", "call", "S::helper", "realpath", 13),      # through a GOT slot of the library's own
        ("0x101c", "address", "getenv", "", 14),              # a pointer to an outside function
        ("0x2000", "call", "realpath", "", 19)]               # through the PLT
    # memcpy is exempt; `call *%rax` and a call through the slot of a symbol the
    # library defines cannot be judged; loading stderr (data) is no call;
    # core's drop_in_place is not the module's code
    assert seen == {"exempt": 1, "indirect": 2}
    assert sorted(code["functions"]) == [0x1000, 0x2000] and 0x3000 not in code["instructions"]


def test_a_call_out_of_the_library_that_never_ran_is_a_finding_until_excused(tmp_path):
    fx, module = fake(tmp_path)
    runs = runs_of(module, {3, 7, 8, 9, 10, 12, 13, 14, 16, 19, 20, 21}, ("m::S::_s_A_go", "m::S::helper"))
    site = {"addr": 0x100e, "kind": "call", "target": "strdup", "via": "", "gen": 12,
            "fn": "fx::m::S::_s_A_go", "ran": False}
    runs["noalloc"].calls = [site]
    rep, msgs = coverage.evaluate(fx, runs, tmp_path)
    assert msgs == [f"x no_alloc: the call to strdup at {module}:12 (x.frs:33, $A.go) never ran: the "
                    f"zero cannot vouch for a call that never ran; make a step reach it, or list "
                    f'"line 33" under [uncovered] in x.toml with the reason']
    assert rep["noalloc"]["calls"]["never_ran"][0]["line"] == 33
    site["ran"] = True
    assert coverage.evaluate(fx, runs, tmp_path)[1] == []
    # excused by its line; the entry is not stale although line 33 ran as a line
    site["ran"] = False
    fx, module = fake(tmp_path, '[uncovered]\n"line 33" = "n is never above 1 here"\n')
    rep, msgs = coverage.evaluate(fx, runs, tmp_path)
    assert msgs == [] and rep["noalloc"]["calls"]["never_ran"][0]["excused"] == "n is never above 1 here"
    # a call to a module function that makes one, in the allocating shape, on a
    # line without a marker: the handler's line
    runs = {"alloc": runs.pop("noalloc")}
    runs["alloc"].calls = [dict(site, target="S::helper", via="realpath", gen=14)]
    msgs = coverage.evaluate(fake(tmp_path)[0], runs, tmp_path)[1]
    assert msgs == [f"x allocating: the call to S::helper (which calls realpath) at {module}:14 "
                    f"(x.frs:30, $A.go) never ran: the count cannot vouch for a call that never ran; "
                    f'make a step reach it, or list "line 30" under [uncovered] in x.toml with the reason']


def test_addresses_that_miss_the_module_instructions_are_refused(tmp_path, monkeypatch):
    """A load bias read wrongly must not pass as calls that ran."""
    module = tmp_path / "aw" / "x" / "gen" / "noalloc" / "x.rs"
    monkeypatch.setattr(coverage, "_tool", lambda name, args, lib: OBJDUMP if "-d" in args else RELOCS)
    sites, seen = coverage.library_calls("lib.so", module, {0x1000, 0x100e, 0x2000}, ROWS)
    assert [(s["target"], s["ran"]) for s in sites] == [
        ("S::helper", False), ("strdup", True), ("S::helper", False), ("getenv", False), ("realpath", True)]
    for wrong in ({0x1001}, {0x7f0000001000}, set()):
        with pytest.raises(RuntimeError, match="do not match its disassembly"):
            coverage.library_calls("lib.so", module, wrong, ROWS)


def strdup_mutant(path, rare):
    """port_reset's no_alloc golden with one line in $Idle.connect (.frs line
    12) that calls strdup only when the static RARE, read volatile so no
    optimiser folds it, is true."""
    out = []
    for text in (ROOT / "generated" / "port_reset" / "noalloc.rs").read_text().splitlines():
        if text.strip().startswith("{ let mut __c = PortReset::__comp_Resetting();"):
            out.append('        if unsafe { ::core::ptr::read_volatile(&RARE) } '
                       '{ unsafe { strdup(b"x\\0".as_ptr()) }; } // frs:12')
        out.append(text)
        if text.startswith("// ---- end of system"):
            out += [f"static RARE: bool = {'true' if rare else 'false'};",
                    'extern "C" { fn strdup(p: *const u8) -> *mut u8; }']
    path.write_text("\n".join(out) + "\n")
    return next(n for n, t in enumerate(out, 1) if "strdup(b" in t)


def audit_generated(build_dir, module, toml, report_dir):
    """One work dir for the runs of a test (report_dir's parent's `w`)."""
    r = subprocess.run([str(SCRIPTS / "audit"), "--build-dir", str(build_dir), "run", "--generated",
                        str(module), "--scenario", str(toml), "--mode", "noalloc", "--opt", "0",
                        "--work-dir", str(report_dir.parent / "w"), "--report-dir", str(report_dir)],
                       capture_output=True, text=True, timeout=900)
    return r.returncode, r.stdout + r.stderr


def test_a_strdup_the_scenario_never_reaches_fails_the_gate(build_dir, tmp_path):
    """Line coverage alone passes this module: the `if` on the strdup line
    runs, the call never does, and the zero never saw it.  The runs share a
    work dir: the [uncovered] entry changes no library, so the second run
    judges the first one's cached measurements and profile under the new
    scenario; the third one's module differs and is built and run anew."""
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed: apt-get install -y valgrind")
    module, toml = tmp_path / "noalloc.rs", tmp_path / "port_reset.toml"
    toml.write_text((ROOT / "fixtures" / "port_reset.toml").read_text())
    line = strdup_mutant(module, rare=False)
    status, text = audit_generated(build_dir, module, toml, tmp_path / "r1")
    assert status == 1, text
    fails = "\n".join(l for l in text.splitlines() if l.startswith(("FAIL", "note")))
    assert (f"FAIL [coverage] port_reset no_alloc: the call to strdup at {module}:{line} "
            f"(fixtures/port_reset.frs:12, $Idle.connect) never ran: the zero cannot vouch for a "
            f"call that never ran; make a step reach it, or list \"line 12\" under [uncovered] in "
            f"{toml} with the reason") in text, fails
    assert sum("FAIL [" in t for t in text.splitlines()) == 1, fails

    # listed under [uncovered]: excused, and the entry is not stale
    toml.write_text(toml.read_text() + '\n[uncovered]\n"line 12" = "RARE is never set in this test"\n')
    status, text = audit_generated(build_dir, module, toml, tmp_path / "r2")
    assert status == 0, text
    report = json.loads((tmp_path / "r2" / "report.json").read_text())
    calls = report["fixtures"][0]["coverage"]["lines"]["noalloc"]["calls"]
    assert [(c["callee"], c["line"], c["excused"]) for c in calls["never_ran"]] == [
        ("strdup", 12, "RARE is never set in this test")]

    # the branch runs: no such finding; the call is now the zero rule's to count
    toml.write_text((ROOT / "fixtures" / "port_reset.toml").read_text())
    strdup_mutant(module, rare=True)
    status, text = audit_generated(build_dir, module, toml, tmp_path / "r3")
    assert status == 1, text
    assert "never ran" not in text and "FAIL [zero] port_reset no_alloc" in text, text


def test_display_keeps_a_mapping_comments_relative_path_whatever_the_working_directory(tmp_path, monkeypatch):
    # meson runs the tests from the build directory, inside the project: a
    # relative fixtures/x.frs once came out as build/fixtures/x.frs.
    monkeypatch.chdir(ROOT / "scripts")
    assert coverage.display("fixtures/port_reset.frs", ROOT) == "fixtures/port_reset.frs"
    assert coverage.display(ROOT / "fixtures" / "port_reset.frs", ROOT) == "fixtures/port_reset.frs"


def test_a_zero_length_line_table_row_is_no_code():
    """rustc 1.63: the `fn` line and the first body line at one address;
    only the second has an instruction (Callgrind counts it there)."""
    module = __import__("pathlib").Path("/tmp/x/gen/alloc/m.rs")
    text = ("CU: /tmp/x/gen/alloc/m.rs:\n"
            "File name                            Line number    Starting address    View    Stmt\n"
            "m.rs                                459             0x12d40               x\n"
            "m.rs                                460             0x12d40       1       x\n"
            "m.rs                                461             0x12d49               x\n"
            "m.rs                                  -             0x12d4a\n")
    assert coverage.parse_decodedline(text, module) == {460, 461}


def test_a_row_belongs_to_the_file_it_names_not_to_the_last_header():
    """One codegen unit of a bundle crate holds several fixtures' modules:
    readelf prints a file header now and then, and a row names its own
    file.  A lorawan_node row under i2c_master's header is lorawan_node's
    (the scaling bench's 104-fixture corpus failed coverage on it)."""
    path = __import__("pathlib").Path
    i2c = path("/w/i2c_master/gen/alloc/i2c_master.rs")
    lora = path("/w/lorawan_node/gen/alloc/lorawan_node.rs")
    text = ("/w/i2c_master/gen/alloc/i2c_master.rs:\n"
            "i2c_master.rs                                510             0x66404               x\n"
            "lorawan_node.rs                              511             0x67d00               x\n"
            "lorawan_node.rs                              513             0x67d1a               x\n"
            "lorawan_node.rs                                -             0x67d30\n")
    assert coverage.parse_decodedline(text, i2c) == {510}
    assert coverage.parse_decodedline(text, lora) == {511, 513}
