/* entries.c — the table of entries.h: every hooked entry point, called once. */
#define _GNU_SOURCE
/* The symbol mmap, not the mmap64 that <sys/mman.h> substitutes under
 * -D_FILE_OFFSET_BITS=64 (which Meson passes): each name is its own hook. */
#undef _FILE_OFFSET_BITS
#include "entries.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* glibc exports these without declaring them; weak: see entries.h. */
extern void *__libc_malloc(size_t) __attribute__((weak));
extern void *__libc_calloc(size_t, size_t) __attribute__((weak));
extern void *__libc_realloc(void *, size_t) __attribute__((weak));
extern void *__libc_reallocarray(void *, size_t, size_t) __attribute__((weak));
extern void __libc_free(void *) __attribute__((weak));
extern void *__libc_memalign(size_t, size_t) __attribute__((weak));
extern void *__libc_valloc(size_t) __attribute__((weak));
extern void *__libc_pvalloc(size_t) __attribute__((weak));
extern void *__mmap(void *, size_t, int, int, int, off_t) __attribute__((weak));
extern int __munmap(void *, size_t) __attribute__((weak));
extern void *__sbrk(intptr_t) __attribute__((weak));

size_t page_size(void)
{
	static size_t pg;
	if (!pg)
		pg = (size_t)sysconf(_SC_PAGESIZE);
	return pg;
}

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* e's entry point as a function of type T (one volatile read of e->sym). */
#define SYM(e, T) ((T)(e)->sym)

typedef void *(*alloc_fn)(size_t);
typedef void *(*alloc2_fn)(size_t, size_t); /* calloc(n, size), memalign(align, size) */
typedef void *(*realloc_fn)(void *, size_t);
typedef void *(*reallocarray_fn)(void *, size_t, size_t);
typedef void (*free_fn)(void *);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef void *(*mremap_fn)(void *, size_t, size_t, int, ...);
typedef int (*munmap_fn)(void *, size_t);
typedef int (*brk_fn)(void *);
typedef void *(*sbrk_fn)(intptr_t);
typedef long (*syscall_fn)(long, ...);

/* ---- setup / cleanup (outside the window) ------------------------------- */

static void *small_block(void)
{
	return malloc(8);
}

static void *one_page(void)
{
	void *p = mmap(NULL, page_size(), RW, ANON, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void release_block(void *p)
{
	free(p);
}

static void unmap_one(void *p)
{
	if (p)
		munmap(p, page_size());
}

static void unmap_two(void *p)
{
	if (p)
		munmap(p, 2 * page_size());
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

typedef const struct entry E;

static int c_malloc(E *e, void *in, void **out) { (void)in; return ptr_rc(SYM(e, alloc_fn)(24), out); }
static int c_calloc(E *e, void *in, void **out) { (void)in; return ptr_rc(SYM(e, alloc2_fn)(3, 8), out); }
static int c_realloc(E *e, void *in, void **out) { return ptr_rc(SYM(e, realloc_fn)(in, 24), out); }
static int c_reallocarray(E *e, void *in, void **out) { return ptr_rc(SYM(e, reallocarray_fn)(in, 3, 8), out); }
static int c_free(E *e, void *in, void **out) { SYM(e, free_fn)(in); *out = NULL; return 0; }
static int c_aligned_alloc(E *e, void *in, void **out) { (void)in; return ptr_rc(SYM(e, alloc2_fn)(64, 64), out); }
static int c_memalign(E *e, void *in, void **out) { (void)in; return ptr_rc(SYM(e, alloc2_fn)(64, 24), out); }

static int c_posix_memalign(E *e, void *in, void **out)
{
	(void)in;
	*out = NULL;
	int rc = SYM(e, posix_memalign_fn)(out, 64, 24);
	if (rc)
		errno = rc;
	return rc ? -1 : 0;
}

/* ---- OS calls ----------------------------------------------------------- */

/* brk(NULL), sbrk(0) and the brk system call with 0 only read the current
 * break (the kernel leaves it alone below its start): safe next to
 * glibc's malloc, which owns the break, even on a threaded process. */

static int c_mmap(E *e, void *in, void **out) { (void)in; return map_rc(SYM(e, mmap_fn)(NULL, page_size(), RW, ANON, -1, 0), out); }
static int c_mremap(E *e, void *in, void **out) { return map_rc(SYM(e, mremap_fn)(in, page_size(), 2 * page_size(), MREMAP_MAYMOVE), out); }
static int c_munmap(E *e, void *in, void **out) { *out = NULL; return SYM(e, munmap_fn)(in, page_size()); }
static int c_brk(E *e, void *in, void **out) { (void)in; *out = NULL; return SYM(e, brk_fn)(NULL); }

static int c_sbrk(E *e, void *in, void **out)
{
	(void)in;
	*out = NULL;
	return SYM(e, sbrk_fn)(0) == (void *)-1 ? -1 : 0;
}

static int c_sys_mmap(E *e, void *in, void **out)
{
	(void)in;
	long r = SYM(e, syscall_fn)(SYS_mmap, 0L, (long)page_size(), (long)RW, (long)ANON, -1L, 0L);
	return map_rc(r == -1 ? MAP_FAILED : (void *)r, out);
}

static int c_sys_mremap(E *e, void *in, void **out)
{
	long r = SYM(e, syscall_fn)(SYS_mremap, (long)in, (long)page_size(),
				    (long)(2 * page_size()), (long)MREMAP_MAYMOVE, 0L);
	return map_rc(r == -1 ? MAP_FAILED : (void *)r, out);
}

static int c_sys_munmap(E *e, void *in, void **out)
{
	*out = NULL;
	return SYM(e, syscall_fn)(SYS_munmap, (long)in, (long)page_size()) == -1 ? -1 : 0;
}

static int c_sys_brk(E *e, void *in, void **out)
{
	(void)in;
	*out = NULL;
	return SYM(e, syscall_fn)(SYS_brk, 0L) == -1 ? -1 : 0;
}

/* ---- the table ---------------------------------------------------------- */

/* A heap row: fn, kind, bytes, what the call works on, how it is called. */
#define HEAP(fn, kind, bytes, setup, call)                                     \
	{ #fn, AUDIT_##kind, bytes, (void (*)(void))fn, setup, call, release_block }
/* An OS row: fn (as named), the symbol, kind, setup, call, cleanup. */
#define OS(name, sym, kind, setup, call, cleanup)                              \
	{ name, AUDIT_##kind, 0, (void (*)(void))sym, setup, call, cleanup }

const struct entry entries[] = {
	HEAP(malloc, MALLOC, 24, NULL, c_malloc),
	HEAP(calloc, CALLOC, 24, NULL, c_calloc),
	HEAP(realloc, REALLOC, 24, small_block, c_realloc),
	HEAP(reallocarray, REALLOCARRAY, 24, small_block, c_reallocarray),
	HEAP(free, FREE, 0, small_block, c_free),
	HEAP(posix_memalign, POSIX_MEMALIGN, 24, NULL, c_posix_memalign),
	HEAP(aligned_alloc, ALIGNED_ALLOC, 64, NULL, c_aligned_alloc),
	HEAP(memalign, MEMALIGN, 24, NULL, c_memalign),
	HEAP(valloc, VALLOC, 24, NULL, c_malloc),
	HEAP(pvalloc, PVALLOC, 24, NULL, c_malloc),

	HEAP(__libc_malloc, MALLOC, 24, NULL, c_malloc),
	HEAP(__libc_calloc, CALLOC, 24, NULL, c_calloc),
	HEAP(__libc_realloc, REALLOC, 24, small_block, c_realloc),
	HEAP(__libc_reallocarray, REALLOCARRAY, 24, small_block, c_reallocarray),
	HEAP(__libc_free, FREE, 0, small_block, c_free),
	HEAP(__libc_memalign, MEMALIGN, 24, NULL, c_memalign),
	HEAP(__libc_valloc, VALLOC, 24, NULL, c_malloc),
	HEAP(__libc_pvalloc, PVALLOC, 24, NULL, c_malloc),

	OS("mmap", mmap, MMAP, NULL, c_mmap, unmap_one),
	OS("mmap64", mmap64, MMAP, NULL, c_mmap, unmap_one),
	OS("__mmap", __mmap, MMAP, NULL, c_mmap, unmap_one),
	OS("mremap", mremap, MREMAP, one_page, c_mremap, unmap_two),
	OS("munmap", munmap, MUNMAP, one_page, c_munmap, unmap_one),
	OS("__munmap", __munmap, MUNMAP, one_page, c_munmap, unmap_one),
	OS("brk", brk, BRK, NULL, c_brk, NULL),
	OS("sbrk", sbrk, SBRK, NULL, c_sbrk, NULL),
	OS("__sbrk", __sbrk, SBRK, NULL, c_sbrk, NULL),
	OS("syscall(SYS_mmap)", syscall, MMAP, NULL, c_sys_mmap, unmap_one),
	OS("syscall(SYS_mremap)", syscall, MREMAP, one_page, c_sys_mremap, unmap_two),
	OS("syscall(SYS_munmap)", syscall, MUNMAP, one_page, c_sys_munmap, unmap_one),
	OS("syscall(SYS_brk)", syscall, BRK, NULL, c_sys_brk, NULL),
};
const size_t n_entries = sizeof entries / sizeof entries[0];
_Static_assert(sizeof entries / sizeof entries[0] == ENTRY_COUNT,
	       "ENTRY_COUNT (entries.h) must be the number of rows of entries[]");

const struct entry *entry_find(const char *fn)
{
	for (size_t i = 0; i < n_entries; i++)
		if (strcmp(entries[i].fn, fn) == 0)
			return &entries[i];
	return NULL;
}

void *entry_setup(const struct entry *e)
{
	(void)page_size(); /* sysconf outside the window */
	return e->setup ? e->setup() : NULL;
}

void entry_cleanup(const struct entry *e, void *in, void *out, int rc)
{
	/* a failed realloc, mremap, free or munmap leaves its input in place */
	if (rc != 0 && in && in != out) {
		if (e->setup == small_block)
			release_block(in);
		else if (e->setup == one_page)
			unmap_one(in);
	}
	if (e->cleanup && out)
		e->cleanup(out);
}
