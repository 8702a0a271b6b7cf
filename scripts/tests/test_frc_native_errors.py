"""Errors in native code at .frs positions (issue 14).

frc copies native Rust through unparsed, so a handler whose native
statements miss a `;` compiles with frc and fails in rustc.  `frc check`
and the audit's [build] finding must name the .frs line (and column) with
rustc's message and the generated line, once per fixture.  The fixtures
with errors live in temporary directories, never in fixtures/.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from faa import rustdiag

BAD = """\
// a handler whose native statements miss a `;`
@@[target("rust")]
@@system Counter {
    interface:
        tick()
        count(): u32
    machine:
        $Idle {
            tick() {
                @@:self.n = @@:self.n + 1
                let step = 2
                @@:self.n = @@:self.n + step;
                -> $Busy
            }
            count(): u32 { @@:(@@:self.n) }
        }
        $Busy {
            tick() { -> $Idle }
            count(): u32 { @@:(@@:self.n) }
        }
    domain:
        n: u32 = 0
}
"""

TOML = 'system = "Counter"\n\n[[step]]\ncall = "tick()"\n'

MISSING_SEMI = "fixtures/bad.frs:10:42: error: expected `;`, found keyword `let`"


def _rustc():
    r = os.environ.get("RUSTC") or shutil.which("rustc") or (
        str(Path.home() / ".cargo/bin/rustc") if (Path.home() / ".cargo/bin/rustc").exists() else None)
    if not r:
        pytest.skip("no rustc")
    return r


def check(build_dir, tmp_path, text, name="bad.frs", env=None, args=()):
    """Runs `frc check fixtures/NAME` in tmp_path; returns the result."""
    (tmp_path / "fixtures").mkdir(exist_ok=True)
    (tmp_path / "fixtures" / name).write_text(text)
    e = dict(os.environ, RUSTC=_rustc())
    e.update(env or {})
    return subprocess.run([str(build_dir / "compiler" / "frc"), "check", *args, f"fixtures/{name}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=e)


def test_check_reports_a_missing_semicolon_at_its_frs_line_and_column(build_dir, tmp_path):
    r = check(build_dir, tmp_path, BAD)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith(MISSING_SEMI), r.stderr
    assert lines[1] == "   10 |                 @@:self.n = @@:self.n + 1", r.stderr
    assert lines[2] == "      |" + " " * 42 + "^", r.stderr
    # the generated line, and that the other shape has the same error (printed once)
    assert lines[3].startswith("      = generated bad.rs:"), r.stderr
    assert "(allocating shape; the other shape has it too): self.n = self.n + 1 // frs:10" in lines[3]
    assert r.stderr.count("expected `;`") == 1, r.stderr
    assert lines[-1] == "frc: fixtures/bad.frs: rustc rejected the generated Rust (1 error)"


def test_check_passes_a_fixture_in_both_shapes(build_dir, tmp_path):
    r = check(build_dir, tmp_path, (ROOT / "fixtures" / "debounce_button.frs").read_text(), "db.frs")
    assert (r.returncode, r.stderr) == (0, "")


NOALLOC_ONLY = """\
@@[no_alloc]
@@system Lg {
    interface:
        go()
    machine:
        $A { go() { let s = String::new(); } }
}

fn after() -> u32 { nope }
"""


def test_check_builds_the_no_alloc_shape_without_std_and_maps_text_after_a_system(build_dir, tmp_path):
    r = check(build_dir, tmp_path, NOALLOC_ONLY, "lg.frs")
    assert r.returncode == 1, r.stderr
    # String exists with std (the allocating shape builds) but not under #![no_std]
    assert "fixtures/lg.frs:6:29: error[E0433]: " in r.stderr, r.stderr
    assert "(no_alloc shape): let s = String::new(); // frs:6" in r.stderr, r.stderr
    # native code after the system keeps its line (counted from the system's `}`)
    assert "fixtures/lg.frs:9:21: error[E0425]: cannot find value `nope`" in r.stderr, r.stderr


def test_check_keeps_the_generated_location_of_code_without_a_frs_line(build_dir, tmp_path):
    r = check(build_dir, tmp_path, BAD.replace("n: u32 = 0", "n: u32 = false").replace(
        "@@:self.n + 1\n", "@@:self.n + 1;\n"))
    assert r.returncode == 1, r.stderr
    assert "error[E0308]: mismatched types" in r.stderr, r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith("bad.rs:") and "mismatched types" in first, r.stderr
    assert "= note: generated code with no .frs line; both shapes of fixtures/bad.frs" in r.stderr
    assert "| n: false," in r.stderr


def test_check_rustc_comes_from_the_option_then_RUSTC(build_dir, tmp_path):
    r = check(build_dir, tmp_path, BAD, env={"RUSTC": str(tmp_path / "no-such-rustc")})
    assert r.returncode == 69, r.stderr
    assert "cannot run " + str(tmp_path / "no-such-rustc") in r.stderr
    r = check(build_dir, tmp_path, BAD, env={"RUSTC": str(tmp_path / "no-such-rustc")},
              args=("--rustc", _rustc()))
    assert r.returncode == 1 and MISSING_SEMI in r.stderr, r.stderr


def test_check_usage_and_help(build_dir, tmp_path):
    frc = str(build_dir / "compiler" / "frc")
    h = subprocess.run([frc, "--help"], capture_output=True, text=True)
    assert "frc check [-l rust] [--rustc PATH] FILE.frs" in h.stdout
    assert "check: 0 both shapes build, 1 rustc rejected the generated Rust, 69 rustc" in h.stdout
    r = subprocess.run([frc, "check", "-l", "cobol", "x.frs"], capture_output=True, text=True)
    assert r.returncode == 64 and "checks Rust output only" in r.stderr
    r = subprocess.run([frc, "check", str(tmp_path / "none.frs")], capture_output=True, text=True)
    assert r.returncode == 66
    r = check(build_dir, tmp_path, "@@system S { machine: $A { go() { } }\n")
    assert r.returncode == 65 and "E003" in r.stderr


# ---- rustdiag, the audit's side ---------------------------------------------

HUMAN = """\
error: expected `;`, found keyword `let`
   --> /w/bad/gen/alloc/bad.rs:226:28
    |
226 |         self.n = self.n + 1 // frs:10
    |                            ^ help: add `;` here
227 |                 let step = 2 // frs:11
    |                 --- unexpected token

error[E0425]: cannot find value `x` in this scope
 --> /w/bad/shim/bad_alloc.rs:3:5
  |
3 |     x
  |     ^ not found in this scope

error: aborting due to 2 previous errors

For more information about this error, try `rustc --explain E0425`.
"""


def test_parse_reads_each_error_with_its_location_and_label():
    ds = rustdiag.parse(HUMAN)
    assert [(d.message, d.file, d.line, d.col) for d in ds] == [
        ("error: expected `;`, found keyword `let`: help: add `;` here", "/w/bad/gen/alloc/bad.rs", 226, 28),
        ("error[E0425]: cannot find value `x` in this scope: not found in this scope",
         "/w/bad/shim/bad_alloc.rs", 3, 5)]


def test_map_col_finds_the_column_by_the_text_around_it():
    assert rustdiag.map_col("        self.n = self.n + 1 // frs:10",
                            "                @@:self.n = @@:self.n + 1", 28) == 42
    assert rustdiag.map_col("        let x: u32 = \"text\"; // frs:13",
                            "                let x: u32 = \"text\";", 22) == 30
    # a part of a word is no match (`Str` of `Strng` is not `String`)
    assert rustdiag.map_col("fn _s_B_go(&mut self, n: Strng) {", "  go(n) { let s = String::new(); }", 26) == 0


def _failed(tmp_path, module_text, frs_text):
    """A work dir with one fixture's module and variant, and a RustcFailure
    per shape and opt-level, each rustc output pointing at line 226."""
    work = tmp_path / "w"
    for mode in ("alloc", "noalloc"):
        (work / "variants" / mode / "fixtures").mkdir(parents=True)
        (work / "variants" / mode / "fixtures" / "bad.frs").write_text(frs_text)
        (work / "gen" / mode).mkdir(parents=True)
        (work / "gen" / mode / "bad.rs").write_text(module_text)
    return work


def test_once_per_fixture_folds_every_shape_and_level_into_one_error(build_dir, tmp_path):
    out = tmp_path / "gen"
    subprocess.run([str(build_dir / "compiler" / "frc"), "compile", "-l", "rust", "-o", str(out),
                    "fixtures/bad.frs"], cwd=_fixture_dir(tmp_path), check=True)
    module_text = (out / "bad.rs").read_text()
    line = next(i for i, t in enumerate(module_text.splitlines(), 1) if t.endswith("// frs:10"))
    work = _failed(tmp_path, module_text, BAD)

    class O:
        def __init__(self, mode):
            self.module = work / "gen" / mode / "bad.rs"
            self.errors = ["bad: the compiler said something else"] + [
                rustdiag.RustcFailure(f"/b/fxs_{mode}_o{opt}.rs",
                                      HUMAN.replace("/w/bad/gen/alloc/bad.rs:226", f"{self.module}:{line}"),
                                      ["-C", f"opt-level={opt}"]) for opt in (0, 3)]
    results = {("bad", "alloc"): O("alloc"), ("bad", "noalloc"): O("noalloc")}
    sources = {("bad", m): (tmp_path / "shim.rs", lambda rel, m=m: (work / "variants" / m / rel).read_text())
               for m in ("alloc", "noalloc")}
    rustdiag.once_per_fixture(results, sources)
    alloc, noalloc = results[("bad", "alloc")].errors, results[("bad", "noalloc")].errors
    assert noalloc == ["bad: the compiler said something else"]
    assert alloc[0] == "bad: the compiler said something else" and len(alloc) == 2
    text = alloc[1]
    assert text.startswith(MISSING_SEMI + ": help: add `;` here (rustc, alloc and noalloc shapes, O0 and O3)\n")
    assert text.count("expected `;`") == 1, text
    assert "   10 |                 @@:self.n = @@:self.n + 1\n" in text
    assert f"= generated {work}/gen/alloc/bad.rs:{line}:28: self.n = self.n + 1 // frs:10" in text
    # rustc's error outside the compiler's output keeps its own location, said plainly
    assert ("bad: /w/bad/shim/bad_alloc.rs:3:5: error[E0425]: cannot find value `x` in this scope: "
            "not found in this scope (rustc, alloc and noalloc shapes, O0 and O3)") in text
    assert "= note: in /w/bad/shim/bad_alloc.rs, not in the compiler's output" in text


def _fixture_dir(tmp_path):
    d = tmp_path / "src"
    (d / "fixtures").mkdir(parents=True)
    (d / "fixtures" / "bad.frs").write_text(BAD)
    return d


def test_the_audit_reports_a_native_error_once_at_its_frs_line(build_dir, tmp_path):
    _rustc()
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "bad.frs").write_text(BAD)
    (fixtures / "bad.toml").write_text(TOML)
    work, out = tmp_path / "w", tmp_path / "r"
    r = subprocess.run([str(ROOT / "scripts" / "audit"), "--build-dir", str(build_dir),
                        "--fixtures-dir", str(fixtures), "run", "--valgrind", "off", "--no-rejects",
                        "--work-dir", str(work), "--report-dir", str(out), "-q"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 1, r.stdout + r.stderr
    rep = json.loads((out / "report.json").read_text())
    builds = [f for f in rep["findings"] if f["rule"] == "build"]
    assert len(builds) == 1, builds
    msg = builds[0]["message"]
    first = msg.splitlines()[0]
    assert first.startswith(MISSING_SEMI) and first.endswith("(rustc, alloc and noalloc shapes, O0 and O3)"), msg
    assert "   10 |                 @@:self.n = @@:self.n + 1" in msg
    assert "/bad/gen/alloc/bad.rs:" in msg and msg.rstrip().endswith("self.n = self.n + 1 // frs:10"), msg
    assert r.stdout.count("FAIL [build]") == 1, r.stdout
