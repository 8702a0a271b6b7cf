"""Coverage of C fixtures (faa/ccoverage.py): the .frs lines the #line
directives give the O0 library must all run in both shapes, every handler
too, unless [uncovered] says why; a stale [uncovered] entry fails."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "c"
AUDIT = ROOT / "scripts" / "audit"

pytestmark = pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("valgrind")),
                                reason="gcc and valgrind needed")

RESET_DONE = '''[[step]]             # $Resetting -> $Enabled
call = "reset_done()"
alloc = 9
'''


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The work dirs of the audits here, one per set of steps: the audits
    with every step and those without reset_done() build the same libraries
    in pairs (an [uncovered] entry changes none), so the second of a pair
    reuses the first one's libraries and Valgrind results; ccoverage.py
    profiles every run anew."""
    base = tmp_path_factory.mktemp("c_coverage_work")
    return lambda toml_text: base / ("every_step" if RESET_DONE in toml_text else "no_reset_done")


def audit(build_dir, work, tmp_path, toml_text):
    fixtures = tmp_path / "fixtures"
    (fixtures / "c").mkdir(parents=True)
    shutil.copyfile(DATA / "port_reset.frs", fixtures / "c" / "port_reset.frs")
    (fixtures / "c" / "port_reset.toml").write_text(toml_text)
    r = subprocess.run([str(AUDIT), "--build-dir", str(build_dir), "--fixtures-dir", str(fixtures), "run",
                        "--compiler", str(DATA / "fake_frc_c"), "--no-rejects", "--valgrind", "on",
                        "--opt", "0", "--work-dir", str(work(toml_text)),
                        "--report-dir", str(tmp_path / "r")],
                       capture_output=True, text=True, timeout=900)
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    return r, rep


def coverage_lines(r):
    return [ln for ln in r.stdout.splitlines() if ln.startswith("FAIL [coverage]")]


def test_every_handler_and_line_ran(build_dir, work, tmp_path):
    r, rep = audit(build_dir, work, tmp_path, (DATA / "port_reset.toml").read_text())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "coverage" not in rep["unchecked"]
    cov = rep["fixtures"][0]["coverage"]
    assert cov["cells"] == {"Idle.connect": {"alloc": True, "noalloc": True},
                            "Resetting.reset_done": {"alloc": True, "noalloc": True},
                            "Resetting.timeout": {"alloc": True, "noalloc": True}}
    assert {m: (v["total"], v["covered"]) for m, v in cov["lines"].items()} == \
        {"alloc": (4, 4), "noalloc": (4, 4)}          # .frs lines 13, 14, 18, 19


def test_a_handler_no_step_reaches_fails_with_its_line(build_dir, work, tmp_path):
    text = (DATA / "port_reset.toml").read_text()
    assert RESET_DONE in text
    r, rep = audit(build_dir, work, tmp_path, text.replace(RESET_DONE, ""))
    assert r.returncode == 1
    fails = coverage_lines(r)
    assert any("handler $Resetting.reset_done never ran in the allocating and no_alloc shapes" in f
               for f in fails), fails
    unc = rep["fixtures"][0]["coverage"]["lines"]["noalloc"]["uncovered"]
    assert [(u["line"], u["in"], u["text"]) for u in unc] == [(18, "$Resetting.reset_done",
                                                               "reset_done() { -> $Enabled }")]


def test_uncovered_excuses_it_and_a_stale_entry_fails(build_dir, work, tmp_path):
    text = (DATA / "port_reset.toml").read_text()
    excused = text.replace(RESET_DONE, "") + '\n[uncovered]\n"$Resetting.reset_done" = "a test"\n'
    r, _ = audit(build_dir, work, tmp_path / "a", excused)
    assert r.returncode == 0, r.stdout
    r, _ = audit(build_dir, work, tmp_path / "b", text + '\n[uncovered]\n"line 13" = "a stale test"\n')
    assert r.returncode == 1
    assert any('[uncovered] "line 13" is stale' in f for f in coverage_lines(r)), r.stdout
