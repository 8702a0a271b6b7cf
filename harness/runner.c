/*
 * runner.c — faa-run: drive the fixtures of one fixture library outside
 * Criterion, for Valgrind.
 *
 *   faa-run [--repeat N] [--callgrind | --callgrind-steps | --time [--batches B] | --count]
 *           LIBRARY [PREFIX...]
 *
 * PREFIX is a fixture's symbol prefix in LIBRARY (fixture.h: a bundle
 * library holds several fixtures, each exporting the fixture ABI under its
 * own prefix).  Without one, the library's only fixture, prefix "fx_".
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
 * Every PREFIX given is bound first (one that fails: exit 4, nothing run);
 * then the fixtures run in turn, in the order given, each preceded by
 *
 *   FAA-FIXTURE <prefix>         in Valgrind's log, before its markers
 *   faa-run: fixture <prefix>    on stdout, before its summary line(s)
 *
 * With no PREFIX neither line is written: the output is the same as for a
 * library of one fixture before prefixes existed.  After each fixture of
 * the default run (and of --callgrind) one summary line:
 *
 *   faa-run: S steps, D steady-state dispatches
 *
 * With --trace-malloc=yes every allocator call between two markers is one
 * line, which scripts/faa/valgrind.py counts per window.  --callgrind
 * instead turns Callgrind's collection on only around steady-state
 * dispatches (run with --collect-atstart=no), so Ir / dispatches is the
 * cost of one dispatch; with a PREFIX, each fixture's counters are dumped
 * after it (CALLGRIND_DUMP_STATS_AT "faa-fixture <prefix>"), so each dump
 * is one fixture's.  --callgrind-steps does the same one cycle step at
 * a time: for each step j of the cycle it replays N whole cycles collecting
 * only around step j's dispatches, then dumps Callgrind's counters
 * (CALLGRIND_DUMP_STATS_AT "faa-step j"), so each dump's Ir / N is the
 * cost of one dispatch of step j (scripts/faa/bench/ reads them).
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
 * --time, --count and --callgrind-steps drive one fixture: at most one
 * PREFIX (more is a usage error).
 *
 * Exit: 0 ok, 1 a dispatch failed while timing, 2 usage, 4 the library
 * cannot be loaded, lacks a fixture's symbol (PREFIX + field) or has
 * another FX_ABI_VERSION (fixture.h), or --count without the interposer.
 */
#define _GNU_SOURCE
#define AUDIT_WANT_RESOLVE
#include <dlfcn.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>
#include <valgrind/valgrind.h>

#include "audit.h"
#include "batch_time.h"
#include "fixture.h"

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

/* ---- command line -------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: faa-run [--repeat N] [--callgrind | --callgrind-steps | --time [--batches B] | --count]\n"
	      "               LIBRARY [PREFIX...]\n"
	      "Drives fixtures of a fixture library (construction, steps, steady cycle) for\n"
	      "Valgrind, or times one fixture's steady cycle natively (--time).  PREFIX: a\n"
	      "fixture's symbol prefix in LIBRARY (default fx_); several run in turn, each\n"
	      "announced by FAA-FIXTURE PREFIX in Valgrind's log and `faa-run: fixture PREFIX`\n"
	      "on stdout.  --time, --count and --callgrind-steps take at most one PREFIX.\n"
	      "See harness/runner.c.\n", f);
}

struct options {
	long repeat; /* -1: the scenario's steady_repeat */
	long batches;
	int callgrind, per_step, timing, count;
	const char *path;
	/* The PREFIX arguments (nprefix 0: the library's one fixture, fx_). */
	char **prefixes;
	int nprefix;
};

/* A whole decimal argument in [lo, hi]. */
static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Returns -1 to go on, or the exit status (0 after --help, 2 usage). */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "callgrind", no_argument, NULL, 'c' },
		{ "callgrind-steps", no_argument, NULL, 's' },
		{ "time", no_argument, NULL, 't' },
		{ "batches", required_argument, NULL, 'b' },
		{ "count", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	*o = (struct options){ .repeat = -1, .batches = 31 };
	int ok = 1;
	for (int c; ok && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1;) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		case 'r': ok = parse_long(optarg, 0, LONG_MAX, &o->repeat) == 0; break;
		case 'c': o->callgrind = 1; break;
		case 's': o->callgrind = o->per_step = 1; break;
		case 't': o->timing = 1; break;
		case 'b': ok = parse_long(optarg, 1, FAA_BATCH_MAX, &o->batches) == 0; break;
		case 'n': o->count = 1; break;
		default: ok = 0;
		}
	}
	if (ok && optind < argc) {
		o->path = argv[optind];
		o->prefixes = argv + optind + 1;
		o->nprefix = argc - optind - 1;
	}
	if (ok && o->nprefix > 1 && (o->timing || o->count || o->per_step)) {
		fprintf(stderr, "faa-run: --time, --count and --callgrind-steps drive one "
			"fixture: give at most one PREFIX (got %d)\n", o->nprefix);
		ok = 0;
	}
	if (!ok || !o->path || o->timing + o->callgrind + o->count > 1) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* ---- the run ------------------------------------------------------- */

struct run {
	const struct options *o;
	struct fx_api fx;
	struct audit_fast_window fw; /* --count only */
	uint32_t n, from, to, reps;
	/* Markers everywhere; or, for Callgrind, collection only around
	 * steady-state dispatches (s_open, s_close). */
	fx_hook open, close, s_open, s_close;
	struct marker m;
	unsigned long dispatches;
};

/* --time: the cycle in batches, one line. */
static int time_cycle(struct run *r)
{
	struct faa_batch b;
	if (faa_batch_time(r->fx.dispatch, r->from, r->to, (uint32_t)r->o->batches, NULL, &b) != 0) {
		fprintf(stderr, "faa-run: a steady-state dispatch failed while timing\n");
		return 1;
	}
	printf("faa-run: timing median_ns=%.3f min_ns=%.3f p90_ns=%.3f cycles=%u "
	       "batches=%u dispatches=%llu\n", b.median_ns, b.min_ns, b.p90_ns,
	       b.cycles, b.batches, (unsigned long long)b.dispatches);
	return 0;
}

/* --count: one cycle, a fast window around each dispatch. */
static void count_cycle(struct run *r)
{
	fflush(stdout); /* stdio's buffer is allocated here, not in a window */
	for (uint32_t j = r->from; j <= r->to; j++) {
		r->fx.dispatch(j, fast_open, fast_close, &r->fw);
		printf("faa-run: count step=%u allocs=%llu frees=%llu\n", j,
		       (unsigned long long)r->fw.allocs, (unsigned long long)r->fw.frees);
	}
}

/* --callgrind-steps: for each cycle step s, reps whole cycles collecting
 * around step s only, then one dump per step. */
static void collect_per_step(struct run *r)
{
	for (uint32_t s = r->from; s <= r->to; s++) {
		for (uint32_t k = 0; k < r->reps; k++)
			for (uint32_t j = r->from; j <= r->to; j++) {
				r->m.step = j;
				r->fx.dispatch(j, j == s ? r->s_open : none,
					       j == s ? r->s_close : none, &r->m);
				r->dispatches += j == s;
			}
		dump_step(s);
	}
}

/* Markers (or --callgrind's collection) around every steady dispatch. */
static void replay_cycle(struct run *r)
{
	for (uint32_t k = 0; k < r->reps; k++)
		for (uint32_t j = r->from; j <= r->to; j++) {
			r->m.step = j;
			r->fx.dispatch(j, r->s_open, r->s_close, &r->m);
			r->dispatches++;
		}
}

/* The steady-state cycle, right after step `to` has run. */
static int steady(struct run *r)
{
	r->m.phase = "steady";
	if (r->o->timing)
		return time_cycle(r);
	if (r->o->count)
		count_cycle(r);
	else if (r->o->per_step)
		collect_per_step(r);
	else
		replay_cycle(r);
	return 0;
}

/* What the harness runs: construction, every step (the cycle after step
 * `to`), destroy. */
static int drive(struct run *r)
{
	const struct fx_api *fx = &r->fx;
	r->m = (struct marker){ "construct", 0 };
	fx->construct(r->open, r->close, &r->m);
	for (uint32_t i = 0; i < r->n; i++) {
		r->m.phase = "step";
		r->m.step = i;
		fx->dispatch(i, r->open, r->close, &r->m);
		if (i == r->to && r->reps && r->from <= r->to && steady(r) != 0)
			return 1;
	}
	/* The drop of the system is a window too (Drop code counts), as in
	 * the harness. */
	r->m.phase = "destroy";
	r->m.step = 0;
	r->open(&r->m);
	fx->destroy();
	r->close(&r->m);
	return 0;
}

/* Binds fixture `prefix` (NULL: the library's only one, fx_) into *fx.
 * Returns 0, or 4 with the message on stderr. */
static int bind_fixture(const struct options *o, void *lib, const char *prefix,
			struct fx_api *fx)
{
	char err[512];
	if (faa_fixture_bind(lib, prefix, fx, err, sizeof err) == 0)
		return 0;
	if (prefix)
		fprintf(stderr, "faa-run: %s (prefix %s): %s\n", o->path, prefix, err);
	else
		fprintf(stderr, "faa-run: %s: %s\n", o->path, err);
	return 4;
}

/* Runs one fixture (bound before: binding again cannot fail).  prefix
 * NULL: the library's only fixture, announced by no line. */
static int run_fixture(const struct options *o, void *lib, const char *prefix,
		       struct audit_fast_window *fw)
{
	struct run r = { .o = o, .fw = *fw };
	if (bind_fixture(o, lib, prefix, &r.fx) != 0)
		return 4;
	if (prefix) {
		printf("faa-run: fixture %s\n", prefix);
		fflush(stdout);
		VALGRIND_PRINTF("FAA-FIXTURE %s\n", prefix);
	}
	r.n = r.fx.step_count();
	r.from = r.fx.steady_from();
	r.to = r.fx.steady_to();
	r.reps = o->repeat >= 0 ? (uint32_t)o->repeat : r.fx.steady_repeat();
	r.open = o->callgrind ? none : mark_open;
	r.close = o->callgrind ? none : mark_close;
	r.s_open = o->callgrind ? collect_on : mark_open;
	r.s_close = o->callgrind ? collect_on : mark_close;
	if (drive(&r) != 0)
		return 1;
	if (!o->timing && !o->count)
		printf("faa-run: %u steps, %lu %ssteady-state dispatches\n", r.n, r.dispatches,
		       o->per_step ? "collected " : "");
	if (prefix && o->callgrind && !o->per_step) {
		char label[FAA_PREFIX_MAX + 32];
		snprintf(label, sizeof label, "faa-fixture %s", prefix);
		CALLGRIND_DUMP_STATS_AT(label);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	int rc = parse_options(argc, argv, &o);
	if (rc >= 0)
		return rc;
	struct audit_fast_window fw = { 0 };
	if (o.count && audit_fast_resolve(&fw) != 0) {
		fprintf(stderr, "faa-run: --count: interposer not loaded: run with "
			"LD_PRELOAD=<build>/interposer/libaudit.so\n");
		return 4;
	}
	void *lib = dlopen(o.path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "faa-run: cannot load %s: %s\n", o.path, dlerror());
		return 4;
	}
	if (o.nprefix == 0)
		return run_fixture(&o, lib, NULL, &fw);
	/* Every fixture is bound before any runs: one that cannot be is
	 * refused with nothing run. */
	for (int k = 0; k < o.nprefix; k++) {
		struct fx_api fx;
		if (bind_fixture(&o, lib, o.prefixes[k], &fx) != 0)
			return 4;
	}
	for (int k = 0; k < o.nprefix; k++)
		if ((rc = run_fixture(&o, lib, o.prefixes[k], &fw)) != 0)
			return rc;
	return 0;
}
