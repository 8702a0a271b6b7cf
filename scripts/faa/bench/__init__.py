"""`audit bench`: what counting costs, what dispatch costs in both shapes,
and what the audit itself costs — benchmarks, printed with their ratios and
written to BUILD/reports/bench.json.  Figures, not tests: nothing here
asserts a timing; a missed goal is printed as "NOT MET" with the figures
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
  audit     (audit_time.py) `make audit`'s run (run --strict --valgrind on)
            over a copy of fixtures/: cold (empty work dir) and warm (one
            fixture, --touch, edited: a comment line appended, which frc
            carries into its module), wall and CPU seconds, the load average
            at start and end, wall and CPU seconds per phase (from the
            audit's own WORK_DIR/phases.json, see audit.PhaseClock), bundle
            crates built and cached (phases.json's build phase; for an
            older audit, the build stamps in WORK_DIR/bundles/lib); the
            warm run must rebuild a crate with the edited fixture at every
            shape x opt-level and no crate without it.  Targets (issue 12): <= 45 s cold, <= 8 s warm, each
            met only by a whole passing audit (every phase, exit 0).
  make-test (make_test.py) `make test` in a fresh `git clone` of HEAD under
            BUILD/bench/make-test, make's and the audit's environment
            variables removed: deps, configure, build and every suite, timed
            as one (plus when meson test started, its summary, the slowest
            tests); target <= 240 s.  Not in the default set (several
            minutes): --all or --only make-test; `make bench` passes --all.
  scaling   (scaling.py) the corpus duplicated under new names (NAME_2,
            NAME_3, ...) to N x each --scaling-factors (default 1,2,4: 26,
            52, 104 fixtures), a cold `make audit` run per corpus: wall and
            CPU seconds, per fixture and per phase; "flat" when every corpus
            ran whole and passed and the CPU s/fixture of each larger corpus
            is <= 1.5x the smallest's, else "SUPERLINEAR" (null: not every
            corpus ran whole).  About 7 cold audits: not in the default set
            (--all or --only scaling; `make bench` passes --all).

`audit bench` alone runs overhead, window, dispatch and audit; --all adds
make-test and scaling; --only NAME (repeatable) picks sections and wins
over --all.

Shared: common.py (statistics, formatting, running programs, bench.json),
runs.py (a program run timed with its CPU seconds and load average; the
audit's command line; what an audit left in its work dir), callgrind.py
(reading Callgrind dumps), cli.py (options and the run).

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
   "audit": {"fixtures", "jobs", "touched", "edit", "cold": RUN, "warm": RUN,
       "goal_cold_s", "goal_warm_s", "met_cold", "met_warm", "expected_rebuilt"
       (shapes x opt-levels of the edited fixture), "rebuild": {"touched_crates",
       "rebuilt", "missing" (["MODE oN"]), "extra", "ok"}},
   "make-test": {"commit", "dirty_tree", "clone", "clone_s", "command", "wall_s",
       "cpu_s", "status", "timed_out", "loadavg_start", "loadavg_end", "log",
       "build_s" (until meson test started), "test_s", "tests": {"ok", "fail",
       "skipped", ...} (meson's summary), "failed": [..], "slowest": [[test, s]],
       "goal_s", "met"},
   "scaling": {"factors", "jobs", "points": [RUN + {"fixtures",
       "wall_per_fixture_s", "cpu_per_fixture_s"}], "ratios": {fixtures: CPU
       s/fixture over the smallest corpus's}, "worst_ratio", "exponent" (total
       CPU ~ fixtures^exponent), "limit_ratio", "rule", "flat"}}
  RUN = {"wall_s", "cpu_s" (the audit's and its descendants'), "status",
         "complete" (every phase ran), "loadavg_start", "loadavg_end",
         "phases": {name: wall s}, "phases_cpu": {name: CPU s},
         "build": {"wall_s", "compiler_s", "rustc_s", "built", "cached"}
         (fixture libraries), "crates": {"built", "cached"}, "log"}

A section that was not run is absent.  Ratios are plain numbers (x).
"""

from .cli import DESCRIPTION, add_arguments, run  # noqa: F401
