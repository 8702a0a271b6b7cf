/*
 * preload.c — the exported allocator hooks of libaudit.so.
 *
 * Each hook only forwards to the real glibc function and reports what
 * happened to the core (core.h describes the protocol).  With no window
 * open the exported function is a pass-through of a dozen instructions
 * that tail-calls glibc (_audit_pass); the full hook runs out of line only
 * when a window counts, the hook is re-entered, or before start-up.  The only other
 * thing here is getting hold of the real functions: dlsym(RTLD_NEXT) on
 * first use, with the allocations dlsym itself makes served from a static
 * buffer, because at that moment there is no real malloc to call yet.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static struct {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*reallocarray)(void *, size_t, size_t);
	void (*free)(void *);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	size_t (*malloc_usable_size)(void *);
} real;
static int ready;

/* ---- bootstrap buffer --------------------------------------------------- */

/* glibc's dlsym may calloc() an error buffer; nothing else allocates before
 * the real functions are known, so a few KiB suffice.  Blocks are never
 * reused: free() of one is a no-op. */
#define BOOT_SIZE 8192
#define BOOT_ALIGN 16
static alignas(64) unsigned char boot_buf[BOOT_SIZE];
static size_t boot_used;

struct boot_hdr {
	size_t size;
	size_t pad;
};

static bool is_boot(const void *p)
{
	/* one unsigned compare: below boot_buf wraps around to a huge value */
	return (uintptr_t)p - (uintptr_t)boot_buf < BOOT_SIZE;
}

static size_t boot_size(const void *p)
{
	return ((const struct boot_hdr *)p - 1)->size;
}

/* Lock-free bump allocation: two threads may bootstrap at once. */
static void *boot_alloc(size_t align, size_t size)
{
	size_t old, start, end;

	if (align < BOOT_ALIGN)
		align = BOOT_ALIGN;
	old = __atomic_load_n(&boot_used, __ATOMIC_RELAXED);
	do {
		start = (old + sizeof(struct boot_hdr) + align - 1) & ~(align - 1);
		if (size > BOOT_SIZE || start + size > BOOT_SIZE) {
			_audit_say("bootstrap buffer exhausted; returning NULL",
				   NULL);
			errno = ENOMEM;
			return NULL;
		}
		end = start + size;
	} while (!__atomic_compare_exchange_n(&boot_used, &old, end, true,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	/* From now on every hook takes the full path, which knows bootstrap
	 * blocks; the pass-through never checks for them.  Release: whoever
	 * receives this block sees the bit too. */
	__atomic_fetch_or(&_audit_slow, _AUDIT_SLOW_BOOT, __ATOMIC_RELEASE);
	((struct boot_hdr *)(boot_buf + start) - 1)->size = size;
	return boot_buf + start; /* static storage: already zero */
}

static void *enomem(void)
{
	errno = ENOMEM;
	return NULL;
}

/* ---- real functions ----------------------------------------------------- */

static void *must_find(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f)
		_audit_die("cannot find the real ", name,
			   " with dlsym(RTLD_NEXT)", NULL);
	return f;
}

/* Called with the thread marked in_hook, so dlsym's own allocations come
 * back through the hooks as _AUDIT_NESTED and land in boot_buf.  Several
 * threads may race here; they store identical values. */
static void resolve(void)
{
	real.malloc = must_find("malloc");
	real.calloc = must_find("calloc");
	real.realloc = must_find("realloc");
	real.reallocarray = must_find("reallocarray");
	real.free = must_find("free");
	real.posix_memalign = must_find("posix_memalign");
	real.aligned_alloc = must_find("aligned_alloc");
	real.memalign = must_find("memalign");
	real.valloc = must_find("valloc");
	real.pvalloc = must_find("pvalloc");
	real.malloc_usable_size = must_find("malloc_usable_size");
	__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	__atomic_fetch_and(&_audit_slow, ~_AUDIT_SLOW_START, __ATOMIC_RELEASE);
}

static inline bool is_ready(void)
{
	return __atomic_load_n(&ready, __ATOMIC_ACQUIRE);
}

/* Usable size as the live-bytes accounting sees it: bootstrap blocks were
 * never counted as live, so they do not count when released either. */
static int64_t usable(void *p)
{
	if (!p || is_boot(p))
		return 0;
	return (int64_t)real.malloc_usable_size(p);
}

/* nmemb * size as audit.h counts it: 0 when it overflows. */
static uint64_t product(size_t a, size_t b)
{
	size_t r;
	return __builtin_mul_overflow(a, b, &r) ? 0 : r;
}

__attribute__((constructor)) static void preload_init(void)
{
	int mode = _audit_enter(_AUDIT_UNCOUNTED);
	if (!is_ready())
		resolve();
	if (mode != _AUDIT_NESTED)
		_audit_leave();
	_audit_core_init();
}

/* Enter the hook; resolves the real functions on the very first call.
 * Returns the mode from _audit_enter(). */
static inline int enter(enum audit_kind kind)
{
	int mode = _audit_enter((int)kind);
	if (mode != _AUDIT_NESTED && !is_ready())
		resolve();
	return mode;
}

/* The no-window fast path of a hook: forward with a tail call (see
 * _audit_pass in core.h; until resolve() clears _AUDIT_SLOW_START the full
 * path runs, because resolving needs the thread marked, and once a
 * bootstrap block exists _AUDIT_SLOW_BOOT sends every call to the full
 * path, so that free/realloc here never see such a block). */
static inline bool pass(enum audit_kind kind)
{
	return _audit_pass((int)kind);
}

/* ---- hooks -------------------------------------------------------------- */

static __attribute__((noinline)) void *malloc_hooked(size_t size)
{
	int mode = enter(AUDIT_MALLOC);
	if (mode == _AUDIT_NESTED)
		return is_ready() ? real.malloc(size) : boot_alloc(0, size);
	void *p = real.malloc(size);
	if (mode == _AUDIT_COUNT)
		_audit_count(AUDIT_MALLOC, size, usable(p));
	_audit_leave();
	return p;
}

AUDIT_PUBLIC void *malloc(size_t size)
{
	if (pass(AUDIT_MALLOC))
		return real.malloc(size);
	return malloc_hooked(size);
}

static __attribute__((noinline)) void *calloc_hooked(size_t nmemb, size_t size)
{
	int mode = enter(AUDIT_CALLOC);
	if (mode == _AUDIT_NESTED) {
		if (is_ready())
			return real.calloc(nmemb, size);
		size_t n;
		if (__builtin_mul_overflow(nmemb, size, &n))
			return enomem();
		return boot_alloc(0, n);
	}
	void *p = real.calloc(nmemb, size);
	if (mode == _AUDIT_COUNT)
		_audit_count(AUDIT_CALLOC, product(nmemb, size), usable(p));
	_audit_leave();
	return p;
}

AUDIT_PUBLIC void *calloc(size_t nmemb, size_t size)
{
	if (pass(AUDIT_CALLOC))
		return real.calloc(nmemb, size);
	return calloc_hooked(nmemb, size);
}

/* realloc of a bootstrap block: move it to the real heap (or, while still
 * bootstrapping, to a new bootstrap block).  The old block is not freed. */
static void *boot_realloc(void *old, size_t size)
{
	void *p = is_ready() ? real.malloc(size) : boot_alloc(0, size);
	if (p && old) {
		size_t n = boot_size(old);
		memcpy(p, old, n < size ? n : size);
	}
	return p;
}

static __attribute__((noinline)) void *realloc_hooked(void *old, size_t size)
{
	int mode = enter(AUDIT_REALLOC);
	if (mode == _AUDIT_NESTED)
		return is_ready() && !is_boot(old) ? real.realloc(old, size)
						   : boot_realloc(old, size);
	int64_t before = mode == _AUDIT_COUNT ? usable(old) : 0;
	void *p = is_boot(old) ? boot_realloc(old, size) : real.realloc(old, size);
	if (mode == _AUDIT_COUNT) {
		/* glibc: realloc(p, 0) frees p and returns NULL; any other NULL
		 * is a failure that leaves the old block alone. */
		int64_t delta = p ? usable(p) - before : (size == 0 ? -before : 0);
		_audit_count(AUDIT_REALLOC, size, delta);
	}
	_audit_leave();
	return p;
}

AUDIT_PUBLIC void *realloc(void *old, size_t size)
{
	if (pass(AUDIT_REALLOC))
		return real.realloc(old, size);
	return realloc_hooked(old, size);
}

AUDIT_PUBLIC void *reallocarray(void *old, size_t nmemb, size_t size)
{
	int mode = enter(AUDIT_REALLOCARRAY);
	size_t n;
	bool overflow = __builtin_mul_overflow(nmemb, size, &n);

	if (mode == _AUDIT_NESTED) {
		if (is_ready() && !is_boot(old))
			return real.reallocarray(old, nmemb, size);
		return overflow ? enomem() : boot_realloc(old, n);
	}
	int64_t before = mode == _AUDIT_COUNT ? usable(old) : 0;
	void *p;
	if (!is_boot(old))
		p = real.reallocarray(old, nmemb, size);
	else
		p = overflow ? enomem() : boot_realloc(old, n);
	if (mode == _AUDIT_COUNT) {
		/* as for realloc, a NULL result for a zero total size freed old */
		int64_t delta = p ? usable(p) - before
				  : (!overflow && n == 0 ? -before : 0);
		_audit_count(AUDIT_REALLOCARRAY, overflow ? 0 : n, delta);
	}
	_audit_leave();
	return p;
}

static __attribute__((noinline)) void free_hooked(void *p)
{
	int mode = enter(AUDIT_FREE);
	if (__builtin_expect(is_boot(p), 0)) {
		/* never handed to the real free; counted like any other call */
		if (mode == _AUDIT_COUNT)
			_audit_count(AUDIT_FREE, 0, 0);
		if (mode != _AUDIT_NESTED)
			_audit_leave();
		return;
	}
	if (mode == _AUDIT_NESTED) {
		if (p && is_ready())
			real.free(p);
		return;
	}
	/* errno is not saved here: glibc's free preserves it (2.33+), and
	 * _audit_count preserves it; an errno round trip (a call into libc)
	 * per free was a measurable part of the pass-through cost. */
	int64_t before = mode == _AUDIT_COUNT ? usable(p) : 0;
	real.free(p);
	if (mode == _AUDIT_COUNT)
		_audit_count(AUDIT_FREE, 0, -before);
	_audit_leave();
}

AUDIT_PUBLIC void free(void *p)
{
	if (pass(AUDIT_FREE)) {
		real.free(p);
		return;
	}
	free_hooked(p);
}

static __attribute__((noinline)) int posix_memalign_hooked(void **out, size_t align, size_t size)
{
	int mode = enter(AUDIT_POSIX_MEMALIGN);
	if (mode == _AUDIT_NESTED) {
		if (is_ready())
			return real.posix_memalign(out, align, size);
		void *p = boot_alloc(align, size);
		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	int rc = real.posix_memalign(out, align, size);
	if (mode == _AUDIT_COUNT)
		_audit_count(AUDIT_POSIX_MEMALIGN, size, rc == 0 ? usable(*out) : 0);
	_audit_leave();
	return rc;
}

AUDIT_PUBLIC int posix_memalign(void **out, size_t align, size_t size)
{
	if (pass(AUDIT_POSIX_MEMALIGN))
		return real.posix_memalign(out, align, size);
	return posix_memalign_hooked(out, align, size);
}

/* The memalign-style and page-aligned functions share one shape: the
 * exported pass-through, then the full hook out of line (as for malloc). */
#define ALIGNED_HOOK(name, KIND)                                              \
	static void *name##_hooked(size_t align, size_t size);                \
	AUDIT_PUBLIC void *name(size_t align, size_t size)                    \
	{                                                                     \
		if (pass(KIND))                                               \
			return real.name(align, size);                        \
		return name##_hooked(align, size);                            \
	}                                                                     \
	static __attribute__((noinline)) void *name##_hooked(size_t align,   \
							      size_t size)    \
	{                                                                     \
		int mode = enter(KIND);                                       \
		if (mode == _AUDIT_NESTED)                                    \
			return is_ready() ? real.name(align, size)            \
					  : boot_alloc(align, size);          \
		void *p = real.name(align, size);                             \
		if (mode == _AUDIT_COUNT)                                     \
			_audit_count(KIND, size, usable(p));                  \
		_audit_leave();                                               \
		return p;                                                     \
	}

ALIGNED_HOOK(aligned_alloc, AUDIT_ALIGNED_ALLOC)
ALIGNED_HOOK(memalign, AUDIT_MEMALIGN)

#define PAGE_HOOK(name, KIND)                                                 \
	static void *name##_hooked(size_t size);                              \
	AUDIT_PUBLIC void *name(size_t size)                                  \
	{                                                                     \
		if (pass(KIND))                                               \
			return real.name(size);                               \
		return name##_hooked(size);                                   \
	}                                                                     \
	static __attribute__((noinline)) void *name##_hooked(size_t size)    \
	{                                                                     \
		int mode = enter(KIND);                                       \
		if (mode == _AUDIT_NESTED)                                    \
			return is_ready() ? real.name(size)                   \
					  : boot_alloc(4096, size);           \
		void *p = real.name(size);                                    \
		if (mode == _AUDIT_COUNT)                                     \
			_audit_count(KIND, size, usable(p));                  \
		_audit_leave();                                               \
		return p;                                                     \
	}

PAGE_HOOK(valloc, AUDIT_VALLOC)
PAGE_HOOK(pvalloc, AUDIT_PVALLOC)

/* Not counted; exported so that a bootstrap block (which glibc never saw)
 * is not handed to glibc's malloc_usable_size. */
AUDIT_PUBLIC size_t malloc_usable_size(void *p)
{
	if (is_boot(p))
		return boot_size(p);
	if (!is_ready()) {
		int mode = _audit_enter(_AUDIT_UNCOUNTED);
		if (mode == _AUDIT_NESTED)
			return 0;
		resolve();
		_audit_leave();
	}
	return real.malloc_usable_size(p);
}
