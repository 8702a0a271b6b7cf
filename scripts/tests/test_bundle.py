"""Bundles (bundle.py): many fixtures in one crate, results per fixture.

Unit tests of the bucketing and naming; end to end, a bundle that one
fixture breaks is rebuilt fixture by fixture, so that fixture fails alone
with rustc's error and its bucket-mates are measured as usual."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from faa import bundle


def member(name):
    return bundle.Member(fixture=name, ident=name, shim=Path(f"/s/{name}.rs"),
                         module=Path(f"/g/{name}.rs"), text="")


def test_buckets_are_stable_and_split_by_size():
    ms = [member(f"fx{i}") for i in range(26)]
    b8 = bundle.buckets(ms, 8)
    assert len(b8) <= 4 and sum(len(b) for b in b8) == 26
    assert bundle.buckets(list(reversed(ms)), 8) == b8          # order of discovery does not matter
    assert bundle.buckets(ms, 100) == [sorted(ms, key=lambda m: m.fixture)]
    assert len(bundle.buckets(ms, 1)) <= 26


def test_an_edit_of_one_fixture_changes_one_buckets_inputs():
    ms = [member(f"fx{i}") for i in range(26)]
    before = {bundle.crate_name("fxb", "alloc", b, 3): [m.fixture for m in b] for b in bundle.buckets(ms, 8)}
    ms[5] = bundle.Member(fixture="fx5", ident="fx5", shim=Path("/s/fx5.rs"), module=Path("/g/fx5.rs"),
                          text="edited")
    after = {bundle.crate_name("fxb", "alloc", b, 3): [m.fixture for m in b] for b in bundle.buckets(ms, 8)}
    assert before == after     # names and members depend on the names only; the cache key on the text


def test_prefix_and_module_name_are_rust_identifiers():
    assert bundle.prefix("port_reset") == "fx_port_reset__"
    assert bundle.module_name("port_reset") == "fx_port_reset"
    root = bundle.root_source([member("a"), member("b")], "test")
    assert 'pub mod fx_a;' in root and 'pub mod fx_b;' in root and root.count("#[path") == 2


def test_bundle_size_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("FAA_BUNDLE_SIZE", "3")
    assert bundle.bucket_size() == 3
    for bad in ("0", "-1", "x"):
        monkeypatch.setenv("FAA_BUNDLE_SIZE", bad)
        try:
            bundle.bucket_size()
        except Exception as e:
            assert "FAA_BUNDLE_SIZE" in str(e)
        else:
            raise AssertionError(f"FAA_BUNDLE_SIZE={bad} accepted")


def test_a_fixture_that_breaks_its_bundle_fails_alone(build_dir, tmp_path):
    """At O0 only: bundle.build splits a failed crate the same way at every
    opt-level (rustc rejects the type error before any codegen), so one
    opt-level's crates, one per shape, show the split."""
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    for name in ("port_reset", "debounce_button"):
        for ext in (".frs", ".toml"):
            shutil.copy(ROOT / "fixtures" / (name + ext), fixtures / (name + ext))
    shutil.copytree(ROOT / "fixtures" / "reject", fixtures / "reject")
    # native code rustc rejects (a string where a u8 goes; the scenario is
    # fine, so only the build can find it), on the same line: the module
    # does not compile and takes its bundle down with it
    src = (ROOT / "fixtures" / "debounce_button.frs").read_text()
    assert "            self.pending = ev;\n" in src
    (fixtures / "broken_button.frs").write_text(src.replace(
        "            self.pending = ev;\n", "            self.pending = ev; let _broken: u8 = \"yes\";\n", 1))
    shutil.copy(ROOT / "fixtures" / "debounce_button.toml", fixtures / "broken_button.toml")
    out = tmp_path / "r"
    env = dict(os.environ, FAA_BUNDLE_SIZE="8")
    r = subprocess.run([str(ROOT / "scripts" / "audit"), "--build-dir", str(build_dir),
                        "--fixtures-dir", str(fixtures), "run", "--valgrind", "off", "--no-rejects",
                        "--opt", "0", "--work-dir", str(tmp_path / "w"), "--report-dir", str(out)],
                       capture_output=True, text=True, env=env, timeout=900)
    text = r.stdout + r.stderr
    assert r.returncode == 1, text
    assert "alone" in r.stderr and "FAILED" in r.stderr          # the bundle was split
    rep = json.loads((out / "report.json").read_text())
    build = [f for f in rep["findings"] if f["rule"] == "build" and f["failure"]]
    assert build and {f["fixture"] for f in build} == {"broken_button"}, build
    assert any("rustc" in f["message"] or "mismatched types" in f["message"] for f in build)
    runs = {fx["name"]: fx["runs"] for fx in rep["fixtures"]}
    for name in ("port_reset", "debounce_button"):          # measured in both shapes
        assert sorted((run["mode"], run["opt"]) for run in runs[name]) == [("alloc", 0), ("noalloc", 0)]
    assert not runs.get("broken_button")
    assert not [f for f in rep["findings"] if f["failure"] and f["fixture"] != "broken_button"]


NINE = ["elevator", "i2c_master", "lorawan_node", "modbus_rtu", "motor_ctrl", "port_reset",
        "ps2_keyboard", "traffic_light", "watchdog"]


def audit_nine(build_dir, tmp, report, *flags):
    """`audit run` over the copy of the nine in `tmp`, all in one bucket."""
    return subprocess.run([str(ROOT / "scripts" / "audit"), "--build-dir", str(build_dir),
                           "--fixtures-dir", str(tmp / "fixtures"), "run", "--no-rejects", "--opt", "0",
                           *flags, "--work-dir", str(tmp / "w"), "--report-dir", str(tmp / report)],
                          capture_output=True, text=True, env=dict(os.environ, FAA_BUNDLE_SIZE="9"),
                          timeout=900)


def manifest(work):
    """{(fixture, mode, opt): library file name} of the last run in `work`."""
    rows = [line.split("\t") for line in (work / "manifest.tsv").read_text().splitlines()
            if not line.startswith("#")]
    return {(row[0], row[1], row[2]): Path(row[3]).name for row in rows}


@pytest.fixture(scope="module")
def nine(build_dir, tmp_path_factory):
    """One cold, strict audit of nine fixtures in one bundle per shape, with
    Valgrind and coverage, at O0 only: coverage is computed from the O0
    libraries alone (coverage.py), and a warm run's delta() is decided per
    crate the same way at every opt-level.  Read by the coverage test
    (its report) and the warm-run test (its work dir and manifest)."""
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed")
    tmp = tmp_path_factory.mktemp("nine")
    (tmp / "fixtures").mkdir()
    for name in NINE:
        for ext in (".frs", ".toml"):
            shutil.copy(ROOT / "fixtures" / (name + ext), tmp / "fixtures" / (name + ext))
    r = audit_nine(build_dir, tmp, "cold", "--strict", "--valgrind", "on", "--allow-unchecked", "rejects",
                   "-q", *NINE)
    return r, tmp, manifest(tmp / "w")


def test_a_warm_run_after_one_edit_builds_that_fixture_alone(nine, build_dir):
    """delta(): the edited fixture is built in a crate of its own, its
    bucket-mates are measured in the library they were built in, and
    Valgrind's results for that library are reused for them.  One of the
    nine edited is within delta()'s quarter, as one of four was; O0 only
    (see `nine`): one changed crate per shape."""
    r, tmp, cold = nine
    assert r.returncode == 0, r.stdout[-3000:]
    assert len(cold) == 2 * len(NINE) and all(lib.startswith("libfxb_") for lib in cold.values())
    with open(tmp / "fixtures" / "port_reset.frs", "a") as f:
        f.write("// an edit\n")
    w = audit_nine(build_dir, tmp, "warm")
    assert w.returncode == 0, w.stdout + w.stderr
    warm = manifest(tmp / "w")
    assert warm.keys() == cold.keys()
    for (name, mode, opt), lib in warm.items():
        if name == "port_reset":
            assert lib.startswith("libfxd_"), (name, mode, opt, lib)     # built apart
        else:
            assert lib == cold[(name, mode, opt)]                       # the same library as before
    assert w.stderr.count("changed ") == 2 and "(port_reset): built" in w.stderr
    assert "memcheck alloc O0 (1 fixture(s))" in w.stderr


def test_coverage_does_not_depend_on_which_fixtures_share_a_crate(nine):
    """The scaling bench's finding: with these nine in one bucket, rows of
    one module's functions that readelf listed under another module's file
    header were taken for the other's code that never ran."""
    r, tmp, _ = nine
    assert r.returncode == 0, r.stdout[-3000:]
    rep = json.loads((tmp / "cold" / "report.json").read_text())
    assert [fx["name"] for fx in rep["fixtures"]] == NINE
    assert all(fx["coverage"] for fx in rep["fixtures"])
