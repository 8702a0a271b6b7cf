/*
 * harness.c — Criterion tests that measure fixture libraries per window.
 *
 * Input (environment, inherited by Criterion's re-executed workers):
 *   FAA_MANIFEST  a text file, one fixture library per line:
 *                 name TAB mode TAB opt TAB library-path TAB records-path
 *                 ('#' starts a comment line)
 *   LD_PRELOAD    must name interposer/libaudit.so; without it every test
 *                 fails with "interposer not loaded" (no false zero).
 *
 * Each manifest line is one parameter of fixture::audit, hence one worker
 * process.  The worker proves the interposer counts (calibration), opens
 * the library, measures construction and every step in its own window,
 * replays the steady-state cycle window by window, runs an unmeasured
 * observation pass for the differential check, writes JSON-lines records,
 * and only then asserts: cr_assert long-jumps and allocates, so it must
 * never run while a window is open.
 */
#define _GNU_SOURCE
#define AUDIT_WANT_RESOLVE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "batch_time.h"
#include "fixture_abi.h"

#define MAX_ENTRIES 512
#define FIELD_MAX 1024

struct entry {
	char name[FIELD_MAX];
	char mode[16];
	int opt;
	char lib[FIELD_MAX];
	char records[FIELD_MAX];
};

static struct audit_api api;

/* Through volatile pointers: gcc -O2 deletes a visible malloc/free pair. */
static void *(*volatile calib_malloc)(size_t) = malloc;
static void (*volatile calib_free)(void *) = free;

/* ---- manifest ------------------------------------------------------- */

static int split_tabs(char *line, char **fields, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(line, "\t\n", &save); tok && n < max;
	     tok = strtok_r(NULL, "\t\n", &save))
		fields[n++] = tok;
	return n;
}

static int copy_field(char *dst, size_t cap, const char *src)
{
	size_t len = strlen(src);
	if (len >= cap)
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

/* Reads line `want` of the manifest into *e (want < 0: only count).
 * Returns the number of entries, or -1 (message in err). */
static int manifest_read(int want, struct entry *e, char *err, size_t errlen)
{
	const char *path = getenv("FAA_MANIFEST");
	if (!path || !*path) {
		snprintf(err, errlen, "FAA_MANIFEST is not set: run the harness through `scripts/audit run`");
		return -1;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot open manifest %s: %s", path, strerror(errno));
		return -1;
	}
	char line[4 * FIELD_MAX + 64];
	int n = 0, lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (n == want) {
			char *fld[5];
			if (split_tabs(line, fld, 5) != 5 ||
			    copy_field(e->name, sizeof e->name, fld[0]) ||
			    copy_field(e->mode, sizeof e->mode, fld[1]) ||
			    copy_field(e->lib, sizeof e->lib, fld[3]) ||
			    copy_field(e->records, sizeof e->records, fld[4])) {
				snprintf(err, errlen, "%s:%d: expected 5 tab-separated fields", path, lineno);
				fclose(f);
				return -1;
			}
			e->opt = atoi(fld[2]);
		}
		n++;
	}
	fclose(f);
	if (n > MAX_ENTRIES) {
		snprintf(err, errlen, "%s: %d entries, at most %d", path, n, MAX_ENTRIES);
		return -1;
	}
	return n;
}

/* ---- interposer binding and calibration ----------------------------- */

static void calibrate(void)
{
	if (audit_api_resolve(&api) != 0)
		cr_assert_fail("interposer not loaded: audit_loaded() is not "
			       "resolvable; run with LD_PRELOAD=.../libaudit.so "
			       "(refusing to report counts that would read 0)");
	struct audit_counts c;
	api.open(AUDIT_THIS_THREAD);
	calib_free(calib_malloc(48));
	api.close(&c);
	cr_assert(c.calls[AUDIT_MALLOC] == 1 && c.allocs == 1 && c.frees == 1,
		  "interposer calibration failed: a deliberate malloc+free read "
		  "%" PRIu64 " allocation(s) and %" PRIu64 " free(s), expected 1 and 1",
		  c.allocs, c.frees);
}

/* ---- windows as seen from the fixture library ----------------------- */

struct window {
	unsigned flags;
	struct audit_counts counts;
};

static void hook_open(void *ctx)
{
	api.open(((struct window *)ctx)->flags);
}

static void hook_close(void *ctx)
{
	api.close(&((struct window *)ctx)->counts);
}

static void hook_none(void *ctx)
{
	(void)ctx;
}

/* ---- fixture library ------------------------------------------------ */

static int bind_fixture(void *lib, struct fx_api *fx, char *err, size_t errlen)
{
#define BIND(field, sym)                                                      \
	do {                                                                  \
		*(void **)&fx->field = dlsym(lib, sym);                       \
		if (!fx->field) {                                             \
			snprintf(err, errlen, "fixture library lacks %s", sym); \
			return -1;                                            \
		}                                                             \
	} while (0)
	BIND(abi_version, "fx_abi_version");
	BIND(mode, "fx_mode");
	BIND(system_name, "fx_system_name");
	BIND(step_count, "fx_step_count");
	BIND(step_label, "fx_step_label");
	BIND(steady_from, "fx_steady_from");
	BIND(steady_to, "fx_steady_to");
	BIND(steady_repeat, "fx_steady_repeat");
	BIND(expect, "fx_expect");
	BIND(construct, "fx_construct");
	BIND(dispatch, "fx_dispatch");
	BIND(observe, "fx_observe");
	BIND(destroy, "fx_destroy");
	BIND(size_of, "fx_size_of");
#undef BIND
	if (fx->abi_version() != FX_ABI_VERSION) {
		snprintf(err, errlen, "fixture ABI version %u, harness expects %u",
			 fx->abi_version(), FX_ABI_VERSION);
		return -1;
	}
	return 0;
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

static void json_counts(FILE *f, const struct audit_counts *c)
{
	fprintf(f, "\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64
		",\"bytes\":%" PRIu64 ",\"live_peak\":%" PRIu64 ",\"calls\":{",
		c->allocs, c->frees, c->bytes, c->live_peak);
	int first = 1;
	for (unsigned k = 0; k < AUDIT_KIND_COUNT; k++) {
		if (!c->calls[k])
			continue;
		fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", api.kind_name(k), c->calls[k]);
		first = 0;
	}
	fputc('}', f);
	if (c->nframes) {
		fputs(",\"first_kind\":", f);
		json_str(f, api.kind_name(c->first_kind));
		fputs(",\"stack\":[", f);
		for (uint32_t i = 0; i < c->nframes; i++) {
			Dl_info info;
			char buf[FIELD_MAX + 64];
			uintptr_t pc = c->frames[i];
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
}

static void record_window(FILE *f, const char *phase, int step, const char *label,
			  const struct audit_counts *c)
{
	fprintf(f, "{\"kind\":\"window\",\"phase\":\"%s\",\"step\":%d,\"label\":", phase, step);
	json_str(f, label);
	fputc(',', f);
	json_counts(f, c);
	fputs("}\n", f);
}

/* ---- verdict bookkeeping -------------------------------------------- */

struct verdict {
	int failures;
	char first[1024];
};

static void fail(struct verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct verdict *v, const char *fmt, ...)
{
	if (v->failures++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(v->first, sizeof v->first, fmt, ap);
		va_end(ap);
	}
}

/* Checks one window against the shape's rule: zero for no_alloc, the
 * scenario's expectation (when it gives one) for the allocating shape. */
static void judge(struct verdict *v, const struct entry *e, int noalloc,
		  const struct fx_api *fx, int step, const char *label,
		  const struct audit_counts *c)
{
	int64_t want_a = 0, want_f = 0;
	char what[32] = "construction";
	if (step >= 0)
		snprintf(what, sizeof what, "step %d", step + 1);
	if (!noalloc)
		fx->expect(step, &want_a, &want_f);
	if (want_a >= 0 && (int64_t)c->allocs != want_a)
		fail(v, "%s %s O%d %s %s: %" PRIu64 " allocation(s), expected %" PRId64,
		     e->name, e->mode, e->opt, what, label, c->allocs, want_a);
	if (want_f >= 0 && (int64_t)c->frees != want_f)
		fail(v, "%s %s O%d %s %s: %" PRIu64 " free(s), expected %" PRId64,
		     e->name, e->mode, e->opt, what, label, c->frees, want_f);
}

/* ---- the measurement ------------------------------------------------ */

/* Batches of the steady cycle timed for the `timing` record (batch_time.h):
 * an odd count, so the median is one batch's figure. */
#define TIMING_BATCHES 15

/* Replays steps from..to `reps` times, every dispatch in its own window,
 * then times the same cycle with no window at all (no counting cost), in
 * batches of whole cycles (batch_time.h): ns per dispatch is a batch's
 * time divided by its dispatches, median over TIMING_BATCHES batches. */
static void steady(const struct entry *e, const struct fx_api *fx, FILE *out,
		   struct verdict *v, int noalloc, struct window *w)
{
	uint32_t from = fx->steady_from(), to = fx->steady_to(), reps = fx->steady_repeat();
	uint32_t k = to - from + 1;
	uint64_t *sum_a = calloc(k, sizeof *sum_a), *max_a = calloc(k, sizeof *max_a);
	uint64_t *sum_f = calloc(k, sizeof *sum_f), *sum_b = calloc(k, sizeof *sum_b);
	uint32_t *bad = calloc(k, sizeof *bad);
	cr_assert(sum_a && max_a && sum_f && sum_b && bad, "out of memory");
	for (uint32_t r = 0; r < reps; r++) {
		for (uint32_t j = 0; j < k; j++) {
			memset(&w->counts, 0, sizeof w->counts);
			if (fx->dispatch(from + j, hook_open, hook_close, w) == FX_PANICKED) {
				api.close(&w->counts);
				fail(v, "%s %s O%d: steady replay of step %u %s panicked",
				     e->name, e->mode, e->opt, from + j + 1, fx->step_label(from + j));
				goto out;
			}
			sum_a[j] += w->counts.allocs;
			sum_f[j] += w->counts.frees;
			sum_b[j] += w->counts.bytes;
			if (w->counts.allocs > max_a[j])
				max_a[j] = w->counts.allocs;
			if (noalloc && (w->counts.allocs || w->counts.frees)) {
				fail(v, "%s noalloc O%d steady repeat %u step %u %s: %" PRIu64
				     " allocation(s), %" PRIu64 " free(s), expected 0",
				     e->name, e->opt, r + 1, from + j + 1, fx->step_label(from + j),
				     w->counts.allocs, w->counts.frees);
				/* The first violation per step keeps its stack;
				 * the rest are counted in the summary. */
				if (bad[j]++ == 0)
					record_window(out, "steady", (int)(from + j),
						      fx->step_label(from + j), &w->counts);
			}
		}
	}
	for (uint32_t j = 0; j < k; j++)
		fprintf(out, "{\"kind\":\"steady\",\"step\":%u,\"n\":%u,\"allocs_sum\":%" PRIu64
			",\"allocs_max\":%" PRIu64 ",\"frees_sum\":%" PRIu64 ",\"bytes_sum\":%" PRIu64
			",\"violations\":%u}\n",
			from + j, reps, sum_a[j], max_a[j], sum_f[j], sum_b[j], bad[j]);
	struct faa_batch b;
	if (faa_batch_time(fx->dispatch, from, to, TIMING_BATCHES, &b) != 0) {
		fail(v, "%s %s O%d: a steady-state dispatch failed while timing",
		     e->name, e->mode, e->opt);
		goto out;
	}
	fprintf(out, "{\"kind\":\"timing\",\"method\":\"batch\",\"dispatches\":%" PRIu64
		",\"median_ns\":%.2f,\"min_ns\":%.2f,\"p90_ns\":%.2f,\"cycles_per_batch\":%u"
		",\"batches\":%u}\n", b.dispatches, b.median_ns, b.min_ns, b.p90_ns, b.cycles,
		b.batches);
out:
	free(bad);
	free(sum_a);
	free(max_a);
	free(sum_f);
	free(sum_b);
}

static void measure(const struct entry *e, const struct fx_api *fx, FILE *out,
		    struct verdict *v)
{
	int noalloc = strcmp(fx->mode(), "noalloc") == 0;
	uint32_t n = fx->step_count();
	struct window w = { .flags = noalloc ? AUDIT_CAPTURE_STACK : AUDIT_THIS_THREAD };
	uint32_t s_to = fx->steady_to(), reps = fx->steady_repeat();
	int has_steady = reps && fx->steady_from() <= s_to && s_to < n;

	fprintf(out, "{\"kind\":\"meta\",\"fixture\":");
	json_str(out, e->name);
	fprintf(out, ",\"mode\":\"%s\",\"opt\":%d,\"system\":", fx->mode(), e->opt);
	json_str(out, fx->system_name());
	fprintf(out, ",\"size_of\":%zu,\"steps\":%u,\"steady_from\":%u,\"steady_to\":%u,"
		"\"steady_repeat\":%u,\"pid\":%ld}\n", fx->size_of(), n, fx->steady_from(),
		s_to, reps, (long)getpid());
	fflush(out); /* stdio's buffer is allocated here, outside any window */

	if (fx->construct(hook_open, hook_close, &w) == FX_PANICKED) {
		api.close(&w.counts);
		fail(v, "%s %s O%d: __create() panicked (message above, on stderr)",
		     e->name, e->mode, e->opt);
		return;
	}
	record_window(out, "construct", -1, "__create()", &w.counts);
	judge(v, e, noalloc, fx, -1, "__create()", &w.counts);

	for (uint32_t i = 0; i < n; i++) {
		memset(&w.counts, 0, sizeof w.counts);
		int32_t rc = fx->dispatch(i, hook_open, hook_close, &w);
		if (rc == FX_PANICKED) {
			api.close(&w.counts);
			fail(v, "%s %s O%d: step %u %s panicked (message above, on stderr)",
			     e->name, e->mode, e->opt, i + 1, fx->step_label(i));
			return;
		}
		if (rc != 0) {
			fail(v, "%s %s O%d: step %u could not be dispatched", e->name, e->mode, e->opt, i + 1);
			return;
		}
		record_window(out, "step", (int)i, fx->step_label(i), &w.counts);
		judge(v, e, noalloc, fx, (int)i, fx->step_label(i), &w.counts);
		if (has_steady && i == s_to)
			steady(e, fx, out, v, noalloc, &w);
	}

	/* Observation pass for the differential check: fresh system, no window. */
	fx->destroy();
	if (fx->construct(hook_none, hook_none, NULL) != 0)
		return;
	for (uint32_t i = 0; i < n; i++) {
		char buf[4096];
		int64_t rc = fx->observe(i, buf, sizeof buf);
		if (rc < 0) {
			fail(v, "%s %s O%d: step %u %s", e->name, e->mode, e->opt, i + 1,
			     rc == FX_PANICKED ? "panicked in the observation pass" : "could not be observed");
			break;
		}
		fprintf(out, "{\"kind\":\"observe\",\"step\":%u,\"text\":", i);
		json_str(out, buf);
		fputs("}\n", out);
	}
	fx->destroy();
}

/* ---- Criterion entry points ----------------------------------------- */

ParameterizedTestParameters(fixture, audit)
{
	static int idx[MAX_ENTRIES];
	char err[512];
	int n = manifest_read(-1, NULL, err, sizeof err);
	if (n <= 0) {
		/* One parameter that fails with the reason: never zero tests. */
		idx[0] = -1;
		return cr_make_param_array(int, idx, 1);
	}
	for (int i = 0; i < n; i++)
		idx[i] = i;
	return cr_make_param_array(int, idx, (size_t)n);
}

ParameterizedTest(int *index, fixture, audit, .init = calibrate, .timeout = 600)
{
	static struct entry e;
	char err[512] = "";
	int n = manifest_read(*index, &e, err, sizeof err);
	cr_assert(n > 0 && *index >= 0, "no fixture to audit: %s",
		  err[0] ? err : "the manifest lists no fixture library");

	void *lib = dlopen(e.lib, RTLD_NOW | RTLD_LOCAL);
	cr_assert(lib, "%s: cannot load fixture library: %s", e.name, dlerror());
	struct fx_api fx;
	cr_assert(bind_fixture(lib, &fx, err, sizeof err) == 0, "%s: %s", e.lib, err);

	FILE *out = fopen(e.records, "w");
	cr_assert(out, "cannot write records %s: %s", e.records, strerror(errno));
	struct verdict v = { 0 };
	measure(&e, &fx, out, &v);
	fprintf(out, "{\"kind\":\"verdict\",\"ok\":%s,\"failures\":%d,\"message\":",
		v.failures ? "false" : "true", v.failures);
	json_str(out, v.first);
	fputs("}\n", out);
	cr_assert(fclose(out) == 0, "cannot write records %s", e.records);
	cr_assert(v.failures == 0, "%s (%d failure(s) in all; records in %s)",
		  v.first, v.failures, e.records);
}

/* A worker that cannot prove the interposer counts must never pass, even
 * when the manifest is empty. */
Test(harness, calibration, .init = calibrate)
{
	struct audit_counts c;
	api.open(AUDIT_THIS_THREAD);
	void *p = calib_malloc(100);
	p = realloc(p, 200);
	calib_free(p);
	api.close(&c);
	cr_assert_eq(c.allocs, 2, "malloc+realloc read %" PRIu64 " allocation calls", c.allocs);
	cr_assert_eq(c.frees, 1);
}
