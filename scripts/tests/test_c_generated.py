"""`audit run --generated x.c`: C generated elsewhere, one shape at a time
(`--lang c`, or from the extension), through the same gate: the counts, the
scenario's expectations, Valgrind's count beside the interposer's, and a
forbidden call named at its generated and .frs line."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "c"
AUDIT = ROOT / "scripts" / "audit"
HANDLER = "                self->resets = self->resets + 1;\n"

pytestmark = pytest.mark.skipif(not shutil.which("gcc"), reason="gcc not installed")


def audit(build_dir, tmp_path, module, mode, *extra, scenario=DATA / "port_reset.toml"):
    r = subprocess.run([str(AUDIT), "--build-dir", str(build_dir), "run", "--generated", str(module),
                        "--scenario", str(scenario), "--mode", mode, "--work-dir", str(tmp_path / "w"),
                        "--report-dir", str(tmp_path / "r"), *extra],
                       capture_output=True, text=True, timeout=900)
    rep = tmp_path / "r" / "report.json"
    return r, (json.loads(rep.read_text()) if rep.exists() and r.returncode in (0, 1) else None)


def windows(rep):
    """{(mode, opt, step or 'construct'): allocs} of a report."""
    out = {}
    for run in rep["fixtures"][0]["runs"]:
        out[(run["mode"], run["opt"], "construct")] = run["construct"]["allocs"]
        for s in run["steps"]:
            out[(run["mode"], run["opt"], s["step"])] = s["allocs"]
    return out


def test_the_no_alloc_shape_reads_zero_everywhere(build_dir, tmp_path):
    r, rep = audit(build_dir, tmp_path, DATA / "port_reset_noalloc.c", "noalloc", "--valgrind", "off")
    assert r.returncode == 0, r.stdout + r.stderr
    fx = rep["fixtures"][0]
    assert (fx["name"], fx["target"], fx["nostd"]) == ("port_reset", "c", "ok")
    assert set(windows(rep).values()) == {0} and len(windows(rep)) == 14


def test_the_allocating_shape_meets_the_scenario_and_valgrind_agrees(build_dir, tmp_path):
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed")
    r, rep = audit(build_dir, tmp_path, DATA / "port_reset_alloc.c", "alloc", "--valgrind", "on")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "audit: PASS — " in r.stdout     # memcheck, the second counter and coverage (#line) ran
    w = windows(rep)
    for opt in (0, 3):
        assert [w[("alloc", opt, k)] for k in ("construct", 1, 2, 3, 4, 5, 6)] == [5, 9, 9, 4, 9, 9, 4]


def test_lang_c_for_another_extension_and_rust_by_default(build_dir, tmp_path):
    odd = tmp_path / "port_reset.gen"
    shutil.copyfile(DATA / "port_reset_noalloc.c", odd)
    r, rep = audit(build_dir, tmp_path, odd, "noalloc", "--valgrind", "off", "--opt", "0", "--lang", "c")
    assert r.returncode == 0, r.stdout + r.stderr
    assert rep["fixtures"][0]["target"] == "c"
    r, _ = audit(build_dir, tmp_path / "rust", odd, "noalloc", "--valgrind", "off", "--opt", "0")
    assert r.returncode != 0 and "pub struct" in r.stdout + r.stderr     # read as Rust


def test_the_wrong_shape_is_a_build_failure(build_dir, tmp_path):
    r, _ = audit(build_dir, tmp_path, DATA / "port_reset_alloc.c", "noalloc", "--valgrind", "off", "--opt", "0")
    assert r.returncode == 1 and "FAIL [build]" in r.stdout and "expected the noalloc shape" in r.stdout


def test_an_allocation_in_a_no_alloc_handler_is_named_at_its_frs_line(build_dir, tmp_path):
    text = (DATA / "port_reset_noalloc.c").read_text()
    assert HANDLER in text
    bad = tmp_path / "port_reset.c"
    bad.write_text(text.replace(HANDLER, HANDLER.rstrip("\n") + " { extern void *malloc(unsigned long); "
                                "extern void free(void *); void *volatile p = malloc(8); free(p); }\n"))
    gen_line = next(i for i, ln in enumerate(bad.read_text().splitlines(), 1) if "malloc(8)" in ln)
    r, rep = audit(build_dir, tmp_path, bad, "noalloc", "--valgrind", "off")
    assert r.returncode == 1
    zero = [ln for ln in r.stdout.splitlines() if ln.startswith("FAIL [zero]")]
    assert zero and all(f"allocated at {bad}:{gen_line} in PortReset__s_Idle_connect (from "
                        f"fixtures/c/port_reset.frs:13, handler $Idle.connect)" in ln for ln in zero), zero
    assert {f["rule"] for f in rep["findings"]} == {"zero", "freestanding"}
