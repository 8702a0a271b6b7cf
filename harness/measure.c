/*
 * measure.c — the measuring process (measure.h).
 *
 * Rules that keep a window honest here:
 *   - stdio allocates its buffer on first use: the records file is written
 *     and flushed before the first window, and never while one is open;
 *   - a window is closed before its counts are judged or written, and a
 *     dispatch that panicked leaves the shim's window open, so it is
 *     closed here before anything else happens.
 */
#define _GNU_SOURCE
#define AUDIT_WANT_RESOLVE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "audit.h"
#include "batch_time.h"
#include "calibrate.h"
#include "fixture.h"
#include "measure.h"

/* Batches of the steady cycle timed for the `timing` record (batch_time.h):
 * an odd count, so the median is one batch's figure. */
#define TIMING_BATCHES 15

static struct audit_api api;

void faa_fail(struct faa_verdict *v, const char *fmt, ...)
{
	if (v->failures++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(v->first, sizeof v->first, fmt, ap);
		va_end(ap);
	}
}

int faa_count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ---- one measurement ------------------------------------------------ */

/* One window's counts and, for a capture window, its call-site table
 * (read right after the close: audit_window_sites). */
struct window {
	unsigned flags;
	struct audit_counts counts;
	int nsites;
	struct audit_site sites[AUDIT_MAX_SITES];
};

static void close_window(struct window *w)
{
	api.close(&w->counts);
	w->nsites = 0;
	if (w->flags & AUDIT_CAPTURE_STACK) {
		int n = api.sites(w->sites, AUDIT_MAX_SITES);
		w->nsites = n > 0 ? n : 0;
	}
}

static void hook_open(void *ctx)
{
	api.open(((struct window *)ctx)->flags);
}

static void hook_close(void *ctx)
{
	close_window(ctx);
}

/* Per-window totals of one phase (the `batches` and `observe_windows`
 * summaries). */
struct tally {
	uint32_t n, violations, blocking_windows;
	uint64_t allocs, frees, os, blocking;
};

struct run {
	const struct faa_entry *e;
	struct fx_api fx;
	FILE *out;
	struct faa_verdict *v;
	int noalloc;
	struct window w;
};

static int nonzero(const struct audit_counts *c)
{
	return c->allocs || c->frees || c->os;
}

static void add(struct tally *t, const struct audit_counts *c)
{
	t->n++;
	t->allocs += c->allocs;
	t->frees += c->frees;
	t->os += c->os;
	t->blocking += c->blocking;
	t->blocking_windows += c->blocking != 0;
}

/* ---- records -------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* "own" when the window's opener made the first call, "other" when an
 * AUDIT_ALL_THREADS window caught another thread's. */
static const char *thread_of(const struct audit_counts *c)
{
	return c->first_tid == c->opener_tid ? "own" : "other";
}

/* OBJECT+0xOFFSET per frame, innermost first. */
static void json_stack(FILE *f, const uintptr_t *frames, uint32_t n)
{
	fputc('[', f);
	for (uint32_t i = 0; i < n; i++) {
		Dl_info info;
		char buf[FAA_FIELD_MAX + 64];
		uintptr_t pc = frames[i];
		if (dladdr((void *)pc, &info) && info.dli_fname)
			snprintf(buf, sizeof buf, "%s+0x%" PRIxPTR, info.dli_fname,
				 pc - (uintptr_t)info.dli_fbase);
		else
			snprintf(buf, sizeof buf, "?+0x%" PRIxPTR, pc);
		if (i)
			fputc(',', f);
		json_str(f, buf);
	}
	fputc(']', f);
}

static void json_counts(FILE *f, const struct audit_counts *c)
{
	fprintf(f, "\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64 ",\"os\":%" PRIu64
		",\"blocking\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"live_peak\":%" PRIu64
		",\"calls\":{", c->allocs, c->frees, c->os, c->blocking, c->bytes, c->live_peak);
	int first = 1;
	for (unsigned k = 0; k < AUDIT_KIND_COUNT; k++) {
		if (!c->calls[k])
			continue;
		fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", api.kind_name(k), c->calls[k]);
		first = 0;
	}
	fputc('}', f);
	if (!c->nframes)
		return;
	fputs(",\"first_kind\":", f);
	json_str(f, api.kind_name(c->first_kind));
	fprintf(f, ",\"tid\":%" PRId32 ",\"thread\":\"%s\",\"stack\":", c->first_tid, thread_of(c));
	json_stack(f, c->frames, c->nframes);
}

/* The window's call-site table: every counted call's (kind, stack), most
 * calls first, and the calls no site holds. */
static void json_sites(FILE *f, const struct window *w)
{
	const struct audit_counts *c = &w->counts;
	if (!(w->flags & AUDIT_CAPTURE_STACK) || !(nonzero(c) || c->blocking))
		return;
	fprintf(f, ",\"sites_lost\":%" PRIu64 ",\"sites\":[", c->sites_lost);
	for (int i = 0; i < w->nsites; i++) {
		const struct audit_site *s = &w->sites[i];
		fprintf(f, "%s{\"calls\":%" PRIu64 ",\"kind\":", i ? "," : "", s->calls);
		json_str(f, api.kind_name(s->kind));
		fputs(",\"stack\":", f);
		json_stack(f, s->frames, s->nframes);
		fputc('}', f);
	}
	fputc(']', f);
}

/* `extra`: phase-specific fields, each starting with a comma, or "". */
static void record_window(FILE *f, const char *phase, int step, const char *label,
			  const struct window *w, const char *extra)
{
	fprintf(f, "{\"kind\":\"window\",\"phase\":\"%s\",\"step\":%d,\"label\":", phase, step);
	json_str(f, label);
	fputc(',', f);
	json_counts(f, &w->counts);
	json_sites(f, w);
	fprintf(f, "%s}\n", extra);
}

static void record_tally(FILE *f, const char *kind, const struct tally *t, const char *extra)
{
	fprintf(f, "{\"kind\":\"%s\",\"n\":%u%s,\"allocs_sum\":%" PRIu64 ",\"frees_sum\":%" PRIu64
		",\"os_sum\":%" PRIu64 ",\"blocking_sum\":%" PRIu64 ",\"blocking_windows\":%u"
		",\"violations\":%u}\n", kind, t->n, extra, t->allocs, t->frees, t->os, t->blocking,
		t->blocking_windows, t->violations);
}

/* ---- the zero rule and the allocating shape's expectations ---------- */

/* A no_alloc window that counted anything: one failure, its message naming
 * the phase and place (`where`) and, when a stack was captured, the thread
 * that made the first call. */
static void fail_zero(struct run *r, const char *where, const struct audit_counts *c)
{
	char who[96] = "";
	/* the window's first counted call: a blocking one, now and then */
	if (c->nframes)
		snprintf(who, sizeof who, " (first call %s on thread %s, tid %" PRId32 ")",
			 api.kind_name(c->first_kind), thread_of(c), c->first_tid);
	faa_fail(r->v, "%s noalloc O%d %s: %" PRIu64 " allocation(s), %" PRIu64 " free(s), %"
		 PRIu64 " OS call(s), expected 0%s", r->e->name, r->e->opt, where, c->allocs,
		 c->frees, c->os, who);
}

/* Construction (step -1) and scenario steps: zero for no_alloc, the
 * scenario's expectation (when it gives one) for the allocating shape. */
static void judge(struct run *r, int step, const char *label, const struct audit_counts *c)
{
	char what[FAA_FIELD_MAX + 64];
	if (step < 0)
		snprintf(what, sizeof what, "construct %s", label);
	else
		snprintf(what, sizeof what, "step %d %s", step + 1, label);
	if (r->noalloc) {
		if (nonzero(c))
			fail_zero(r, what, c);
		return;
	}
	int64_t want_a, want_f;
	r->fx.expect(step, &want_a, &want_f);
	if (want_a >= 0 && (int64_t)c->allocs != want_a)
		faa_fail(r->v, "%s %s O%d %s: %" PRIu64 " allocation(s), expected %" PRId64,
			 r->e->name, r->e->mode, r->e->opt, what, c->allocs, want_a);
	if (want_f >= 0 && (int64_t)c->frees != want_f)
		faa_fail(r->v, "%s %s O%d %s: %" PRIu64 " free(s), expected %" PRId64,
			 r->e->name, r->e->mode, r->e->opt, what, c->frees, want_f);
}

/* ---- steady replay and timing batches -------------------------------- */

struct batches {
	struct run *r;
	uint32_t from, to, k;
	uint64_t dispatches;
	struct tally t;
};

static void batch_open(void *ctx, uint32_t batch, uint32_t cycles)
{
	(void)batch;
	(void)cycles;
	api.open(((struct batches *)ctx)->r->w.flags);
}

/* A no_alloc window of the steady replay, the timing batches or the
 * observation pass worth a record: not zero, or a blocking call (which
 * the harness does not judge: only the gate knows whether the system must
 * be non-blocking).  `first_bad` / `first_blocking`: no earlier window of
 * its kind (step, batches) was.  Returns true when it is the first of
 * either, i.e. when its record is to be written. */
static bool worth_record(const struct audit_counts *c, bool first_bad, bool first_blocking)
{
	return (nonzero(c) && first_bad) || (c->blocking && first_blocking);
}

/* Runs after the batch's second clock read: its cost is not timed. */
static void batch_close(void *ctx, uint32_t batch, uint32_t cycles)
{
	struct batches *b = ctx;
	struct run *r = b->r;
	struct audit_counts *c = &r->w.counts;
	close_window(&r->w);
	bool first_blocking = b->t.blocking_windows == 0;
	add(&b->t, c);
	b->dispatches += (uint64_t)cycles * b->k;
	if (!r->noalloc)
		return;
	bool record = worth_record(c, b->t.violations == 0, first_blocking);
	char where[2 * FAA_FIELD_MAX + 128], extra[96];
	snprintf(where, sizeof where, "batch %u%s of steps %u-%u (%u cycle(s) of %s .. %s)", batch,
		 batch ? "" : " (warm-up)", b->from + 1, b->to + 1, cycles,
		 r->fx.step_label(b->from), r->fx.step_label(b->to));
	if (nonzero(c)) {
		fail_zero(r, where, c);
		b->t.violations++;
	}
	if (record) {
		/* Only the first violating (or blocking) batch keeps its
		 * record and stacks. */
		snprintf(extra, sizeof extra, ",\"step_to\":%u,\"batch\":%u,\"cycles\":%u",
			 b->to, batch, cycles);
		char label[2 * FAA_FIELD_MAX + 8];
		snprintf(label, sizeof label, "%s .. %s", r->fx.step_label(b->from),
			 r->fx.step_label(b->to));
		record_window(r->out, "batch", (int)b->from, label, &r->w, extra);
	}
}

/* Times the cycle from..to in batches (batch_time.h), every batch — the
 * warm-up's included — in one window: the dispatches a replay window by
 * window would be too slow for are still counted. */
static void timed_batches(struct run *r, uint32_t from, uint32_t to)
{
	struct batches b = { .r = r, .from = from, .to = to, .k = to - from + 1 };
	struct faa_batch_hooks hooks = { batch_open, batch_close, &b };
	struct faa_batch t;
	int rc = faa_batch_time(r->fx.dispatch, from, to, TIMING_BATCHES, &hooks, &t);
	char extra[96];
	snprintf(extra, sizeof extra, ",\"cycles\":%u,\"dispatches\":%" PRIu64, t.cycles,
		 b.dispatches);
	record_tally(r->out, "batches", &b.t, extra);
	if (rc != 0) {
		faa_fail(r->v, "%s %s O%d: a steady-state dispatch failed or panicked while timing",
			 r->e->name, r->e->mode, r->e->opt);
		return;
	}
	fprintf(r->out, "{\"kind\":\"timing\",\"method\":\"batch\",\"dispatches\":%" PRIu64
		",\"median_ns\":%.2f,\"min_ns\":%.2f,\"p90_ns\":%.2f,\"cycles_per_batch\":%u"
		",\"batches\":%u}\n", t.dispatches, t.median_ns, t.min_ns, t.p90_ns, t.cycles,
		t.batches);
}

struct step_sum {
	uint64_t allocs, allocs_max, frees, bytes, os, blocking;
	uint32_t bad, blocking_windows;
};

/* Adds one replay window of `step` to its summary; a no_alloc window that
 * is not zero fails, and the first such (or the first with a blocking
 * call) per step keeps its record and stacks, the rest are counted. */
static void steady_window(struct run *r, struct step_sum *sum, uint32_t step, uint32_t rep,
			  uint32_t reps)
{
	const struct audit_counts *c = &r->w.counts;
	bool first_bad = sum->bad == 0, first_blocking = sum->blocking_windows == 0;
	sum->allocs += c->allocs;
	sum->frees += c->frees;
	sum->bytes += c->bytes;
	sum->os += c->os;
	sum->blocking += c->blocking;
	sum->blocking_windows += c->blocking != 0;
	if (c->allocs > sum->allocs_max)
		sum->allocs_max = c->allocs;
	if (!r->noalloc)
		return;
	if (nonzero(c)) {
		char where[FAA_FIELD_MAX + 64];
		snprintf(where, sizeof where, "steady repeat %u/%u step %u %s", rep + 1, reps,
			 step + 1, r->fx.step_label(step));
		fail_zero(r, where, c);
		sum->bad++;
	}
	if (worth_record(c, first_bad, first_blocking)) {
		char extra[32];
		snprintf(extra, sizeof extra, ",\"repeat\":%u", rep + 1);
		record_window(r->out, "steady", (int)step, r->fx.step_label(step), &r->w, extra);
	}
}

/* Replays steps from..to `reps` times, every dispatch in its own window,
 * then times the same cycle in batches.  Returns -1 when a dispatch
 * panicked (the measurement stops there). */
static int steady(struct run *r)
{
	const struct fx_api *fx = &r->fx;
	uint32_t from = fx->steady_from(), to = fx->steady_to(), reps = fx->steady_repeat();
	uint32_t k = to - from + 1;
	struct step_sum *sum = calloc(k, sizeof *sum);
	struct audit_counts *c = &r->w.counts;
	int rc = 0;
	if (!sum) {
		faa_fail(r->v, "%s %s O%d: out of memory", r->e->name, r->e->mode, r->e->opt);
		return -1;
	}
	for (uint32_t rep = 0; rep < reps && rc == 0; rep++) {
		for (uint32_t j = 0; j < k; j++) {
			uint32_t step = from + j;
			memset(c, 0, sizeof *c);
			if (fx->dispatch(step, hook_open, hook_close, &r->w) == FX_PANICKED) {
				close_window(&r->w);
				faa_fail(r->v, "%s %s O%d: steady replay %u of step %u %s panicked",
					 r->e->name, r->e->mode, r->e->opt, rep + 1, step + 1,
					 fx->step_label(step));
				rc = -1;
				break;
			}
			steady_window(r, &sum[j], step, rep, reps);
		}
	}
	for (uint32_t j = 0; j < k; j++)
		fprintf(r->out, "{\"kind\":\"steady\",\"step\":%u,\"n\":%u,\"allocs_sum\":%" PRIu64
			",\"allocs_max\":%" PRIu64 ",\"frees_sum\":%" PRIu64 ",\"bytes_sum\":%" PRIu64
			",\"os_sum\":%" PRIu64 ",\"blocking_sum\":%" PRIu64 ",\"blocking_windows\":%u"
			",\"violations\":%u}\n", from + j, reps, sum[j].allocs, sum[j].allocs_max,
			sum[j].frees, sum[j].bytes, sum[j].os, sum[j].blocking, sum[j].blocking_windows,
			sum[j].bad);
	free(sum);
	if (rc == 0)
		timed_batches(r, from, to);
	return rc;
}

/* ---- destroy and the observation pass -------------------------------- */

/* fx_destroy() in a window of its own: Drop code is counted too. */
static void windowed_destroy(struct run *r)
{
	memset(&r->w.counts, 0, sizeof r->w.counts);
	api.open(r->w.flags);
	r->fx.destroy();
	close_window(&r->w);
}

/* One window of the observation pass: only a violation (or a window with
 * a blocking call) is written. */
static void observe_window(struct run *r, struct tally *t, int step, const char *label)
{
	const struct audit_counts *c = &r->w.counts;
	add(t, c);
	if (!r->noalloc || !(nonzero(c) || c->blocking))
		return;
	char where[FAA_FIELD_MAX + 64];
	if (step < 0)
		snprintf(where, sizeof where, "observe %s", label);
	else
		snprintf(where, sizeof where, "observe step %d %s", step + 1, label);
	if (nonzero(c)) {
		fail_zero(r, where, c);
		t->violations++;
	}
	record_window(r->out, "observe", step, label, &r->w, "");
}

/* The differential check's pass: a fresh system, every step observed
 * (return value and domain fields as text), each in a window. */
static void observation_pass(struct run *r)
{
	const struct fx_api *fx = &r->fx;
	struct tally t = { 0 };
	uint32_t n = fx->step_count();
	struct audit_counts *c = &r->w.counts;

	memset(c, 0, sizeof *c);
	if (fx->construct(hook_open, hook_close, &r->w) == FX_PANICKED) {
		close_window(&r->w);
		faa_fail(r->v, "%s %s O%d: __create() panicked in the observation pass",
			 r->e->name, r->e->mode, r->e->opt);
		goto out;
	}
	observe_window(r, &t, -1, "__create()");
	for (uint32_t i = 0; i < n; i++) {
		char buf[4096];
		int64_t rc;
		memset(c, 0, sizeof *c);
		rc = fx->observe(i, buf, sizeof buf, hook_open, hook_close, &r->w);
		if (rc == FX_PANICKED)
			close_window(&r->w);
		if (rc < 0) {
			faa_fail(r->v, "%s %s O%d: step %u %s", r->e->name, r->e->mode, r->e->opt,
				 i + 1, rc == FX_PANICKED ? "panicked in the observation pass"
							  : "could not be observed");
			break;
		}
		observe_window(r, &t, (int)i, fx->step_label(i));
		fprintf(r->out, "{\"kind\":\"observe\",\"step\":%u,\"text\":", i);
		json_str(r->out, buf);
		fputs("}\n", r->out);
	}
	windowed_destroy(r);
	observe_window(r, &t, -1, "fx_destroy()");
out:
	record_tally(r->out, "observe_windows", &t, "");
}

/* ---- the whole measurement ------------------------------------------- */

static void measure(struct run *r, int threads)
{
	const struct fx_api *fx = &r->fx;
	uint32_t n = fx->step_count();
	uint32_t s_to = fx->steady_to(), reps = fx->steady_repeat();
	int has_steady = reps && fx->steady_from() <= s_to && s_to < n;
	struct audit_counts *c = &r->w.counts;

	fprintf(r->out, "{\"kind\":\"meta\",\"version\":%d,\"fixture\":", FAA_RECORDS_VERSION);
	json_str(r->out, r->e->name);
	fprintf(r->out, ",\"mode\":\"%s\",\"opt\":%d,\"system\":", fx->mode(), r->e->opt);
	json_str(r->out, fx->system_name());
	fprintf(r->out, ",\"size_of\":%zu,\"steps\":%u,\"steady_from\":%u,\"steady_to\":%u,"
		"\"steady_repeat\":%u,\"pid\":%ld,\"threads\":%d,\"windows\":\"%s\"}\n",
		fx->size_of(), n, fx->steady_from(), s_to, reps, (long)getpid(), threads,
		r->w.flags & AUDIT_ALL_THREADS ? "all-threads" : "this-thread");
	fflush(r->out); /* stdio's buffer is allocated here, outside any window */
	if (r->v->failures)
		return;
	memset(c, 0, sizeof *c);
	if (fx->construct(hook_open, hook_close, &r->w) == FX_PANICKED) {
		close_window(&r->w);
		faa_fail(r->v, "%s %s O%d: __create() panicked (message above, on stderr)",
			 r->e->name, r->e->mode, r->e->opt);
		return;
	}
	record_window(r->out, "construct", -1, "__create()", &r->w, "");
	judge(r, -1, "__create()", c);

	for (uint32_t i = 0; i < n; i++) {
		memset(c, 0, sizeof *c);
		int32_t rc = fx->dispatch(i, hook_open, hook_close, &r->w);
		if (rc == FX_PANICKED) {
			close_window(&r->w);
			faa_fail(r->v, "%s %s O%d: step %u %s panicked (message above, on stderr)",
				 r->e->name, r->e->mode, r->e->opt, i + 1, fx->step_label(i));
			return;
		}
		if (rc != 0) {
			faa_fail(r->v, "%s %s O%d: step %u could not be dispatched", r->e->name,
				 r->e->mode, r->e->opt, i + 1);
			return;
		}
		record_window(r->out, "step", (int)i, fx->step_label(i), &r->w, "");
		judge(r, (int)i, fx->step_label(i), c);
		if (has_steady && i == s_to && steady(r) != 0)
			return;
	}

	windowed_destroy(r);
	record_window(r->out, "destroy", -1, "fx_destroy()", &r->w, "");
	if (r->noalloc && nonzero(c))
		fail_zero(r, "destroy fx_destroy()", c);

	observation_pass(r);
}

void faa_measure(const struct faa_entry *e, struct faa_verdict *v)
{
	/* Counted first, before anything here can start a thread. */
	int threads = faa_count_threads();
	if (audit_api_resolve(&api) != 0) {
		faa_fail(v, "interposer not loaded: audit_loaded() is not resolvable in the "
			 "measuring process; run with LD_PRELOAD=.../libaudit.so");
		return;
	}
	FILE *out = fopen(e->records, "w");
	if (!out) {
		faa_fail(v, "cannot write records %s: %s", e->records, strerror(errno));
		return;
	}
	struct faa_calibration cal;
	faa_calibrate(&api, AUDIT_ALL_THREADS, &cal);
	faa_calibration_record(out, &api, &cal);
	if (threads != 1)
		faa_fail(v, "%s %s O%d: refusing to measure: the measuring process had %d "
			 "thread(s) before the fixture library was loaded, expected 1 (its "
			 "all-threads windows would count the others)", e->name, e->mode, e->opt,
			 threads);
	if (!cal.ok)
		faa_fail(v, "%s", cal.message);
	if (cal.ok) {
		/* Even when refusing: meta says what was refused, and why. */
		char err[FAA_FIELD_MAX + 128];
		struct run r = { .e = e, .out = out, .v = v };
		void *lib = dlopen(e->lib, RTLD_NOW | RTLD_LOCAL);
		if (!lib)
			faa_fail(v, "%s: cannot load fixture library: %s", e->name, dlerror());
		else if (faa_fixture_bind(lib, e->prefix, &r.fx, err, sizeof err) != 0)
			faa_fail(v, "%s (prefix %s): %s", e->lib, e->prefix, err);
		else {
			r.noalloc = strcmp(r.fx.mode(), "noalloc") == 0;
			/* no_alloc: every thread's calls, with the culprit's stack.
			 * The allocating shape only needs its counts, and this
			 * process has one thread (checked above), so per-thread
			 * windows count the same calls without the all-threads
			 * atomics on every allocation, which slowed the timing
			 * batches of the shape that allocates. */
			r.w.flags = r.noalloc ? AUDIT_ALL_THREADS | AUDIT_CAPTURE_STACK
					      : AUDIT_THIS_THREAD;
			measure(&r, threads);
		}
		/* The library stays loaded: the process ends right after. */
	}
	fprintf(out, "{\"kind\":\"verdict\",\"ok\":%s,\"failures\":%d,\"message\":",
		v->failures ? "false" : "true", v->failures);
	json_str(out, v->first);
	fputs("}\n", out);
	if (fclose(out) != 0)
		faa_fail(v, "cannot write records %s", e->records);
}
