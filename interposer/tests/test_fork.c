/* A forked child starts with no window open, whatever the parent had. */
#include "common.h"

#include <string.h>
#include <unistd.h>

TestSuite(fork, .init = audit_calibrate, .timeout = 20);

struct child_result {
	int inherited_rc;
	struct audit_counts inherited;
	int fresh_rc;
	struct audit_counts fresh;
	pid_t tid; /* the child's gettid() */
};

static void child_closes_then_counts(void *arg)
{
	struct child_result *r = arg;

	memset(&r->inherited, 0xff, sizeof r->inherited);
	r->inherited_rc = audit.close(&r->inherited);
	r->tid = gettid();
	audit.open(AUDIT_THIS_THREAD);
	v_free(v_malloc(64));
	r->fresh_rc = audit.close(&r->fresh);
}

static void check_child(const struct child_result *r)
{
	cr_assert_eq(r->inherited_rc, -1,
		     "the child could close the parent's window");
	for (unsigned k = 0; k < AUDIT_KIND_COUNT; k++)
		cr_assert_eq(r->inherited.calls[k], 0);
	cr_assert_eq(r->inherited.allocs + r->inherited.frees +
		     r->inherited.bytes + r->inherited.live_peak, 0);
	cr_assert_eq(r->inherited.nframes, 0);

	cr_assert_eq(r->fresh_rc, 0);
	cr_assert_eq(r->fresh.calls[AUDIT_MALLOC], 1);
	cr_assert_eq(r->fresh.calls[AUDIT_FREE], 1);
	cr_assert_eq(r->fresh.allocs, 1);
	cr_assert_eq(r->fresh.frees, 1);
	cr_assert_eq(r->fresh.bytes, 64);
	/* the parent's thread id (cached when it opened its windows) must not
	 * leak into the child */
	cr_assert_eq(r->fresh.opener_tid, r->tid, "opener_tid %d, child %d",
		     (int)r->fresh.opener_tid, (int)r->tid);
	cr_assert_neq(r->fresh.opener_tid, (int32_t)gettid());
}

Test(fork, child_of_a_thread_window_starts_clean_and_counts_exactly)
{
	struct child_result r;
	struct audit_counts parent;

	audit.open(AUDIT_THIS_THREAD);
	v_free(v_malloc(10)); /* the parent's window is not empty */
	run_in_child(child_closes_then_counts, &r, sizeof r);
	int rc = audit.close(&parent);

	cr_assert_eq(rc, 0, "fork closed the parent's window");
	cr_assert_geq(parent.calls[AUDIT_MALLOC], 1);
	check_child(&r);
}

Test(fork, child_of_an_all_threads_window_starts_clean_and_counts_exactly)
{
	struct child_result r;
	struct audit_counts parent;

	audit.open(AUDIT_ALL_THREADS | AUDIT_CAPTURE_STACK);
	v_free(v_malloc(10));
	run_in_child(child_closes_then_counts, &r, sizeof r);
	int rc = audit.close(&parent);

	cr_assert_eq(rc, 0);
	check_child(&r);
}
