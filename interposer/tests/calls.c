/* calls.c — the v_* pointers of calls.h, and running and checking one
 * entry of the shared table (../entries.c) in a window. */
#define _GNU_SOURCE
/* The symbol mmap, not the mmap64 that <sys/mman.h> substitutes under
 * -D_FILE_OFFSET_BITS=64 (which Meson passes): each name is its own hook. */
#undef _FILE_OFFSET_BITS
#include "calls.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* glibc exports these without declaring them. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_reallocarray(void *, size_t, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern void *__mmap(void *, size_t, int, int, int, off_t);
extern int __munmap(void *, size_t);
extern void *__sbrk(intptr_t);

void *(*volatile v_malloc)(size_t) = malloc;
void *(*volatile v_calloc)(size_t, size_t) = calloc;
void *(*volatile v_realloc)(void *, size_t) = realloc;
void *(*volatile v_reallocarray)(void *, size_t, size_t) = reallocarray;
void (*volatile v_free)(void *) = free;
int (*volatile v_posix_memalign)(void **, size_t, size_t) = posix_memalign;
void *(*volatile v_aligned_alloc)(size_t, size_t) = aligned_alloc;
void *(*volatile v_memalign)(size_t, size_t) = memalign;
void *(*volatile v_valloc)(size_t) = valloc;
void *(*volatile v_pvalloc)(size_t) = pvalloc;
size_t (*volatile v_malloc_usable_size)(void *) = malloc_usable_size;

void *(*volatile v_libc_malloc)(size_t) = __libc_malloc;
void *(*volatile v_libc_calloc)(size_t, size_t) = __libc_calloc;
void *(*volatile v_libc_realloc)(void *, size_t) = __libc_realloc;
void *(*volatile v_libc_reallocarray)(void *, size_t, size_t) = __libc_reallocarray;
void (*volatile v_libc_free)(void *) = __libc_free;
void *(*volatile v_libc_memalign)(size_t, size_t) = __libc_memalign;
void *(*volatile v_libc_valloc)(size_t) = __libc_valloc;
void *(*volatile v_libc_pvalloc)(size_t) = __libc_pvalloc;

void *(*volatile v_mmap)(void *, size_t, int, int, int, off_t) = mmap;
void *(*volatile v_mmap64)(void *, size_t, int, int, int, off_t) = mmap64;
void *(*volatile v_libc_mmap)(void *, size_t, int, int, int, off_t) = __mmap;
void *(*volatile v_mremap)(void *, size_t, size_t, int, ...) = mremap;
int (*volatile v_munmap)(void *, size_t) = munmap;
int (*volatile v_libc_munmap)(void *, size_t) = __munmap;
int (*volatile v_brk)(void *) = brk;
void *(*volatile v_sbrk)(intptr_t) = sbrk;
void *(*volatile v_libc_sbrk)(intptr_t) = __sbrk;
long (*volatile v_syscall)(long, ...) = syscall;

void entry_run(const struct entry *e, const struct audit_api *api,
	       unsigned flags, const struct audit_fast_window *fast,
	       struct entry_result *r)
{
	void *in, *out = NULL;

	memset(r, 0, sizeof *r);
	r->fw = *fast;
	r->missing = !e->sym;
	if (r->missing)
		return;
	in = entry_setup(e);
	api->open(flags);
	audit_fast_open(&r->fw);
	errno = 0;
	r->call_rc = e->call(e, in, &out);
	r->call_errno = errno;
	audit_fast_close(&r->fw);
	r->close_rc = api->close(&r->c);
	entry_cleanup(e, in, out, r->call_rc);
}

#define FAIL(...) (snprintf(msg, cap, __VA_ARGS__), false)

bool entry_check(const struct entry *e, const struct entry_result *r,
		 unsigned flags, uint64_t n, const struct audit_api *api,
		 char *msg, size_t cap)
{
	const struct audit_counts *c = &r->c;
	bool heap = e->kind < AUDIT_HEAP_KINDS, is_free = e->kind == AUDIT_FREE;
	bool blocking = e->kind >= AUDIT_MEMORY_KINDS;

	if (r->missing)
		return FAIL("%s: no such symbol in this process", e->fn);
	if (r->close_rc != 0)
		return FAIL("%s: closing the window returned %d", e->fn, r->close_rc);
	if (r->call_rc != 0)
		return FAIL("%s: the forwarded call failed: %s", e->fn,
			    strerror(r->call_errno));
	for (unsigned k = 0; k < AUDIT_KIND_COUNT; k++) {
		uint64_t want = k == (unsigned)e->kind ? n : 0;
		if (c->calls[k] != want)
			return FAIL("%s: read %llu call(s) of kind %s, expected %llu",
				    e->fn, (unsigned long long)c->calls[k],
				    api->kind_name(k), (unsigned long long)want);
	}
	if (c->allocs != (heap && !is_free ? n : 0) ||
	    c->frees != (is_free ? n : 0) || c->os != (heap || blocking ? 0 : n) ||
	    c->blocking != (blocking ? n : 0))
		return FAIL("%s: allocs=%llu frees=%llu os=%llu blocking=%llu disagree "
			    "with %llu call(s) of kind %s", e->fn,
			    (unsigned long long)c->allocs,
			    (unsigned long long)c->frees,
			    (unsigned long long)c->os, (unsigned long long)c->blocking,
			    (unsigned long long)n, api->kind_name(e->kind));
	if (c->bytes != n * e->bytes)
		return FAIL("%s: bytes=%llu, expected %llu", e->fn,
			    (unsigned long long)c->bytes,
			    (unsigned long long)(n * e->bytes));
	if (!heap && c->live_peak != 0)
		return FAIL("%s: live_peak=%llu for an OS kind", e->fn,
			    (unsigned long long)c->live_peak);
	if (r->fw.allocs != (is_free || blocking ? 0 : n) || r->fw.frees != (is_free ? n : 0))
		return FAIL("%s: fast window read allocs=%llu frees=%llu, expected "
			    "%llu call(s) of kind %s", e->fn,
			    (unsigned long long)r->fw.allocs,
			    (unsigned long long)r->fw.frees, (unsigned long long)n,
			    api->kind_name(e->kind));
	if (c->opener_tid != (int32_t)gettid())
		return FAIL("%s: opener_tid=%d, this thread is %d", e->fn,
			    (int)c->opener_tid, (int)gettid());
	if (flags & AUDIT_CAPTURE_STACK) {
		if (n && (c->first_kind != (uint32_t)e->kind ||
			  c->first_tid != c->opener_tid || c->nframes == 0))
			return FAIL("%s: captured kind %s, tid %d, %u frames; expected "
				    "kind %s on this thread (%d)", e->fn,
				    api->kind_name(c->first_kind), (int)c->first_tid,
				    c->nframes, api->kind_name(e->kind),
				    (int)c->opener_tid);
		if (!n && (c->nframes != 0 || c->first_tid != 0))
			return FAIL("%s: %u frames captured (tid %d) for an uncounted call",
				    e->fn, c->nframes, (int)c->first_tid);
		if (c->nsites != n || c->sites_lost != 0)
			return FAIL("%s: %u site(s), %llu call(s) lost; expected %llu site(s)",
				    e->fn, c->nsites, (unsigned long long)c->sites_lost,
				    (unsigned long long)n);
	}
	return true;
}
