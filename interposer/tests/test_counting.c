/* Each hooked function counts exactly once per call, under its own kind,
 * with the bytes it was asked for. */
#include "common.h"

#include <stdint.h>
#include <string.h>

TestSuite(counting, .init = audit_calibrate, .timeout = 20);

static struct audit_counts c;

/* Frees p in a this-thread window closed into c. */
static void free_in_window(void *p)
{
	audit.open(AUDIT_THIS_THREAD);
	v_free(p);
	audit.close(&c);
}

Test(counting, malloc_counts_once_as_malloc)
{
	void *p = IN_WINDOW(&c, v_malloc(100));
	expect_one_block(&c, p, 1, AUDIT_MALLOC, 100);
}

Test(counting, calloc_counts_once_with_nmemb_times_size)
{
	void *p = IN_WINDOW(&c, v_calloc(7, 9));
	expect_one_block(&c, p, 1, AUDIT_CALLOC, 63);
}

Test(counting, realloc_counts_once_with_new_size)
{
	void *p = v_malloc(16);
	p = IN_WINDOW(&c, v_realloc(p, 5000));
	expect_one_block(&c, p, 1, AUDIT_REALLOC, 5000);
}

Test(counting, reallocarray_counts_once_not_as_realloc)
{
	void *p = v_malloc(16);
	p = IN_WINDOW(&c, v_reallocarray(p, 10, 30));
	/* glibc's reallocarray calls realloc internally: still one call. */
	expect_one_block(&c, p, 1, AUDIT_REALLOCARRAY, 300);
}

Test(counting, free_counts_once_as_free)
{
	void *p = v_malloc(16);
	free_in_window(p);
	expect_only(&c, AUDIT_FREE, 1, 0);
}

Test(counting, posix_memalign_counts_once)
{
	void *p = NULL;
	audit.open(AUDIT_THIS_THREAD);
	int rc = v_posix_memalign(&p, 64, 200);
	audit.close(&c);
	cr_assert_eq(rc, 0);
	expect_one_block(&c, p, 64, AUDIT_POSIX_MEMALIGN, 200);
}

Test(counting, aligned_alloc_counts_once)
{
	void *p = IN_WINDOW(&c, v_aligned_alloc(128, 256));
	expect_one_block(&c, p, 128, AUDIT_ALIGNED_ALLOC, 256);
}

Test(counting, memalign_counts_once)
{
	void *p = IN_WINDOW(&c, v_memalign(256, 300));
	expect_one_block(&c, p, 256, AUDIT_MEMALIGN, 300);
}

Test(counting, valloc_counts_once)
{
	void *p = IN_WINDOW(&c, v_valloc(100));
	expect_one_block(&c, p, 1, AUDIT_VALLOC, 100);
}

Test(counting, pvalloc_counts_once_with_requested_not_rounded_size)
{
	void *p = IN_WINDOW(&c, v_pvalloc(100));
	expect_one_block(&c, p, 1, AUDIT_PVALLOC, 100);
}

Test(counting, malloc_usable_size_is_not_counted)
{
	void *p = v_malloc(40);
	audit.open(AUDIT_THIS_THREAD);
	size_t n = v_malloc_usable_size(p);
	audit.close(&c);
	v_free(p);
	cr_assert_geq(n, 40);
	cr_assert_eq(c.allocs + c.frees, 0, "malloc_usable_size was counted");
}

Test(counting, every_call_counts_when_repeated)
{
	void *p[10];
	audit.open(AUDIT_THIS_THREAD);
	for (int i = 0; i < 10; i++)
		p[i] = v_malloc(8 + (size_t)i);
	for (int i = 0; i < 10; i++)
		v_free(p[i]);
	audit.close(&c);
	cr_assert_eq(c.calls[AUDIT_MALLOC], 10);
	cr_assert_eq(c.calls[AUDIT_FREE], 10);
	cr_assert_eq(c.allocs, 10);
	cr_assert_eq(c.frees, 10);
	cr_assert_eq(c.bytes, 10 * 8 + 45);
}

Test(counting, nothing_counts_outside_a_window)
{
	audit.open(AUDIT_THIS_THREAD);
	audit.close(&c);
	v_free(v_malloc(10));
	audit.open(AUDIT_THIS_THREAD);
	int rc = audit.close(&c);
	cr_assert_eq(rc, 0);
	cr_assert_eq(c.allocs + c.frees + c.bytes, 0);
}

Test(counting, opening_an_open_window_restarts_it)
{
	audit.open(AUDIT_THIS_THREAD);
	void *p = v_malloc(10);
	free_in_window(p); /* opens the window again: the malloc is forgotten */
	expect_only(&c, AUDIT_FREE, 1, 0);
}

Test(counting, closing_a_closed_window_returns_minus_one_and_zeros)
{
	memset(&c, 0xff, sizeof c);
	int rc = audit.close(&c);
	cr_assert_eq(rc, -1);
	for (unsigned k = 0; k < AUDIT_KIND_COUNT; k++)
		cr_assert_eq(c.calls[k], 0);
	cr_assert_eq(c.allocs + c.frees + c.os + c.bytes + c.live_peak, 0);
	cr_assert_eq(c.nframes, 0);
	cr_assert_eq(c.first_tid, 0);
	cr_assert_eq(c.opener_tid, 0, "a window that was not open has no opener");

	audit.open(AUDIT_THIS_THREAD);
	cr_assert_eq(audit.close(&c), 0);
	cr_assert_eq(audit.close(&c), -1, "a window closes only once");
}

Test(counting, heap_kinds_come_first_and_os_kinds_last)
{
	cr_assert_eq(AUDIT_HEAP_KINDS, 10);
	cr_assert_eq(AUDIT_MMAP, AUDIT_HEAP_KINDS);
	cr_assert_eq(AUDIT_SBRK, AUDIT_MEMORY_KINDS - 1);
	cr_assert_eq(AUDIT_MEMORY_KINDS, 15);
	cr_assert_eq(AUDIT_MUTEX_LOCK, AUDIT_MEMORY_KINDS);
	cr_assert_eq(AUDIT_FSYNC, AUDIT_KIND_COUNT - 1);
	cr_assert_eq(AUDIT_KIND_COUNT, 50);
	cr_assert_eq(audit.loaded(), 3, "audit_loaded() = %d", audit.loaded());
}

Test(counting, kind_names_match_the_enum)
{
	static const char *const want[AUDIT_KIND_COUNT] = {
		"malloc", "calloc", "realloc", "reallocarray", "free",
		"posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
		"mmap", "mremap", "munmap", "brk", "sbrk",
		"pthread_mutex_lock", "pthread_mutex_trylock", "pthread_mutex_timedlock",
		"pthread_rwlock_rdlock", "pthread_rwlock_tryrdlock",
		"pthread_rwlock_timedrdlock", "pthread_rwlock_wrlock",
		"pthread_rwlock_trywrlock", "pthread_rwlock_timedwrlock",
		"pthread_cond_wait", "pthread_cond_timedwait", "sem_wait", "sem_timedwait",
		"pthread_join", "futex", "nanosleep", "clock_nanosleep", "usleep", "sleep",
		"read", "write", "open", "openat", "poll", "select", "epoll_wait", "accept",
		"connect", "recv", "recvfrom", "recvmsg", "send", "sendto", "sendmsg",
		"fsync",
	};
	for (unsigned k = 0; k < AUDIT_KIND_COUNT; k++)
		cr_assert_str_eq(audit.kind_name(k), want[k]);
	cr_assert_str_eq(audit.kind_name(AUDIT_KIND_COUNT), "?");
	cr_assert_str_eq(audit.kind_name(~0u), "?");
}
