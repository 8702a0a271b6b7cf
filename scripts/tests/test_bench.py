"""Unit tests of scripts/faa/bench.py's parsing and statistics.  No timing
is asserted anywhere: benchmarks print figures, they do not pass or fail."""
import json

import pytest

from faa import bench

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
    d = bench.parse_callgrind(DUMP)
    assert d["ir"] == 230
    assert d["label"] == "Client Request: faa-step 2"
    assert d["self"] == {"x::Sys::__route": 190, "x::Sys::feed": 25, "collect_on": 15}
    assert sum(d["self"].values()) == d["ir"]


def test_callgrind_lines_follow_relative_positions_and_inlined_files():
    lines = bench.parse_callgrind(DUMP)["lines"]
    assert lines[("/tmp/gen/noalloc/x.rs", 188)] == 60
    assert lines[("/tmp/gen/noalloc/x.rs", 189)] == 100
    assert lines[("/rustc/abc/library/core/src/mem/mod.rs", 901)] == 20
    assert lines[("/tmp/gen/noalloc/x.rs", 900)] == 10      # fe= back, -1 from 901
    # the call's own cost line (`* 190`) is skipped; `* 5` is at the call
    # site, line 176 (the calls= target position is the callee's)
    assert lines[("/tmp/gen/noalloc/x.rs", 176)] == 25


def test_callgrind_compressed_names_are_remembered():
    d = bench.parse_callgrind("summary: 7\nfn=(1) a::f\n1 3\nfn=(2) b::g\n2 1\nfn=(1)\n3 3\n")
    assert d["self"] == {"a::f": 6, "b::g": 1}


def test_step_labels():
    assert bench.step_of("Client Request: faa-step 12") == 12
    assert bench.step_of("Program termination") is None


def test_alloc_bench_and_faa_run_lines():
    assert bench.parse_alloc_bench("fixed32 6.5\nrandom 21.25\nnoise here too\nloop x\n") == {
        "fixed32": 6.5, "random": 21.25}
    t = bench.parse_timing("faa-run: timing median_ns=12.5 min_ns=11 p90_ns=13.25 cycles=64 "
                           "batches=15 dispatches=960\n")
    assert t["median_ns"] == 12.5 and t["batches"] == 15 and t["dispatches"] == 960
    assert bench.parse_timing("faa-run: 3 steps\n") == {}
    assert bench.parse_counts("faa-run: count step=4 allocs=5 frees=5\n"
                              "faa-run: count step=5 allocs=1 frees=1\n") == {4: 5, 5: 1}


def test_statistics():
    assert bench.median([3, None, 1, 2]) == 2
    assert bench.median([None]) is None
    assert bench.geomean([2, 8]) == pytest.approx(4)
    assert bench.geomean([None, 0]) is None
    assert bench.ratio(10, 4) == 2.5
    assert bench.ratio(10, 0) is None and bench.ratio(None, 3) is None


def test_transitions_follow_the_state_change_line_when_it_is_known():
    alloc = [{"step": 0, "allocs": 1}, {"step": 1, "allocs": 4}, {"step": 2, "allocs": 4}]
    # step 1 is four self-calls (4 allocations) without a state change
    noalloc = [{"step": 0, "transition_code_ir": 0}, {"step": 1, "transition_code_ir": 0},
               {"step": 2, "transition_code_ir": 9.0}]
    assert bench.transitions(alloc, noalloc) == {2}


def test_transitions_fall_back_to_allocating_counts():
    alloc = [{"step": 0, "allocs": 1}, {"step": 1, "allocs": 3}, {"step": 2, "allocs": 7},
             {"step": 3, "allocs": None}]
    noalloc = [{"step": j, "transition_code_ir": None} for j in range(4)]
    assert bench.transitions(alloc, noalloc) == {1, 2}


def test_audit_phases_from_progress_lines():
    events = [(0.1, "audit: 18 fixture(s) x 2 shape(s) x O0,O3 with frc 0.1.0"),
              (1.0, "[1/36] a alloc: 2 built, 0 cached"),
              (40.0, "audit: build phase 39.9 s wall with 2 job(s): compiler 3.5 s, rustc 75.0 s "
                     "(summed over tasks); libraries: 4 built, 68 cached"),
              (40.5, "audit: measuring 72 fixture libraries under the interposer"),
              (43.0, "audit: Valgrind: 108 run(s) (memcheck every library, massif per shape)"),
              (110.0, "audit: handler coverage: 36 Callgrind run(s)"),
              (121.0, "audit: 8/8 reject fixtures rejected as expected")]
    ph = bench.phases(events, 122.5)
    assert list(ph) == ["build", "harness", "valgrind", "coverage", "rejects+report"]
    assert ph == {"build": 40.5, "harness": 2.5, "valgrind": 67.0, "coverage": 11.0,
                  "rejects+report": 1.5}
    assert bench.build_line(events) == {"wall_s": 39.9, "compiler_s": 3.5, "rustc_s": 75.0,
                                        "built": 4, "cached": 68}


def test_audit_phases_without_valgrind():
    ph = bench.phases([(5.0, "audit: measuring 2 fixture libraries under the interposer")], 6.0)
    assert ph == {"build": 5.0, "harness": 1.0}


def test_json_is_written_atomically(tmp_path):
    out = tmp_path / "reports" / "bench.json"
    bench.write_json({"schema": bench.SCHEMA, "x": [1.5]}, out)
    assert json.loads(out.read_text()) == {"schema": "frame-alloc-audit/bench@1", "x": [1.5]}
    assert [p.name for p in out.parent.iterdir()] == ["bench.json"]
