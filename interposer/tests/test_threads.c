/* Per-thread windows ignore other threads; AUDIT_ALL_THREADS sees them. */
#include "common.h"

#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>

TestSuite(threads, .init = audit_calibrate, .timeout = 30);

enum { N_ALLOCS = 25, SIZE = 777 };

/* A helper thread created before the window (pthread_create allocates),
 * that allocates and frees N_ALLOCS blocks each time it is told to. */
struct helper {
	pthread_t tid;
	sem_t go, done;
	volatile int stop;
	pid_t ktid; /* its gettid(), valid once it has run */
};

static void *helper_main(void *arg)
{
	struct helper *h = arg;
	void *p[N_ALLOCS];

	h->ktid = gettid();
	for (;;) {
		sem_wait(&h->go);
		if (h->stop)
			return NULL;
		for (int i = 0; i < N_ALLOCS; i++)
			p[i] = v_malloc(SIZE);
		for (int i = 0; i < N_ALLOCS; i++)
			v_free(p[i]);
		sem_post(&h->done);
	}
}

static int helper_start(struct helper *h)
{
	h->stop = 0;
	if (sem_init(&h->go, 0, 0) || sem_init(&h->done, 0, 0))
		return -1;
	return pthread_create(&h->tid, NULL, helper_main, h);
}

/* Lets the helper run while this thread waits: no allocation here. */
static void helper_run(struct helper *h)
{
	sem_post(&h->go);
	sem_wait(&h->done);
}

static void helper_join(struct helper *h)
{
	h->stop = 1;
	sem_post(&h->go);
	pthread_join(h->tid, NULL);
	sem_destroy(&h->go);
	sem_destroy(&h->done);
}

static struct audit_counts c;

Test(threads, other_thread_allocations_never_enter_this_thread_window)
{
	struct helper h;
	cr_assert_eq(helper_start(&h), 0);

	audit.open(AUDIT_THIS_THREAD);
	helper_run(&h);
	void *p = v_malloc(5);
	v_free(p);
	audit.close(&c);
	helper_join(&h);

	cr_assert_eq(c.calls[AUDIT_MALLOC], 1, "malloc = %llu",
		     (unsigned long long)c.calls[AUDIT_MALLOC]);
	cr_assert_eq(c.calls[AUDIT_FREE], 1);
	cr_assert_eq(c.allocs, 1);
	cr_assert_eq(c.bytes, 5);
}

Test(threads, all_threads_window_sees_other_thread_allocations)
{
	struct helper h;
	cr_assert_eq(helper_start(&h), 0);

	audit.open(AUDIT_ALL_THREADS);
	helper_run(&h);
	audit.close(&c);
	helper_join(&h);

	/* Criterion's own IPC thread may add to an all-threads window, so
	 * this test in the worker checks "at least"; the forked test below
	 * checks exact counts where no other thread exists. */
	cr_assert_geq(c.calls[AUDIT_MALLOC], N_ALLOCS);
	cr_assert_geq(c.calls[AUDIT_FREE], N_ALLOCS);
	cr_assert_geq(c.bytes, (uint64_t)N_ALLOCS * SIZE);
}

struct exact_result {
	int start_rc, close_rc, plain_close_rc;
	struct audit_counts all, plain;
};

static void exact_in_child(void *arg)
{
	struct exact_result *r = arg;
	struct helper h;

	r->start_rc = helper_start(&h);
	if (r->start_rc)
		return;
	audit.open(AUDIT_ALL_THREADS);
	helper_run(&h);
	void *p = v_calloc(3, 11);
	v_free(p);
	r->close_rc = audit.close(&r->all);

	audit.open(AUDIT_THIS_THREAD);
	helper_run(&h);
	r->plain_close_rc = audit.close(&r->plain);
	helper_join(&h);
}

Test(threads, all_threads_window_counts_exactly_in_a_single_threaded_child)
{
	struct exact_result r;
	run_in_child(exact_in_child, &r, sizeof r);

	cr_assert_eq(r.start_rc, 0);
	cr_assert_eq(r.close_rc, 0);
	cr_assert_eq(r.all.calls[AUDIT_MALLOC], N_ALLOCS);
	cr_assert_eq(r.all.calls[AUDIT_CALLOC], 1);
	cr_assert_eq(r.all.calls[AUDIT_FREE], N_ALLOCS + 1);
	cr_assert_eq(r.all.allocs, N_ALLOCS + 1);
	cr_assert_eq(r.all.frees, N_ALLOCS + 1);
	cr_assert_eq(r.all.bytes, (uint64_t)N_ALLOCS * SIZE + 33);
	cr_assert_geq(r.all.live_peak, SIZE);

	cr_assert_eq(r.plain_close_rc, 0);
	cr_assert_eq(r.plain.allocs + r.plain.frees, 0,
		     "this-thread window saw the helper: allocs=%llu frees=%llu",
		     (unsigned long long)r.plain.allocs,
		     (unsigned long long)r.plain.frees);
}

/* ---- which thread made the first call ------------------------------------ */

Test(threads, this_thread_window_records_its_opener_and_first_caller)
{
	audit.open(AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK);
	v_free(v_malloc(5));
	audit.close(&c);
	cr_assert_eq(c.opener_tid, (int32_t)gettid());
	cr_assert_eq(c.first_tid, c.opener_tid);

	audit.open(AUDIT_THIS_THREAD);
	v_free(v_malloc(5));
	audit.close(&c);
	cr_assert_eq(c.opener_tid, (int32_t)gettid(), "every open window has an opener");
	cr_assert_eq(c.first_tid, 0, "first_tid without a capture");
}

struct first_result {
	int ok;
	pid_t opener, helper;
	struct audit_counts other_first, own_first;
};

static void who_calls_first_in_child(void *arg)
{
	struct first_result *r = arg;
	struct helper h;

	if (helper_start(&h))
		return;
	r->opener = gettid();
	audit.open(AUDIT_ALL_THREADS | AUDIT_CAPTURE_STACK);
	helper_run(&h); /* the helper's mallocs come first */
	v_free(v_malloc(5));
	audit.close(&r->other_first);

	audit.open(AUDIT_ALL_THREADS | AUDIT_CAPTURE_STACK);
	v_free(v_malloc(5)); /* now the opener's */
	helper_run(&h);
	audit.close(&r->own_first);
	r->helper = h.ktid;
	helper_join(&h);
	r->ok = 1;
}

/* In a forked child no other thread can make the first call. */
Test(threads, all_threads_window_names_the_thread_that_called_first)
{
	struct first_result r;
	run_in_child(who_calls_first_in_child, &r, sizeof r);
	cr_assert(r.ok, "could not start the helper thread");
	cr_assert_neq(r.helper, r.opener);

	cr_assert_eq(r.other_first.opener_tid, r.opener);
	cr_assert_eq(r.other_first.first_tid, r.helper,
		     "helper called first: first_tid %d, helper %d, opener %d",
		     (int)r.other_first.first_tid, (int)r.helper, (int)r.opener);
	cr_assert_neq(r.other_first.first_tid, r.other_first.opener_tid);
	/* the helper's malloc, or the wait that started it (a blocking call
	 * counts when the window was open as it began) */
	cr_assert(r.other_first.first_kind == AUDIT_MALLOC ||
		  r.other_first.first_kind >= AUDIT_MEMORY_KINDS, "first kind %s",
		  audit.kind_name(r.other_first.first_kind));

	cr_assert_eq(r.own_first.opener_tid, r.opener);
	cr_assert_eq(r.own_first.first_tid, r.own_first.opener_tid,
		     "opener called first: first_tid %d, opener %d",
		     (int)r.own_first.first_tid, (int)r.opener);
}
