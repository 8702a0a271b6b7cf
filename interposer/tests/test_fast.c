/* Fast windows (audit_thread_state + the inline audit_fast_open/close of
 * audit.h): the same calls as a full window, per thread, and a loud
 * failure when the interposer is absent. */
#include "common.h"

#include <pthread.h>
#include <semaphore.h>
#include <string.h>

/* Resolves the fast window of the worker's main thread.  Without the
 * interposer this is what fails (fails-loudly-without-preload-fast in
 * meson.build matches the message), before any window could read 0. */
static struct audit_fast_window w;

static void fast_calibrate(void)
{
	if (audit_fast_resolve(&w) != 0)
		cr_assert_fail("interposer not loaded: audit_thread_state() is not "
			       "resolvable; run with LD_PRELOAD=<build>/interposer/libaudit.so");
	audit_calibrate();
	audit_fast_open(&w);
	v_free(v_malloc(24));
	uint64_t n = audit_fast_close(&w);
	if (n != 2 || w.allocs != 1 || w.frees != 1)
		cr_assert_fail("fast window calibration read allocs=%llu frees=%llu, "
			       "expected 1 and 1", (unsigned long long)w.allocs,
			       (unsigned long long)w.frees);
}

TestSuite(fast, .init = fast_calibrate, .timeout = 20);

Test(fast, empty_window_reads_zero)
{
	audit_fast_open(&w);
	uint64_t n = audit_fast_close(&w);
	cr_assert_eq(n, 0, "allocs=%llu frees=%llu", (unsigned long long)w.allocs,
		     (unsigned long long)w.frees);
}

Test(fast, each_kind_counts_once_as_alloc_or_free)
{
	void *p = NULL, *q;
	audit_fast_open(&w);
	q = v_malloc(10);
	q = v_realloc(q, 4000);
	q = v_reallocarray(q, 10, 500); /* glibc calls realloc inside: still 1 */
	v_free(q);
	v_free(v_calloc(3, 3));
	v_free(v_aligned_alloc(64, 64));
	v_free(v_memalign(64, 64));
	v_free(v_valloc(100));
	v_free(v_pvalloc(100));
	int rc = v_posix_memalign(&p, 64, 128);
	v_free(p);
	v_free(NULL);
	audit_fast_close(&w);
	cr_assert_eq(rc, 0);
	cr_assert_eq(w.allocs, 9, "allocs = %llu", (unsigned long long)w.allocs);
	cr_assert_eq(w.frees, 8, "frees = %llu", (unsigned long long)w.frees);
}

Test(fast, malloc_usable_size_is_not_counted)
{
	void *p = v_malloc(10);
	audit_fast_open(&w);
	size_t n = v_malloc_usable_size(p);
	audit_fast_close(&w);
	v_free(p);
	cr_assert_geq(n, 10);
	cr_assert_eq(w.allocs + w.frees, 0);
}

Test(fast, agrees_with_a_full_window_around_the_same_code)
{
	struct audit_counts c;
	void *p[7];
	audit.open(AUDIT_THIS_THREAD);
	audit_fast_open(&w);
	for (int i = 0; i < 7; i++)
		p[i] = v_malloc(16 + (size_t)i);
	p[3] = v_realloc(p[3], 300);
	for (int i = 0; i < 7; i++)
		v_free(p[i]);
	audit_fast_close(&w);
	audit.close(&c);
	cr_assert_eq(w.allocs, c.allocs, "fast %llu, full %llu",
		     (unsigned long long)w.allocs, (unsigned long long)c.allocs);
	cr_assert_eq(w.frees, c.frees);
	cr_assert_eq(w.allocs, 8);
	cr_assert_eq(w.frees, 7);
}

Test(fast, full_window_api_calls_are_not_counted)
{
	struct audit_counts c;
	audit_fast_open(&w);
	audit.open(AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK);
	audit.close(&c);
	audit.open(AUDIT_ALL_THREADS);
	audit.close(&c);
	audit_fast_close(&w);
	cr_assert_eq(w.allocs + w.frees, 0);
}

struct peer {
	sem_t go, done;
	int resolved;
	struct audit_fast_window own;
};

/* Resolves its own block, then allocates while the main thread's fast
 * window is open. */
static void *peer_main(void *arg)
{
	struct peer *pr = arg;
	pr->resolved = audit_fast_resolve(&pr->own);
	sem_wait(&pr->go);
	audit_fast_open(&pr->own);
	for (int i = 0; i < 25; i++)
		v_free(v_malloc(100));
	audit_fast_close(&pr->own);
	sem_post(&pr->done);
	return NULL;
}

Test(fast, threads_have_separate_counters)
{
	struct peer pr;
	pthread_t t;
	memset(&pr, 0, sizeof pr);
	cr_assert_eq(sem_init(&pr.go, 0, 0), 0);
	cr_assert_eq(sem_init(&pr.done, 0, 0), 0);
	/* pthread_create allocates in this thread: outside the window. */
	cr_assert_eq(pthread_create(&t, NULL, peer_main, &pr), 0);

	audit_fast_open(&w);
	sem_post(&pr.go);
	sem_wait(&pr.done);
	audit_fast_close(&w);
	cr_assert_eq(pthread_join(t, NULL), 0);

	cr_assert_eq(w.allocs + w.frees, 0, "this thread saw the peer: allocs=%llu frees=%llu",
		     (unsigned long long)w.allocs, (unsigned long long)w.frees);
	cr_assert_eq(pr.resolved, 0);
	cr_assert_neq((const void *)pr.own.st, (const void *)w.st,
		      "two threads share one counter block");
	cr_assert_eq(pr.own.allocs, 25, "peer allocs = %llu",
		     (unsigned long long)pr.own.allocs);
	cr_assert_eq(pr.own.frees, 25);
}

static void child_counts(void *arg)
{
	struct audit_fast_window *r = arg;
	*r = w;
	audit_fast_open(r);
	v_free(v_malloc(64));
	audit_fast_close(r);
	r->st = NULL; /* a pointer means nothing to the parent */
}

Test(fast, forked_child_counts_on_its_copy_of_the_block)
{
	struct audit_fast_window r;
	run_in_child(child_counts, &r, sizeof r);
	cr_assert_eq(r.allocs, 1);
	cr_assert_eq(r.frees, 1);
}
