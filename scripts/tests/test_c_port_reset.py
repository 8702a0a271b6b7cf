"""End to end: PortReset in C through `audit run`, beside PortReset in Rust.

fixtures/c/port_reset.frs is discovered as `port_reset.c`, compiled with
`COMPILER compile -l c` in both shapes (variant.py), built (cbuild.py),
measured, checked by memcheck and Valgrind's count, gated; the report shows
both targets side by side.  The compiler here is a stand-in that writes the
hand-written modules of scripts/tests/data/c/ (C_TARGET's shapes) and hands
`-l rust` to frc; test_frc_port_reset_in_c runs frc's own `-l c` on the
corpus's fixtures/c/port_reset.frs once it is there."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from faa import model

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "c"
AUDIT = ROOT / "scripts" / "audit"

pytestmark = pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("valgrind")),
                                reason="gcc and valgrind needed")


@pytest.fixture(scope="module")
def audited(build_dir, tmp_path_factory):
    """One audit of fixtures/port_reset (Rust) and fixtures/c/port_reset (C)."""
    tmp = tmp_path_factory.mktemp("c_e2e")
    fixtures = tmp / "fixtures"
    (fixtures / "c").mkdir(parents=True)
    for f in ("port_reset.frs", "port_reset.toml"):
        shutil.copyfile(ROOT / "fixtures" / f, fixtures / f)
        shutil.copyfile(DATA / f, fixtures / "c" / f)
    env = dict(os.environ, FAA_FAKE_RUST_COMPILER=str(build_dir / "compiler" / "frc"))
    r = subprocess.run([str(AUDIT), "--build-dir", str(build_dir), "--fixtures-dir", str(fixtures), "run",
                        "--compiler", str(DATA / "fake_frc_c"), "--no-rejects", "--valgrind", "on",
                        "--work-dir", str(tmp / "w"), "--report-dir", str(tmp / "r")],
                       capture_output=True, text=True, env=env, timeout=1200)
    return r, tmp / "r"


def test_both_targets_pass_the_same_gate(audited):
    r, _ = audited
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PortReset in C — " in r.stdout                 # the table names the target
    # memcheck, Valgrind's count and coverage ran on every library
    assert "audit: PASS (unchecked: rejects)" in r.stdout


def test_c_no_alloc_reads_zero_and_the_allocating_shape_meets_its_scenario(audited):
    _, out = audited
    rep = json.loads((out / "report.json").read_text())
    assert [(f["name"], f["target"]) for f in rep["fixtures"]] == [("port_reset", "rust"), ("port_reset.c", "c")]
    c = rep["fixtures"][1]
    assert c["nostd"] == "ok" and c["source"].endswith("c/port_reset.frs")
    want = [5, 9, 9, 4, 9, 9, 4]          # scripts/tests/data/c/port_reset.toml
    for run in c["runs"]:
        counts = [run["construct"]["allocs"]] + [s["allocs"] for s in run["steps"]]
        if run["mode"] == "noalloc":
            windows = [run["construct"], *run["steps"], run["destroy"]]
            assert all(w["allocs"] == w["frees"] == w["bytes"] == 0 for w in windows), run["opt"]
            assert [s["allocs_sum"] + s["frees_sum"] for s in run["steady"]] == [0, 0]
            assert not run["violations"]
        else:
            assert counts == want, (run["opt"], counts)
        assert run["memcheck"]["ok"]
    assert "coverage" not in rep["unchecked"]
    assert c["coverage"]["lines"]["noalloc"]["covered"] == 4          # ccoverage.py


def test_the_reports_show_rust_and_c_side_by_side(audited):
    _, out = audited
    md = (out / "report.md").read_text()
    assert "| fixture | target | shape | opt |" in md
    assert "| port_reset | rust | noalloc | O3 |" in md and "| port_reset.c | c | noalloc | O3 |" in md
    junit = (out / "junit.xml").read_text()
    assert '<testcase name="c.noalloc.O3" classname="port_reset.c"' in junit
    assert '<testcase name="noalloc.O3" classname="port_reset"' in junit
    if (out / "report.html").exists():
        html = (out / "report.html").read_text()
        assert '<th class="l">target</th>' in html and "system PortReset (c)" in html


def test_a_report_written_before_c_fixtures_loads_as_rust(audited, tmp_path):
    _, out = audited
    doc = json.loads((out / "report.json").read_text())
    for f in doc["fixtures"]:
        del f["target"]
    old = tmp_path / "report.json"
    old.write_text(json.dumps(doc))
    rep = model.Report.load(old)
    assert [f.target for f in rep.fixtures] == ["rust", "rust"]
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    new = json.loads((out / "report.json").read_text())
    for d in (doc, new):              # the fixture entries with and without target (runs: test_schemas)
        for f in d["fixtures"]:
            f["runs"] = []
        jsonschema.validate(d, schema)
    new["fixtures"][1]["target"] = "cobol"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(new, schema)


def test_frc_port_reset_in_c(build_dir, tmp_path):
    """The corpus's C PortReset with frc -l c: 0 in every no_alloc window,
    the scenario's (framec's) counts in the allocating one.  Valgrind off:
    nothing here reads what it produces, and memcheck, Valgrind's count and
    coverage of this fixture are the audit-every-fixture test's (the strict
    audit of the whole corpus, fixtures/c included)."""
    if not (ROOT / "fixtures" / "c" / "port_reset.frs").exists():
        pytest.skip("fixtures/c/port_reset.frs not in the corpus yet")
    r = subprocess.run([str(AUDIT), "--build-dir", str(build_dir), "run", "port_reset.c", "--valgrind", "off",
                        "--work-dir", str(tmp_path / "w"), "--report-dir", str(tmp_path / "r")],
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    (fx,) = rep["fixtures"]
    assert fx["target"] == "c" and fx["nostd"] == "ok"
    for run in fx["runs"]:
        if run["mode"] == "noalloc":
            assert all(w["allocs"] == w["frees"] == 0 for w in [run["construct"], *run["steps"]])
        else:
            assert any(s["allocs"] for s in run["steps"])    # the counts themselves: rule expect
