/*
 * common.h — shared support for the interposer's Criterion tests.
 *
 * The test binary is NOT linked against libaudit.so: it resolves the window
 * API at run time (audit_api_resolve), exactly as the harness does, so that
 * running it without LD_PRELOAD fails the calibration loudly.
 *
 * Every suite uses `.init = audit_calibrate`: in each Criterion worker it
 * resolves the API and proves that one malloc/free pair through volatile
 * pointers reads exactly 1 malloc and 1 free.  Failure messages contain
 * "interposer not loaded", which the fails-loudly-without-preload tests
 * (meson.build, run_and_match.py) look for.
 *
 * Rules for test bodies: allocate only through the v_* pointers of
 * calls.h (gcc -O2 deletes a direct malloc/free pair), keep stdio and
 * Criterion calls out of windows, and close the window before any assertion (cr_assert
 * long-jumps and a failing assertion allocates).
 */
#ifndef INTERPOSER_TESTS_COMMON_H
#define INTERPOSER_TESTS_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include "calls.h" /* audit.h, the v_* pointers, the entry-point table */

extern struct audit_api audit;

void audit_calibrate(void);

/* Sizes passed through a volatile so that gcc can neither fold nor warn
 * about deliberately absurd requests. */
extern volatile size_t v_huge;

/* Asserts that the window saw exactly `n` calls of `kind`, no call of any
 * other kind, and `bytes` bytes requested; allocs/frees/os must agree. */
void expect_only(const struct audit_counts *c, enum audit_kind kind,
		 uint64_t n, uint64_t bytes);

/* Evaluates `call` (a v_* call returning a block) in a this-thread window
 * closed into *c, and yields the block; window_errno is errno as the call
 * left it, read inside the window. */
extern int window_errno;
#define IN_WINDOW(c, call)                                                     \
	({                                                                     \
		audit.open(AUDIT_THIS_THREAD);                                 \
		void *in_window_block_ = (call);                               \
		window_errno = errno;                                          \
		audit.close(c);                                                \
		in_window_block_;                                              \
	})

/* After a window that made one block p: frees p, then asserts that it is
 * a block aligned to `align` (1: any) and that the window counted only
 * that call, of `bytes` bytes, as `kind` (expect_only). */
void expect_one_block(const struct audit_counts *c, void *p, size_t align,
		      enum audit_kind kind, uint64_t bytes);

/* After a window whose one call, counted as `kind` with `bytes` bytes,
 * failed: asserts that it returned NULL and left errno = err. */
void expect_failed(const struct audit_counts *c, void *p, int err,
		   enum audit_kind kind, uint64_t bytes);

/* Runs fn in a forked child (which has a single thread) and copies the
 * `size` bytes it fills in back to the parent.  The child's exit status is
 * asserted to be 0. */
void run_in_child(void (*fn)(void *result), void *result, size_t size);

/* Runs the entry point `fn` of calls.h once in a this-thread window (with
 * a fast window inside) and asserts that it counted exactly once as its
 * kind and nothing else (entry_check). */
void expect_entry_counts_once(const char *fn);

#endif
