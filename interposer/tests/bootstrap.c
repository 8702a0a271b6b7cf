/*
 * bootstrap.c — the static-buffer bootstrap of preload.c, exercised.
 *
 * glibc 2.36's dlsym does not allocate on success, so under LD_PRELOAD the
 * bootstrap path never runs here; older glibc (and some error paths)
 * calloc an error buffer from inside dlsym, before any real allocator is
 * known.  This program links preload.c and core.c directly (its malloc
 * interposes libc's) and wraps dlsym (-Wl,--wrap=dlsym) so that the first
 * resolution allocates the way such a dlsym does.  Plain exit status:
 * 0 pass, 1 fail; a missing bootstrap shows as a crash or endless
 * recursion instead.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

void *__real_dlsym(void *handle, const char *name);

static int wrapped;
static unsigned char *boot_zeroed, *boot_small;

void *__wrap_dlsym(void *handle, const char *name)
{
	if (!wrapped++) {
		boot_zeroed = calloc(4, 8);
		boot_small = malloc(10);
	}
	return __real_dlsym(handle, name);
}

static int failures;

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
			failures++;                                       \
		}                                                         \
	} while (0)

static void *(*volatile v_realloc)(void *, size_t) = realloc;
static void (*volatile v_free)(void *) = free;

int main(void)
{
	struct audit_counts c;

	CHECK(wrapped > 0, "dlsym was never called");
	CHECK(boot_zeroed && boot_small, "bootstrap allocation returned NULL");
	if (failures)
		return 1;
	for (int i = 0; i < 32; i++)
		CHECK(boot_zeroed[i] == 0, "calloc'd bootstrap byte %d not zero", i);
	/* glibc would round 10 up to a 24-byte chunk; a bootstrap block
	 * reports exactly what was asked for */
	CHECK(malloc_usable_size(boot_small) == 10,
	      "malloc_usable_size(bootstrap block) = %zu, expected 10",
	      malloc_usable_size(boot_small));
	CHECK(((uintptr_t)boot_zeroed & 15) == 0, "bootstrap block misaligned");

	/* free() of a bootstrap block: a no-op (glibc's free would abort on
	 * it), counted like any free, with no live bytes released */
	memset(boot_small, 0x5a, 10);
	audit_window_open(AUDIT_THIS_THREAD);
	v_free(boot_small);
	audit_window_close(&c);
	CHECK(c.calls[AUDIT_FREE] == 1 && c.frees == 1,
	      "free(bootstrap) counted %llu times",
	      (unsigned long long)c.calls[AUDIT_FREE]);
	CHECK(c.live_peak == 0, "live_peak %llu", (unsigned long long)c.live_peak);
	CHECK(boot_small[9] == 0x5a, "free() touched the bootstrap block");

	/* realloc() of a bootstrap block moves it to the real heap */
	for (int i = 0; i < 32; i++)
		boot_zeroed[i] = (unsigned char)i;
	audit_window_open(AUDIT_THIS_THREAD);
	unsigned char *moved = v_realloc(boot_zeroed, 1000);
	audit_window_close(&c);
	CHECK(moved && moved != boot_zeroed, "realloc did not move the block");
	if (moved) {
		for (int i = 0; i < 32; i++)
			CHECK(moved[i] == i, "byte %d not copied", i);
		CHECK(malloc_usable_size(moved) >= 1000, "moved block too small");
	}
	CHECK(c.calls[AUDIT_REALLOC] == 1 && c.allocs == 1 && c.bytes == 1000,
	      "realloc(bootstrap) counted realloc=%llu allocs=%llu bytes=%llu",
	      (unsigned long long)c.calls[AUDIT_REALLOC],
	      (unsigned long long)c.allocs, (unsigned long long)c.bytes);
	CHECK(c.live_peak == malloc_usable_size(moved),
	      "live_peak %llu", (unsigned long long)c.live_peak);
	v_free(moved);

	if (!failures)
		puts("bootstrap: ok");
	return failures ? 1 : 0;
}
