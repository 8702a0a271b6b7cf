/*
 * batch_time.h — dispatch timing by batches, shared by the harness (the
 * `timing` record) and faa-run --time (scripts/faa/bench/).
 *
 * One clock read per dispatch cannot resolve a 10 ns dispatch (the clock
 * read costs about as much, and its granularity is coarser), so whole
 * steady-state cycles are timed together and divided: a batch is C cycles
 * of steps from..to with no per-dispatch window (C doubled until a batch
 * lasts at least FAA_BATCH_MIN_NS), run `batches` times after the untimed
 * warm-up; the result is the median (and min, p90) over batches of ns per
 * dispatch.
 * Batches are whole cycles because only a whole cycle returns the system to
 * its starting state (fixture_abi.h).
 *
 * Windows.  Every run of the cycle — each doubling step of the warm-up
 * (batch 0) and each timed batch (1..batches) — can be bracketed by the
 * caller's hooks: open() right before the first clock read, close() right
 * after the second, so a counting window holds every timed dispatch while
 * its own cost stays outside the time.  The harness counts every dispatch
 * this way; faa-run --time (no interposer) passes no hooks.  close() runs
 * even when a dispatch failed, so a window is never left open.
 *
 * Header-only (static functions); not thread-safe, like the fixture ABI.
 */
#ifndef FAA_BATCH_TIME_H
#define FAA_BATCH_TIME_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "fixture_abi.h"

#define FAA_BATCH_MIN_NS 200000.0 /* 0.2 ms: clock cost < 0.1 % */
#define FAA_BATCH_MAX 64

typedef int32_t (*faa_dispatch_fn)(uint32_t i, fx_hook open, fx_hook close, void *ctx);

struct faa_batch {
	double median_ns, min_ns, p90_ns; /* per dispatch */
	uint32_t cycles;                  /* steady cycles per batch */
	uint32_t batches;
	uint64_t dispatches;              /* timed dispatches in all */
};

/* Called around each run of the cycle: batch 0 is the warm-up (one call
 * per doubling step, `cycles` growing), 1..batches the timed batches. */
struct faa_batch_hooks {
	void (*open)(void *ctx, uint32_t batch, uint32_t cycles);
	void (*close)(void *ctx, uint32_t batch, uint32_t cycles);
	void *ctx;
};

static void faa_batch_nop(void *ctx)
{
	(void)ctx;
}

static double faa_batch_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Runs `cycles` cycles inside the hooks (if any); returns elapsed ns, or
 * -1 when a dispatch failed. */
static double faa_batch_run(faa_dispatch_fn dispatch, uint32_t from, uint32_t to,
			    uint32_t cycles, uint32_t batch, const struct faa_batch_hooks *h)
{
	int failed = 0;
	if (h)
		h->open(h->ctx, batch, cycles);
	double t0 = faa_batch_now();
	for (uint32_t c = 0; c < cycles && !failed; c++)
		for (uint32_t j = from; j <= to; j++)
			if (dispatch(j, faa_batch_nop, faa_batch_nop, NULL) != 0) {
				failed = 1;
				break;
			}
	double t = faa_batch_now() - t0;
	if (h)
		h->close(h->ctx, batch, cycles);
	return failed ? -1 : t;
}

static int faa_batch_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Times the steady cycle from..to in `batches` batches (at most
 * FAA_BATCH_MAX), each run inside `hooks` when it is not NULL.  Returns 0,
 * or -1 when a dispatch failed or panicked (*out is then zero). */
static int faa_batch_time(faa_dispatch_fn dispatch, uint32_t from, uint32_t to,
			  uint32_t batches, const struct faa_batch_hooks *hooks,
			  struct faa_batch *out)
{
	double ns[FAA_BATCH_MAX];
	uint32_t k = to - from + 1, cycles = 1;
	*out = (struct faa_batch){ 0 };
	if (batches < 1 || batches > FAA_BATCH_MAX || from > to)
		return -1;
	/* Calibration doubles as the warm-up batch. */
	for (;;) {
		double t = faa_batch_run(dispatch, from, to, cycles, 0, hooks);
		if (t < 0)
			return -1;
		if (t >= FAA_BATCH_MIN_NS || cycles >= (1u << 20))
			break;
		cycles *= 2;
	}
	for (uint32_t b = 0; b < batches; b++) {
		double t = faa_batch_run(dispatch, from, to, cycles, b + 1, hooks);
		if (t < 0)
			return -1;
		ns[b] = t / ((double)cycles * k);
	}
	qsort(ns, batches, sizeof ns[0], faa_batch_cmp);
	out->median_ns = batches % 2 ? ns[batches / 2]
				     : (ns[batches / 2 - 1] + ns[batches / 2]) / 2;
	out->min_ns = ns[0];
	out->p90_ns = ns[(batches * 9) / 10 < batches ? (batches * 9) / 10 : batches - 1];
	out->cycles = cycles;
	out->batches = batches;
	out->dispatches = (uint64_t)batches * cycles * k;
	return 0;
}

#endif
