/*
 * measure.h — the measuring process: everything the harness counts.
 *
 * faa_measure() runs in a process of its own that harness.c forks from the
 * Criterion worker, so that it starts with exactly one thread (the worker
 * has a second one, nanomsg's, which allocates when it pleases; harness.c
 * says more).  It never calls Criterion: cr_* long-jumps, allocates and
 * talks to that other thread, which does not exist in the fork.
 *
 * It proves the interposer counts (calibrate.h, the first record), loads
 * the fixture library, and counts every dispatch it makes, each in an
 * AUDIT_ALL_THREADS window (plus AUDIT_CAPTURE_STACK for no_alloc
 * libraries): construction and every step one window each, the steady
 * replay one window per dispatch, the timing batches one window per batch,
 * fx_destroy(), and the observation pass.  Records (JSON lines, records
 * v3) go to the entry's records file; the
 * verdict goes to *v and, last, to the records file.
 */
#ifndef FAA_MEASURE_H
#define FAA_MEASURE_H

/* The records format this harness writes (schemas/records.schema.json);
 * scripts/faa/model.py RECORDS_VERSION must match.  3: windows carry
 * `blocking`, and no_alloc windows that counted anything their call-site
 * table (`sites`, `sites_lost`); the summaries blocking_sum and
 * blocking_windows; windows with a blocking call are written like
 * violations. */
#define FAA_RECORDS_VERSION 3

#define FAA_FIELD_MAX 1024

/* One manifest line (harness.c).  prefix: the fixture's symbol prefix in
 * lib (fixture.h), "fx_" when the line has no 6th column.  Several lines
 * may name one library with different prefixes: each is measured in a
 * measuring process of its own. */
struct faa_entry {
	char name[FAA_FIELD_MAX];
	char mode[16];
	int opt;
	char lib[FAA_FIELD_MAX];
	char records[FAA_FIELD_MAX];
	char prefix[FAA_FIELD_MAX];
};

/* How many checks failed, and the first one's message (NUL-terminated;
 * plain bytes, so it can cross a pipe). */
struct faa_verdict {
	int failures;
	char first[1024];
};

void faa_fail(struct faa_verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Threads of the calling process (entries of /proc/self/task), or -1 when
 * they cannot be counted. */
int faa_count_threads(void);

/* Measures the fixture e->prefix of the library e->lib; see the top of
 * this file. */
void faa_measure(const struct faa_entry *e, struct faa_verdict *v);

#endif
