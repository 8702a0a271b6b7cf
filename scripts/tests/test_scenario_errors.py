"""Scenario mistakes are usage errors (exit 2) naming the scenario's file
and line and what the generated module has -- found before anything is
built, never a [build] failure or a raw rustc error (issue 14).

The module is scripts/tests/data/generated/counter_args.rs, a hand-written
module in framec 4.5's shape (`pub fn __create(step: i32, limit: i32) ->
Self`, no `new()`).  `audit run --generated` checks the scenario against
it before it writes anything, so these runs build nothing and need only
the build dir's tools.

Each mistake is audited by the command's own entry point, faa.cli.main
(what `scripts/audit` runs as `python -m faa`: its return value is the exit
status), in this process: a process of its own per mistake would spend
nearly all its time importing the audit.  One mistake also goes through
`scripts/audit` as a process, as do the compiled-fixture tests below."""
import io
import os
import shutil
import signal
import subprocess
from contextlib import redirect_stderr, redirect_stdout

import pytest

from conftest import ROOT, SCRIPTS
from faa import cli, procs, rustlex, scenario, shim, tools
from faa.errors import UsageError

AUDIT = str(SCRIPTS / "audit")
DATA = SCRIPTS / "tests" / "data" / "generated"
MODULE = DATA / "counter_args.rs"

HEAD = 'system = "Counter"\n[construct]\nargs = ["3", "10"]\n'


def _argv(build_dir, tmp_path, toml_text, module):
    toml = tmp_path / "counter.toml"
    toml.write_text(toml_text)
    return ["--build-dir", str(build_dir), "run", "--generated", str(module),
            "--scenario", str(toml), "--mode", "alloc", "--opt", "0", "--valgrind", "off",
            "--work-dir", str(tmp_path / "w"), "--report-dir", str(tmp_path / "r")]


def audit(build_dir, tmp_path, toml_text, module=MODULE):
    """`scripts/audit run` as a process: (exit status, stdout + stderr)."""
    cmd = [AUDIT] + _argv(build_dir, tmp_path, toml_text, module)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=os.environ)
    return r.returncode, r.stdout + r.stderr


def audit_main(build_dir, tmp_path, toml_text, module=MODULE):
    """The same through cli.main in this process: (its return value, what it
    printed).  The signal dispositions main sets (procs.install, uninstall)
    are pytest's again afterwards."""
    argv = _argv(build_dir, tmp_path, toml_text, module)
    out, err = io.StringIO(), io.StringIO()
    saved = {s: signal.getsignal(s) for s in procs.STOP_SIGNALS}
    try:
        with redirect_stdout(out), redirect_stderr(err):
            status = cli.main(argv)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    return status, out.getvalue() + err.getvalue()


# (scenario text, what the message must say: its file:line first)
MISTAKES = [
    # unknown keys, everywhere
    (HEAD + 'alocs = 2\n[[step]]\ncall = "tick()"\n',
     "counter.toml:4: unknown key `alocs` in [construct]; it takes: alloc, args, call, frees"),
    ('system = "Counter"\nsteps = 1\n[[step]]\ncall = "tick()"\n',
     "counter.toml:2: unknown key `steps` in the scenario's top level"),
    (HEAD + '[[step]]\ncall = "tick()"\nreturn = "()"\n',
     "counter.toml:6: unknown key `return` in [[step]] 1"),
    (HEAD + '[[step]]\ncall = "tick()"\n[steady]\nfrom = 1\ntimes = 3\n',
     "counter.toml:8: unknown key `times` in [steady]"),
    # the system's name
    ('system = "Countr"\n[construct]\nargs = ["3", "10"]\n[[step]]\ncall = "tick()"\n',
     "counter.toml:1: there is no system `Countr` in"),
    # constructor: arity, types, which constructor
    ('system = "Counter"\n[[step]]\ncall = "tick()"\n',
     "counter.toml: `__create` takes 2 argument(s), the call passes 0 "
     "(fn __create(step: i32, limit: i32) -> Self)"),
    ('system = "Counter"\n[construct]\nargs = ["3"]\n[[step]]\ncall = "tick()"\n',
     "counter.toml:3: `__create` takes 2 argument(s), the call passes 1"),
    ('system = "Counter"\n[construct]\nargs = [\'"3"\', "10"]\n[[step]]\ncall = "tick()"\n',
     'counter.toml:3: argument 1 of `__create`, `"3"`, cannot be passed as `step: i32`: '
     "it is a &str (string literal)"),
    ('system = "Counter"\n[construct]\ncall = "__create(3, 1.5)"\n[[step]]\ncall = "tick()"\n',
     "counter.toml:3: argument 2 of `__create`, `1.5`, cannot be passed as `limit: i32`: "
     "it is a floating-point literal"),
    ('system = "Counter"\n[construct]\ncall = "new(3, 10)"\n[[step]]\ncall = "tick()"\n',
     "counter.toml:3: `Counter` has no `pub fn new(...)`; it has: "
     "fn __create(step: i32, limit: i32) -> Self"),
    # steps: method, arity, argument types, &str parameters
    (HEAD + '[[step]]\ncall = "tick()"\n[[step]]\ncall = "tock()"\n',
     "counter.toml:7: `tock` is not an interface method of Counter (methods: fn tick(); "
     "fn bump(by: i32) -> i32; fn greet(who: &str) -> String; fn state_name() -> &str)"),
    (HEAD + '[[step]]\ncall = "bump()"\n',
     "counter.toml:5: `bump` takes 1 argument(s), the call passes 0 (fn bump(by: i32) -> i32)"),
    (HEAD + '[[step]]\ncall = "bump(true)"\n',
     "counter.toml:5: argument 1 of `bump`, `true`, cannot be passed as `by: i32`: it is a bool"),
    (HEAD + '[[step]]\ncall = "bump(3_000_000_000)"\n',
     "counter.toml:5: argument 1 of `bump`, `3_000_000_000`, cannot be passed as `by: i32`: "
     "3000000000 is out of range for i32 (-2147483648..=2147483647)"),
    (HEAD + '[[step]]\ncall = "bump(4u8)"\n',
     "counter.toml:5: argument 1 of `bump`, `4u8`, cannot be passed as `by: i32`: "
     "the literal is a u8"),
    (HEAD + '[[step]]\ncall = \'greet(String::from("ann"))\'\n',
     "counter.toml:5: argument 1 of `greet`, `String::from(\"ann\")`, cannot be passed as "
     "`who: &str`: it is a String; pass a string literal"),
    (HEAD + '[[step]]\ncall = "greet(7)"\n',
     "counter.toml:5: argument 1 of `greet`, `7`, cannot be passed as `who: &str`: "
     "it is an integer literal"),
    # what the text does not say, rustc says (type-checked before any build)
    (HEAD + '[[step]]\ncall = "bump(u8::MAX)"\n',
     "counter.toml:5: argument 1 of `bump`, `u8::MAX`, cannot be passed as `by: i32`: "
     "rustc: mismatched types (expected `i32`, found `u8`)"),
    (HEAD + '[[step]]\ncall = "bump(steps(3))"\n',
     "counter.toml:5: argument 1 of `bump`, `steps(3)`, cannot be passed as `by: i32`: "
     "rustc: cannot find function `steps` in this scope"),
    (HEAD + '[[step]]\ncall = \'greet(&String::from("x"))\'\n',
     "counter.toml:5: argument 1 of `greet`, `&String::from(\"x\")`, cannot be passed as "
     "`who: &str`: rustc: temporary value dropped while borrowed"),
    # domain fields
    (HEAD + '[[step]]\ncall = "tick()"\ndomain = { cnt = "3" }\n',
     "counter.toml:6: `cnt` is not a pub domain field of Counter "
     "(fields: step, limit, count, wraps, journal)"),
]


@pytest.mark.parametrize("text,needle", MISTAKES, ids=[f"m{i}" for i in range(len(MISTAKES))])
def test_a_scenario_mistake_exits_2_at_its_line_before_anything_is_built(build_dir, tmp_path, text, needle):
    status, out = audit_main(build_dir, tmp_path, text)
    assert status == 2, out
    assert needle in out, out
    assert "error[E" not in out and "[build]" not in out      # never rustc's text, never a build failure
    assert not (tmp_path / "w").exists() and not (tmp_path / "r").exists()   # nothing written


@pytest.mark.parametrize("text,needle", [MISTAKES[6], MISTAKES[17]], ids=["m6", "m17"])
def test_a_scenario_mistake_is_exit_2_from_the_command_too(build_dir, tmp_path, text, needle):
    """What the test above proves through cli.main, through `scripts/audit`
    as a process: a mistake the text shows and one rustc finds."""
    status, out = audit(build_dir, tmp_path, text)
    assert status == 2, out
    assert needle in out, out
    assert "error[E" not in out and "[build]" not in out
    assert not (tmp_path / "w").exists() and not (tmp_path / "r").exists()


def test_every_problem_of_a_scenario_is_listed_at_once(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(HEAD + '[[step]]\ncall = "bump(true)"\n[[step]]\ncall = "nope()"\n'
                 'domain = { x = "1" }\n')
    with pytest.raises(UsageError) as e:
        shim.check_module(MODULE.read_text(), scenario.load(p), str(MODULE))
    lines = str(e.value).splitlines()
    assert [l.split(": ", 1)[0] for l in lines] == [f"{p}:5", f"{p}:7", f"{p}:8"]


@pytest.mark.parametrize("call", ["bump(i32::MAX - 1)", 'greet(&*"ab")', "bump(-(2 + 3))",
                                  "greet(core::str::from_utf8(b\"ok\").unwrap())"])
def test_arguments_rustc_accepts_pass_the_check(tmp_path, call):
    p = tmp_path / "s.toml"
    p.write_text(HEAD + f"[[step]]\ncall = '{call}'\n")
    api = shim.check_module(MODULE.read_text(), scenario.load(p), str(MODULE), module_path=MODULE,
                            rustc=tools.rustc())
    assert api.methods["bump"].params == [("by", "i32")]


def test_the_scenario_used_by_test_ctor_args_fits_its_module():
    scen = scenario.load(DATA / "counter_args.toml")
    api = shim.check_module(MODULE.read_text(), scen, str(MODULE))
    assert shim.constructor(api, scen).name == "__create" and scen.construct_args == ["3", "10"]


def test_a_mistake_in_a_compiled_fixture_exits_2_before_the_build(build_dir, tmp_path):
    # with a compiler, the module exists only after the compile: checked
    # right then, before any crate is built
    fx = tmp_path / "fx"
    fx.mkdir()
    shutil.copy(ROOT / "fixtures/port_reset.frs", fx)
    (fx / "port_reset.toml").write_text('system = "PortReset"\n[[step]]\ncall = "connect(1)"\n'
                                        '[[step]]\ncall = "reset(0)"\n')
    r = subprocess.run([AUDIT, "--build-dir", str(build_dir), "--fixtures-dir", str(fx), "run",
                        "--no-rejects", "--valgrind", "off", "--work-dir", str(tmp_path / "w"),
                        "--report-dir", str(tmp_path / "r")],
                       capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert "port_reset.toml:3: `connect` takes 0 argument(s), the call passes 1" in out
    assert "port_reset.toml:5: `reset` is not an interface method of PortReset" in out
    assert not (tmp_path / "w" / "bundles").exists()         # no crate was built
    assert not (tmp_path / "r").exists()


def test_a_module_the_shim_cannot_read_fails_its_fixture_not_the_usage(build_dir, tmp_path):
    # a compiler that writes a module with an unterminated string: the
    # module's fault, not the scenario's -- that fixture fails (exit 1)
    fc = tmp_path / "fakec"
    fc.write_text('#!/bin/sh\nif [ "$1" = --version ]; then echo fakec 9.9; exit 0; fi\n'
                  'printf \'pub struct PortReset { pub n: u8 }\\nimpl PortReset {\\n'
                  '  pub fn __create() -> Self { let s = "open; todo!() }\\n}\\n\' > "$5/port_reset.rs"\n')
    fc.chmod(0o755)
    r = subprocess.run([AUDIT, "--build-dir", str(build_dir), "run", "port_reset", "--compiler", str(fc),
                        "--no-rejects", "--valgrind", "off", "--work-dir", str(tmp_path / "w"),
                        "--report-dir", str(tmp_path / "r")], capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "port_reset.rs: unterminated string (opened on line 3)" in out, out


@pytest.mark.parametrize("ty,arg,ok", [
    ("u8", "255", True), ("u8", "256", False), ("u8", "-1", False), ("i8", "-128", True),
    ("i8", "-0x81", False), ("u8", "b'a'", True), ("u16", "b'a'", False), ("f32", "1.5", True),
    ("f32", "1", False), ("f64", "2.0f32", False), ("bool", "false", True), ("char", "'x'", True),
    ("&str", '"a"', True), ("&'a str", '"a"', True), ("String", '"a"', False),
    ("String", 'String::from("a")', True), ("String", '"a".to_string()', True),
    ("String", 'format!("{}", 1)', True), ("&[u8]", 'b"ab"', True), ("&[u8]", '"ab"', False),
    ("Mode", "Mode::Slow", True), ("Mode", "Mode::Fast(1)", True), ("Mode", "Mode::Slower", False),
    ("u16", "LIMIT", True), ("u8", "LIMIT", False), ("Count", "7", True), ("Count", "-7", False),
    ("Pair<u8, u16>", "7", True),       # not judged: rustc's business
    ("u8", "some_fn(3)", True),         # not judged either
])
def test_argument_types_are_judged_where_the_text_says_them(ty, arg, ok):
    api = shim.ModuleApi(system="S", fields=[], methods={}, consts={"LIMIT": "u16"},
                         enums={"Mode": ["Slow", "Fast"]}, aliases={"Count": "u32"})
    assert (shim._arg_problem(arg, ty, api) is None) == ok


@pytest.mark.parametrize("text,kind", [
    ("0x1f32", ("int", 0x1f32, None)), ("2f32", ("float", "f32")), ("-0x80i8", ("int", -128, "i8")),
    ("1_000", ("int", 1000, None)), ("1e3", ("float", None)), ("b'x'", ("byte",)),
    ('r#"a"#', ("str",)), ('b"ab"', ("bytes",)), ('"a" + "b"', None), ("3u9", None), ("x", None),
])
def test_rustlex_literal_reads_a_literal_from_its_text(text, kind):
    assert rustlex.literal(text) == kind
