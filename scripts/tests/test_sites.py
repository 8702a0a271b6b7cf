"""Allocation sites of the allocating shape (scripts/faa/sites.py): the
acceptance check of issue 13 -- port_reset's table lists its 4 transition
allocations by site, one per dispatch each -- and the sites agree with the
interposer's count of every step.  Needs `make build`, rustc and Valgrind."""
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ROOT, SCRIPTS
from faa import model, sites, valgrind

AUDIT = str(SCRIPTS / "audit")


@pytest.fixture(scope="module")
def port_reset(build_dir, tmp_path_factory):
    """An audit of port_reset at O0 (Valgrind on), the memcheck result of
    its allocating O0 library as the audit ran it (sites kept; what the
    Valgrind stage leaves in WORK/valgrind, keyed by the library's build
    stamp, and serves a warm run from) and its site table.  O0 alone and
    no rejects: the table is the lowest opt-level's (sites.attach), and
    only it and the allocating O0 run are read here."""
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed (apt-get install -y valgrind)")
    tmp = tmp_path_factory.mktemp("sites")
    work, out = tmp / "w", tmp / "r"
    r = subprocess.run([AUDIT, "--build-dir", str(build_dir), "run", "port_reset", "-q",
                        "--opt", "0", "--no-rejects",
                        "--work-dir", str(work), "--report-dir", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line.split("\t") for line in (work / "manifest.tsv").read_text().splitlines()
            if not line.startswith("#")]
    (lib, prefix), = [(row[3], row[5]) for row in rows if row[:3] == ["port_reset", "alloc", "0"]]
    module = work / "port_reset/gen/alloc/port_reset.rs"
    saved = json.loads((work / "valgrind" / f"{Path(lib).stem}.memcheck.json").read_text())
    assert "memcheck+sites" in saved["key"], saved["key"]
    mc = valgrind.Memcheck(**saved["result"][prefix])
    assert mc.ok and mc.sites, mc
    shim = (work / "port_reset/shim/port_reset_alloc.rs").read_text()
    return SimpleNamespace(work=work, out=out, module=module, prefix=prefix, mc=mc,
                           table=sites.table(mc.sites, mc.windows, module, shim, prefix, 0),
                           report=json.loads((out / "report.json").read_text()))


def per_dispatch(table, step):
    """{generated line: calls per dispatch} of the sites of 1-based `step`."""
    n = table["step_dispatches"][step - 1]
    return {s["line"]: s["steps"][str(step)] / n for s in table["sites"] if str(step) in s["steps"]}


def test_port_reset_lists_its_4_transition_allocations_by_site(port_reset):
    t = port_reset.table
    lines = port_reset.module.read_text().splitlines()
    text = lambda s: lines[s["line"] - 1].strip()
    by_line = {s["line"]: s for s in t["sites"] if s["phase"] == "dispatch"}
    # step 1 connect(): $Idle -> $Resetting
    step1 = per_dispatch(t, 1)
    assert sorted(step1.values()) == [1.0] * 4, step1
    found = {(by_line[ln]["function"], by_line[ln]["what"], by_line[ln]["frs"], text(by_line[ln]))
             for ln in step1}
    assert found == {
        ("PortReset::connect", "interface connect", "fixtures/port_reset.frs:8",
         "let __e = std::rc::Rc::new(PortResetFrameEvent::connect);"),
        ("PortReset::__comp_Resetting", "handler $Idle.connect", "fixtures/port_reset.frs:12",
         'state: String::from("Resetting"),'),
        ("PortReset::__drain", "system PortReset", "fixtures/port_reset.frs:6",
         "let __x = std::rc::Rc::new(PortResetFrameEvent::__Exit);"),
        ("PortReset::__drain", "system PortReset", "fixtures/port_reset.frs:6",
         "let __n = std::rc::Rc::new(PortResetFrameEvent::__Enter);"),
    }, found
    # every transition has its 4 sites; the events a state ignores only the Rc event
    for step, n in ((2, 4), (4, 4), (5, 4), (3, 1), (6, 1)):
        got = per_dispatch(t, step)
        assert sorted(got.values()) == [1.0] * n, (step, got)
    # the exit event: 44 transitions in 46 dispatches (6 steps + 20 x 2 steady replays)
    exit_ = [s for s in by_line.values() if "__Exit" in text(s)]
    assert [s["per_call"] for s in exit_] == [pytest.approx(44 / 46, abs=1e-3)]
    assert t["dispatches"] == sum(t["step_dispatches"]) == 46 and t["constructions"] == 1


def test_the_sites_add_up_to_the_interposers_count(port_reset):
    """Per step, the sites' calls per dispatch sum to what the interposer
    counted in that step's window; the construction's sites to __create()'s."""
    t = port_reset.table
    fx, = [f for f in port_reset.report["fixtures"] if f["name"] == "port_reset"]
    run, = [r for r in fx["runs"] if (r["mode"], r["opt"]) == ("alloc", 0)]
    for s in run["steps"]:
        assert sum(per_dispatch(t, s["step"]).values()) == s["allocs"], s
    construct = [s for s in t["sites"] if s["phase"] == "construct"]
    assert sum(s["calls"] for s in construct) == run["construct"]["allocs"] == 4
    assert {s["what"] for s in construct} == {"system PortReset, start state $Idle"}
    assert not [s for s in t["sites"] if s["phase"] in ("destroy", "other")]


def test_the_table_round_trips_through_report_json_and_its_schema(port_reset, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    rep = model.Report.load(port_reset.out / "report.json")
    outcome = SimpleNamespace(module=port_reset.module, prefix=port_reset.prefix)
    sites.attach(rep, {("port_reset", "alloc", 0, "memcheck"): port_reset.mc},
                 {("port_reset", "alloc"): outcome}, port_reset.work)
    assert rep.fixtures[0].alloc_sites == port_reset.table
    rep.write(tmp_path / "report.json")
    doc = json.loads((tmp_path / "report.json").read_text())
    schema = json.loads((ROOT / "schemas/report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert model.Report.load(tmp_path / "report.json").fixtures[0].alloc_sites == port_reset.table
    doc["fixtures"][0]["alloc_sites"]["sites"][0]["per_call"] = -1
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc))


def test_the_audits_report_json_carries_the_table(port_reset):
    fx, = [f for f in port_reset.report["fixtures"] if f["name"] == "port_reset"]
    assert fx["alloc_sites"]["sites"] and fx["alloc_sites"]["dispatches"] == 46
