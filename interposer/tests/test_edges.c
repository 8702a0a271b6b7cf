/* Edge cases whose counting audit.h pins down, and errno behaviour. */
#include "common.h"

#include <errno.h>
#include <stdint.h>

TestSuite(edges, .init = audit_calibrate, .timeout = 20);

static struct audit_counts c;

Test(edges, realloc_of_null_counts_as_one_realloc_not_malloc)
{
	void *p = IN_WINDOW(&c, v_realloc(NULL, 48));
	expect_one_block(&c, p, 1, AUDIT_REALLOC, 48);
}

Test(edges, realloc_to_zero_counts_as_one_realloc_not_free)
{
	void *p = v_malloc(48);
	audit.open(AUDIT_THIS_THREAD);
	void *q = v_realloc(p, 0);
	audit.close(&c);
	v_free(q); /* glibc frees p and returns NULL; be safe either way */
	expect_only(&c, AUDIT_REALLOC, 1, 0);
	cr_assert_eq(c.live_peak, 0);
}

Test(edges, free_of_null_counts_as_one_free)
{
	audit.open(AUDIT_THIS_THREAD);
	v_free(NULL);
	audit.close(&c);
	expect_only(&c, AUDIT_FREE, 1, 0);
}

Test(edges, calloc_overflow_returns_enomem_and_counts_once_with_zero_bytes)
{
	errno = 0;
	void *p = IN_WINDOW(&c, v_calloc(v_huge, 4));
	expect_failed(&c, p, ENOMEM, AUDIT_CALLOC, 0);
	cr_assert_eq(c.live_peak, 0);
}

Test(edges, reallocarray_overflow_returns_enomem_and_counts_once_with_zero_bytes)
{
	void *p = v_malloc(8);
	errno = 0;
	void *q = IN_WINDOW(&c, v_reallocarray(p, v_huge, 4));
	v_free(p);
	expect_failed(&c, q, ENOMEM, AUDIT_REALLOCARRAY, 0);
}

Test(edges, failed_malloc_counts_once_with_the_bytes_requested)
{
	errno = 0;
	void *p = IN_WINDOW(&c, v_malloc(v_huge));
	expect_failed(&c, p, ENOMEM, AUDIT_MALLOC, v_huge);
	cr_assert_eq(c.live_peak, 0);
}

Test(edges, posix_memalign_bad_alignment_counts_once_and_returns_einval)
{
	void *p = NULL;
	audit.open(AUDIT_THIS_THREAD);
	int rc = v_posix_memalign(&p, 3, 64);
	audit.close(&c);
	cr_assert_eq(rc, EINVAL);
	expect_only(&c, AUDIT_POSIX_MEMALIGN, 1, 64);
	cr_assert_eq(c.live_peak, 0);
}

static int free_keeps_errno(unsigned flags, int window)
{
	void *p = v_malloc(32);
	if (window)
		audit.open(flags);
	errno = EDOM;
	v_free(p);
	int after = errno;
	if (window)
		audit.close(&c);
	return after;
}

Test(edges, free_preserves_errno_outside_a_window)
{
	cr_assert_eq(free_keeps_errno(0, 0), EDOM);
}

Test(edges, free_preserves_errno_inside_a_window)
{
	cr_assert_eq(free_keeps_errno(AUDIT_THIS_THREAD, 1), EDOM);
	cr_assert_eq(c.frees, 1);
}

Test(edges, free_preserves_errno_when_it_triggers_a_stack_capture)
{
	cr_assert_eq(free_keeps_errno(AUDIT_CAPTURE_STACK, 1), EDOM);
	cr_assert_eq(c.frees, 1);
	cr_assert_eq(c.first_kind, AUDIT_FREE);
	cr_assert_gt(c.nframes, 0);
}

Test(edges, free_preserves_errno_in_an_all_threads_window)
{
	cr_assert_eq(free_keeps_errno(AUDIT_ALL_THREADS, 1), EDOM);
	cr_assert_geq(c.frees, 1);
}

Test(edges, successful_malloc_leaves_errno_alone)
{
	errno = EDOM;
	audit.open(AUDIT_CAPTURE_STACK);
	void *p = v_malloc(64);
	int after = errno;
	audit.close(&c);
	v_free(p);
	cr_assert_eq(after, EDOM);
}
