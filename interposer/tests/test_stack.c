/* AUDIT_CAPTURE_STACK records the first call's stack, starting at the
 * hooked function's caller.  The executable is linked with
 * export_dynamic so that dladdr() can name the functions below. */
#include "common.h"

#include <dlfcn.h>
#include <pthread.h>

TestSuite(stack, .init = audit_calibrate, .timeout = 20);

static struct audit_counts c;
void *volatile sink;

/* noipa: no inlining, cloning or renaming, so the return address of the
 * allocator call lies inside a function with exactly this name.  The store
 * after the call stops it from becoming a tail call. */
__attribute__((noipa)) void *stack_site_malloc(size_t n)
{
	void *p = v_malloc(n);
	sink = p;
	return p;
}

__attribute__((noipa)) void *stack_site_calloc(size_t n)
{
	void *p = v_calloc(1, n);
	sink = p;
	return p;
}

__attribute__((noipa)) void *stack_outer(size_t n)
{
	void *p = stack_site_malloc(n);
	sink = NULL;
	return p;
}

/* stack_outer(n) (malloc two frames down) in a window opened with flags
 * and closed into *into, the block freed after. */
static void outer_in_window(unsigned flags, size_t n, struct audit_counts *into)
{
	audit.open(flags);
	void *p = stack_outer(n);
	audit.close(into);
	v_free(p);
}

static const char *name_of(uintptr_t addr)
{
	Dl_info info;
	/* addr - 1: a return address can point just past its function */
	if (!dladdr((void *)(addr - 1), &info) || !info.dli_sname)
		return "(unknown)";
	return info.dli_sname;
}

Test(stack, first_frame_is_the_caller_of_malloc)
{
	outer_in_window(AUDIT_CAPTURE_STACK, 32, &c);
	cr_assert_eq(c.allocs, 1);
	cr_assert_eq(c.first_kind, AUDIT_MALLOC);
	cr_assert_geq(c.nframes, 2, "nframes = %u", c.nframes);
	cr_assert_leq(c.nframes, AUDIT_MAX_FRAMES);
	cr_assert_str_eq(name_of(c.frames[0]), "stack_site_malloc");
	cr_assert_str_eq(name_of(c.frames[1]), "stack_outer");
	/* the same fact without dladdr: a return address inside the site */
	cr_assert_gt(c.frames[0], (uintptr_t)stack_site_malloc);
	cr_assert_lt(c.frames[0], (uintptr_t)stack_site_malloc + 256);
}

Test(stack, only_the_first_call_of_a_window_is_captured)
{
	audit.open(AUDIT_CAPTURE_STACK);
	void *a = stack_site_calloc(8);
	void *b = stack_site_malloc(8);
	audit.close(&c);
	v_free(a);
	v_free(b);

	cr_assert_eq(c.allocs, 2);
	cr_assert_eq(c.first_kind, AUDIT_CALLOC);
	cr_assert_str_eq(name_of(c.frames[0]), "stack_site_calloc");
}

Test(stack, a_free_can_be_the_captured_call)
{
	void *p = v_malloc(8);
	audit.open(AUDIT_CAPTURE_STACK);
	v_free(p);
	audit.close(&c);
	cr_assert_eq(c.first_kind, AUDIT_FREE);
	cr_assert_gt(c.nframes, 0);
}

Test(stack, nothing_is_captured_without_the_flag)
{
	outer_in_window(AUDIT_THIS_THREAD, 32, &c);
	cr_assert_eq(c.allocs, 1);
	cr_assert_eq(c.nframes, 0);
}

Test(stack, nothing_is_captured_in_a_window_without_calls)
{
	audit.open(AUDIT_CAPTURE_STACK);
	audit.close(&c);
	cr_assert_eq(c.nframes, 0);
	for (unsigned i = 0; i < AUDIT_MAX_FRAMES; i++)
		cr_assert_eq(c.frames[i], 0);
}

static void capture_all_threads_in_child(void *arg)
{
	outer_in_window(AUDIT_ALL_THREADS | AUDIT_CAPTURE_STACK, 16, arg);
}

Test(stack, all_threads_window_captures_the_first_caller)
{
	/* In a forked child this thread is the only one, so its call is
	 * the first; the child shares our address layout. */
	struct audit_counts r;
	run_in_child(capture_all_threads_in_child, &r, sizeof r);
	cr_assert_eq(r.allocs, 1);
	cr_assert_eq(r.first_kind, AUDIT_MALLOC);
	cr_assert_str_eq(name_of(r.frames[0]), "stack_site_malloc");
	cr_assert_str_eq(name_of(r.frames[1]), "stack_outer");
}

/* A thread that has captured a stack and then exits must not leave the
 * unwinder's clean-up (its per-thread cache, released at thread exit) in
 * an all-threads window as an OS call of that thread. */
struct exiting_result {
	int ok;
	uint32_t nframes; /* of the capture on the exiting thread */
	struct audit_counts all;
};

static void *capture_then_exit(void *arg)
{
	outer_in_window(AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK, 16, arg);
	return NULL;
}

static void thread_exit_in_window_in_child(void *arg)
{
	struct exiting_result *r = arg;
	struct audit_counts own;
	pthread_t t;

	audit.open(AUDIT_ALL_THREADS);
	if (pthread_create(&t, NULL, capture_then_exit, &own))
		return;
	pthread_join(t, NULL);
	audit.close(&r->all);
	r->nframes = own.nframes;
	r->ok = 1;
}

Test(stack, a_thread_that_captured_and_exits_adds_no_os_call)
{
	struct exiting_result r;
	run_in_child(thread_exit_in_window_in_child, &r, sizeof r);
	cr_assert(r.ok, "could not start the thread");
	cr_assert_gt(r.nframes, 0, "the thread captured nothing");
	/* pthread_join in the window is the test's own blocking call */
	for (unsigned k = AUDIT_HEAP_KINDS; k < AUDIT_KIND_COUNT; k++)
		cr_assert_eq(r.all.calls[k], k == AUDIT_JOIN, "calls[%s] = %llu: the unwinder's "
			     "own clean-up was counted", audit.kind_name(k),
			     (unsigned long long)r.all.calls[k]);
	cr_assert_eq(r.all.os, 0);
}
