/*
 * runner.c — faa-run: drive one fixture library outside Criterion, for
 * Valgrind.
 *
 *   faa-run [--repeat N] [--callgrind | --callgrind-steps | --time | --count] LIBRARY
 *
 * Runs what the harness runs — construction, every step, the steady-state
 * cycle (N repeats, default the scenario's), destroy — in one process with
 * no worker, no IPC thread and no interposer, so that Valgrind's own
 * malloc replacement does the counting.  Window edges become markers in
 * Valgrind's log (VALGRIND_PRINTF: formatted by the Valgrind core, so the
 * marker itself allocates nothing in the client):
 *
 *   FAA-OPEN <phase> <step>      phase: construct | step | steady | destroy
 *   FAA-CLOSE
 *
 * With --trace-malloc=yes every allocator call between two markers is one
 * line, which scripts/faa/valgrind.py counts per window.  --callgrind
 * instead turns Callgrind's collection on only around steady-state
 * dispatches (run with --collect-atstart=no), so Ir / dispatches is the
 * cost of one dispatch.  --callgrind-steps does the same one cycle step at
 * a time: for each step j of the cycle it replays N whole cycles collecting
 * only around step j's dispatches, then dumps Callgrind's counters
 * (CALLGRIND_DUMP_STATS_AT "faa-step j"), so each dump's Ir / N is the
 * cost of one dispatch of step j (scripts/faa/bench.py reads them).
 *
 * --time runs natively (no Valgrind, no interposer): after the steps up to
 * the end of the cycle it times the cycle in batches (batch_time.h) and
 * prints one line:
 *
 *   faa-run: timing median_ns=X min_ns=X p90_ns=X cycles=C batches=B dispatches=D
 *
 * --count (under LD_PRELOAD=libaudit.so) runs one steady cycle with a fast
 * window (audit.h) around each dispatch and prints, per cycle step,
 *
 *   faa-run: count step=J allocs=A frees=F
 *
 * Without the interposer it exits 4 with "interposer not loaded".
 *
 * Exit: 0 ok, 2 usage, 4 the library cannot be loaded or lacks the ABI.
 */
#define _GNU_SOURCE
#define AUDIT_WANT_RESOLVE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>
#include <valgrind/valgrind.h>

#include "audit.h"
#include "batch_time.h"
#include "fixture_abi.h"

struct marker {
	const char *phase;
	unsigned step;
};

static void mark_open(void *ctx)
{
	const struct marker *m = ctx;
	VALGRIND_PRINTF("FAA-OPEN %s %u\n", m->phase, m->step);
}

static void mark_close(void *ctx)
{
	(void)ctx;
	VALGRIND_PRINTF("FAA-CLOSE\n");
}

static void collect_on(void *ctx)
{
	(void)ctx;
	CALLGRIND_TOGGLE_COLLECT;
}

static void dump_step(unsigned step)
{
	char label[32];
	snprintf(label, sizeof label, "faa-step %u", step);
	CALLGRIND_DUMP_STATS_AT(label);
}

static void fast_open(void *ctx)
{
	audit_fast_open(ctx);
}

static void fast_close(void *ctx)
{
	audit_fast_close(ctx);
}

static void none(void *ctx)
{
	(void)ctx;
}

static void *need(void *lib, const char *sym)
{
	void *p = dlsym(lib, sym);
	if (!p) {
		fprintf(stderr, "faa-run: fixture library lacks %s\n", sym);
		exit(4);
	}
	return p;
}

static void usage(FILE *f)
{
	fputs("usage: faa-run [--repeat N] [--callgrind | --callgrind-steps | --time [--batches B] | --count] LIBRARY\n"
	      "Drives one fixture library (construction, steps, steady cycle) for Valgrind,\n"
	      "or times its steady cycle natively (--time); see harness/runner.c.\n", f);
}

int main(int argc, char **argv)
{
	long repeat = -1;
	int callgrind = 0, per_step = 0, timing = 0, count = 0;
	long batches = 31;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			char *end;
			repeat = strtol(argv[++i], &end, 10);
			if (*end || repeat < 0) {
				usage(stderr);
				return 2;
			}
		} else if (!strcmp(argv[i], "--callgrind")) {
			callgrind = 1;
		} else if (!strcmp(argv[i], "--callgrind-steps")) {
			callgrind = per_step = 1;
		} else if (!strcmp(argv[i], "--time")) {
			timing = 1;
		} else if (!strcmp(argv[i], "--count")) {
			count = 1;
		} else if (!strcmp(argv[i], "--batches") && i + 1 < argc) {
			char *end;
			batches = strtol(argv[++i], &end, 10);
			if (*end || batches < 1 || batches > FAA_BATCH_MAX) {
				usage(stderr);
				return 2;
			}
		} else if (!path && argv[i][0] != '-') {
			path = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!path || timing + callgrind + count > 1) {
		usage(stderr);
		return 2;
	}
	struct audit_fast_window fw;
	if (count && audit_fast_resolve(&fw) != 0) {
		fprintf(stderr, "faa-run: --count: interposer not loaded: run with "
			"LD_PRELOAD=<build>/interposer/libaudit.so\n");
		return 4;
	}
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "faa-run: cannot load %s: %s\n", path, dlerror());
		return 4;
	}
	struct fx_api fx;
	*(void **)&fx.step_count = need(lib, "fx_step_count");
	*(void **)&fx.steady_from = need(lib, "fx_steady_from");
	*(void **)&fx.steady_to = need(lib, "fx_steady_to");
	*(void **)&fx.steady_repeat = need(lib, "fx_steady_repeat");
	*(void **)&fx.construct = need(lib, "fx_construct");
	*(void **)&fx.dispatch = need(lib, "fx_dispatch");
	*(void **)&fx.destroy = need(lib, "fx_destroy");

	uint32_t n = fx.step_count(), from = fx.steady_from(), to = fx.steady_to();
	uint32_t reps = repeat >= 0 ? (uint32_t)repeat : fx.steady_repeat();
	/* Markers everywhere; or, for Callgrind, collection only around
	 * steady-state dispatches. */
	fx_hook open = callgrind ? none : mark_open;
	fx_hook close = callgrind ? none : mark_close;
	fx_hook s_open = callgrind ? collect_on : mark_open;
	fx_hook s_close = callgrind ? collect_on : mark_close;
	struct marker m = { "construct", 0 };
	unsigned long dispatches = 0;

	fx.construct(open, close, &m);
	for (uint32_t i = 0; i < n; i++) {
		m.phase = "step";
		m.step = i;
		fx.dispatch(i, open, close, &m);
		if (i != to || !reps || from > to)
			continue;
		m.phase = "steady";
		if (timing) {
			struct faa_batch b;
			if (faa_batch_time(fx.dispatch, from, to, (uint32_t)batches, NULL, &b) != 0) {
				fprintf(stderr, "faa-run: a steady-state dispatch failed while timing\n");
				return 1;
			}
			printf("faa-run: timing median_ns=%.3f min_ns=%.3f p90_ns=%.3f cycles=%u "
			       "batches=%u dispatches=%llu\n", b.median_ns, b.min_ns, b.p90_ns,
			       b.cycles, b.batches, (unsigned long long)b.dispatches);
			continue;
		}
		if (count) {
			fflush(stdout); /* stdio's buffer is allocated here, not in a window */
			for (uint32_t j = from; j <= to; j++) {
				fx.dispatch(j, fast_open, fast_close, &fw);
				printf("faa-run: count step=%u allocs=%llu frees=%llu\n", j,
				       (unsigned long long)fw.allocs, (unsigned long long)fw.frees);
			}
			continue;
		}
		if (per_step) {
			for (uint32_t s = from; s <= to; s++) {
				for (uint32_t r = 0; r < reps; r++)
					for (uint32_t j = from; j <= to; j++) {
						m.step = j;
						fx.dispatch(j, j == s ? s_open : none,
							    j == s ? s_close : none, &m);
						dispatches += j == s;
					}
				dump_step(s);
			}
			continue;
		}
		for (uint32_t r = 0; r < reps; r++)
			for (uint32_t j = from; j <= to; j++) {
				m.step = j;
				fx.dispatch(j, s_open, s_close, &m);
				dispatches++;
			}
	}
	/* The drop of the system is a window too (Drop code counts), as in
	 * the harness. */
	m.phase = "destroy";
	m.step = 0;
	open(&m);
	fx.destroy();
	close(&m);
	if (!timing && !count)
		printf("faa-run: %u steps, %lu %ssteady-state dispatches\n", n, dispatches,
		       per_step ? "collected " : "");
	return 0;
}
