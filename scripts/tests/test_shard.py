"""Sharding across CI machines (issue 12): `audit run --shard K/N` and
`audit merge DIR...` (scripts/faa/shard.py).

The equivalence test audits one small corpus (5 fixtures copied under new
names, so every one has golden and baseline notes; one with a wrong
allocation expectation, so the verdict is FAIL; a .frs without a scenario,
a SKIP.toml entry and two reject fixtures, which are about the whole
corpus) once whole and once as 3 shards, each in its own work dir as on
three machines, and requires the merged report.json to equal the whole
run's, apart from what two runs on one machine never share (normal()).
Merge refuses a missing, duplicated or foreign shard with exit 2 and
leaves its output dir alone; --shard refuses K/N outside 1 <= K <= N
before anything is touched.  Needs `make build` and rustc; Valgrind is
off to keep it quick (massif and memcheck are still normalised, for the
day it is on).

The audits are processes (scripts/audit); the merges and the refused
--shard runs, which end before any work, call the command's own entry
point, faa.cli.main (what scripts/audit runs as `python -m faa`; its
return value, or argparse's SystemExit, is the exit status) in this
process: a process each spent nearly all its time importing the audit."""
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from conftest import ROOT, SCRIPTS

from faa import cli, model, procs, shard
from faa.errors import UsageError

AUDIT = str(SCRIPTS / "audit")
ORIGINALS = ("port_reset", "debounce_button", "traffic_light", "watchdog", "token_bucket")
REJECTS = ("heap_state_var", "string_return")
PREFIX = "sh_"


def _write_costs(path, costs):
    model.Costs(costs).write(path)


def audit(build_dir, *args, fixtures_dir=None, timeout=600):
    cmd = [AUDIT, "--build-dir", str(build_dir)]
    if fixtures_dir:
        cmd += ["--fixtures-dir", str(fixtures_dir)]
    r = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def audit_main(build_dir, *args):
    """`audit ARGS` through cli.main in this process: (exit status, what it
    printed); the signal dispositions main sets are pytest's again after."""
    out, err = io.StringIO(), io.StringIO()
    saved = {s: signal.getsignal(s) for s in procs.STOP_SIGNALS}
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                status = cli.main(["--build-dir", str(build_dir)] + [str(a) for a in args])
            except SystemExit as e:         # argparse's usage errors
                status = e.code
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    return status, out.getvalue() + err.getvalue()


def snapshot(d):
    return {p.name: p.read_bytes() for p in sorted(Path(d).iterdir()) if p.is_file()}


# ---- the corpus and its runs ----------------------------------------------------

def make_corpus(d):
    """fixtures/ in miniature: see the module docstring."""
    src = ROOT / "fixtures"
    (d / "reject").mkdir(parents=True)
    for name in ORIGINALS:
        shutil.copy(src / f"{name}.frs", d / f"{PREFIX}{name}.frs")
        shutil.copy(src / f"{name}.toml", d / f"{PREFIX}{name}.toml")
    toml = d / f"{PREFIX}port_reset.toml"
    text = toml.read_text()
    wrong = text.replace('call = "connect()"\nalloc = 4', 'call = "connect()"\nalloc = 5', 1)
    assert wrong != text
    toml.write_text(wrong)
    shutil.copy(src / "watchdog.frs", d / f"{PREFIX}orphan.frs")          # no scenario: rule scenario
    shutil.copy(src / "watchdog.frs", d / f"{PREFIX}skipped.frs")
    (d / "SKIP.toml").write_text(f'[skip]\n{PREFIX}skipped = "kept out of the audit on purpose"\n')
    for r in REJECTS:
        for ext in (".frs", ".stderr"):
            shutil.copy(src / "reject" / f"{r}{ext}", d / "reject" / f"{r}{ext}")
    return d


@pytest.fixture(scope="module")
def runs(build_dir, tmp_path_factory):
    """The whole corpus audited once, then as shards 1/3, 2/3, 3/3 (each
    with its own work dir, as on three machines): {name: (status, output,
    report dir)}, plus the corpus dir and the base dir."""
    base = tmp_path_factory.mktemp("shard")
    corpus = make_corpus(base / "fixtures")
    out = {"corpus": corpus, "base": base}
    for name, extra in [("whole", ())] + [(f"s{k}", ("--shard", f"{k}/3")) for k in (1, 2, 3)]:
        status, text = audit(build_dir, "run", "--valgrind", "off", *extra, "--work-dir",
                             base / f"work-{name}", "--report-dir", base / name, fixtures_dir=corpus)
        out[name] = (status, text, base / name)
    return out


def merge(build_dir, *dirs, out):
    return audit_main(build_dir, "merge", *dirs, "--report-dir", out)


def normal(doc):
    """report.json less what no two runs share, even on one machine:
      timing           median/min/p90 ns, and the batch sizes calibrated from
                       them (dispatches, cycles_per_batch, batches): kept as
                       present or not;
      batches          the timing batches' n, cycles, dispatches and sums
                       scale with those sizes: kept as which sums are zero
                       (what the zero rule judges) and the violations;
      violations[]     a batch window's batch index and cycles: dropped;
      memcheck.log     a path in the run's own work dir: its file name;
      massif           which fixtures ran in one faa-run process depends on
                       the bundles, which depend on the fixtures built
                       together, and the series is an instruction clock: kept
                       as the set of (shape, opt-level, fixture) profiled;
      findings         a run lists them stage by stage over all its fixtures,
                       merge shard by shard: compared as a sorted list;
      provenance       the date and host of each run (a merge keeps shard 1's):
                       dropped.
    Everything else (every window's counts, steps, calls, steady rows,
    observation pass, calibration, size_of, nostd, coverage, rejects,
    unchecked, skipped, compiler, verdict, exit status, shard) must be equal."""
    d = json.loads(json.dumps(doc))
    d.pop("provenance", None)
    for fx in d["fixtures"]:
        for r in fx["runs"]:
            r["timing"] = r["timing"] is not None
            b = r["batches"]
            if b:
                r["batches"] = {"allocs": b["allocs_sum"] > 0, "frees": b["frees_sum"] > 0,
                                "os": b["os_sum"] > 0, "violations": b["violations"]}
            for v in r["violations"]:
                v.pop("batch", None)
                v.pop("cycles", None)
            if r["memcheck"]:
                r["memcheck"]["log"] = Path(r["memcheck"]["log"]).name
    d["massif"] = sorted({(m["mode"], m["opt"], f) for m in d["massif"] for f in m["fixtures"]})
    d["findings"] = sorted(d["findings"], key=lambda f: json.dumps(f, sort_keys=True))
    return d


def report_json(d):
    return json.loads((Path(d) / "report.json").read_text())


@pytest.fixture(scope="module")
def merged(build_dir, runs):
    out = runs["base"] / "merged"
    status, text = merge(build_dir, runs["s1"][2], runs["s2"][2], runs["s3"][2], out=out)
    return status, text, out


# ---- equivalence ----------------------------------------------------------------

def test_the_runs_finished_with_the_expected_verdicts(runs):
    """The corpus fails (a wrong expectation, a .frs without scenario), on
    the shards that have those fixtures."""
    assert runs["whole"][0] == 1, runs["whole"][1][-3000:]
    for k in (1, 2, 3):
        status, text, d = runs[f"s{k}"]
        assert status in (0, 1), text[-3000:]
        assert report_json(d)["exit_status"] == status
    assert runs["s1"][0] == 1, "shard 1 has the survey's scenario failure"


def test_shards_partition_the_selection_and_corpus_checks_are_shard_1s(runs):
    whole = report_json(runs["whole"][2])
    names = [fx["name"] for fx in whole["fixtures"]]
    assert whole["shard"] is None
    seen = []
    for k in (1, 2, 3):
        rep = report_json(runs[f"s{k}"][2])
        assert rep["shard"]["k"] == k and rep["shard"]["n"] == 3
        assert rep["shard"]["fixtures"] == names
        assert rep["shard"]["balance"] == "name hash"
        assert [fx["name"] for fx in rep["fixtures"]] == rep["shard"]["assigned"]
        assert rep["shard"]["assigned"], f"shard {k}/3 of 5 fixtures is empty"
        seen += rep["shard"]["assigned"]
        scenario = [f for f in rep["findings"] if f["rule"] == "scenario"]
        assert bool(rep["rejects"]) == bool(scenario) == (k == 1), (k, rep["rejects"], scenario)
    assert sorted(seen) == sorted(names)


def test_three_shards_merged_equal_one_whole_run(runs, merged):
    status, text, out = merged
    assert status == 1, text[-3000:]
    assert "FAIL [expect]" in text and "FAIL [scenario]" in text
    assert "audit merge: FAIL" in text.splitlines()[-1]
    for f in ("report.json", "report.md", "junit.xml"):
        assert (out / f).stat().st_size > 0, f
    whole, got = report_json(runs["whole"][2]), report_json(out)
    assert [fx["name"] for fx in got["fixtures"]] == [fx["name"] for fx in whole["fixtures"]]
    rules = sorted(f["rule"] for f in got["findings"])
    assert rules == sorted(f["rule"] for f in whole["findings"])
    assert {"expect", "golden", "scenario"} <= set(rules), rules
    a, b = normal(whole), normal(got)
    for key in a:
        assert a[key] == b[key], f"merged report.json differs from the whole run's in {key!r}"
    assert a == b


def test_merged_and_shard_reports_validate_and_read_back(runs, merged):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    v = jsonschema.Draft202012Validator(schema)
    for d in (merged[2], runs["s1"][2], runs["s2"][2], runs["s3"][2], runs["whole"][2]):
        doc = report_json(d)
        errs = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in v.iter_errors(doc)]
        assert not errs, (d, errs[:5])
        assert model.Report.from_json(doc).to_json() == doc
    bad = report_json(runs["s2"][2])
    bad["shard"]["balance"] = "by luck"
    assert list(v.iter_errors(bad)), "a shard field with an unknown balance must not validate"


def test_each_run_writes_its_costs(runs):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "schemas" / "costs.schema.json").read_text())
    doc = json.loads((runs["base"] / "work-whole" / "costs.json").read_text())
    jsonschema.validate(doc, schema)
    assert set(doc["fixtures"]) == {PREFIX + n for n in ORIGINALS}
    assert all(s > 0 for s in doc["fixtures"].values())
    assert model.Costs.load(runs["base"] / "work-whole" / "costs.json").fixtures == doc["fixtures"]


# ---- what merge refuses ---------------------------------------------------------

def refused(build_dir, tmp_path, *dirs):
    """merge `dirs` into an output dir holding an earlier report: exit 2,
    and the earlier report untouched."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    (out / "report.json").write_text("earlier\n")
    before = snapshot(out)
    status, text = merge(build_dir, *dirs, out=out)
    assert status == 2, text[-2000:]
    assert snapshot(out) == before
    assert "Traceback" not in text
    return text


def edited(src, dest, change):
    """A copy of the shard report dir `src` whose report.json `change` edited."""
    shutil.copytree(src, dest)
    doc = report_json(dest)
    change(doc)
    (dest / "report.json").write_text(json.dumps(doc))
    return dest


def test_merge_refuses_a_missing_shard(build_dir, runs, tmp_path):
    text = refused(build_dir, tmp_path, runs["s1"][2], runs["s3"][2])
    assert "missing shard(s) 2/3" in text


def test_merge_refuses_a_duplicated_shard(build_dir, runs, tmp_path):
    again = shutil.copytree(runs["s2"][2], tmp_path / "s2-again")
    text = refused(build_dir, tmp_path, runs["s1"][2], runs["s2"][2], again, runs["s3"][2])
    assert "shard 2/3 given 2 times" in text
    text = refused(build_dir, tmp_path, runs["s1"][2], again, runs["s2"][2])
    assert "shard 2/3 given 2 times" in text and "missing shard(s) 3/3" in text


def test_merge_refuses_mixed_selections(build_dir, runs, tmp_path):
    other = edited(runs["s3"][2], tmp_path / "other",
                   lambda d: d["shard"]["fixtures"].append("sh_elevator"))
    text = refused(build_dir, tmp_path, runs["s1"][2], runs["s2"][2], other)
    assert "mixed selections" in text and "only in it: sh_elevator" in text


def test_merge_refuses_mixed_n_balances_compilers_and_unsharded_reports(build_dir, runs, tmp_path):
    n4 = edited(runs["s3"][2], tmp_path / "n4", lambda d: d["shard"].update(n=4))
    assert "mixed shard counts" in refused(build_dir, tmp_path, runs["s1"][2], runs["s2"][2], n4)
    costs = edited(runs["s3"][2], tmp_path / "costs",
                   lambda d: d["shard"].update(balance="costs sha256:0123456789abcdef"))
    assert "mixed balances" in refused(build_dir, tmp_path, runs["s1"][2], runs["s2"][2], costs)
    cc = edited(runs["s3"][2], tmp_path / "cc", lambda d: d["compiler"].update(version="9.9"))
    assert "different compilers" in refused(build_dir, tmp_path, runs["s1"][2], runs["s2"][2], cc)
    text = refused(build_dir, tmp_path, runs["s1"][2], runs["s2"][2], runs["whole"][2])
    assert "not a shard's report" in text
    assert "no report.json" in refused(build_dir, tmp_path, runs["s1"][2], tmp_path / "nowhere")


def test_merge_refuses_a_shard_whose_fixtures_are_not_its_assignment(build_dir, runs, tmp_path):
    moved = edited(runs["s3"][2], tmp_path / "moved",
                   lambda d: d["shard"].update(assigned=d["shard"]["assigned"] + ["sh_port_reset"]))
    text = refused(build_dir, tmp_path, runs["s1"][2], runs["s2"][2], moved)
    assert "was assigned" in text


# ---- what --shard refuses ---------------------------------------------------------

@pytest.mark.parametrize("spec", ["0/3", "4/3", "x", "3/0", "1/", "-1/3", "1.5/3"])
def test_bad_shard_specs_are_refused_before_anything_is_touched(build_dir, tmp_path, spec):
    reports = tmp_path / "r"
    reports.mkdir()
    (reports / "report.json").write_text("earlier\n")
    status, text = audit_main(build_dir, "run", "port_reset", "--valgrind", "off", "--shard", spec,
                              "--work-dir", tmp_path / "w", "--report-dir", reports)
    assert status == 2, text
    assert "argument --shard" in text and "K/N" in text
    assert snapshot(reports) == {"report.json": b"earlier\n"}
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("case", ["costs without shard", "unreadable costs", "not costs",
                                  "negative cost", "shard with generated"])
def test_shard_option_mistakes_are_usage_errors(build_dir, tmp_path, case):
    reports = tmp_path / "r"
    reports.mkdir()
    (reports / "report.json").write_text("earlier\n")
    costs = tmp_path / "costs.json"
    args = {"costs without shard": ["--shard-costs", costs],
            "unreadable costs": ["--shard", "1/2", "--shard-costs", tmp_path / "none.json"],
            "not costs": ["--shard", "1/2", "--shard-costs", costs],
            "negative cost": ["--shard", "1/2", "--shard-costs", costs],
            "shard with generated": ["--shard", "1/2", "--generated",
                                     ROOT / "generated" / "port_reset" / "noalloc.rs",
                                     "--scenario", ROOT / "fixtures" / "port_reset.toml"]}[case]
    _write_costs(costs, {"port_reset": -1.0 if case == "negative cost" else 1.0})
    if case == "not costs":
        costs.write_text('{"schema": "frame-alloc-audit/report@1"}')
    names = [] if case == "shard with generated" else ["port_reset"]
    status, text = audit_main(build_dir, "run", *names, "--valgrind", "off", *args,
                              "--work-dir", tmp_path / "w", "--report-dir", reports)
    assert status == 2, text
    assert "audit: error:" in text and "Traceback" not in text
    assert snapshot(reports) == {"report.json": b"earlier\n"}
    assert not (tmp_path / "w").exists()


# ---- the assignment ----------------------------------------------------------------

NAMES = [f"fx{i:02d}" for i in range(26)]


def check_partition(shards, names):
    flat = [x for s in shards for x in s]
    assert sorted(flat) == sorted(names) and len(flat) == len(set(flat))


def test_parse_spec():
    assert shard.parse_spec("2/3") == shard.Spec(2, 3)
    assert shard.parse_spec("1/1") == shard.Spec(1, 1)
    for bad in ("0/3", "4/3", "x", "3", "2/3/4", "", "1/0"):
        with pytest.raises(Exception, match="K/N"):
            shard.parse_spec(bad)


def test_by_hash_the_shards_differ_in_size_by_at_most_one_and_do_not_depend_on_order():
    for n in (1, 2, 3, 5, 26, 30):
        shards = shard.assign(NAMES, n)
        check_partition(shards, NAMES)
        sizes = [len(s) for s in shards]
        assert max(sizes) - min(sizes) <= 1, (n, sizes)
        again = shard.assign(list(reversed(NAMES)), n)
        assert [sorted(s) for s in again] == [sorted(s) for s in shards]
        assert all(s == [x for x in NAMES if x in s] for s in shards)


def test_the_assignment_is_the_same_in_another_process_with_another_hash_seed():
    """Python's hash() of a str changes from process to process: the
    assignment must not use it (CI shards run on different machines)."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); from faa import shard; "
            "print(json.dumps([shard.assign(json.loads(sys.argv[2]), 3), "
            "shard.assign(json.loads(sys.argv[2]), 4, {'fx03': 9.5, 'fx07': 0.25})]))")
    seen = set()
    for seed in ("1", "2", "12345"):
        r = subprocess.run([sys.executable, "-c", code, str(SCRIPTS), json.dumps(NAMES)],
                           capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed},
                           check=True)
        seen.add(r.stdout)
    assert len(seen) == 1
    assert json.loads(seen.pop())[0] == shard.assign(NAMES, 3)


def test_costs_balance_the_shards():
    costs = {x: 1.0 for x in NAMES} | {"fx00": 12.0, "fx01": 6.0}
    shards = shard.assign(NAMES, 3, costs)
    check_partition(shards, NAMES)
    load = [sum(costs[x] for x in s) for s in shards]
    assert max(load) - min(load) <= 1.0, load
    alone = next(s for s in shards if "fx00" in s)
    assert "fx01" not in alone
    # a fixture the file does not name costs the mean of those it names (c, d: 2.0)
    partial = shard.assign(["a", "b", "c", "d"], 2, {"a": 3.0, "b": 1.0})
    assert sorted(map(set, partial), key=sorted) == [{"a", "b"}, {"c", "d"}], partial


def test_take_records_the_shard_and_the_costs_file(tmp_path):
    class Fx:
        def __init__(self, name):
            self.name = name
    fixtures = [Fx(x) for x in NAMES[:7]]
    mine, info = shard.take(fixtures, shard.Spec(2, 3))
    assert info == {"k": 2, "n": 3, "fixtures": NAMES[:7], "assigned": [f.name for f in mine],
                    "balance": "name hash"}
    costs = tmp_path / "costs.json"
    _write_costs(costs, {x: float(i) for i, x in enumerate(NAMES[:7])})
    mine2, info2 = shard.take(fixtures, shard.Spec(2, 3), costs)
    assert info2["balance"].startswith("costs sha256:") and len(info2["balance"]) == 29
    assert info2["assigned"] == shard.assign(NAMES[:7], 3, model.Costs.load(costs).fixtures)[1]


def test_record_costs_keeps_the_cost_of_what_this_run_took_from_the_cache(tmp_path):
    from faa.build import Outcome
    path = tmp_path / "costs.json"
    _write_costs(path, {"cached": 4.0, "stale": 1.0})
    outcomes = {("built", "alloc"): Outcome("built", "alloc", built=2, compile_s=0.5, rustc_s=1.0),
                ("built", "noalloc"): Outcome("built", "noalloc", built=2, compile_s=0.5, rustc_s=2.0),
                ("cached", "alloc"): Outcome("cached", "alloc", cached=2),
                ("cached", "noalloc"): Outcome("cached", "noalloc", cached=2),
                ("new", "alloc"): Outcome("new", "alloc", cached=1, built=1, rustc_s=1.0),
                ("new", "noalloc"): Outcome("new", "noalloc", built=2, rustc_s=1.0)}
    shard.record_costs(path, outcomes)
    assert model.Costs.load(path).fixtures == {"built": 4.0, "cached": 4.0, "stale": 1.0}
    _write_costs(path, {"x": -1.0})
    with pytest.raises(UsageError, match="seconds"):
        model.Costs.load(path).fixtures
