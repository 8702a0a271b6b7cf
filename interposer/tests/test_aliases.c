/* glibc's exported allocator aliases (__libc_malloc and friends) are hooks
 * too: one call counts once, under the public function's kind, with the
 * same bytes and live-bytes accounting.  This program references them by
 * their versioned names (__libc_malloc@GLIBC_2.2.5,
 * __libc_reallocarray@GLIBC_PRIVATE), so these tests also prove that such
 * references bind to the interposer. */
#include "common.h"

#include <dlfcn.h>
#include <string.h>

TestSuite(aliases, .init = audit_calibrate, .timeout = 20);

static struct audit_counts c;

Test(aliases, libc_malloc_counts_once_as_malloc)
{
	expect_entry_counts_once("__libc_malloc");
}

Test(aliases, libc_calloc_counts_once_as_calloc)
{
	expect_entry_counts_once("__libc_calloc");
}

Test(aliases, libc_realloc_counts_once_as_realloc)
{
	expect_entry_counts_once("__libc_realloc");
}

/* glibc's __libc_reallocarray calls realloc, as reallocarray does: the
 * inner call is nested and must not count a second time. */
Test(aliases, libc_reallocarray_counts_once_as_reallocarray_not_realloc)
{
	expect_entry_counts_once("__libc_reallocarray");
}

Test(aliases, libc_free_counts_once_as_free)
{
	expect_entry_counts_once("__libc_free");
}

Test(aliases, libc_memalign_counts_once_as_memalign)
{
	expect_entry_counts_once("__libc_memalign");
}

Test(aliases, libc_valloc_counts_once_as_valloc)
{
	expect_entry_counts_once("__libc_valloc");
}

Test(aliases, libc_pvalloc_counts_once_as_pvalloc)
{
	expect_entry_counts_once("__libc_pvalloc");
}

Test(aliases, alias_blocks_add_to_live_peak_and_are_released_by_free)
{
	audit.open(AUDIT_THIS_THREAD);
	void *p = v_libc_malloc(1000);
	size_t u = v_malloc_usable_size(p);
	v_free(p);
	void *q = v_malloc(10);
	v_libc_free(q);
	audit.close(&c);
	cr_assert_eq(c.calls[AUDIT_MALLOC], 2);
	cr_assert_eq(c.calls[AUDIT_FREE], 2);
	cr_assert_eq(c.allocs, 2);
	cr_assert_eq(c.frees, 2);
	cr_assert_eq(c.bytes, 1010);
	cr_assert_eq(c.live_peak, u, "live_peak %llu, usable %zu",
		     (unsigned long long)c.live_peak, u);
}

Test(aliases, libc_calloc_overflow_counts_once_with_zero_bytes)
{
	audit.open(AUDIT_THIS_THREAD);
	void *p = v_libc_calloc(v_huge, 4);
	audit.close(&c);
	cr_assert_null(p);
	expect_only(&c, AUDIT_CALLOC, 1, 0);
}

/* The pointers this program called are the interposer's, not libc's: what
 * the dynamic loader bound the versioned references to lies in
 * libaudit.so. */
Test(aliases, versioned_alias_references_bind_to_the_interposer)
{
	static const char *const names[] = {
		"__libc_malloc", "__libc_reallocarray", "__libc_pvalloc",
		"__mmap", "__sbrk",
	};
	void *addrs[] = {
		(void *)v_libc_malloc, (void *)v_libc_reallocarray,
		(void *)v_libc_pvalloc, (void *)v_libc_mmap, (void *)v_libc_sbrk,
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		Dl_info info;
		cr_assert(dladdr(addrs[i], &info), "dladdr(%s) failed", names[i]);
		cr_assert_not_null(strstr(info.dli_fname, "libaudit"),
				   "%s is bound to %s, not to the interposer",
				   names[i], info.dli_fname);
	}
}
