"""`audit compare` (scripts/faa/compare.py): allocations, frees and bytes per
window; regressions, improvements, other changes, missing fixtures, runs and
windows (a failure) and new ones (informational); steps in numeric order;
text, JSON and Markdown; a baseline.json on either side.  Reports are made
here from the data model, so nothing needs building."""
import json
import subprocess

import pytest

from conftest import ROOT, SCRIPTS
from faa import cli, compare, model
from faa.model import Baseline, FixtureResult, Report, RunResult, Window

CALLS = ["go()", "stop()", "go()", "tick(1)", "tick(2)", "tick(3)", "tick(4)", "tick(5)",
         "tick(6)", "tick(7)", "tick(8)", "tick(9)"]


def run(mode, opt, steps, construct=(2, 1, 40), calls=CALLS):
    """A RunResult: `steps` [(allocs, frees, bytes)] for steps 1..N."""
    w = [Window("step", i, allocs=a, frees=f, bytes=b) for i, (a, f, b) in enumerate(steps)]
    c = Window("construct", -1, allocs=construct[0], frees=construct[1], bytes=construct[2])
    return RunResult(mode=mode, opt=opt, construct=c, steps=w, calls=list(calls[:len(steps)]))


def fixture(name, alloc_steps, noalloc_steps=None):
    n = len(alloc_steps)
    runs = [run("alloc", opt, alloc_steps) for opt in (0, 3)]
    runs += [run("noalloc", opt, noalloc_steps or [(0, 0, 0)] * n, construct=(0, 0, 0)) for opt in (0, 3)]
    return FixtureResult(name=name, system=name.title(), source=None, nostd="ok", runs=runs)


def report(*fixtures):
    return Report(compiler={"name": "frc", "version": "0.1.0", "path": "frc", "bundled": True},
                  exit_status=0, fixtures=list(fixtures))


TWELVE = [(1, 1, 24)] * 12


@pytest.fixture
def old(tmp_path):
    p = tmp_path / "old.json"
    report(fixture("alpha", TWELVE), fixture("beta", [(4, 4, 81)] * 3)).write(p)
    return p


def audit_compare(capsys, *args):
    status = cli.main(["compare", *map(str, args)])
    return status, capsys.readouterr().out


def write(tmp_path, name, *fixtures):
    p = tmp_path / name
    report(*fixtures).write(p)
    return p


def test_identical_reports_pass(old, capsys):
    status, out = audit_compare(capsys, old, old)
    assert status == 0, out
    assert "0 regression(s)" in out and "compare: PASS" in out


def test_a_missing_fixture_fails(old, tmp_path, capsys):
    new = write(tmp_path, "new.json", fixture("alpha", TWELVE))
    status, out = audit_compare(capsys, old, new)
    assert status == 1, out
    assert "MISSING: fixture beta (every window)" in out
    # one line for the whole fixture, not one per window
    assert out.count("beta") == 1, out
    assert "missing: 1 fixture(s), 0 run(s), 0 window(s)" in out


def test_a_missing_run_or_window_fails_and_a_new_fixture_does_not(old, tmp_path, capsys):
    beta = fixture("beta", [(4, 4, 81)] * 3)
    beta.runs = [r for r in beta.runs if (r.mode, r.opt) != ("alloc", 3)]
    alpha = fixture("alpha", TWELVE[:11])            # its step 12 is gone
    new = write(tmp_path, "new.json", alpha, beta, fixture("gamma", TWELVE))
    status, out = audit_compare(capsys, old, new)
    assert status == 1, out
    assert "MISSING: run beta alloc O3 (every window)" in out
    assert "MISSING: alpha alloc O0 step 12 tick(9): allocations 1, frees 1, bytes 24" in out
    assert "new: fixture gamma (every window)" in out
    only_new = write(tmp_path, "more.json", fixture("alpha", TWELVE), fixture("beta", [(4, 4, 81)] * 3),
                     fixture("gamma", TWELVE))
    status, out = audit_compare(capsys, old, only_new)
    assert status == 0 and "new: 1 fixture(s)" in out, out


def changed_alpha(**steps):
    """alpha with some alloc O0 steps (1-based, `s3=(a, f, b)`) replaced."""
    st = list(TWELVE)
    for k, v in steps.items():
        st[int(k[1:]) - 1] = v
    fx = fixture("alpha", TWELVE)
    fx.runs[0] = run("alloc", 0, st)
    return fx


def test_classification_of_allocations_frees_and_bytes(old, tmp_path, capsys):
    beta = fixture("beta", [(4, 4, 81)] * 3, noalloc_steps=[(0, 0, 0), (0, 1, 0), (0, 0, 0)])
    alpha = changed_alpha(s2=(2, 2, 48),        # more allocations: regression
                          s3=(1, 1, 64),        # more bytes only: regression
                          s4=(0, 0, 0),         # fewer: improvement
                          s5=(1, 1, 16),        # fewer bytes only: improvement
                          s6=(1, 2, 24),        # frees only: other change
                          s7=(2, 2, 8))         # more allocations, fewer bytes: regression
    new = write(tmp_path, "new.json", alpha, beta)
    res = compare.compare(compare.load(old), compare.load(new))
    where = lambda cs: [(c.key.fixture, c.key.mode, c.key.opt, c.key.step + 1) for c in cs]
    assert where(res.regressions) == [("alpha", "alloc", 0, 2), ("alpha", "alloc", 0, 3),
                                      ("alpha", "alloc", 0, 7), ("beta", "noalloc", 0, 2),
                                      ("beta", "noalloc", 3, 2)]
    assert where(res.improvements) == [("alpha", "alloc", 0, 4), ("alpha", "alloc", 0, 5)]
    assert where(res.other) == [("alpha", "alloc", 0, 6)]
    status, out = audit_compare(capsys, old, new)
    assert status == 1
    assert ("REGRESSION: alpha alloc O0 step 3 go(): allocations 1, frees 1, bytes 24 -> 64"
            in out), out
    assert "REGRESSION: beta noalloc O0 step 2 stop(): allocations 0, frees 0 -> 1, bytes 0" in out
    assert "improvement: alpha alloc O0 step 4 tick(1): allocations 1 -> 0" in out
    assert "changed: alpha alloc O0 step 6 tick(3): allocations 1, frees 1 -> 2, bytes 24" in out
    # summary first, then regressions before missing, improvements, other changes
    order = [out.index(s) for s in ("window(s) in both", "regressions (5)", "improvements (2)",
                                    "other changes (1)")]
    assert order == sorted(order), out


def test_improvements_alone_pass(old, tmp_path, capsys):
    new = write(tmp_path, "new.json", changed_alpha(s1=(0, 0, 0)), fixture("beta", [(4, 4, 81)] * 3))
    status, out = audit_compare(capsys, old, new)
    assert status == 0 and "1 improvement(s)" in out, out


def test_steps_are_in_numeric_order(old, tmp_path, capsys):
    alpha = changed_alpha(s2=(3, 3, 72), s10=(3, 3, 72), s11=(3, 3, 72), s1=(3, 3, 72))
    new = write(tmp_path, "new.json", alpha, fixture("beta", [(4, 4, 81)] * 3))
    status, out = audit_compare(capsys, old, new)
    steps = [int(line.split(" step ")[1].split()[0]) for line in out.splitlines()
             if line.strip().startswith("REGRESSION")]
    assert steps == [1, 2, 10, 11], out


def test_a_step_that_runs_another_call_is_a_change_not_a_regression(old, tmp_path, capsys):
    alpha = changed_alpha(s2=(5, 5, 99))
    alpha.runs[0].calls[1] = "reset()"
    new = write(tmp_path, "new.json", alpha, fixture("beta", [(4, 4, 81)] * 3))
    status, out = audit_compare(capsys, old, new)
    assert status == 0, out
    assert "changed: alpha alloc O0 step 2 reset(): allocations 1 -> 5" in out
    assert "(the step ran stop(), now reset())" in out


def test_long_lists_are_capped_after_the_regressions(old, tmp_path, capsys):
    new = write(tmp_path, "new.json", changed_alpha(s12=(9, 9, 99)))     # beta gone: 4 runs missing
    status, out = audit_compare(capsys, old, new, "--limit", "1")
    assert status == 1
    assert out.index("REGRESSION: alpha") < out.index("MISSING: fixture beta")
    few = [(0, 0, 0)] * 12
    new = write(tmp_path, "new2.json", fixture("alpha", few), fixture("beta", [(4, 4, 81)] * 3))
    status, out = audit_compare(capsys, old, new, "--limit", "5")
    assert "improvements (24):" in out and "... and 19 more (--limit 0 lists all)" in out, out
    assert len(out.splitlines()) < 20


def test_json_is_the_documented_object(old, tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    new = write(tmp_path, "new.json", changed_alpha(s2=(2, 2, 48), s4=(0, 0, 0)))
    status, out = audit_compare(capsys, old, new, "--format", "json")
    assert status == 1
    d = json.loads(out)
    schema = json.loads((ROOT / "schemas/compare.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(d)
    assert d["schema"] == "frame-alloc-audit/compare@1" and d["verdict"] == "fail"
    assert d["exit_status"] == 1 and d["old"]["kind"] == "report"
    assert d["counts"]["regressions"] == 1 and d["counts"]["improvements"] == 1
    assert d["counts"]["missing_fixtures"] == 1 and d["missing"]["fixtures"] == ["beta"]
    assert d["regressions"] == [{"fixture": "alpha", "mode": "alloc", "opt": 0, "step": 2, "call": "stop()",
                                 "old": {"allocs": 1, "frees": 1, "bytes": 24},
                                 "new": {"allocs": 2, "frees": 2, "bytes": 48}}]
    broken = dict(d, counts={**d["counts"], "regressions": "one"})
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(broken))


def test_markdown_is_a_small_table(old, tmp_path, capsys):
    alpha = changed_alpha(s2=(2, 2, 48), s4=(0, 0, 0))
    alpha.runs[0].calls[1] = "put(\"a|b\")"
    alpha.runs[0].calls[2] = "x<T>()"
    new = write(tmp_path, "new.json", alpha)
    status, out = audit_compare(capsys, old, new, "--format", "markdown")
    assert status == 1
    lines = out.splitlines()
    assert lines[0].startswith("❌ **compare: FAIL** — 0 regression(s), 1 missing"), out
    assert "| | fixture | shape | opt | window | allocations | frees | bytes |" in lines
    rows = [ln for ln in lines if ln.startswith("| ❌") or ln.startswith("| ✅") or ln.startswith("| ↔")]
    # the renamed step 2 is a change; the missing fixture comes before it
    assert rows[0] == "| ❌ missing | beta |  |  | every window |  |  |  |", out
    assert "| ✅ improvement | alpha | alloc | O0 | step 4 tick(1) | 1 → 0 | 1 → 0 | 24 → 0 |" == rows[1]
    # renamed steps are changes; the text is escaped for GitHub (| in a cell, HTML)
    assert r'| ↔ changed | alpha | alloc | O0 | step 2 put("a\|b") (was stop()) | 1 → 2 | 1 → 2 | 24 → 48 |' \
        == rows[2]
    assert "| step 3 x&lt;T&gt;() (was go()) | 1 | 1 | 24 |" in rows[3]
    assert len(lines) < 15


def test_a_baseline_on_either_side(old, tmp_path, capsys):
    rep = Report.load(old)
    base = Baseline.of_windows(compare.of_report(rep), "frc", "0.1.0")
    bpath = tmp_path / "baseline.json"
    base.write(bpath)
    status, out = audit_compare(capsys, bpath, old)
    assert status == 0, out
    assert "baseline records allocations and frees of the allocating shape only" in out
    assert "no_alloc window(s) of the report not compared" in out
    assert "new: 0 fixture(s), 0 run(s), 0 window(s)" in out     # noalloc runs are not "new"
    worse = write(tmp_path, "worse.json", changed_alpha(s2=(2, 2, 48)), fixture("beta", [(4, 4, 81)] * 3))
    status, out = audit_compare(capsys, bpath, worse)
    assert status == 1 and "REGRESSION: alpha alloc O0 step 2 stop(): allocations 1 -> 2, frees 1 -> 2" in out
    assert "bytes" not in out.split("REGRESSION:")[1].splitlines()[0]     # a baseline has none
    status, out = audit_compare(capsys, worse, bpath)
    assert status == 0 and "improvement: alpha alloc O0 step 2 stop()" in out, out
    status, out = audit_compare(capsys, bpath, bpath)
    assert status == 0 and "5 window(s)" not in out


def test_the_project_baseline_reads(capsys):
    status, out = audit_compare(capsys, ROOT / "reports/baseline.json", ROOT / "reports/baseline.json")
    assert status == 0 and "0 regression(s)" in out, out


def test_a_file_that_is_neither_exits_2(old, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something/else@1"}')
    r = subprocess.run([str(SCRIPTS / "audit"), "compare", str(old), str(bad)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "neither a frame-alloc-audit/report@1 nor" in r.stderr, r.stderr
    r = subprocess.run([str(SCRIPTS / "audit"), "compare", str(old)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2


def test_the_gate_shares_the_comparison():
    """gate.check_baseline_report flags more allocations only, through the
    same Change: bytes and a renamed step are not its business."""
    k = model.WindowKey("a", "alloc", 0, 0, "go()")
    more = compare.changes({k: (1, 1, 8)}, {k: (2, 2, 8)})
    assert [c.more_allocations for c in more] == [True]
    fatter = compare.changes({k: (1, 1, 8)}, {k: (1, 1, 16)})
    assert [(c.more_allocations, c.kind) for c in fatter] == [(False, "regression")]
    renamed = compare.changes({k: (1, 1)}, {model.WindowKey("a", "alloc", 0, 0, "stop()"): (3, 3)})
    assert [(c.more_allocations, c.old_call) for c in renamed] == [(False, "go()")]
    assert compare.changes({k: (1, 1)}, {k: (1, 1, 99)}) == []     # no bytes on one side
