/*
 * preload.c — the exported hooks of libaudit.so.
 *
 * Each hook only forwards to the real glibc function and reports what
 * happened to the core (core.h describes the protocol).  With no window
 * open the exported function is a pass-through of a dozen instructions
 * that tail-calls glibc (_audit_pass); the full hook runs out of line only
 * when a window counts, the hook is re-entered, or before start-up.  The
 * only other thing here is getting hold of the real functions:
 * dlsym(RTLD_NEXT) on first use, with the allocations dlsym itself makes
 * served from a static buffer, and the memory system calls made directly,
 * because at that moment there is no real malloc or mmap to call yet.
 */
#define _GNU_SOURCE
/* Meson builds with -D_FILE_OFFSET_BITS=64, under which <sys/mman.h>
 * renames mmap to mmap64 (__REDIRECT): our `mmap` would then define the
 * symbol mmap64 twice and leave mmap unhooked.  Nothing here needs the
 * redirection (off_t is 64 bits on every LP64 target). */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

typedef void *mmap_fn(void *, size_t, int, int, int, off_t);
typedef int munmap_fn(void *, size_t);
typedef void *sbrk_fn(intptr_t);

/* What each exported name would have bound to without us.  The __libc_*
 * aliases, __mmap, __munmap and __sbrk get their own slot instead of
 * sharing the public name's: in glibc they are the same code, but whatever
 * sits between us and libc (another preloaded allocator, or jemalloc's
 * glibc override, which defines __libc_malloc and friends itself) may
 * define one name and not the other, and a caller that pairs
 * __libc_malloc with __libc_free must keep getting the pair it would have
 * got.  Forwarding each name to dlsym(RTLD_NEXT, <that name>) keeps the
 * interposer invisible; the public function is only the fallback for a
 * libc that does not export the alias at all. */
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

	void *(*libc_malloc)(size_t);
	void *(*libc_calloc)(size_t, size_t);
	void *(*libc_realloc)(void *, size_t);
	void *(*libc_reallocarray)(void *, size_t, size_t);
	void (*libc_free)(void *);
	void *(*libc_memalign)(size_t, size_t);
	void *(*libc_valloc)(size_t);
	void *(*libc_pvalloc)(size_t);

	mmap_fn *mmap, *mmap64, *libc_mmap;
	void *(*mremap)(void *, size_t, size_t, int, ...);
	munmap_fn *munmap, *libc_munmap;
	int (*brk)(void *);
	sbrk_fn *sbrk, *libc_sbrk;
	long (*syscall)(long, ...);
} real;
static int ready;

/* The blocking hooks' real functions (one slot per exported name, typed
 * from libc's own declarations), filled by resolve_blocking(). */
#define SLOT(name) __typeof__(name) *name
static struct {
	SLOT(pthread_mutex_lock); SLOT(pthread_mutex_trylock); SLOT(pthread_mutex_timedlock);
	SLOT(pthread_rwlock_rdlock); SLOT(pthread_rwlock_tryrdlock);
	SLOT(pthread_rwlock_timedrdlock); SLOT(pthread_rwlock_wrlock);
	SLOT(pthread_rwlock_trywrlock); SLOT(pthread_rwlock_timedwrlock);
	SLOT(pthread_cond_wait); SLOT(pthread_cond_timedwait);
	SLOT(sem_wait); SLOT(sem_timedwait); SLOT(pthread_join);
	SLOT(nanosleep); SLOT(clock_nanosleep); SLOT(usleep); SLOT(sleep);
	SLOT(read); SLOT(write); SLOT(poll); SLOT(select); SLOT(epoll_wait);
	SLOT(accept); SLOT(accept4); SLOT(connect);
	SLOT(recv); SLOT(recvfrom); SLOT(recvmsg); SLOT(send); SLOT(sendto); SLOT(sendmsg);
	SLOT(fsync);
	int (*open)(const char *, int, ...);
	int (*open64)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*openat64)(int, const char *, int, ...);
} blk;
#undef SLOT

/* ---- system calls without libc ------------------------------------------ */

/* Used only before resolve() has finished, for an mmap-family call or a
 * syscall() that reaches a hook while the real functions are not known:
 * libc's syscall() cannot serve it (it is one of the hooked names, so a
 * call to it from here would come straight back), and neither dlsym nor
 * anything else may be asked first. */
static long raw_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ __volatile__("syscall"
			     : "=a"(ret)
			     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			       "r"(r9)
			     : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ __volatile__("svc 0"
			     : "+r"(x0)
			     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			     : "memory");
	return x0;
#else
#error "raw_syscall6: add this architecture's system-call sequence"
#endif
}

/* libc's convention: -1 (or MAP_FAILED) and errno instead of -errno. */
static long raw_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
	long r = raw_syscall6(nr, a, b, c, d, e, f);
	if ((unsigned long)r > -4096UL) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

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

/* An alias glibc exports (see `real` for why it is looked up by its own
 * name); `fallback` when the libc behind us does not have it. */
static void *find_alias(const char *name, void *fallback)
{
	void *f = dlsym(RTLD_NEXT, name);
	return f ? f : fallback;
}

static void resolve_blocking(void)
{
#define FIND(name) (*(void **)&blk.name = must_find(#name))
	FIND(pthread_mutex_lock); FIND(pthread_mutex_trylock); FIND(pthread_mutex_timedlock);
	FIND(pthread_rwlock_rdlock); FIND(pthread_rwlock_tryrdlock);
	FIND(pthread_rwlock_timedrdlock); FIND(pthread_rwlock_wrlock);
	FIND(pthread_rwlock_trywrlock); FIND(pthread_rwlock_timedwrlock);
	FIND(pthread_cond_wait); FIND(pthread_cond_timedwait);
	FIND(sem_wait); FIND(sem_timedwait); FIND(pthread_join);
	FIND(nanosleep); FIND(clock_nanosleep); FIND(usleep); FIND(sleep);
	FIND(read); FIND(write); FIND(poll); FIND(select); FIND(epoll_wait);
	FIND(accept); FIND(accept4); FIND(connect);
	FIND(recv); FIND(recvfrom); FIND(recvmsg); FIND(send); FIND(sendto); FIND(sendmsg);
	FIND(fsync); FIND(open); FIND(open64); FIND(openat); FIND(openat64);
#undef FIND
}

/* Called with the thread marked in_hook, so dlsym's own allocations come
 * back through the hooks as _AUDIT_NESTED and land in boot_buf (and an
 * mmap it made through our symbol would be a raw system call).  Several
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

	real.libc_malloc = find_alias("__libc_malloc", real.malloc);
	real.libc_calloc = find_alias("__libc_calloc", real.calloc);
	real.libc_realloc = find_alias("__libc_realloc", real.realloc);
	real.libc_reallocarray = find_alias("__libc_reallocarray", real.reallocarray);
	real.libc_free = find_alias("__libc_free", real.free);
	real.libc_memalign = find_alias("__libc_memalign", real.memalign);
	real.libc_valloc = find_alias("__libc_valloc", real.valloc);
	real.libc_pvalloc = find_alias("__libc_pvalloc", real.pvalloc);

	real.mmap = must_find("mmap");
	real.mmap64 = find_alias("mmap64", real.mmap);
	real.libc_mmap = find_alias("__mmap", real.mmap);
	real.mremap = must_find("mremap");
	real.munmap = must_find("munmap");
	real.libc_munmap = find_alias("__munmap", real.munmap);
	real.brk = must_find("brk");
	real.sbrk = must_find("sbrk");
	real.libc_sbrk = find_alias("__sbrk", real.sbrk);
	real.syscall = must_find("syscall");
	resolve_blocking();

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

/* ---- heap hooks --------------------------------------------------------- */

/* The full hooks take the slot of the function to forward to (the public
 * name's or the alias's) rather than its value: before resolve() the slot
 * is still empty, and it is read only after enter() has filled it. */

static __attribute__((noinline)) void *
malloc_hooked(void *(*const *fn)(size_t), size_t size)
{
	int mode = enter(AUDIT_MALLOC);
	if (mode == _AUDIT_NESTED)
		return is_ready() ? (*fn)(size) : boot_alloc(0, size);
	void *p = (*fn)(size);
	if (mode == _AUDIT_COUNT)
		_audit_count(AUDIT_MALLOC, size, usable(p));
	_audit_leave();
	return p;
}

AUDIT_PUBLIC void *malloc(size_t size)
{
	if (pass(AUDIT_MALLOC))
		return real.malloc(size);
	return malloc_hooked(&real.malloc, size);
}

AUDIT_PUBLIC void *__libc_malloc(size_t size)
{
	if (pass(AUDIT_MALLOC))
		return real.libc_malloc(size);
	return malloc_hooked(&real.libc_malloc, size);
}

static __attribute__((noinline)) void *
calloc_hooked(void *(*const *fn)(size_t, size_t), size_t nmemb, size_t size)
{
	int mode = enter(AUDIT_CALLOC);
	if (mode == _AUDIT_NESTED) {
		if (is_ready())
			return (*fn)(nmemb, size);
		size_t n;
		if (__builtin_mul_overflow(nmemb, size, &n))
			return enomem();
		return boot_alloc(0, n);
	}
	void *p = (*fn)(nmemb, size);
	if (mode == _AUDIT_COUNT)
		_audit_count(AUDIT_CALLOC, product(nmemb, size), usable(p));
	_audit_leave();
	return p;
}

AUDIT_PUBLIC void *calloc(size_t nmemb, size_t size)
{
	if (pass(AUDIT_CALLOC))
		return real.calloc(nmemb, size);
	return calloc_hooked(&real.calloc, nmemb, size);
}

AUDIT_PUBLIC void *__libc_calloc(size_t nmemb, size_t size)
{
	if (pass(AUDIT_CALLOC))
		return real.libc_calloc(nmemb, size);
	return calloc_hooked(&real.libc_calloc, nmemb, size);
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

static __attribute__((noinline)) void *
realloc_hooked(void *(*const *fn)(void *, size_t), void *old, size_t size)
{
	int mode = enter(AUDIT_REALLOC);
	if (mode == _AUDIT_NESTED)
		return is_ready() && !is_boot(old) ? (*fn)(old, size)
						   : boot_realloc(old, size);
	int64_t before = mode == _AUDIT_COUNT ? usable(old) : 0;
	void *p = is_boot(old) ? boot_realloc(old, size) : (*fn)(old, size);
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
	return realloc_hooked(&real.realloc, old, size);
}

AUDIT_PUBLIC void *__libc_realloc(void *old, size_t size)
{
	if (pass(AUDIT_REALLOC))
		return real.libc_realloc(old, size);
	return realloc_hooked(&real.libc_realloc, old, size);
}

/* No pass-through: glibc's reallocarray (and __libc_reallocarray, the
 * same code) calls realloc, which must come back here as nested. */
static void *reallocarray_hooked(void *(*const *fn)(void *, size_t, size_t),
				 void *old, size_t nmemb, size_t size)
{
	int mode = enter(AUDIT_REALLOCARRAY);
	size_t n;
	bool overflow = __builtin_mul_overflow(nmemb, size, &n);

	if (mode == _AUDIT_NESTED) {
		if (is_ready() && !is_boot(old))
			return (*fn)(old, nmemb, size);
		return overflow ? enomem() : boot_realloc(old, n);
	}
	int64_t before = mode == _AUDIT_COUNT ? usable(old) : 0;
	void *p;
	if (!is_boot(old))
		p = (*fn)(old, nmemb, size);
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

AUDIT_PUBLIC void *reallocarray(void *old, size_t nmemb, size_t size)
{
	return reallocarray_hooked(&real.reallocarray, old, nmemb, size);
}

AUDIT_PUBLIC void *__libc_reallocarray(void *old, size_t nmemb, size_t size)
{
	return reallocarray_hooked(&real.libc_reallocarray, old, nmemb, size);
}

static __attribute__((noinline)) void free_hooked(void (*const *fn)(void *),
						  void *p)
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
			(*fn)(p);
		return;
	}
	/* errno is not saved here: glibc's free preserves it (2.33+), and
	 * _audit_count preserves it; an errno round trip (a call into libc)
	 * per free was a measurable part of the pass-through cost. */
	int64_t before = mode == _AUDIT_COUNT ? usable(p) : 0;
	(*fn)(p);
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
	free_hooked(&real.free, p);
}

AUDIT_PUBLIC void __libc_free(void *p)
{
	if (pass(AUDIT_FREE)) {
		real.libc_free(p);
		return;
	}
	free_hooked(&real.libc_free, p);
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

/* aligned_alloc and memalign (and __libc_memalign) share one full hook. */
static __attribute__((noinline)) void *
aligned_hooked(enum audit_kind kind, void *(*const *fn)(size_t, size_t),
	       size_t align, size_t size)
{
	int mode = enter(kind);
	if (mode == _AUDIT_NESTED)
		return is_ready() ? (*fn)(align, size) : boot_alloc(align, size);
	void *p = (*fn)(align, size);
	if (mode == _AUDIT_COUNT)
		_audit_count(kind, size, usable(p));
	_audit_leave();
	return p;
}

#define ALIGNED_HOOK(name, slot, KIND)                                        \
	AUDIT_PUBLIC void *name(size_t align, size_t size)                    \
	{                                                                     \
		if (pass(KIND))                                               \
			return real.slot(align, size);                        \
		return aligned_hooked(KIND, &real.slot, align, size);         \
	}

ALIGNED_HOOK(aligned_alloc, aligned_alloc, AUDIT_ALIGNED_ALLOC)
ALIGNED_HOOK(memalign, memalign, AUDIT_MEMALIGN)
ALIGNED_HOOK(__libc_memalign, libc_memalign, AUDIT_MEMALIGN)

/* valloc and pvalloc (and their __libc_ aliases): page-aligned blocks. */
static __attribute__((noinline)) void *
page_hooked(enum audit_kind kind, void *(*const *fn)(size_t), size_t size)
{
	int mode = enter(kind);
	if (mode == _AUDIT_NESTED)
		return is_ready() ? (*fn)(size) : boot_alloc(4096, size);
	void *p = (*fn)(size);
	if (mode == _AUDIT_COUNT)
		_audit_count(kind, size, usable(p));
	_audit_leave();
	return p;
}

#define PAGE_HOOK(name, slot, KIND)                                           \
	AUDIT_PUBLIC void *name(size_t size)                                  \
	{                                                                     \
		if (pass(KIND))                                               \
			return real.slot(size);                               \
		return page_hooked(KIND, &real.slot, size);                   \
	}

PAGE_HOOK(valloc, valloc, AUDIT_VALLOC)
PAGE_HOOK(__libc_valloc, libc_valloc, AUDIT_VALLOC)
PAGE_HOOK(pvalloc, pvalloc, AUDIT_PVALLOC)
PAGE_HOOK(__libc_pvalloc, libc_pvalloc, AUDIT_PVALLOC)

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

/* ---- OS hooks ----------------------------------------------------------- */

/* Memory asked of the kernel through libc.  Counted as calls only (no
 * bytes, no live_peak): audit.h says which entry points and why.  glibc's
 * own uses (malloc growing its heap, pthread stacks, the loader) call
 * these internally, not through our symbols, so they are never seen here.
 * Before resolve() has finished a nested call (one made by dlsym) is a
 * raw system call; brk and sbrk then fail instead, because glibc keeps
 * the current break in a variable of its own (__curbrk) that moving the
 * break behind its back would make wrong. */

static __attribute__((noinline)) void *
mmap_hooked(mmap_fn *const *fn, void *addr, size_t len, int prot, int flags,
	    int fd, off_t off)
{
	int mode = enter(AUDIT_MMAP);
	if (mode == _AUDIT_NESTED) {
		if (is_ready())
			return (*fn)(addr, len, prot, flags, fd, off);
		return (void *)raw_syscall(SYS_mmap, (long)addr, (long)len, prot,
					   flags, fd, (long)off);
	}
	void *p = (*fn)(addr, len, prot, flags, fd, off);
	if (mode == _AUDIT_COUNT)
		_audit_count(AUDIT_MMAP, 0, 0);
	_audit_leave();
	return p;
}

#define MMAP_HOOK(name, slot)                                                 \
	AUDIT_PUBLIC void *name(void *addr, size_t len, int prot, int flags,  \
				int fd, off_t off)                            \
	{                                                                     \
		if (pass(AUDIT_MMAP))                                         \
			return real.slot(addr, len, prot, flags, fd, off);    \
		return mmap_hooked(&real.slot, addr, len, prot, flags, fd,    \
				   off);                                      \
	}

MMAP_HOOK(mmap, mmap)
MMAP_HOOK(mmap64, mmap64)
MMAP_HOOK(__mmap, libc_mmap)

static __attribute__((noinline)) void *
mremap_hooked(void *old, size_t old_size, size_t new_size, int flags,
	      void *new_addr)
{
	int mode = enter(AUDIT_MREMAP);
	if (mode == _AUDIT_NESTED) {
		if (is_ready())
			return real.mremap(old, old_size, new_size, flags, new_addr);
		return (void *)raw_syscall(SYS_mremap, (long)old, (long)old_size,
					   (long)new_size, flags, (long)new_addr, 0);
	}
	void *p = real.mremap(old, old_size, new_size, flags, new_addr);
	if (mode == _AUDIT_COUNT)
		_audit_count(AUDIT_MREMAP, 0, 0);
	_audit_leave();
	return p;
}

/* The fifth argument exists only with MREMAP_FIXED (the kernel ignores it
 * otherwise), so it is read only then: reading an argument the caller did
 * not pass is undefined. */
AUDIT_PUBLIC void *mremap(void *old, size_t old_size, size_t new_size,
			  int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (pass(AUDIT_MREMAP))
		return real.mremap(old, old_size, new_size, flags, new_addr);
	return mremap_hooked(old, old_size, new_size, flags, new_addr);
}

static __attribute__((noinline)) int munmap_hooked(munmap_fn *const *fn,
						   void *addr, size_t len)
{
	int mode = enter(AUDIT_MUNMAP);
	if (mode == _AUDIT_NESTED) {
		if (is_ready())
			return (*fn)(addr, len);
		return (int)raw_syscall(SYS_munmap, (long)addr, (long)len, 0, 0,
					0, 0);
	}
	int rc = (*fn)(addr, len);
	if (mode == _AUDIT_COUNT)
		_audit_count(AUDIT_MUNMAP, 0, 0);
	_audit_leave();
	return rc;
}

AUDIT_PUBLIC int munmap(void *addr, size_t len)
{
	if (pass(AUDIT_MUNMAP))
		return real.munmap(addr, len);
	return munmap_hooked(&real.munmap, addr, len);
}

AUDIT_PUBLIC int __munmap(void *addr, size_t len)
{
	if (pass(AUDIT_MUNMAP))
		return real.libc_munmap(addr, len);
	return munmap_hooked(&real.libc_munmap, addr, len);
}

static __attribute__((noinline)) int brk_hooked(void *addr)
{
	int mode = enter(AUDIT_BRK);
	if (mode == _AUDIT_NESTED) {
		if (is_ready())
			return real.brk(addr);
		errno = ENOMEM;
		return -1;
	}
	int rc = real.brk(addr);
	if (mode == _AUDIT_COUNT)
		_audit_count(AUDIT_BRK, 0, 0);
	_audit_leave();
	return rc;
}

AUDIT_PUBLIC int brk(void *addr)
{
	if (pass(AUDIT_BRK))
		return real.brk(addr);
	return brk_hooked(addr);
}

static __attribute__((noinline)) void *sbrk_hooked(sbrk_fn *const *fn,
						   intptr_t increment)
{
	int mode = enter(AUDIT_SBRK);
	if (mode == _AUDIT_NESTED) {
		if (is_ready())
			return (*fn)(increment);
		errno = ENOMEM;
		return (void *)-1;
	}
	void *p = (*fn)(increment);
	if (mode == _AUDIT_COUNT)
		_audit_count(AUDIT_SBRK, 0, 0);
	_audit_leave();
	return p;
}

AUDIT_PUBLIC void *sbrk(intptr_t increment)
{
	if (pass(AUDIT_SBRK))
		return real.sbrk(increment);
	return sbrk_hooked(&real.sbrk, increment);
}

AUDIT_PUBLIC void *__sbrk(intptr_t increment)
{
	if (pass(AUDIT_SBRK))
		return real.libc_sbrk(increment);
	return sbrk_hooked(&real.libc_sbrk, increment);
}

/* syscall(): the four memory numbers and SYS_futex (Rust's std and many C
 * libraries wait and wake through syscall(SYS_futex, ...)) are hooks;
 * every other number is forwarded untouched and costs one switch. */
static int syscall_kind(long nr)
{
	switch (nr) {
	case SYS_futex:
		return AUDIT_FUTEX;
	case SYS_mmap:
		return AUDIT_MMAP;
	case SYS_mremap:
		return AUDIT_MREMAP;
	case SYS_munmap:
		return AUDIT_MUNMAP;
	case SYS_brk:
		return AUDIT_BRK;
	default:
		return -1;
	}
}

static long forward_syscall(long nr, const long *a)
{
	if (__builtin_expect(!is_ready(), 0))
		return raw_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	return real.syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static __attribute__((noinline)) long syscall_hooked(int kind, long nr,
						     const long *a)
{
	int mode = enter((enum audit_kind)kind);
	if (mode == _AUDIT_NESTED)
		return forward_syscall(nr, a);
	long r = real.syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (mode == _AUDIT_COUNT)
		_audit_count((enum audit_kind)kind, 0, 0);
	_audit_leave();
	return r;
}

/* Variadic: the caller passes as many arguments as its system call takes.
 * Six are read, as glibc's own syscall() does — on the supported ABIs
 * reading one that was not passed yields an unspecified register or stack
 * word, which the kernel ignores for a call that takes fewer. */
AUDIT_PUBLIC long syscall(long nr, ...)
{
	long a[6];
	va_list ap;
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);

	int kind = syscall_kind(nr);
	if (kind < 0)
		return forward_syscall(nr, a);
	if (kind >= AUDIT_MEMORY_KINDS ? _audit_pass_blocking() : pass((enum audit_kind)kind))
		return real.syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	return syscall_hooked(kind, nr, a);
}

/* ---- blocking hooks ----------------------------------------------------- */

/* Calls that can block or take a lock (audit.h's blocking kinds): counted
 * as calls only, like the OS kinds, and never in the fast windows.  The
 * pass-through tail-calls libc as the allocator hooks do.  A nested call
 * (from dlsym, libunwind's own locking, anything the interposer runs) is
 * forwarded uncounted; before resolve() has finished there is nothing to
 * forward it to, which only dlsym could cause, and glibc's does not. */
static __attribute__((noreturn, noinline)) void unresolved(const char *name)
{
	_audit_die("", name, " was called from inside the interposer before the "
		   "real functions were resolved", NULL);
}

#define BLOCKING_HOOK(vis, ret, name, slot, KIND, params, args)               \
	static __attribute__((noinline)) ret name##_hooked params             \
	{                                                                     \
		int mode = enter(KIND);                                       \
		if (__builtin_expect(!is_ready(), 0))                         \
			unresolved(#name);                                    \
		if (mode == _AUDIT_NESTED)                                    \
			return blk.slot args;                                 \
		ret res_ = blk.slot args;                                     \
		if (mode == _AUDIT_COUNT)                                     \
			_audit_count(KIND, 0, 0);                             \
		_audit_leave();                                               \
		return res_;                                                  \
	}                                                                     \
	vis ret name params                                                   \
	{                                                                     \
		if (_audit_pass_blocking())                                   \
			return blk.slot args;                                 \
		return name##_hooked args;                                    \
	}
#define HOOK(ret, name, KIND, params, args)                                    \
	BLOCKING_HOOK(AUDIT_PUBLIC, ret, name, name, KIND, params, args)

HOOK(int, pthread_mutex_lock, AUDIT_MUTEX_LOCK, (pthread_mutex_t *m), (m))
HOOK(int, pthread_mutex_trylock, AUDIT_MUTEX_TRYLOCK, (pthread_mutex_t *m), (m))
HOOK(int, pthread_mutex_timedlock, AUDIT_MUTEX_TIMEDLOCK,
     (pthread_mutex_t *restrict m, const struct timespec *restrict t), (m, t))
HOOK(int, pthread_rwlock_rdlock, AUDIT_RWLOCK_RDLOCK, (pthread_rwlock_t *l), (l))
HOOK(int, pthread_rwlock_tryrdlock, AUDIT_RWLOCK_TRYRDLOCK, (pthread_rwlock_t *l), (l))
HOOK(int, pthread_rwlock_timedrdlock, AUDIT_RWLOCK_TIMEDRDLOCK,
     (pthread_rwlock_t *restrict l, const struct timespec *restrict t), (l, t))
HOOK(int, pthread_rwlock_wrlock, AUDIT_RWLOCK_WRLOCK, (pthread_rwlock_t *l), (l))
HOOK(int, pthread_rwlock_trywrlock, AUDIT_RWLOCK_TRYWRLOCK, (pthread_rwlock_t *l), (l))
HOOK(int, pthread_rwlock_timedwrlock, AUDIT_RWLOCK_TIMEDWRLOCK,
     (pthread_rwlock_t *restrict l, const struct timespec *restrict t), (l, t))
HOOK(int, pthread_cond_wait, AUDIT_COND_WAIT,
     (pthread_cond_t *restrict c, pthread_mutex_t *restrict m), (c, m))
HOOK(int, pthread_cond_timedwait, AUDIT_COND_TIMEDWAIT,
     (pthread_cond_t *restrict c, pthread_mutex_t *restrict m,
      const struct timespec *restrict t), (c, m, t))
HOOK(int, sem_wait, AUDIT_SEM_WAIT, (sem_t *s), (s))
HOOK(int, sem_timedwait, AUDIT_SEM_TIMEDWAIT,
     (sem_t *restrict s, const struct timespec *restrict t), (s, t))
HOOK(int, pthread_join, AUDIT_JOIN, (pthread_t th, void **ret), (th, ret))
HOOK(int, nanosleep, AUDIT_NANOSLEEP, (const struct timespec *req, struct timespec *rem),
     (req, rem))
HOOK(int, clock_nanosleep, AUDIT_CLOCK_NANOSLEEP,
     (clockid_t clk, int flags, const struct timespec *req, struct timespec *rem),
     (clk, flags, req, rem))
HOOK(int, usleep, AUDIT_USLEEP, (useconds_t us), (us))
HOOK(unsigned, sleep, AUDIT_SLEEP, (unsigned s), (s))
HOOK(ssize_t, read, AUDIT_READ, (int fd, void *buf, size_t n), (fd, buf, n))
HOOK(ssize_t, write, AUDIT_WRITE, (int fd, const void *buf, size_t n), (fd, buf, n))
HOOK(int, poll, AUDIT_POLL, (struct pollfd *fds, nfds_t n, int ms), (fds, n, ms))
HOOK(int, select, AUDIT_SELECT,
     (int n, fd_set *restrict r, fd_set *restrict w, fd_set *restrict x,
      struct timeval *restrict t), (n, r, w, x, t))
HOOK(int, epoll_wait, AUDIT_EPOLL_WAIT, (int ep, struct epoll_event *ev, int n, int ms),
     (ep, ev, n, ms))
HOOK(int, accept, AUDIT_ACCEPT, (int fd, __SOCKADDR_ARG a, socklen_t *restrict l), (fd, a, l))
HOOK(int, accept4, AUDIT_ACCEPT, (int fd, __SOCKADDR_ARG a, socklen_t *restrict l, int f),
     (fd, a, l, f))
HOOK(int, connect, AUDIT_CONNECT, (int fd, __CONST_SOCKADDR_ARG a, socklen_t l), (fd, a, l))
HOOK(ssize_t, recv, AUDIT_RECV, (int fd, void *buf, size_t n, int f), (fd, buf, n, f))
HOOK(ssize_t, recvfrom, AUDIT_RECVFROM,
     (int fd, void *restrict buf, size_t n, int f, __SOCKADDR_ARG a, socklen_t *restrict l),
     (fd, buf, n, f, a, l))
HOOK(ssize_t, recvmsg, AUDIT_RECVMSG, (int fd, struct msghdr *msg, int f), (fd, msg, f))
HOOK(ssize_t, send, AUDIT_SEND, (int fd, const void *buf, size_t n, int f), (fd, buf, n, f))
HOOK(ssize_t, sendto, AUDIT_SENDTO,
     (int fd, const void *buf, size_t n, int f, __CONST_SOCKADDR_ARG a, socklen_t l),
     (fd, buf, n, f, a, l))
HOOK(ssize_t, sendmsg, AUDIT_SENDMSG, (int fd, const struct msghdr *msg, int f), (fd, msg, f))
HOOK(int, fsync, AUDIT_FSYNC, (int fd), (fd))

/* open and openat take a mode only when the flags create a file (O_CREAT,
 * O_TMPFILE); it is read only then, as glibc does. */
static mode_t open_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

BLOCKING_HOOK(static inline, int, open_, open, AUDIT_OPEN, (const char *p, int f, mode_t m), (p, f, m))
BLOCKING_HOOK(static inline, int, open64_, open64, AUDIT_OPEN, (const char *p, int f, mode_t m), (p, f, m))
BLOCKING_HOOK(static inline, int, openat_, openat, AUDIT_OPENAT, (int d, const char *p, int f, mode_t m),
	      (d, p, f, m))
BLOCKING_HOOK(static inline, int, openat64_, openat64, AUDIT_OPENAT, (int d, const char *p, int f, mode_t m),
	      (d, p, f, m))

#define OPEN_HOOK(name)                                                       \
	AUDIT_PUBLIC int name(const char *path, int flags, ...)               \
	{                                                                     \
		va_list ap;                                                   \
		va_start(ap, flags);                                          \
		mode_t m = open_mode(flags, ap);                              \
		va_end(ap);                                                   \
		return name##_(path, flags, m);                               \
	}
#define OPENAT_HOOK(name)                                                     \
	AUDIT_PUBLIC int name(int dir, const char *path, int flags, ...)      \
	{                                                                     \
		va_list ap;                                                   \
		va_start(ap, flags);                                          \
		mode_t m = open_mode(flags, ap);                              \
		va_end(ap);                                                   \
		return name##_(dir, path, flags, m);                          \
	}
OPEN_HOOK(open)
OPEN_HOOK(open64)
OPENAT_HOOK(openat)
OPENAT_HOOK(openat64)
