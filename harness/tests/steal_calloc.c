/*
 * steal_calloc.c — the attack of issue 10, point 8, as a test-only preload:
 * loaded in front of libaudit.so, it takes over calloc alone and forwards
 * every call to glibc's own calloc, so the interposer never sees one.  (A
 * dlsym(RTLD_NEXT, "calloc") from here would find libaudit's hook, which
 * counts: the forward has to name glibc's object to get past it.)  Every
 * calloc in every window then reads 0; calibration must fail instead.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *(*libc_calloc)(size_t, size_t);
/* volatile: gcc turns malloc + memset back into a call to calloc, this one. */
static void *(*volatile do_malloc)(size_t) = malloc;

__attribute__((constructor)) static void steal_init(void)
{
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	if (libc)
		*(void **)&libc_calloc = dlsym(libc, "calloc");
}

__attribute__((visibility("default"))) void *calloc(size_t n, size_t size)
{
	if (libc_calloc)
		return libc_calloc(n, size);
	/* Before the constructor ran (the loader's own callocs): still a
	 * working calloc, through malloc. */
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = do_malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}
