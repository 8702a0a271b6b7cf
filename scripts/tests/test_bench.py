"""Unit tests of scripts/faa/bench/'s parsing and statistics, and of
`audit bench` as the one entry point.  No timing is asserted anywhere:
benchmarks print figures, they do not pass or fail."""
import json
import os
import subprocess
import time

import pytest

from faa import audit, cli, model, report
from faa.bench import audit_time, callgrind, common, interposer, make_test, runs, scaling, steps
from faa.bench import cli as bench_cli
from faa.errors import UsageError

# A mid-run Callgrind dump as faa-run --callgrind-steps leaves it
# (--compress-strings=no): the call from (below main) carries a stale
# inclusive cost that must not count as anyone's self cost.
DUMP = """# callgrind format
version: 1
desc: Trigger: Client Request: faa-step 2
positions: line
events: Ir
summary: 230

ob=/lib/libc.so.6
fl=???
fn=(below main)
cfn=__libc_start_main
calls=0 242
0 4120

ob=/tmp/lib.so
fl=/tmp/gen/noalloc/x.rs
fn=x::Sys::__route
188 60
+1 100
fi=/rustc/abc/library/core/src/mem/mod.rs
901 20
fe=/tmp/gen/noalloc/x.rs
-1 10
fn=x::Sys::feed
176 20
cfn=x::Sys::__route
calls=20 +12
* 190
* 5
fl=/work/harness/runner.c
fn=collect_on
66 15
"""


def test_callgrind_self_costs_skip_inclusive_call_lines():
    d = callgrind.parse_callgrind(DUMP)
    assert d["ir"] == 230
    assert d["label"] == "Client Request: faa-step 2"
    assert d["self"] == {"x::Sys::__route": 190, "x::Sys::feed": 25, "collect_on": 15}
    assert sum(d["self"].values()) == d["ir"]


def test_callgrind_lines_follow_relative_positions_and_inlined_files():
    lines = callgrind.parse_callgrind(DUMP)["lines"]
    assert lines[("/tmp/gen/noalloc/x.rs", 188)] == 60
    assert lines[("/tmp/gen/noalloc/x.rs", 189)] == 100
    assert lines[("/rustc/abc/library/core/src/mem/mod.rs", 901)] == 20
    assert lines[("/tmp/gen/noalloc/x.rs", 900)] == 10      # fe= back, -1 from 901
    # the call's own cost line (`* 190`) is skipped; `* 5` is at the call
    # site, line 176 (the calls= target position is the callee's)
    assert lines[("/tmp/gen/noalloc/x.rs", 176)] == 25


def test_callgrind_compressed_names_are_remembered():
    d = callgrind.parse_callgrind("summary: 7\nfn=(1) a::f\n1 3\nfn=(2) b::g\n2 1\nfn=(1)\n3 3\n")
    assert d["self"] == {"a::f": 6, "b::g": 1}


def test_step_labels():
    assert callgrind.step_of("Client Request: faa-step 12") == 12
    assert callgrind.step_of("Program termination") is None


def test_alloc_bench_and_faa_run_lines():
    assert interposer.parse_alloc_bench("fixed32 6.5\nrandom 21.25\nnoise here too\nloop x\n") == {
        "fixed32": 6.5, "random": 21.25}
    t = steps.parse_timing("faa-run: timing median_ns=12.5 min_ns=11 p90_ns=13.25 cycles=64 "
                           "batches=15 dispatches=960\n")
    assert t["median_ns"] == 12.5 and t["batches"] == 15 and t["dispatches"] == 960
    assert steps.parse_timing("faa-run: 3 steps\n") == {}
    assert steps.parse_counts("faa-run: count step=4 allocs=5 frees=5\n"
                              "faa-run: count step=5 allocs=1 frees=1\n") == {4: 5, 5: 1}


def test_statistics():
    assert common.median([3, None, 1, 2]) == 2
    assert common.median([None]) is None
    assert common.geomean([2, 8]) == pytest.approx(4)
    assert common.geomean([None, 0]) is None
    assert common.ratio(10, 4) == 2.5
    assert common.ratio(10, 0) is None and common.ratio(None, 3) is None


def test_transitions_follow_the_state_change_line_when_it_is_known():
    alloc = [{"step": 0, "allocs": 1}, {"step": 1, "allocs": 4}, {"step": 2, "allocs": 4}]
    # step 1 is four self-calls (4 allocations) without a state change
    noalloc = [{"step": 0, "transition_code_ir": 0}, {"step": 1, "transition_code_ir": 0},
               {"step": 2, "transition_code_ir": 9.0}]
    assert steps.transitions(alloc, noalloc) == {2}


def test_transitions_fall_back_to_allocating_counts():
    alloc = [{"step": 0, "allocs": 1}, {"step": 1, "allocs": 3}, {"step": 2, "allocs": 7},
             {"step": 3, "allocs": None}]
    noalloc = [{"step": j, "transition_code_ir": None} for j in range(4)]
    assert steps.transitions(alloc, noalloc) == {1, 2}


def test_audit_phases_come_from_the_file_the_audit_writes(tmp_path, monkeypatch):
    ticks = iter(range(0, 100, 2))
    monkeypatch.setattr(audit.PhaseClock, "_now", staticmethod(lambda: (next(ticks), 1.0)))
    clock = audit.PhaseClock()
    clock.start("build")
    clock.phases["build"] = {"compiler_s": 3.5, "rustc_s": 75.0, "built": 4, "cached": 68}
    for name in ("harness", "valgrind+coverage", "rejects+report"):
        clock.start(name)
    clock.write(tmp_path / "phases.json")
    data = json.loads((tmp_path / "phases.json").read_text())
    assert data["schema"] == model.PHASES_SCHEMA
    assert data["phases"]["harness"] == {"wall_s": 2, "cpu_s": 0.0}
    ph, build = audit_time.read_phases(tmp_path / "phases.json")
    assert list(ph) == ["build", "harness", "valgrind+coverage", "rejects+report"]
    assert set(ph.values()) == {2}
    assert build == {"wall_s": 2, "compiler_s": 3.5, "rustc_s": 75.0, "built": 4, "cached": 68}


def test_audit_phases_absent_or_foreign_file(tmp_path):
    assert audit_time.read_phases(tmp_path / "phases.json") == ({}, {})
    (tmp_path / "phases.json").write_text('{"schema": "other", "phases": {"build": {"wall_s": 1}}}')
    assert audit_time.read_phases(tmp_path / "phases.json") == ({}, {})
    (tmp_path / "phases.json").write_text(json.dumps(
        {"schema": model.PHASES_SCHEMA, "phases": {"build": {"wall_s": 5.0, "cpu_s": 1.0}}}))
    assert audit_time.read_phases(tmp_path / "phases.json") == ({"build": 5.0}, {})


def test_bench_is_a_subcommand_of_the_audit():
    """`audit bench` takes bench's options, also --build-dir after `bench`."""
    args = cli.parser().parse_args(["--build-dir", "B", "bench", "--only", "dispatch",
                                    "--fixtures", "port_reset", "--opt", "0,3"])
    assert args.func is cli.cmd_bench and args.build_dir == "B"
    assert args.only == ["dispatch"] and args.fixtures == ["port_reset"] and args.opt == "0,3"
    args = cli.parser().parse_args(["bench", "--build-dir", "C", "--reps", "2"])
    assert args.build_dir == "C" and args.reps == 2


def test_bench_usage_error_exits_2(tmp_path):
    r = subprocess.run([str(cli.ROOT / "scripts" / "audit"), "--build-dir", str(tmp_path), "bench",
                        "--opt", "x"], capture_output=True, text=True)
    assert r.returncode == 2 and "bench: error: --opt x" in r.stderr
    assert not (cli.ROOT / "scripts" / "bench").exists()


def test_json_is_written_atomically_and_reads_back(tmp_path):
    out = tmp_path / "reports" / "bench.json"
    model.BenchResult(created="2026-12-02T00:00:00+00:00", sections={"x": [1.5]}).write(out)
    assert json.loads(out.read_text()) == {"schema": "frame-alloc-audit/bench@1",
                                           "created": "2026-12-02T00:00:00+00:00", "x": [1.5]}
    assert [p.name for p in out.parent.iterdir()] == ["bench.json"]
    back = model.BenchResult.load(out)
    assert back.sections == {"x": [1.5]} and back.created.startswith("2026")
    out.write_text('{"schema": "other"}')
    assert model.BenchResult.load(out) is None


# ---- sections audit, make-test, scaling: their logic without the slow runs ----

SCHEMA_PATH = cli.ROOT / "schemas" / "bench.schema.json"


def _phases_file(path, names=("build", "harness", "valgrind+coverage", "rejects+report")):
    phases = {n: {"wall_s": 2.0, "cpu_s": 3.0} for n in names}
    if "build" in phases:
        phases["build"].update(compiler_s=0.5, rustc_s=9.0, built=4, cached=12)
    model.Phases(phases).write(path)


def test_audit_runs_are_make_audits():
    from faa import tools
    cmd = runs.audit_command(tools.BuildTree("B"), "FX", "W", "R", None)
    i = cmd.index("run")
    assert cmd[i:i + 4] == ["run", "--strict", "--valgrind", "on"]
    assert "--jobs" not in cmd and runs.audit_command(tools.BuildTree("B"), "FX", "W", "R", 3)[-2:] == ["--jobs", "3"]


def test_complete_means_every_phase_valgrind_and_coverage_included(tmp_path):
    _phases_file(tmp_path / "phases.json")
    ph, _ = runs.read_phases(tmp_path / "phases.json")
    assert runs.complete(ph)
    assert runs.read_phases_cpu(tmp_path / "phases.json")["valgrind+coverage"] == 3.0
    assert runs.complete(dict.fromkeys(["build", "harness", "valgrind", "coverage", "rejects+report"]))
    assert not runs.complete(dict.fromkeys(["build", "harness", "rejects+report"]))     # Valgrind skipped
    assert not runs.complete(dict.fromkeys(["build", "harness", "valgrind", "rejects+report"]))
    assert not runs.complete({})
    assert runs.read_phases_cpu(tmp_path / "none.json") == {}


def _crate(work, name, fixtures, mtime):
    lib, src = work / "bundles" / "lib", work / "bundles" / "src"
    lib.mkdir(parents=True, exist_ok=True)
    src.mkdir(parents=True, exist_ok=True)
    (src / f"{name}.rs").write_text("".join(f'#[path = "/w/{f}/shim/{f}_alloc.rs"]\npub mod fx_{f};\n'
                                            for f in fixtures))
    stamp = lib / f"lib{name}.so.key"
    stamp.write_text("k")
    os.utime(stamp, (mtime, mtime))


def test_crates_built_are_those_stamped_since_the_run_started(tmp_path):
    for opt in (0, 3):
        _crate(tmp_path, f"fxb_alloc_aaa_o{opt}", ["port_reset", "elevator"], 1000)
        _crate(tmp_path, f"fxb_alloc_bbb_o{opt}", ["lexer"], 1000)
        _crate(tmp_path, f"fxd_alloc_ccc_o{opt}", ["port_reset"], 2000)
    state = runs.crate_state(tmp_path, 1500)
    assert state == {"built": ["fxd_alloc_ccc_o0", "fxd_alloc_ccc_o3"],
                     "cached": ["fxb_alloc_aaa_o0", "fxb_alloc_aaa_o3", "fxb_alloc_bbb_o0", "fxb_alloc_bbb_o3"]}
    assert runs.crates_of(tmp_path, "port_reset") == ["fxb_alloc_aaa_o0", "fxb_alloc_aaa_o3",
                                                      "fxd_alloc_ccc_o0", "fxd_alloc_ccc_o3"]
    assert runs.crates_of(tmp_path, "port") == [] and runs.crate_state(tmp_path / "x", 0) == {"built": [], "cached": []}


def test_crates_come_from_phases_json_when_it_counts_them(tmp_path, monkeypatch):
    """phases.json's build phase names the crates built; the work dir's
    stamps (which say otherwise here) are only the fallback."""
    work = tmp_path / "w"
    _crate(work, "fxb_alloc_old_o0", ["lexer"], time.time() + 100)     # a stamp that looks new
    done = {"wall_s": 1.0, "cpu_s": 1.0, "status": 0, "timed_out": False, "started": time.time(),
            "loadavg_start": [0, 0, 0], "loadavg_end": [0, 0, 0], "log": "l"}
    monkeypatch.setattr(runs, "timed", lambda cmd, log: dict(done))
    run, built = runs.audit_run(["x"], work, tmp_path / "l")
    assert run["crates"] == {"built": 1, "cached": 0} and built == ["fxb_alloc_old_o0"]    # fallback

    def with_phases(cmd, log):
        _phases_file(work / "phases.json")
        ph = model.Phases.load(work / "phases.json").phases
        ph["build"].update(crates_built=2, crates_cached=14, crates_rebuilt=[
            "fxd_alloc_1_o0 (port_reset)", "fxb_noalloc_2_o3 (elevator, port_reset)"])
        model.Phases(ph).write(work / "phases.json")
        return dict(done)
    monkeypatch.setattr(runs, "timed", with_phases)
    run, built = runs.audit_run(["x"], work, tmp_path / "l")
    assert run["crates"] == {"built": 2, "cached": 14} and built == ["fxd_alloc_1_o0", "fxb_noalloc_2_o3"]
    assert run["complete"] and run["phases_cpu"]["build"] == 3.0


def test_a_warm_run_must_rebuild_the_touched_fixture_and_nothing_else():
    mine = ["fxb_alloc_a_o0", "fxb_alloc_a_o3", "fxb_noalloc_b_o0", "fxb_noalloc_b_o3"]
    ok = audit_time.rebuild_check(mine, mine)
    assert ok["ok"] and not ok["missing"] and not ok["extra"]
    # the fixture built apart (fxd) while its old bundle serves the others
    apart = audit_time.rebuild_check(mine + ["fxd_alloc_c_o0", "fxd_alloc_c_o3"],
                                     ["fxd_alloc_c_o0", "fxd_alloc_c_o3", "fxb_noalloc_b_o0", "fxb_noalloc_b_o3"])
    assert apart["ok"], apart
    nothing = audit_time.rebuild_check(mine, [])          # the edit never reached the build
    assert not nothing["ok"] and nothing["missing"] == ["alloc o0", "alloc o3", "noalloc o0", "noalloc o3"]
    more = audit_time.rebuild_check(mine, mine + ["fxb_alloc_z_o0"])      # a bucket-mate's crate too
    assert not more["ok"] and more["extra"] == ["fxb_alloc_z_o0"]
    assert not audit_time.rebuild_check([], [])["ok"]     # the fixture is in no crate at all


def _run(wall, cpu=10.0, status=0, complete=True):
    return {"wall_s": wall, "cpu_s": cpu, "status": status, "complete": complete,
            "loadavg_start": [1.0, 1.0, 1.0], "loadavg_end": [2.0, 1.0, 1.0],
            "phases": {"build": 1.0, "harness": 1.0, "valgrind+coverage": 1.0, "rejects+report": 1.0},
            "phases_cpu": {"build": 2.0, "harness": 1.0, "valgrind+coverage": 6.0, "rejects+report": 1.0},
            "build": {"wall_s": 1.0, "compiler_s": 0.1, "rustc_s": 3.0, "built": 4, "cached": 4},
            "crates": {"built": 4, "cached": 12}, "log": "/x.log"}


def test_a_target_is_met_only_by_a_whole_passing_audit_in_time():
    assert audit_time.met(_run(44.9), 45)
    assert not audit_time.met(_run(45.1), 45)
    assert not audit_time.met(_run(3.0, status=1), 45)            # the gate failed
    assert not audit_time.met(_run(3.0, complete=False), 45)      # Valgrind or coverage never ran
    assert not audit_time.met(_run(3.0), 8, False)                # warm, but not a clean rebuild


def test_touch_appends_a_comment_that_reaches_the_module(tmp_path, build_dir):
    frs = tmp_path / "fixtures" / "port_reset.frs"
    frs.parent.mkdir()
    frs.write_text((cli.ROOT / "fixtures" / "port_reset.frs").read_text())
    before = frs.read_text().splitlines()
    audit_time.touch(frs)
    after = frs.read_text().splitlines()
    assert after[:-1] == before and after[-1].startswith("// touched by make bench")
    r = subprocess.run([str(build_dir / "compiler" / "frc"), "compile", "-l", "rust", "-o", "out",
                        "fixtures/port_reset.frs"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert after[-1] in (tmp_path / "out" / "port_reset.rs").read_text()


def test_audit_section_from_fake_runs(tmp_path, monkeypatch):
    """bench_audit with the two audit runs faked: the warm one rebuilt
    nothing, so its target is not met however fast it was."""
    from faa import tools
    fx = tmp_path / "fx"
    fx.mkdir()
    for f in ("port_reset.frs", "port_reset.toml"):
        (fx / f).write_text((cli.ROOT / "fixtures" / f).read_text())
    calls = []

    def fake(cmd, work, log):
        calls.append((cmd, log.name, (fx.parent / "scratch" / "fixtures" / "port_reset.frs").read_text()))
        for opt in (0, 3):
            _crate(work, f"fxb_alloc_aaa_o{opt}", ["port_reset"], 1000)
        return _run(30.0 if log.name == "cold.log" else 5.0), []
    monkeypatch.setattr(audit_time, "audit_run", fake)
    (tmp_path / "scratch").mkdir()
    a, cmd = audit_time.bench_audit(tools.BuildTree(str(tmp_path / "B")), fx, tmp_path / "scratch", None,
                                    "port_reset")
    assert [c[1] for c in calls] == ["cold.log", "warm.log"]
    assert "// touched" not in calls[0][2] and "// touched" in calls[1][2]
    assert "run --strict --valgrind on" in cmd
    assert a["met_cold"] and not a["met_warm"] and a["rebuild"]["missing"] == ["alloc o0", "alloc o3"]
    assert a["expected_rebuilt"] == 2 and a["goal_cold_s"] == 45 and a["goal_warm_s"] == 8
    with pytest.raises(UsageError, match="--touch nosuch"):
        audit_time.bench_audit(tools.BuildTree(str(tmp_path / "B")), fx, tmp_path / "scratch", None, "nosuch")


MAKE_TEST_LOG = """\
[    0.1] scripts/deps.sh: every prerequisite is installed
[    0.2] meson setup build
[   40.5] ninja -C build
[   95.0] meson test -C build --print-errorlogs --num-processes 2
[   96.0] ninja: no work to do.
[  100.2]  1/3 frame-alloc-audit:compiler / lexer                      OK              0.04s
[  180.0]  2/3 frame-alloc-audit:scripts / pytest-cli-e2e             FAIL           80.12s   exit status 1
[  230.0]  3/3 frame-alloc-audit:scripts / pytest-schemas             OK             49.90s
[  230.1]
[  230.1] Ok:                 2
[  230.1] Expected Fail:      0
[  230.1] Fail:               1
[  230.1] Unexpected Pass:    0
[  230.1] Skipped:            0
[  230.1] Timeout:            0
[  230.2] make test: meson test exited 1 (a test failed: see the list above)
"""


def test_make_test_log_is_read_for_build_time_summary_and_slowest():
    p = make_test.parse_log(MAKE_TEST_LOG.splitlines(), slowest=2)
    assert p["build_s"] == 95.0
    assert p["tests"] == {"ok": 2, "expected_fail": 0, "fail": 1, "unexpected_pass": 0, "skipped": 0, "timeout": 0}
    assert p["failed"] == ["frame-alloc-audit:scripts / pytest-cli-e2e"]
    assert p["slowest"] == [["frame-alloc-audit:scripts / pytest-cli-e2e", 80.12],
                            ["frame-alloc-audit:scripts / pytest-schemas", 49.9]]
    none = make_test.parse_log(["[    1.0] Makefile:44: *** missing separator.  Stop."])
    assert none == {"build_s": None, "tests": {}, "failed": [], "slowest": []}


@pytest.fixture(autouse=True)
def _not_nested(monkeypatch):
    """These tests may themselves run inside a make-test bench (whose clone's
    `make test` runs this file with the nesting guard set): each starts
    outside one, as a newcomer's shell is."""
    monkeypatch.delenv(make_test.NESTED, raising=False)


def _repo(tmp_path, recipe):
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    (repo / "Makefile").write_text(f"test:\n\t{recipe}\n")
    for cmd in (["init", "-q"], ["add", "Makefile"],
                ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "m"]):
        subprocess.run(["git", "-C", str(repo), *cmd], check=True, capture_output=True)
    return repo


def test_make_test_runs_in_a_fresh_clone_of_head(tmp_path, monkeypatch):
    repo = _repo(tmp_path, "@echo meson test -C build; echo \"MAKELEVEL=$$MAKELEVEL FAA=$$FAA_BUILD_DIR\"; "
                           "test ! -e untracked; echo ' 1/1 p:s / t   OK   0.50s'; echo 'Ok:   1'")
    (repo / "untracked").write_text("not committed")
    monkeypatch.setenv("FAA_BUILD_DIR", "/elsewhere")
    monkeypatch.setenv("MAKEFLAGS", "-j9 --jobserver-auth=3,4")
    m, cmd = make_test.bench_make_test(tmp_path / "scratch", root=repo)
    log = (tmp_path / "scratch" / "make-test.log").read_text()
    assert m["status"] == 0 and m["met"] and not m["timed_out"], log
    assert "MAKELEVEL=1 FAA=\n" in log      # make's and the audit's variables were left behind
    assert m["tests"] == {"ok": 1} and m["slowest"] == [["p:s / t", 0.5]] and m["build_s"] is not None
    assert len(m["commit"]) == 40 and m["clone"].endswith("clone") and "git clone" in cmd
    monkeypatch.setenv(make_test.NESTED, "1")
    with pytest.raises(UsageError, match="already the make test"):
        make_test.bench_make_test(tmp_path / "scratch", root=repo)


def test_make_test_failure_and_timeout_are_recorded(tmp_path):
    repo = _repo(tmp_path, "exit 3")
    m, _ = make_test.bench_make_test(tmp_path / "scratch", root=repo)
    assert m["status"] == 2 and not m["met"] and m["build_s"] is None    # make's own 2
    slow = _repo(tmp_path / "s", "sleep 30")
    t0 = time.monotonic()
    m, _ = make_test.bench_make_test(tmp_path / "scratch2", root=slow, timeout=1)
    assert m["timed_out"] and m["status"] != 0 and not m["met"] and time.monotonic() - t0 < 20


SCENARIO = 'system = "S"\n[[step]]\ncall = "go()"\nalloc = 0\n'


def test_scaling_corpus_duplicates_each_fixture_under_new_names(tmp_path):
    base = tmp_path / "fx"
    (base / "reject").mkdir(parents=True)
    for n in ("a", "b"):
        (base / f"{n}.frs").write_text(f"// {n}\n")
        (base / f"{n}.toml").write_text(SCENARIO)
    (base / "reject" / "r.frs").write_text("x")
    assert scaling.corpus(base, tmp_path / "x3", 3) == 6
    names = sorted(p.name for p in (tmp_path / "x3").glob("*.frs"))
    assert names == ["a.frs", "a_2.frs", "a_3.frs", "b.frs", "b_2.frs", "b_3.frs"]
    assert (tmp_path / "x3" / "b_3.toml").read_text() == SCENARIO
    assert (tmp_path / "x3" / "reject" / "r.frs").exists()
    (base / "a_2.frs").write_text("")
    (base / "a_2.toml").write_text(SCENARIO)
    with pytest.raises(UsageError, match="a_2 already in"):
        scaling.corpus(base, tmp_path / "y", 2)


def test_scaling_corpus_duplicates_c_fixtures_in_their_own_folder(tmp_path):
    """A C fixture (fixtures/c/NAME.frs) is duplicated beside itself with
    its own scenario; one that reads the Rust twin's scenario gets the
    twin's duplicate."""
    base = tmp_path / "fx"
    (base / "c").mkdir(parents=True)
    for n in ("a", "b"):
        (base / f"{n}.frs").write_text(f"// {n}\n")
        (base / f"{n}.toml").write_text(SCENARIO)
        (base / "c" / f"{n}.frs").write_text('@@[target("c")]\n')
    (base / "c" / "a.toml").write_text(SCENARIO + "# C\n")
    assert scaling.corpus(base, tmp_path / "x2", 2) == 8
    c = tmp_path / "x2" / "c"
    assert sorted(p.name for p in c.glob("*.frs")) == ["a.frs", "a_2.frs", "b.frs", "b_2.frs"]
    assert (c / "a_2.toml").read_text() == SCENARIO + "# C\n" and not (c / "b_2.toml").exists()
    from faa import run
    names = [fx.name for fx in run.discover(tmp_path / "x2")]
    assert sorted(names) == ["a", "a.c", "a_2", "a_2.c", "b", "b.c", "b_2", "b_2.c"]


def _series(cpu_of_n, status=0, complete=True):
    return [scaling.point(n, _run(cpu_of_n(n) / 2, cpu_of_n(n), status, complete)) for n in (26, 52, 104)]


def test_scaling_rule_flat_for_linear_cost():
    s = scaling.flat(_series(lambda n: 5.0 + 2.0 * n))     # fixed cost + linear
    assert s["flat"] is True and s["worst_ratio"] <= 1.0 and 0.9 < s["exponent"] < 1.0
    assert s["ratios"]["26"] == 1.0


def test_scaling_rule_fails_on_a_superlinear_series():
    s = scaling.flat(_series(lambda n: 0.1 * n ** 1.5))    # CPU/fixture doubles from 26 to 104
    assert s["flat"] is False and s["worst_ratio"] == pytest.approx(2.0, rel=0.01)
    assert s["exponent"] == pytest.approx(1.5, abs=0.01)
    step = scaling.flat(_series(lambda n: 2.0 * n if n < 104 else 2.0 * n * 1.6))   # one step at 104
    assert step["flat"] is False


def test_scaling_rule_has_no_verdict_when_a_corpus_did_not_run_whole():
    assert scaling.flat(_series(lambda n: 2.0 * n, status=1))["flat"] is None
    assert scaling.flat(_series(lambda n: 2.0 * n, complete=False))["flat"] is None
    assert scaling.flat(_series(lambda n: 2.0 * n)[:1])["flat"] is None


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def _fake_bench(tmp_path):
    fx = tmp_path / "fx"
    fx.mkdir()
    pts = _series(lambda n: 2.0 * n)
    return {"schema": "frame-alloc-audit/bench@1", "created": "2026-12-02T00:00:00+00:00",
            "host": {"cpus": 2, "loadavg_start": [1.0, 1.0, 1.0], "loadavg_end": [1.0, 1.0, 1.0]},
            "commands": {"audit": "a", "make-test": "m", "scaling": "s"},
            "audit": {"fixtures": 26, "jobs": 2, "touched": "port_reset", "edit": audit_time.EDIT,
                      "cold": _run(40.0), "warm": _run(7.0), "goal_cold_s": 45.0, "goal_warm_s": 8.0,
                      "met_cold": True, "met_warm": True, "expected_rebuilt": 4,
                      "rebuild": audit_time.rebuild_check(["fxb_alloc_a_o0"], ["fxb_alloc_a_o0"])},
            "make-test": {"commit": "0" * 40, "dirty_tree": False, "clone": "/c", "clone_s": 1.0,
                          "command": "make test", "wall_s": 200.0, "cpu_s": 300.0, "status": 0,
                          "timed_out": False, "loadavg_start": [1.0, 1.0, 1.0], "loadavg_end": [1.0, 1.0, 1.0],
                          "log": "/l", **make_test.parse_log(MAKE_TEST_LOG.splitlines()), "test_s": 105.0,
                          "goal_s": 240.0, "met": True},
            "scaling": {"factors": [1, 2, 4], "jobs": 2, "points": pts, **scaling.flat(pts)}}


def test_bench_json_of_the_new_sections_validates(tmp_path):
    v = _validator()
    doc = _fake_bench(tmp_path)
    model.BenchResult(created=doc["created"], sections={k: doc[k] for k in doc if k not in ("schema", "created")}
                      ).write(tmp_path / "bench.json")
    back = json.loads((tmp_path / "bench.json").read_text())
    assert not [e.message for e in v.iter_errors(back)]
    perf = report.performance(tmp_path / "bench.json")       # report.json still reads the audit figures
    assert perf["audit"] == {"cold_s": 40.0, "warm_s": 7.0, "goal_cold_s": 45.0, "goal_warm_s": 8.0}


@pytest.mark.parametrize("path, value", [
    (("scaling", "flat"), "yes"),
    (("scaling", "points", 0, "cpu_per_fixture_s"), -1),
    (("make-test", "tests", "passed"), 3),
    (("audit", "rebuild", "ok"), None),
    (("audit", "warm", "crates", "rebuilt"), 1),
    (("commands", "nonsense"), "x"),
])
def test_bench_json_of_the_new_sections_broken_is_rejected(tmp_path, path, value):
    doc = _fake_bench(tmp_path)
    d = doc
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value
    assert list(_validator().iter_errors(doc)), path


def test_scaling_point_without_per_fixture_figures_is_rejected(tmp_path):
    doc = _fake_bench(tmp_path)
    del doc["scaling"]["points"][1]["cpu_per_fixture_s"]
    assert list(_validator().iter_errors(doc))


def test_only_all_and_the_default_sections():
    parse = cli.parser().parse_args
    assert bench_cli.sections(parse(["bench"])) == ["overhead", "window", "dispatch", "audit"]
    assert bench_cli.sections(parse(["bench", "--all"]))[-2:] == ["make-test", "scaling"]
    assert bench_cli.sections(parse(["bench", "--all", "--only", "scaling"])) == ["scaling"]
    assert parse(["bench", "--scaling-factors", "1,3"]).scaling_factors == (1, 3)
    with pytest.raises(SystemExit):
        parse(["bench", "--scaling-factors", "0,2"])


def test_make_bench_runs_every_section():
    text = (cli.ROOT / "Makefile").read_text()
    recipe = text[text.index("\nbench:"):].split("\n")[2]
    assert "bench --all $(BENCH_ARGS)" in recipe


def test_blocking_hooks_are_shown_but_kept_out_of_the_overhead_goal(monkeypatch):
    """Section 1: the blocking kinds' pass-through hooks get rows of their
    own (issue 15); a slow one (a system call's noise) does not fail the
    allocator goal, an allocator workload over it does."""
    from faa.bench import interposer as ib
    monkeypatch.setattr(ib.tools, "valgrind", lambda *a, **k: None)
    base = {n + s: 10.0 for n in ib.WORKLOAD_UNITS for s in ("", "_2t")}
    bare = [dict(base, hook_mutex=30.0, hook_futex=500.0, hook_read=400.0)] * 3
    pre = [dict(base, hook_mutex=33.0, hook_futex=900.0, hook_read=420.0)] * 3
    o = ib.overhead(3, 1, bare, pre, None, {}, {})
    assert set(o["blocking_hooks"]) == {"hook_mutex", "hook_futex", "hook_read"}
    assert o["blocking_hooks"]["hook_futex"]["ratio"] == 1.8
    assert o["worst_ratio"] == 1.0 and o["met"] is True
    slow = [dict(r, fixed32=12.0) for r in pre]
    assert ib.overhead(3, 1, bare, slow, None, {}, {})["met"] is False
    old = [dict(base)] * 3                      # a binary without the hooks: no rows
    assert ib.overhead(3, 1, old, old, None, {}, {})["blocking_hooks"] == {}
