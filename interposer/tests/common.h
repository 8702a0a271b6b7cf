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
 * "interposer not loaded", which tests/expect_not_loaded.py looks for.
 *
 * Rules for test bodies: allocate only through the v_* pointers below (gcc
 * -O2 deletes a direct malloc/free pair), keep stdio and Criterion calls out
 * of windows, and close the window before any assertion (cr_assert
 * long-jumps and a failing assertion allocates).
 */
#ifndef INTERPOSER_TESTS_COMMON_H
#define INTERPOSER_TESTS_COMMON_H

#define _GNU_SOURCE
#define AUDIT_WANT_RESOLVE
#include <stddef.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include "audit.h"

extern struct audit_api audit;

void audit_calibrate(void);

extern void *(*volatile v_malloc)(size_t);
extern void *(*volatile v_calloc)(size_t, size_t);
extern void *(*volatile v_realloc)(void *, size_t);
extern void *(*volatile v_reallocarray)(void *, size_t, size_t);
extern void (*volatile v_free)(void *);
extern int (*volatile v_posix_memalign)(void **, size_t, size_t);
extern void *(*volatile v_aligned_alloc)(size_t, size_t);
extern void *(*volatile v_memalign)(size_t, size_t);
extern void *(*volatile v_valloc)(size_t);
extern void *(*volatile v_pvalloc)(size_t);
extern size_t (*volatile v_malloc_usable_size)(void *);

/* Sizes passed through a volatile so that gcc can neither fold nor warn
 * about deliberately absurd requests. */
extern volatile size_t v_huge;

/* Asserts that the window saw exactly `n` calls of `kind`, no call of any
 * other kind, and `bytes` bytes requested; allocs/frees must agree. */
void expect_only(const struct audit_counts *c, enum audit_kind kind,
		 uint64_t n, uint64_t bytes);

/* Runs fn in a forked child (which has a single thread) and copies the
 * `size` bytes it fills in back to the parent.  The child's exit status is
 * asserted to be 0. */
void run_in_child(void (*fn)(void *result), void *result, size_t size);

#endif
