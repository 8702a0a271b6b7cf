"""Unit tests of scripts/faa/bench/'s parsing and statistics, and of
`audit bench` as the one entry point.  No timing is asserted anywhere:
benchmarks print figures, they do not pass or fail."""
import json
import subprocess

import pytest

from faa import audit, cli, model
from faa.bench import audit_time, callgrind, common, interposer, steps

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
    for name in ("harness", "valgrind", "coverage", "rejects+report"):
        clock.start(name)
    clock.write(tmp_path / "phases.json")
    data = json.loads((tmp_path / "phases.json").read_text())
    assert data["schema"] == model.PHASES_SCHEMA
    assert data["phases"]["harness"] == {"wall_s": 2, "cpu_s": 0.0}
    ph, build = audit_time.read_phases(tmp_path / "phases.json")
    assert list(ph) == ["build", "harness", "valgrind", "coverage", "rejects+report"]
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
