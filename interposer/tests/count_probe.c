/*
 * count_probe.c — which kinds does the preloaded interposer count?
 *
 * usage: count_probe none|KIND
 *
 * Runs every hooked entry point of calls.h once in a window of its own,
 * first in a this-thread window, then in an all-threads window with a
 * stack capture (exact here: this program has one thread), with a fast
 * window inside each.  The claim on the command line says what must come
 * out: `none` (the shipped libaudit.so) — every entry point reads exactly
 * one call of its kind and nothing else; KIND (libaudit-broken-KIND.so,
 * built with -DAUDIT_SELFTEST_EXTERN) — the same, except that every
 * entry point of KIND reads 0 in the full window, the fast window and
 * the capture, while the call itself still succeeds.
 *
 * Exit 0 when the claim holds, 1 when it does not (one FAIL line per
 * entry point that differs), 2 on a usage error or when no interposer is
 * loaded.  Plain C, no Criterion: it runs under any variant of the
 * library without a test framework's own allocations in the way.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "calls.h"

static const unsigned modes[] = {
	AUDIT_THIS_THREAD,
	AUDIT_ALL_THREADS | AUDIT_CAPTURE_STACK,
};

int main(int argc, char **argv)
{
	struct audit_api api;
	struct audit_fast_window fast;
	unsigned uncounted = AUDIT_KIND_COUNT; /* none */
	int failures = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s none|KIND\n", argv[0]);
		return 2;
	}
	if (audit_api_resolve(&api) != 0 || audit_fast_resolve(&fast) != 0) {
		fprintf(stderr, "count_probe: interposer not loaded (run with "
			"LD_PRELOAD=<build>/interposer/libaudit.so)\n");
		return 2;
	}
	if (strcmp(argv[1], "none") != 0) {
		for (unsigned k = 0; k < AUDIT_KIND_COUNT; k++)
			if (strcmp(api.kind_name(k), argv[1]) == 0)
				uncounted = k;
		if (uncounted == AUDIT_KIND_COUNT) {
			fprintf(stderr, "count_probe: unknown kind '%s'\n", argv[1]);
			return 2;
		}
	}

	/* A kind without an entry point here could never be shown missing. */
	for (unsigned k = 0; k < AUDIT_KIND_COUNT; k++) {
		size_t n = 0;
		for (size_t i = 0; i < n_entries; i++)
			n += (unsigned)entries[i].kind == k;
		if (!n) {
			printf("FAIL kind %s: no entry point in entries.c\n", api.kind_name(k));
			failures++;
		}
	}

	for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
		for (size_t i = 0; i < n_entries; i++) {
			const struct entry *e = &entries[i];
			uint64_t want = (unsigned)e->kind == uncounted ? 0 : 1;
			struct entry_result r;
			char msg[256];

			entry_run(e, &api, modes[m], &fast, &r);
			if (entry_check(e, &r, modes[m], want, &api, msg, sizeof msg))
				continue;
			printf("FAIL %s window: %s\n",
			       modes[m] & AUDIT_ALL_THREADS ? "all-threads" : "this-thread",
			       msg);
			failures++;
		}
	}
	if (failures) {
		printf("count_probe: %d difference(s) from the claim '%s'\n",
		       failures, argv[1]);
		return 1;
	}
	if (uncounted == AUDIT_KIND_COUNT)
		printf("count_probe: all %zu entry points count exactly once as "
		       "their kind, in both window modes\n", n_entries);
	else
		printf("count_probe: kind %s reads 0 at its entry points; every "
		       "entry point of the other %u kinds counts exactly once\n",
		       argv[1], AUDIT_KIND_COUNT - 1);
	return 0;
}
