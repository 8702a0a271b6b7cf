/* calls.c — the entry-point table of calls.h. */
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
#include <sys/syscall.h>
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

size_t page_size(void)
{
	static size_t pg;
	if (!pg)
		pg = (size_t)sysconf(_SC_PAGESIZE);
	return pg;
}

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* ---- setup / cleanup ---------------------------------------------------- */

static void *small_block(void)
{
	return v_malloc(8);
}

static void *one_page(void)
{
	void *p = v_mmap(NULL, page_size(), RW, ANON, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void release_block(void *p)
{
	v_free(p);
}

static void unmap_one(void *p)
{
	if (p)
		v_munmap(p, page_size());
}

static void unmap_two(void *p)
{
	if (p)
		v_munmap(p, 2 * page_size());
}

static int ptr_rc(void *p, void **out)
{
	*out = p;
	return p ? 0 : -1;
}

static int map_rc(void *p, void **out)
{
	*out = p == MAP_FAILED ? NULL : p;
	return p == MAP_FAILED ? -1 : 0;
}

/* ---- heap calls (each requests 24 bytes; aligned_alloc 64) -------------- */

static int c_malloc(void *in, void **out) { (void)in; return ptr_rc(v_malloc(24), out); }
static int c_calloc(void *in, void **out) { (void)in; return ptr_rc(v_calloc(3, 8), out); }
static int c_realloc(void *in, void **out) { return ptr_rc(v_realloc(in, 24), out); }
static int c_reallocarray(void *in, void **out) { return ptr_rc(v_reallocarray(in, 3, 8), out); }
static int c_free(void *in, void **out) { v_free(in); *out = NULL; return 0; }
static int c_aligned_alloc(void *in, void **out) { (void)in; return ptr_rc(v_aligned_alloc(64, 64), out); }
static int c_memalign(void *in, void **out) { (void)in; return ptr_rc(v_memalign(64, 24), out); }
static int c_valloc(void *in, void **out) { (void)in; return ptr_rc(v_valloc(24), out); }
static int c_pvalloc(void *in, void **out) { (void)in; return ptr_rc(v_pvalloc(24), out); }

static int c_posix_memalign(void *in, void **out)
{
	(void)in;
	*out = NULL;
	int rc = v_posix_memalign(out, 64, 24);
	if (rc)
		errno = rc;
	return rc ? -1 : 0;
}

static int c_libc_malloc(void *in, void **out) { (void)in; return ptr_rc(v_libc_malloc(24), out); }
static int c_libc_calloc(void *in, void **out) { (void)in; return ptr_rc(v_libc_calloc(3, 8), out); }
static int c_libc_realloc(void *in, void **out) { return ptr_rc(v_libc_realloc(in, 24), out); }
static int c_libc_reallocarray(void *in, void **out) { return ptr_rc(v_libc_reallocarray(in, 3, 8), out); }
static int c_libc_free(void *in, void **out) { v_libc_free(in); *out = NULL; return 0; }
static int c_libc_memalign(void *in, void **out) { (void)in; return ptr_rc(v_libc_memalign(64, 24), out); }
static int c_libc_valloc(void *in, void **out) { (void)in; return ptr_rc(v_libc_valloc(24), out); }
static int c_libc_pvalloc(void *in, void **out) { (void)in; return ptr_rc(v_libc_pvalloc(24), out); }

/* ---- OS calls ----------------------------------------------------------- */

/* brk(NULL), sbrk(0) and the brk system call with 0 only read the current
 * break (the kernel leaves it alone below its start): safe next to
 * glibc's malloc, which owns the break, even on a threaded process. */

static int c_mmap(void *in, void **out) { (void)in; return map_rc(v_mmap(NULL, page_size(), RW, ANON, -1, 0), out); }
static int c_mmap64(void *in, void **out) { (void)in; return map_rc(v_mmap64(NULL, page_size(), RW, ANON, -1, 0), out); }
static int c_libc_mmap(void *in, void **out) { (void)in; return map_rc(v_libc_mmap(NULL, page_size(), RW, ANON, -1, 0), out); }
static int c_mremap(void *in, void **out) { return map_rc(v_mremap(in, page_size(), 2 * page_size(), MREMAP_MAYMOVE), out); }
static int c_munmap(void *in, void **out) { *out = NULL; return v_munmap(in, page_size()); }
static int c_libc_munmap(void *in, void **out) { *out = NULL; return v_libc_munmap(in, page_size()); }
static int c_brk(void *in, void **out) { (void)in; *out = NULL; return v_brk(NULL); }

static int c_sbrk(void *in, void **out)
{
	(void)in;
	*out = NULL;
	return v_sbrk(0) == (void *)-1 ? -1 : 0;
}

static int c_libc_sbrk(void *in, void **out)
{
	(void)in;
	*out = NULL;
	return v_libc_sbrk(0) == (void *)-1 ? -1 : 0;
}

static int c_sys_mmap(void *in, void **out)
{
	(void)in;
	long r = v_syscall(SYS_mmap, 0L, (long)page_size(), (long)RW, (long)ANON, -1L, 0L);
	return map_rc(r == -1 ? MAP_FAILED : (void *)r, out);
}

static int c_sys_mremap(void *in, void **out)
{
	long r = v_syscall(SYS_mremap, (long)in, (long)page_size(),
			   (long)(2 * page_size()), (long)MREMAP_MAYMOVE, 0L);
	return map_rc(r == -1 ? MAP_FAILED : (void *)r, out);
}

static int c_sys_munmap(void *in, void **out)
{
	*out = NULL;
	return v_syscall(SYS_munmap, (long)in, (long)page_size()) == -1 ? -1 : 0;
}

static int c_sys_brk(void *in, void **out)
{
	(void)in;
	*out = NULL;
	return v_syscall(SYS_brk, 0L) == -1 ? -1 : 0;
}

/* ---- the table ---------------------------------------------------------- */

const struct entry entries[] = {
	{"malloc", AUDIT_MALLOC, 24, NULL, c_malloc, release_block},
	{"calloc", AUDIT_CALLOC, 24, NULL, c_calloc, release_block},
	{"realloc", AUDIT_REALLOC, 24, small_block, c_realloc, release_block},
	{"reallocarray", AUDIT_REALLOCARRAY, 24, small_block, c_reallocarray, release_block},
	{"free", AUDIT_FREE, 0, small_block, c_free, release_block},
	{"posix_memalign", AUDIT_POSIX_MEMALIGN, 24, NULL, c_posix_memalign, release_block},
	{"aligned_alloc", AUDIT_ALIGNED_ALLOC, 64, NULL, c_aligned_alloc, release_block},
	{"memalign", AUDIT_MEMALIGN, 24, NULL, c_memalign, release_block},
	{"valloc", AUDIT_VALLOC, 24, NULL, c_valloc, release_block},
	{"pvalloc", AUDIT_PVALLOC, 24, NULL, c_pvalloc, release_block},

	{"__libc_malloc", AUDIT_MALLOC, 24, NULL, c_libc_malloc, release_block},
	{"__libc_calloc", AUDIT_CALLOC, 24, NULL, c_libc_calloc, release_block},
	{"__libc_realloc", AUDIT_REALLOC, 24, small_block, c_libc_realloc, release_block},
	{"__libc_reallocarray", AUDIT_REALLOCARRAY, 24, small_block, c_libc_reallocarray, release_block},
	{"__libc_free", AUDIT_FREE, 0, small_block, c_libc_free, release_block},
	{"__libc_memalign", AUDIT_MEMALIGN, 24, NULL, c_libc_memalign, release_block},
	{"__libc_valloc", AUDIT_VALLOC, 24, NULL, c_libc_valloc, release_block},
	{"__libc_pvalloc", AUDIT_PVALLOC, 24, NULL, c_libc_pvalloc, release_block},

	{"mmap", AUDIT_MMAP, 0, NULL, c_mmap, unmap_one},
	{"mmap64", AUDIT_MMAP, 0, NULL, c_mmap64, unmap_one},
	{"__mmap", AUDIT_MMAP, 0, NULL, c_libc_mmap, unmap_one},
	{"mremap", AUDIT_MREMAP, 0, one_page, c_mremap, unmap_two},
	{"munmap", AUDIT_MUNMAP, 0, one_page, c_munmap, unmap_one},
	{"__munmap", AUDIT_MUNMAP, 0, one_page, c_libc_munmap, unmap_one},
	{"brk", AUDIT_BRK, 0, NULL, c_brk, NULL},
	{"sbrk", AUDIT_SBRK, 0, NULL, c_sbrk, NULL},
	{"__sbrk", AUDIT_SBRK, 0, NULL, c_libc_sbrk, NULL},
	{"syscall(SYS_mmap)", AUDIT_MMAP, 0, NULL, c_sys_mmap, unmap_one},
	{"syscall(SYS_mremap)", AUDIT_MREMAP, 0, one_page, c_sys_mremap, unmap_two},
	{"syscall(SYS_munmap)", AUDIT_MUNMAP, 0, one_page, c_sys_munmap, unmap_one},
	{"syscall(SYS_brk)", AUDIT_BRK, 0, NULL, c_sys_brk, NULL},
};
const size_t n_entries = sizeof entries / sizeof entries[0];

const struct entry *entry_find(const char *fn)
{
	for (size_t i = 0; i < n_entries; i++)
		if (strcmp(entries[i].fn, fn) == 0)
			return &entries[i];
	return NULL;
}

void entry_run(const struct entry *e, const struct audit_api *api,
	       unsigned flags, const struct audit_fast_window *fast,
	       struct entry_result *r)
{
	void *in = NULL, *out = NULL;

	memset(r, 0, sizeof *r);
	r->fw = *fast;
	(void)page_size(); /* sysconf outside the window */
	if (e->setup)
		in = e->setup();
	api->open(flags);
	audit_fast_open(&r->fw);
	errno = 0;
	r->call_rc = e->call(in, &out);
	r->call_errno = errno;
	audit_fast_close(&r->fw);
	r->close_rc = api->close(&r->c);
	/* a failed realloc/mremap leaves its input in place */
	if (r->call_rc != 0 && in && in != out && e->setup == small_block)
		release_block(in);
	if (r->call_rc != 0 && in && e->setup == one_page)
		unmap_one(in);
	if (e->cleanup && out)
		e->cleanup(out);
}

#define FAIL(...) (snprintf(msg, cap, __VA_ARGS__), false)

bool entry_check(const struct entry *e, const struct entry_result *r,
		 unsigned flags, uint64_t n, const struct audit_api *api,
		 char *msg, size_t cap)
{
	const struct audit_counts *c = &r->c;
	bool heap = e->kind < AUDIT_HEAP_KINDS, is_free = e->kind == AUDIT_FREE;

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
	    c->frees != (is_free ? n : 0) || c->os != (heap ? 0 : n))
		return FAIL("%s: allocs=%llu frees=%llu os=%llu disagree with "
			    "%llu call(s) of kind %s", e->fn,
			    (unsigned long long)c->allocs,
			    (unsigned long long)c->frees,
			    (unsigned long long)c->os, (unsigned long long)n,
			    api->kind_name(e->kind));
	if (c->bytes != n * e->bytes)
		return FAIL("%s: bytes=%llu, expected %llu", e->fn,
			    (unsigned long long)c->bytes,
			    (unsigned long long)(n * e->bytes));
	if (!heap && c->live_peak != 0)
		return FAIL("%s: live_peak=%llu for an OS kind", e->fn,
			    (unsigned long long)c->live_peak);
	if (r->fw.allocs != (is_free ? 0 : n) || r->fw.frees != (is_free ? n : 0))
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
	}
	return true;
}
