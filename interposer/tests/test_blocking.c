/* The blocking kinds (audit.h): a lock that really waits, a futex wait, a
 * sleep on another thread, each counted once as its kind and never as an
 * allocation; outside a window nothing counts.  count_probe proves every
 * entry point of every kind counts exactly once; these are the waits. */
#include "common.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

TestSuite(blocking, .init = audit_calibrate, .timeout = 30);

static struct audit_counts c;

static void expect_blocking(const struct audit_counts *k, enum audit_kind kind, uint64_t n)
{
	cr_assert_eq(k->calls[kind], n, "calls[%s] = %llu", audit.kind_name(kind),
		     (unsigned long long)k->calls[kind]);
	cr_assert_eq(k->blocking, n, "blocking = %llu", (unsigned long long)k->blocking);
	cr_assert_eq(k->allocs + k->frees + k->os, 0, "a blocking call counted as memory");
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static int state; /* 1: the thread holds the mutex; 2: it let go */

static void *hold_then_release(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&held);
	__atomic_store_n(&state, 1, __ATOMIC_SEQ_CST);
	nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	__atomic_store_n(&state, 2, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&held);
	return NULL;
}

Test(blocking, a_contended_mutex_lock_is_one_call_that_waited)
{
	struct audit_fast_window fw;
	pthread_t t;
	cr_assert_eq(audit_fast_resolve(&fw), 0);
	cr_assert_eq(pthread_create(&t, NULL, hold_then_release, NULL), 0);
	while (__atomic_load_n(&state, __ATOMIC_SEQ_CST) == 0)
		sched_yield();
	audit.open(AUDIT_THIS_THREAD);
	audit_fast_open(&fw);
	pthread_mutex_lock(&held); /* waits for the thread */
	audit_fast_close(&fw);
	audit.close(&c);
	int after = __atomic_load_n(&state, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&held);
	pthread_join(t, NULL);
	cr_assert_eq(after, 2, "the lock returned before the holder let go");
	expect_blocking(&c, AUDIT_MUTEX_LOCK, 1);
	cr_assert_eq(fw.allocs + fw.frees, 0, "a fast window counts allocator calls only");
}

Test(blocking, a_futex_wait_through_syscall_counts_as_futex)
{
	static int word = 1;
	audit.open(AUDIT_THIS_THREAD);
	/* expects 0, finds 1: EAGAIN at once, one futex call all the same */
	long r = v_syscall(SYS_futex, &word, (long)FUTEX_WAIT_PRIVATE, 0L, 0L, 0L, 0L);
	int e = errno;
	audit.close(&c);
	cr_assert(r == -1 && e == EAGAIN, "futex returned %ld (errno %d)", r, e);
	expect_blocking(&c, AUDIT_FUTEX, 1);
}

static void *sleeper(void *arg)
{
	(void)arg;
	nanosleep(&(struct timespec){ 0, 1000 }, NULL);
	return NULL;
}

struct sleep_result {
	struct audit_counts c;
	int n;
	struct audit_site sites[AUDIT_MAX_SITES];
};

/* In a forked child: no other thread sleeps, locks or reads meanwhile. */
static void other_thread_sleeps(void *arg)
{
	struct sleep_result *r = arg;
	pthread_t t;
	audit.open(AUDIT_ALL_THREADS | AUDIT_CAPTURE_STACK);
	if (pthread_create(&t, NULL, sleeper, NULL) == 0)
		pthread_join(t, NULL);
	audit.close(&r->c);
	r->n = audit.sites(r->sites, AUDIT_MAX_SITES);
}

Test(blocking, an_all_threads_window_sees_another_threads_sleep)
{
	static struct sleep_result r;
	run_in_child(other_thread_sleeps, &r, sizeof r);
	cr_assert_eq(r.c.calls[AUDIT_NANOSLEEP], 1);
	cr_assert_eq(r.c.calls[AUDIT_JOIN], 1, "the opener's own join");
	cr_assert_eq(r.c.blocking, 2);
	/* every counted call (the thread's set-up may allocate) has its site */
	uint64_t held = 0, sleeps = 0;
	for (int i = 0; i < r.n; i++) {
		held += r.sites[i].calls;
		sleeps += r.sites[i].kind == AUDIT_NANOSLEEP ? r.sites[i].calls : 0;
	}
	cr_assert_eq(r.c.sites_lost, 0);
	cr_assert_eq(held, r.c.allocs + r.c.frees + r.c.os + r.c.blocking);
	cr_assert_eq(sleeps, 1, "the sleeper's nanosleep is a site of its own");
}

Test(blocking, outside_a_window_nothing_counts)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	audit.open(AUDIT_THIS_THREAD);
	audit.close(&c);
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	usleep(0);
	audit.open(AUDIT_THIS_THREAD);
	audit.close(&c);
	expect_blocking(&c, AUDIT_MUTEX_LOCK, 0);
}
