/* The call-site table of AUDIT_CAPTURE_STACK windows (audit.h,
 * audit_window_sites): every counted call at its (kind, stack) site with
 * its count, bounded, and read back by the thread that closed the window.
 * Linked with export_dynamic so that dladdr() names the functions below. */
#include "common.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

TestSuite(sites, .init = audit_calibrate, .timeout = 30);

static struct audit_counts c;
static struct audit_site got[AUDIT_MAX_SITES];
void *volatile site_sink;
/* Loop bounds gcc cannot see: an unrolled loop would make each call a
 * call site of its own (as it is, in the table too). */
static volatile int v_two = 2, v_three = 3;

/* noipa: the return address of each allocator call lies in a function of
 * exactly this name; the store keeps the call from being a tail call. */
__attribute__((noipa)) void sites_a(void) { site_sink = v_malloc(8); v_free(site_sink); site_sink = NULL; }
__attribute__((noipa)) void sites_b(void) { site_sink = v_malloc(8); v_free(site_sink); site_sink = NULL; }
__attribute__((noipa)) void sites_c(void) { site_sink = v_calloc(1, 8); v_free(site_sink); site_sink = NULL; }

/* A malloc `depth` frames down: each depth is a stack of its own. */
__attribute__((noipa)) void sites_deep(int depth)
{
	if (depth > 0)
		sites_deep(depth - 1);
	else
		v_free(v_malloc(8));
	site_sink = NULL;
}

static const char *fn_of(uintptr_t ra)
{
	Dl_info info;
	return dladdr((void *)(ra - 1), &info) && info.dli_sname ? info.dli_sname : "?";
}

/* The site of `kind` whose innermost frame is in `fn`, or NULL. */
static const struct audit_site *find(int n, unsigned kind, const char *fn)
{
	for (int i = 0; i < n; i++)
		if (got[i].kind == kind && got[i].nframes && strcmp(fn_of(got[i].frames[0]), fn) == 0)
			return &got[i];
	return NULL;
}

static void three_sites(void)
{
	for (int i = 0; i < v_three; i++)
		sites_a();
	for (int i = 0; i < v_two; i++)
		sites_b();
	sites_c();
}

static void expect_three_sites(int n)
{
	uint64_t sum = 0;
	for (int i = 0; i < n; i++)
		sum += got[i].calls;
	cr_assert_eq(sum, c.allocs + c.frees, "sites hold %llu of %llu calls",
		     (unsigned long long)sum, (unsigned long long)(c.allocs + c.frees));
	const struct audit_site *a = find(n, AUDIT_MALLOC, "sites_a");
	const struct audit_site *b = find(n, AUDIT_MALLOC, "sites_b");
	const struct audit_site *k = find(n, AUDIT_CALLOC, "sites_c");
	cr_assert(a && b && k, "a malloc site in sites_a and sites_b, a calloc one in sites_c");
	cr_assert_eq(a->calls, 3);
	cr_assert_eq(b->calls, 2);
	cr_assert_eq(k->calls, 1);
	cr_assert_eq(got[0].calls, 3, "most calls first");
	cr_assert_eq(find(n, AUDIT_FREE, "sites_a")->calls, 3);
}

Test(sites, every_call_is_counted_at_its_site_this_thread)
{
	audit.open(AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK);
	three_sites();
	audit.close(&c);
	int n = audit.sites(got, AUDIT_MAX_SITES);
	cr_assert_eq(c.allocs, 6);
	cr_assert_eq(n, 6, "%d sites: 3 malloc/calloc sites and 3 free sites", n);
	cr_assert_eq(c.nsites, 6);
	cr_assert_eq(c.sites_lost, 0);
	expect_three_sites(n);
}

Test(sites, every_call_is_counted_at_its_site_all_threads)
{
	audit.open(AUDIT_ALL_THREADS | AUDIT_CAPTURE_STACK);
	three_sites();
	audit.close(&c);
	int n = audit.sites(got, AUDIT_MAX_SITES);
	cr_assert_eq(n, 6);
	expect_three_sites(n);
	cr_assert_eq(c.first_kind, AUDIT_MALLOC);
	cr_assert_str_eq(fn_of(c.frames[0]), "sites_a", "the first call's stack is still there");
}

Test(sites, max_copies_the_busiest_sites_only)
{
	audit.open(AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK);
	three_sites();
	audit.close(&c);
	cr_assert_eq(audit.sites(got, 1), 1);
	cr_assert_eq(got[0].calls, 3);
	cr_assert_eq(audit.sites(got, 0), 0);
}

Test(sites, a_full_table_counts_the_rest_as_lost)
{
	int depths = AUDIT_MAX_SITES + 8;
	audit.open(AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK);
	for (int d = 0; d < depths; d++)
		sites_deep(d);
	audit.close(&c);
	int n = audit.sites(got, AUDIT_MAX_SITES);
	uint64_t held = 0;
	for (int i = 0; i < n; i++)
		held += got[i].calls;
	cr_assert_eq(n, AUDIT_MAX_SITES);
	cr_assert_eq(c.nsites, AUDIT_MAX_SITES);
	cr_assert_eq(held + c.sites_lost, 2 * (uint64_t)depths, "held %llu lost %llu",
		     (unsigned long long)held, (unsigned long long)c.sites_lost);
	cr_assert_gt(c.sites_lost, 0);
}

Test(sites, unwinds_past_the_budget_are_lost_not_guessed)
{
	volatile uint64_t n = AUDIT_MAX_UNWINDS + 10;
	audit.open(AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK);
	for (uint64_t i = 0; i < n; i++)
		sites_a();
	audit.close(&c);
	int k = audit.sites(got, AUDIT_MAX_SITES);
	uint64_t held = 0;
	for (int i = 0; i < k; i++)
		held += got[i].calls;
	cr_assert_eq(held, AUDIT_MAX_UNWINDS);
	cr_assert_eq(c.sites_lost, 2 * n - AUDIT_MAX_UNWINDS);
}

Test(sites, no_table_without_a_capture)
{
	audit.open(AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK);
	sites_a();
	audit.close(&c);
	audit.open(AUDIT_THIS_THREAD);
	sites_a();
	audit.close(&c);
	cr_assert_eq(c.nsites, 0);
	cr_assert_eq(audit.sites(got, AUDIT_MAX_SITES), -1,
		     "the last closed window did not capture: its table is not this one's");
}

struct second {
	struct audit_counts c;
	int sites;
};

static void *second_window(void *arg)
{
	struct second *s = arg;
	audit.open(AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK);
	sites_b();
	audit.close(&s->c);
	s->sites = audit.sites(got, AUDIT_MAX_SITES);
	return NULL;
}

Test(sites, a_second_capture_window_gets_no_table_and_says_so)
{
	struct second s;
	pthread_t t;
	audit.open(AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK);
	sites_a();
	cr_assert_eq(pthread_create(&t, NULL, second_window, &s), 0);
	pthread_join(t, NULL);
	audit.close(&c);
	int n = audit.sites(got, AUDIT_MAX_SITES);
	cr_assert_eq(s.c.allocs, 1);
	cr_assert_eq(s.c.nsites, 0);
	cr_assert_eq(s.c.sites_lost, 2, "its malloc and free have no site");
	cr_assert_gt(s.c.nframes, 0, "its first stack is still captured");
	cr_assert_eq(s.sites, -1);
	/* its own malloc and free, its join, and whatever pthread_create
	 * allocated for the thread through the public allocator */
	cr_assert_eq(n, (int)c.nsites, "the first window's table is its own: %d sites", n);
	cr_assert(find(n, AUDIT_MALLOC, "sites_a") && find(n, AUDIT_FREE, "sites_a"));
	cr_assert_eq(c.sites_lost, 0);
}
