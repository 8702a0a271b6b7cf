"""The bad-input matrix for frc: every malformed source is answered with
exit 65 and a line:col diagnostic (or 66 when unreadable) — never a crash,
a hang or silent output."""
import re
import subprocess

import pytest

from conftest import ROOT

PORT_RESET = (ROOT / "fixtures/port_reset.frs").read_bytes()
DIAG = re.compile(rb"^[^\n:]+:\d+:\d+: error\[E\d{3}\]: ", re.M)


def frc(build_dir, tmp_path, data, name="bad.frs"):
    src = tmp_path / name
    src.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    r = subprocess.run([str(build_dir / "compiler/frc"), "compile", "-l", "rust", "-o", str(out), str(src)],
                       capture_output=True, timeout=60)
    return r, list(out.iterdir())


CASES = {
    "truncated": PORT_RESET[: len(PORT_RESET) // 2],
    "truncated_in_attribute": b'@@[no_alloc(state_sta',
    "binary_garbage": bytes(range(256)) * 4,
    "nul_bytes": PORT_RESET.replace(b"connect()", b"conn\0ect()", 1),
    "unclosed_braces": b"@@system A {\n interface:\n  a()\n machine:\n  $S { a() { -> $S }\n",
    "deeply_nested_braces": b"@@system A {\n machine:\n  $S { a() { " + b"{" * 100000 + b"\n",
    "deeply_nested_parens": b"@@system A {\n machine:\n  $S { a() { -> $S(" + b"(" * 100000 + b" } }\n}\n",
    # balanced, so it parses: every level recursed once in parser, checker and
    # emitter until E009 bounded the depth (it was a stack overflow, SIGSEGV)
    "deeply_nested_frame_forms": b"@@system A {\n interface:\n  a(): i32\n machine:\n  $S { a(): i32 { "
                                 + b"@@:(" * 50000 + b"1" + b")" * 50000 + b" } }\n}\n",
    "deeply_nested_transitions": b"@@system A {\n interface:\n  a()\n machine:\n  $S(x: i32) { a() { "
                                 + b"-> $S(" * 30000 + b")" * 30000 + b" } }\n}\n",
    "stray_closer": b"@@system A {\n machine:\n  $S { } } }\n}\n",
    "only_at_signs": b"@@" * 5000,
    "invalid_utf8_in_identifier": b"@@system A\xff\xfe {\n machine:\n $S { }\n}\n",
    "unterminated_string_in_handler": b'@@system A {\n interface:\n a()\n machine:\n $S { a() { let s = "x; } }\n}\n',
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_source_is_rejected_with_a_located_diagnostic(build_dir, tmp_path, name):
    r, outputs = frc(build_dir, tmp_path, CASES[name])
    assert r.returncode == 65, (r.returncode, r.stderr[-800:])
    assert DIAG.search(r.stderr), r.stderr[-800:]
    assert outputs == []                       # nothing half-written
    assert len(r.stderr) < 200_000             # a bounded number of diagnostics


def test_diagnostics_on_a_huge_line_echo_a_window_with_the_caret_in_place(build_dir, tmp_path):
    """A 100 KB one-line file: each diagnostic echoes at most a 120-column
    window of the line (cut ends shown as ...), the caret still under the
    offending token."""
    line = b"@@system A { interface: a() machine: $S { a() { let v = [" + b"0, " * 30000 + b"]; $ } } }"
    r, outputs = frc(build_dir, tmp_path, line + b"\n", name="wide.frs")
    assert r.returncode == 65 and outputs == []
    lines = r.stderr.decode().splitlines()
    assert len(r.stderr) < 2_000, len(r.stderr)
    at = [i for i, s in enumerate(lines) if "error[E002]" in s]
    assert at, lines
    head = re.match(r".*wide\.frs:1:(\d+): error\[E002\]", lines[at[0]])
    assert int(head[1]) == line.index(b"]; $") + 4
    echoed, caret = lines[at[0] + 1].split(" | ", 1)[1], lines[at[0] + 2].split(" | ", 1)[1]
    assert echoed.startswith("...") and len(echoed) <= 3 + 120 + 3
    assert echoed[caret.index("^")] == "$"


def test_nul_and_invalid_utf8_are_located(build_dir, tmp_path):
    """E008 names the first bad byte: the NUL in `conn\\0ect()` (line 8,
    after 8 spaces of indent) and the 0xFF after `@@system A`."""
    r, _ = frc(build_dir, tmp_path, CASES["nul_bytes"])
    assert re.search(rb"bad\.frs:8:13: error\[E008\]: NUL byte", r.stderr), r.stderr
    r, _ = frc(build_dir, tmp_path, CASES["invalid_utf8_in_identifier"])
    assert b"bad.frs:1:11: error[E008]: invalid UTF-8 (byte 0xFF)" in r.stderr, r.stderr


def test_very_large_valid_file_compiles(build_dir, tmp_path):
    """50 000 lines of native Rust around a system: linear, no blow-up."""
    native = b"".join(b"fn helper_%d() -> u32 { %d }\n" % (i, i) for i in range(50_000))
    r, outputs = frc(build_dir, tmp_path, native + PORT_RESET, name="big.frs")
    assert r.returncode == 0, r.stderr[-500:]
    assert [p.name for p in outputs] == ["big.rs"]


def _chain(n):
    iface = "".join("  m%d()\n" % i for i in range(n))
    handlers = "".join("   m%d() { @@:self.m%d() }\n" % (i, i + 1) for i in range(n - 1))
    return "@@system A {\n interface:\n%s machine:\n  $S {\n%s  }\n}\n" % (iface, handlers)


def _hsm(n):
    states = "".join("  $S%d => $S%d { }\n" % (i, i + 1) for i in range(n - 1)) + "  $S%d { }\n" % (n - 1)
    return "@@system A {\n machine:\n%s}\n" % states


def _wide_type(n):
    t = "(" + "u8, " * n + ")"
    return "@@system A {\n interface:\n  go(x: %s)\n machine:\n  $S { go(x: %s) { } }\n}\n" % (t, t)


BIG = {
    "self_call_chain_30000": lambda: _chain(30_000),    # was 10 s: quadratic DFS and name lookups
    "hsm_depth_30000": lambda: _hsm(30_000),            # was 3 s: depth walk per state
    "wide_type_20000": lambda: _wide_type(20_000),      # was 15 s: types compared by repeated concatenation
    "duplicates_20000": lambda: "@@system A {\n interface:\n" + "  go()\n" * 20_000 + " machine:\n  $S { }\n}\n",
}


@pytest.mark.parametrize("name", sorted(BIG))
def test_big_declarations_stay_linear(build_dir, tmp_path, name):
    """Large but legal shapes: answered within seconds (a 5 s budget, 15 s
    under ASan; about 0.2 s on the development machine), no deep recursion."""
    import time
    t = time.monotonic()
    src = BIG[name]()
    r, outputs = frc(build_dir, tmp_path, src.encode(), name=name + ".frs")
    assert r.returncode in (0, 65), r.stderr[-500:]
    assert time.monotonic() - t < 5.0 * (3 if "asan" in str(build_dir) else 1)
    assert len(r.stderr) < 200_000


def test_unreadable_input_exits_66(build_dir, tmp_path):
    r = subprocess.run([str(build_dir / "compiler/frc"), "compile", "-l", "rust", "-o", str(tmp_path),
                        str(tmp_path / "missing.frs")], capture_output=True, timeout=30)
    assert r.returncode == 66 and b"missing.frs" in r.stderr


def test_usage_errors_exit_64(build_dir, tmp_path):
    for args in ([], ["compile"], ["compile", "-l", "python", "-o", str(tmp_path), "x.frs"], ["--bogus"]):
        r = subprocess.run([str(build_dir / "compiler/frc"), *args], capture_output=True, timeout=30)
        assert r.returncode == 64, (args, r.stderr)
