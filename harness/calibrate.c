/*
 * calibrate.c — one window per hooked entry point (calibrate.h), each
 * called as interposer/entries.c's table says.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "calibrate.h"

/* What the window's totals must be when it read one call of `kind`. */
static int totals_match(const struct audit_counts *c, unsigned kind)
{
	uint64_t allocs = kind < AUDIT_HEAP_KINDS && kind != AUDIT_FREE;
	uint64_t frees = kind == AUDIT_FREE;
	uint64_t os = kind >= AUDIT_HEAP_KINDS && kind < AUDIT_MEMORY_KINDS;
	uint64_t blocking = kind >= AUDIT_MEMORY_KINDS;
	return c->allocs == allocs && c->frees == frees && c->os == os &&
	       c->blocking == blocking;
}

/* The contract's message for the first entry that failed. */
static void describe(const struct audit_api *api, const struct faa_calib_entry *e,
		     const struct audit_counts *c, char *buf, size_t len)
{
	int n = snprintf(buf, len, "interposer calibration failed: %s read %" PRIu64
			 " call(s) of kind %s, expected 1", e->fn, e->calls,
			 api->kind_name(e->kind));
	if (n < 0 || (size_t)n >= len)
		return;
	if (e->missing)
		snprintf(buf + n, len - n, " (no such symbol in this process)");
	else if (e->calls == 1 && e->other)
		snprintf(buf + n, len - n, " and nothing else; its window read %" PRIu64
			 " other call(s)", e->other);
	else if (e->calls == 1)
		snprintf(buf + n, len - n, "; its window's totals are allocs %" PRIu64
			 ", frees %" PRIu64 ", os %" PRIu64 ", blocking %" PRIu64, c->allocs,
			 c->frees, c->os, c->blocking);
}

/* Calls e once in a window opened with `flags`; fills en from what the
 * window read (*c). */
static void calibrate_one(const struct audit_api *api, unsigned flags, const struct entry *e,
			  struct faa_calib_entry *en, struct audit_counts *c)
{
	void *out = NULL;
	void *in = entry_setup(e);
	api->open(flags);
	int rc = e->call(e, in, &out);
	api->close(c);
	entry_cleanup(e, in, out, rc);
	uint64_t total = 0;
	for (unsigned k = 0; k < AUDIT_KIND_COUNT; k++)
		total += c->calls[k];
	en->calls = c->calls[e->kind];
	en->other = total - en->calls;
	en->ok = en->calls == 1 && en->other == 0 && totals_match(c, e->kind);
}

int faa_calibrate(const struct audit_api *api, unsigned flags, struct faa_calibration *out)
{
	memset(out, 0, sizeof *out);
	out->ok = 1;
	out->n = FAA_CALIB_ENTRIES;
	for (unsigned i = 0; i < FAA_CALIB_ENTRIES; i++) {
		const struct entry *e = &entries[i];
		struct faa_calib_entry *en = &out->e[i];
		struct audit_counts c = { 0 };
		en->fn = e->fn;
		en->kind = e->kind;
		en->missing = !e->sym;
		if (!en->missing)
			calibrate_one(api, flags, e, en, &c);
		if (!en->ok && out->ok) {
			out->ok = 0;
			describe(api, en, &c, out->message, sizeof out->message);
		}
	}
	return out->ok;
}

void faa_calibration_record(FILE *f, const struct audit_api *api, const struct faa_calibration *c)
{
	fprintf(f, "{\"kind\":\"calibration\",\"ok\":%s,\"entries\":[", c->ok ? "true" : "false");
	for (unsigned i = 0; i < c->n; i++) {
		const struct faa_calib_entry *e = &c->e[i];
		fprintf(f, "%s{\"fn\":\"%s\",\"kind\":\"%s\",\"calls\":%" PRIu64, i ? "," : "",
			e->fn, api->kind_name(e->kind), e->calls);
		if (e->other)
			fprintf(f, ",\"other\":%" PRIu64, e->other);
		if (e->missing)
			fputs(",\"missing\":true", f);
		fputc('}', f);
	}
	fputs("]}\n", f);
}
