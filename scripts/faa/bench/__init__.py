"""`audit bench`: what counting costs, what dispatch costs in both shapes,
and what the audit itself costs — benchmarks, printed with their ratios and
written to BUILD/reports/bench.json.  Figures, not tests: nothing here
asserts a timing; a missed goal is printed as "missed" with the figures
that explain it.

Sections (--only picks some), one module each:

  overhead  (interposer.py) bench/faa-alloc-bench run alternately without
            and with LD_PRELOAD=libaudit.so (interleaved repetitions,
            medians per workload): ns per malloc+free pair (fixed 32 B,
            fixed-seed random 16..4096 B), ns per realloc growth sequence,
            one and two threads; ratio preload / bare, goal <= 1.10.
  window    (window.py) the same preloaded runs: one window (open + close)
            around nothing through the full API (dlsym'd
            audit_window_open/close, as the harness does) and as a fast
            window (audit.h's inline audit_fast_open/close); goal <= 2 ns.
  dispatch  (dispatch.py, steps.py) per fixture (libraries built as the
            audit builds them, O3 by default): harness/faa-run --time (batch
            timing of the steady-state cycle, no interposer; median ns per
            dispatch, shapes interleaved) and faa-run --callgrind-steps under
            Callgrind (Ir per dispatch per cycle step, deterministic);
            ratios allocating / no_alloc, overall and on transitions (steps
            in which frc's state-change line `self.__compartment = __next`
            ran, seen in one Callgrind cycle of the no_alloc O0 library,
            where nothing is inlined; for other compilers' output, steps whose
            allocating dispatch makes >= 3 allocator calls, DESIGN.md's
            figure for any transition); goal >= 10x fewer instructions on
            transitions.
  audit     (audit_time.py) `audit run` over a copy of fixtures/: cold
            (empty work dir) and warm (one fixture edited: a comment line
            prepended, so exactly its libraries must rebuild), wall and CPU
            seconds, seconds per phase (from the audit's own
            WORK_DIR/phases.json, see audit.PhaseClock); goals <= 180 s cold,
            <= 30 s warm.

Shared: common.py (statistics, formatting, running programs, bench.json),
callgrind.py (reading Callgrind dumps), cli.py (options and the run).

bench.json (schema "frame-alloc-audit/bench@1"):

  {"schema", "created" (UTC ISO 8601), "host": {"cpus", "loadavg_start",
   "loadavg_end"}, "commands": {section: command line},
   "overhead": {"reps", "scale", "workloads": {name: {"unit", "bare_ns",
       "preload_ns", "ratio", "bare_runs": [..], "preload_runs": [..],
       "bare_ir", "preload_ir", "ir_ratio" (single-thread workloads, Callgrind)}},
       "goal_ratio", "met"},
   "window": {"api_ns", "fast_ns", "loop_ns", "fast_net_ns", "api_over_fast",
       "goal_ns", "met"},
   "dispatch": {"opt": [..], "fixtures": [{"fixture", "opt",
       "alloc": {"median_ns", "runs_ns", "ir_per_dispatch", "steps": [{"step",
                 "label", "ir", "shim_ir", "allocs", "transition",
                 "transition_code_ir"}]},
       "noalloc": {same},
       "ns_ratio", "ir_ratio", "ir_ratio_transitions" (null: none),
       "ir_ratio_other", "ir_ratio_transitions_net", "transition_rule",
       "transition_step_ratios": {step: x}}],
       "summary": {"geomean_ns_ratio", "geomean_ir_ratio",
                   "geomean_ir_ratio_transitions", "min_ir_ratio_transitions",
                   "geomean_ir_ratio_transitions_net" (shim's fx_dispatch/opaque
                   self Ir taken out of both shapes), "transition_steps",
                   "fixtures_below_goal", "goal_ratio", "met"},
       "limit": {"fixture", "opt", "step", "label", "ir", "alloc_ir", "ratio",
                 "allocs", "annotate" / "alloc_annotate": [[Ir, function]],
                 "lines": [[Ir, "file:line", source text]]}
                (the transition step with the lowest ratio)},
   "audit": {"fixtures", "jobs", "cold": RUN, "warm": RUN,
       "goal_cold_s", "goal_warm_s", "met_cold", "met_warm"}}
  RUN = {"wall_s", "cpu_s", "status", "phases": {name: seconds},
         "build": {"compiler_s", "rustc_s", "built", "cached"}}

A section that was not run is absent.  Ratios are plain numbers (x).
"""

from .cli import DESCRIPTION, add_arguments, run  # noqa: F401
