"""The JSON Schemas in schemas/ against the files the audit writes.

Every file users consume has a schema (draft 2020-12): report.json,
baseline.json, bench.json, the harness records (one schema per line) and
phases.json.  Validated here: the committed reports/baseline.json; the
report.json, records and phases.json of a fresh passing audit of port_reset
(strict, Valgrind on, so memcheck, massif and coverage are filled in: the
one `audit bench` runs in its section audit) and of a failing one (a mutated
module, Valgrind off: zero-rule findings with opt/gen/frs, violation windows
with stacks); a bench.json of every section from `audit bench` itself; and
each schema rejects a broken document.  Needs python3-jsonschema; the runs
need `make build`, rustc and Valgrind."""
import copy
import json
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, SCRIPTS

jsonschema = pytest.importorskip("jsonschema")

SCHEMAS = ROOT / "schemas"
NAMES = ("report", "baseline", "bench", "records", "phases", "costs")
AUDIT = str(SCRIPTS / "audit")


def schema(name):
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def errors(name, doc):
    v = jsonschema.Draft202012Validator(schema(name))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in sorted(v.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]


def valid(name, doc):
    errs = errors(name, doc)
    assert not errs, "\n".join(errs[:20])


def records(work):
    """Every line of every records file of a run's work dir."""
    files = sorted((work / "records").glob("*.jsonl"))
    assert files, f"no records in {work}"
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def valgrind_or_skip():
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed (apt-get install -y valgrind)")


def audit(build_dir, *args, timeout=900):
    r = subprocess.run([AUDIT, "--build-dir", str(build_dir), *args],
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


# ---- the schemas themselves --------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_schema_is_a_valid_draft_2020_12_schema(name):
    s = schema(name)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(s)


def test_record_definitions_in_the_report_are_the_records_own():
    """report.json embeds harness records (violations, calibration, batches,
    ...): its copies of their definitions must not drift."""
    rec, rep = schema("records")["$defs"], schema("report")["$defs"]
    for name in ("count", "allocator_kind", "blocking_kind", "call_kind", "stack", "window_fields",
                 "calibration", "batches", "observe_windows", "timing"):
        assert rep[name] == rec[name], name


def test_rule_enum_names_every_rule_the_gate_can_report():
    src = "\n".join(p.read_text() for p in (SCRIPTS / "faa").rglob("*.py"))
    rules = set(re.findall(r"Finding\(\s*\"([a-z_-]+)\"", src))
    # the zero and nonblocking rules name theirs to the walk they share
    rules |= set(re.findall(r"_judge_noalloc\([^\"]*\"([a-z_-]+)\"", src))
    assert {"zero", "nonblocking", "baseline"} <= rules
    assert rules <= set(schema("report")["$defs"]["rule"]["enum"]), rules


def test_check_enum_is_the_uncheckable_checks():
    from faa import cli
    assert set(schema("report")["$defs"]["check"]["enum"]) == set(cli.UNCHECKABLE)


def test_allocator_kinds_are_the_interposers():
    core = (ROOT / "interposer" / "core.c").read_text()
    kinds = re.findall(r"\[AUDIT_[A-Z_]+\] = \"([a-z_]+)\"", core)
    assert len(kinds) >= 50
    defs = schema("records")["$defs"]
    assert defs["allocator_kind"]["enum"] + defs["blocking_kind"]["enum"] == kinds


# ---- baseline.json and phases.json: no build needed ---------------------------

def test_committed_baseline_validates():
    base = json.loads((ROOT / "reports" / "baseline.json").read_text())
    valid("baseline", base)


def test_baseline_broken_documents_are_rejected():
    base = json.loads((ROOT / "reports" / "baseline.json").read_text())
    missing = copy.deepcopy(base)
    del missing["compiler_version"]
    assert any("'compiler_version' is a required property" in e for e in errors("baseline", missing))
    fx = next(iter(base["fixtures"]))
    wrong = copy.deepcopy(base)
    wrong["fixtures"][fx]["O0"]["construct"] = ["4", 2]
    assert any("'4' is not of type 'integer'" in e for e in errors("baseline", wrong))
    wrong = copy.deepcopy(base)
    wrong["fixtures"][fx]["O9"] = wrong["fixtures"][fx]["O0"]
    assert errors("baseline", wrong)


def phase_clock_file(tmp_path, monkeypatch):
    """phases.json as PhaseClock writes it, with a fake clock."""
    try:
        from faa.audit import PhaseClock      # the pipeline module (issue 11)
    except ImportError:
        from faa.cli import PhaseClock
    ticks = iter(range(0, 100, 2))
    monkeypatch.setattr(PhaseClock, "_now", staticmethod(lambda: (next(ticks), 1.0)))
    clock = PhaseClock()
    clock.start("build")
    clock.phases["build"] = {"compiler_s": 0.5, "rustc_s": 9.0, "built": 4, "cached": 0}
    for name in ("harness", "valgrind+coverage", "rejects+report"):
        clock.start(name)
    clock.write(tmp_path / "phases.json")
    return json.loads((tmp_path / "phases.json").read_text())


def test_phase_clock_output_validates_and_broken_ones_do_not(tmp_path, monkeypatch):
    doc = phase_clock_file(tmp_path, monkeypatch)
    valid("phases", doc)
    missing = copy.deepcopy(doc)
    del missing["phases"]["harness"]["cpu_s"]
    assert any("'cpu_s' is a required property" in e for e in errors("phases", missing))
    wrong = copy.deepcopy(doc)
    wrong["phases"]["build"]["built"] = 4.5
    assert any("4.5 is not of type 'integer'" in e for e in errors("phases", wrong))
    wrong = copy.deepcopy(doc)
    wrong["phases"]["linking"] = {"wall_s": 1, "cpu_s": 1}
    assert errors("phases", wrong)


# ---- a passing and a failing audit run ----------------------------------------

@pytest.fixture(scope="module")
def passing(bench_run, bench_json):
    """port_reset audited with Valgrind on, strictly: every section filled
    in.  `audit bench`'s section audit (bench_run, below) runs exactly that:
    `make audit`'s command (run --strict --valgrind on) over its copy of a
    fixtures dir of port_reset and fixtures/reject, cold, then warm after a
    comment line appended to port_reset.frs (libraries rebuilt, Valgrind and
    coverage run again).  The warm run's work dir (records, phases.json)
    and reports stay in the bench's scratch dir: they are what a run of
    port_reset alone writes, so this takes them rather than repeat the run."""
    warm = bench_json["audit"]["warm"]
    assert warm["status"] == 0 and warm["complete"], (bench_run / "scratch" / "warm.log").read_text()
    return bench_run / "scratch"


# Every call of $Idle.connect allocates: steps 1 and 4, the steady replay, the
# timing batches and the observation pass all fail the zero rule.
ALLOC = "{ let b = std::boxed::Box::new(7u64); unsafe { std::ptr::read_volatile(&*b); } } // MUTANT"
HANDLER = re.compile(r"fn _s_Idle_connect\(&mut self, __e: &PortResetFrameEvent\) \{")


@pytest.fixture(scope="module")
def failing(build_dir, tmp_path_factory):
    """The failing run's own parts are the interposer's (zero findings,
    violation windows with stacks, the records): Valgrind off.  Valgrind's
    and coverage's sections of a report are the passing run's to fill in
    (the schema asks the same of them whatever the verdict)."""
    d = tmp_path_factory.mktemp("schemas-fail")
    base = (ROOT / "generated" / "port_reset" / "noalloc.rs").read_text()
    m = HANDLER.search(base)
    (d / "port_reset.rs").write_text(base[:m.end()] + "\n" + ALLOC + "\n" + base[m.end():])
    status, text = audit(build_dir, "run", "--generated", str(d / "port_reset.rs"), "--scenario",
                         str(ROOT / "fixtures" / "port_reset.toml"), "--mode", "noalloc",
                         "--valgrind", "off", "--work-dir", str(d / "work"),
                         "--report-dir", str(d / "reports"))
    assert status == 1, text
    return d


def report_of(d):
    return json.loads((d / "reports" / "report.json").read_text())


def test_passing_report_validates(passing):
    rep = report_of(passing)
    valid("report", rep)
    # the sections Valgrind fills in are there, so their schemas were used
    fx = rep["fixtures"][0]
    assert fx["coverage"] and fx["coverage"]["lines"] and rep["massif"]
    assert {m["mode"] for m in rep["massif"]} == {"alloc", "noalloc"}
    assert all(r["memcheck"] and r["calibration"] and r["timing"] for r in fx["runs"])
    assert rep["rejects"] and rep["verdict"] == "pass"


def test_failing_report_validates(failing):
    rep = report_of(failing)
    valid("report", rep)
    zero = [f for f in rep["findings"] if f["rule"] == "zero"]
    assert zero and all(f["opt"] is not None and f["gen"] and f["frs"] for f in zero)
    vs = [v for r in rep["fixtures"][0]["runs"] for v in r["violations"]]
    assert {v["phase"] for v in vs} == {"steady", "batch", "observe"}
    assert all(v["stack"] and v["site"] for v in vs)
    assert rep["verdict"] == "fail" and rep["fixtures"][0]["source"] is None


def test_baseline_of_a_fresh_report_validates(passing, tmp_path):
    """What `audit baseline` writes (into reports/, so built here the same way)."""
    from faa import compare, model
    rep = model.Report.load(passing / "reports" / "report.json")
    b = model.Baseline.of_windows(compare.of_report(rep), rep.compiler["name"], rep.compiler["version"])
    b.write(tmp_path / "baseline.json")
    base = json.loads((tmp_path / "baseline.json").read_text())
    valid("baseline", base)
    assert set(base["fixtures"]["port_reset"]) == {"O0", "O3"}
    # one reader, one writer: what is read back is what was written
    again = model.Baseline.load(tmp_path / "baseline.json")
    assert again == b and again.windows({}) == b.windows({})


@pytest.mark.parametrize("run", ["passing", "failing"])
def test_report_reads_back_as_written(run, request):
    """model.Report.from_json is the inverse of to_json on a real report:
    the one reader and the one writer of report.json agree."""
    from faa import model
    d = report_of(request.getfixturevalue(run))
    rep = model.Report.from_json(d)
    assert rep.to_json() == d
    # steps are 0-based inside, 1-based in the file, for violations too
    runs = [r for fx in rep.fixtures for r in fx.runs]
    assert all(w.step == i for r in runs for i, w in enumerate(r.steps))
    vs = [(v, w) for fx in d["fixtures"] for r, rr in zip(fx["runs"], runs)
          for v, w in zip(r["violations"], rr.violations)]
    assert all(v["step"] == w.step + 1 for v, w in vs)
    if run == "failing":
        assert vs


@pytest.mark.parametrize("run", ["passing", "failing"])
def test_records_validate_line_by_line(run, request):
    recs = records(request.getfixturevalue(run) / "work")
    for rec in recs:
        valid("records", rec)
    kinds = {r["kind"] for r in recs}
    assert kinds >= {"calibration", "meta", "window", "steady", "batches", "timing", "observe",
                     "observe_windows", "verdict"}, kinds


@pytest.mark.parametrize("run", ["passing", "failing"])
def test_phases_of_a_run_validate(run, request):
    doc = json.loads((request.getfixturevalue(run) / "work" / "phases.json").read_text())
    valid("phases", doc)
    assert list(doc["phases"]) == ["build", "harness", "valgrind+coverage", "rejects+report"]


def test_report_broken_documents_are_rejected(failing):
    rep = report_of(failing)
    missing = copy.deepcopy(rep)
    del missing["fixtures"][0]["runs"][0]["steps"][0]["call"]
    assert any("'call' is a required property" in e for e in errors("report", missing))
    wrong = copy.deepcopy(rep)
    wrong["findings"][-1]["opt"] = "3"
    assert any(e.startswith("findings/") for e in errors("report", wrong))
    wrong = copy.deepcopy(rep)
    wrong["findings"][0]["rule"] = "no-such-rule"
    assert errors("report", wrong)
    wrong = copy.deepcopy(rep)
    wrong["verdict"] = "pass"          # with exit_status 1
    assert errors("report", wrong)
    wrong = copy.deepcopy(rep)
    wrong["fixtures"][0]["runs"][0]["violations"][0]["repeat"] = "1"
    assert errors("report", wrong)


def test_records_broken_documents_are_rejected(failing):
    recs = records(failing / "work")
    win = next(r for r in recs if r["kind"] == "window" and r["phase"] == "batch")
    assert not errors("records", win)
    missing = dict(win)
    del missing["step_to"]
    assert errors("records", missing)
    missing = dict(win)
    del missing["live_peak"]
    assert errors("records", missing)
    wrong = dict(win, allocs=-1)
    assert errors("records", wrong)
    wrong = dict(win, calls={"malloc": "1"})
    assert errors("records", wrong)
    meta = next(r for r in recs if r["kind"] == "meta")
    assert errors("records", dict(meta, mode="both"))
    assert errors("records", {k: v for k, v in meta.items() if k != "size_of"})
    assert errors("records", {"kind": "nonsense"})
    verdict = next(r for r in recs if r["kind"] == "verdict")
    assert errors("records", dict(verdict, ok=True))      # ok with failures


# ---- bench.json ---------------------------------------------------------------

@pytest.fixture(scope="module")
def bench_run(build_dir, tmp_path_factory):
    """Every section of `audit bench` (its default set: overhead, window,
    dispatch, audit), as short as its options allow, over a fixtures
    directory holding port_reset alone and fixtures/reject (the rejects of
    the passing report, which section audit's runs give: see `passing`)."""
    valgrind_or_skip()
    d = tmp_path_factory.mktemp("schemas-bench")
    fx = d / "fixtures"
    fx.mkdir()
    for f in ("port_reset.frs", "port_reset.toml"):
        shutil.copy(ROOT / "fixtures" / f, fx / f)
    shutil.copytree(ROOT / "fixtures" / "reject", fx / "reject")
    status, text = audit(build_dir, "--fixtures-dir", str(fx), "bench", "--reps", "1",
                         "--scale", "0.01", "--time-reps", "1", "--batches", "3",
                         "--callgrind-repeat", "2", "--work-dir", str(d / "work"),
                         "--scratch", str(d / "scratch"), "--out", str(d / "bench.json"))
    assert status == 0, text
    return d


@pytest.fixture(scope="module")
def bench_json(bench_run):
    return json.loads((bench_run / "bench.json").read_text())


def test_bench_json_of_every_section_validates(bench_json):
    valid("bench", bench_json)
    assert set(bench_json) >= {"overhead", "window", "dispatch", "audit"}
    assert bench_json["audit"]["cold"]["phases"] and bench_json["dispatch"]["fixtures"]


def test_bench_broken_documents_are_rejected(bench_json):
    missing = copy.deepcopy(bench_json)
    del missing["window"]["fast_ns"]
    assert any("'fast_ns' is a required property" in e for e in errors("bench", missing))
    wrong = copy.deepcopy(bench_json)
    wrong["dispatch"]["fixtures"][0]["alloc"]["steps"][0]["transition"] = "yes"
    assert any("'yes' is not of type 'boolean'" in e for e in errors("bench", wrong))
    wrong = copy.deepcopy(bench_json)
    wrong["audit"]["cold"]["phases"]["linking"] = 1.0
    assert errors("bench", wrong)
    wrong = copy.deepcopy(bench_json)
    wrong["schema"] = "frame-alloc-audit/bench@2"
    assert errors("bench", wrong)
