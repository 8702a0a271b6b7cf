"""End to end: the audit command over real fixture libraries.

These need `make build` (frc, libaudit.so, the harness) and rustc.
"""
import json
import re
import subprocess
import sys

import pytest

from conftest import ROOT, SCRIPTS
from faa import run, tools

AUDIT = [str(SCRIPTS / "audit")]


def audit(build_dir, *args):
    r = subprocess.run(AUDIT + ["--build-dir", str(build_dir), *args],
                       capture_output=True, text=True, timeout=900)
    return r.returncode, r.stdout + r.stderr


@pytest.fixture(scope="module")
def port_reset(build_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    work = out.parent / (out.name + "-work")
    status, text = audit(build_dir, "run", "port_reset", "--report-dir", str(out), "--work-dir", str(work))
    return status, text, json.loads((out / "report.json").read_text()), work


def test_port_reset_passes_the_gate(port_reset):
    status, text, rep, _ = port_reset
    assert status == 0, text
    assert rep["verdict"] == "pass"
    assert re.search(r"PortReset — .*port_reset\.frs", text)


def runs(rep, mode):
    fx = next(f for f in rep["fixtures"] if f["name"] == "port_reset")
    got = [r for r in fx["runs"] if r["mode"] == mode]
    assert sorted(r["opt"] for r in got) == [0, 3]
    return got


def test_port_reset_no_alloc_is_zero_at_both_opt_levels(port_reset):
    for r in runs(port_reset[2], "noalloc"):
        windows = [r["construct"]] + r["steps"]
        assert len(windows) == 7
        assert all(w["allocs"] == 0 and w["frees"] == 0 and w["bytes"] == 0 for w in windows)
        assert r["steady"] and all(s["allocs_max"] == 0 and s["n"] == 2000 for s in r["steady"])


def test_port_reset_allocating_counts_match_framec_4(port_reset):
    for r in runs(port_reset[2], "alloc"):
        assert (r["construct"]["allocs"], r["construct"]["frees"]) == (4, 2)
        # transition 4 (Rc event, state String, Rc exit, Rc enter); ignored event 1
        assert [s["allocs"] for s in r["steps"]] == [4, 4, 1, 4, 4, 1]
        assert all(s["bytes"] > 0 for s in r["steps"])


def test_port_reset_reports_size_of_both_shapes(port_reset):
    fx = port_reset[2]["fixtures"][0]
    assert fx["size_of"]["alloc"] > 0 and fx["size_of"]["noalloc"] > 0
    assert fx["nostd"] == "ok"


def test_every_reject_fixture_is_rejected_with_its_code(port_reset):
    rejects = port_reset[2]["rejects"]
    assert any(r["fixture"] == "string_payload" for r in rejects)
    for r in rejects:
        assert r["ok"], r["message"]
        assert r["exit"] == 65 and r["expected"] in r["got"]


def test_harness_without_the_interposer_fails_loudly(build_dir, port_reset):
    """No false zero: the same libraries, LD_PRELOAD unset -> every test fails."""
    work = port_reset[3]
    tree = tools.BuildTree(build_dir, work)
    rows = [line.split("\t") for line in (work / "manifest.tsv").read_text().splitlines()
            if not line.startswith("#")]
    row = next(r for r in rows if r[:3] == ["port_reset", "noalloc", "0"])
    assert row[5] == "fx_port_reset__" and "bundles" in row[3]     # a bundle library
    entries = [("port_reset", "noalloc", 0, row[3], row[5])]
    hr = run.run_harness(tree, entries, jobs=1, extra_env={"LD_PRELOAD": ""})
    assert hr.status != 0
    assert "interposer not loaded" in hr.output
    assert hr.failing + hr.crashing >= 2      # fixture::audit and harness::calibration
    assert all(m.verdict is None for m in hr.measurements)   # nothing was counted


def test_injected_allocation_fails_the_gate_and_names_the_call(build_dir, port_reset, tmp_path):
    gen = port_reset[3] / "port_reset" / "gen" / "noalloc" / "port_reset.rs"
    src = gen.read_text()
    m = re.search(r"pub fn connect\(&mut self\)[^{]*\{", src)
    assert m, "generated module has no connect()"
    mutant = src[:m.end()] + (" let _leak = std::boxed::Box::new(7u64);"
                                   " std::mem::forget(unsafe { std::ptr::read_volatile(&_leak) });") + src[m.end():]
    mod = tmp_path / "port_reset.rs"
    mod.write_text(mutant)
    # Valgrind off: the lines asserted are the interposer's (zero) and the
    # static proof's (nostd); what Valgrind would add to a failing run is
    # not what this test is about
    status, text = audit(build_dir, "run", "--generated", str(mod), "--scenario",
                         str(ROOT / "fixtures" / "port_reset.toml"), "--valgrind", "off",
                         "--report-dir", str(tmp_path))
    assert status == 1, text
    assert re.search(r"FAIL \[zero\] port_reset no_alloc O0 step 1 connect\(\): 1 allocation", text)
    assert re.search(r"FAIL \[zero\] port_reset no_alloc O3 step 1 connect\(\): 1 allocation", text)
    assert "FAIL [nostd]" in text       # Box is not available without alloc


def test_audit_rejects_unknown_fixture_with_usage_status(build_dir):
    status, text = audit(build_dir, "run", "no_such_fixture")
    assert status == 2 and "no fixture named no_such_fixture" in text


def test_mode_without_generated_is_refused_not_ignored(build_dir, tmp_path):
    """--mode narrows nothing in a run over fixtures/ (both shapes are built
    and compared): refused with exit 2 before anything is written."""
    status, text = audit(build_dir, "run", "port_reset", "--mode", "noalloc",
                         "--work-dir", str(tmp_path / "w"), "--report-dir", str(tmp_path / "r"))
    assert status == 2 and "--mode is the shape of a --generated module" in text, text
    assert not (tmp_path / "w").exists() and not (tmp_path / "r").exists()
