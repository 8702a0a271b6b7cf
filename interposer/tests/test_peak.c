/* bytes and live_peak for simple sequences (usable sizes, window-relative). */
#include "common.h"

TestSuite(peak, .init = audit_calibrate, .timeout = 20);

static struct audit_counts c;

static uint64_t us(void *p)
{
	return v_malloc_usable_size(p); /* never counted */
}

Test(peak, alloc_free_sequence_peaks_at_the_largest_live_sum)
{
	/* live: a | a+b | b | b+d | d | 0   (usable sizes) */
	audit.open(AUDIT_THIS_THREAD);
	void *a = v_malloc(100);
	void *b = v_malloc(1000);
	uint64_t ua = us(a), ub = us(b);
	v_free(a);
	void *d = v_malloc(50);
	uint64_t ud = us(d);
	v_free(b);
	v_free(d);
	audit.close(&c);

	uint64_t want = ua + ub > ub + ud ? ua + ub : ub + ud;
	cr_assert_eq(c.bytes, 1150);
	cr_assert_eq(c.live_peak, want, "live_peak = %llu, expected %llu",
		     (unsigned long long)c.live_peak, (unsigned long long)want);
	cr_assert_eq(c.allocs, 3);
	cr_assert_eq(c.frees, 3);
}

Test(peak, live_peak_is_zero_when_the_window_only_frees)
{
	void *p = v_malloc(4096);
	audit.open(AUDIT_THIS_THREAD);
	v_free(p);
	audit.close(&c);
	cr_assert_eq(c.live_peak, 0);
	cr_assert_eq(c.bytes, 0);
}

Test(peak, freeing_older_blocks_offsets_later_allocations)
{
	/* live goes negative first: -old, then -old + new */
	void *old = v_malloc(4000);
	uint64_t uo = us(old);
	audit.open(AUDIT_THIS_THREAD);
	v_free(old);
	void *p = v_malloc(6000);
	uint64_t up = us(p);
	audit.close(&c);
	v_free(p);
	cr_assert_eq(c.live_peak, up - uo);
	cr_assert_eq(c.bytes, 6000);
}

Test(peak, realloc_growth_adds_the_usable_difference)
{
	void *p = v_malloc(16);
	uint64_t before = us(p);
	audit.open(AUDIT_THIS_THREAD);
	p = v_realloc(p, 10000);
	uint64_t after = us(p);
	audit.close(&c);
	v_free(p);
	cr_assert_eq(c.bytes, 10000);
	cr_assert_eq(c.live_peak, after - before);
}

Test(peak, calloc_counts_nmemb_times_size_and_its_usable_size)
{
	audit.open(AUDIT_THIS_THREAD);
	void *p = v_calloc(10, 12);
	uint64_t u = us(p);
	audit.close(&c);
	v_free(p);
	cr_assert_eq(c.bytes, 120);
	cr_assert_eq(c.live_peak, u);
	cr_assert_geq(u, 120);
}
