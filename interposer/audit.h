/*
 * audit.h — public API of the frame-alloc-audit malloc interposer.
 *
 * libaudit.so is loaded with LD_PRELOAD.  It hooks the glibc allocation
 * family, and the calls that can block or take a lock (locks, waits,
 * sleeps, blocking I/O: the blocking kinds below), and counts calls inside
 * *windows*: a window is opened and closed
 * by the measuring thread around exactly the code under test (one
 * construction or one dispatch).
 *
 * Clients must NOT link against libaudit.so: linking would make the
 * interposer present even when the user forgot LD_PRELOAD, and the whole
 * point of the calibration check is to notice that.  Resolve the entry
 * points at run time with dlsym(RTLD_DEFAULT, ...) — audit_api_resolve()
 * below does that — and treat a missing symbol as "interposer not loaded".
 *
 * Counting rules (pinned down by interposer/tests):
 *   - calls[kind] counts every call made to that function while the window
 *     is open, whatever its arguments or result: free(NULL) is one
 *     AUDIT_FREE call, a calloc that fails with ENOMEM is one AUDIT_CALLOC
 *     call, realloc(NULL, n) and realloc(p, 0) are one AUDIT_REALLOC call.
 *   - allocs is the sum of calls[] over the heap kinds except AUDIT_FREE;
 *     os is the sum over the OS kinds (AUDIT_MMAP .. AUDIT_SBRK); blocking
 *     the sum over the blocking kinds (AUDIT_MEMORY_KINDS ..).  A
 *     must-be-zero window wants allocs, frees and os all 0; a non-blocking
 *     one wants blocking 0 too.
 *   - frees counts calls to free() (NULL included).  A realloc never counts
 *     as a free, whatever it does internally.
 *   - bytes is the sum of the sizes requested (calloc: nmemb*size, or 0 on
 *     overflow; realloc/reallocarray: the new size; memalign family: size).
 *   - live_peak is the highest value, during the window, of
 *     (usable bytes allocated in the window - usable bytes freed in it);
 *     it is 0 when the window only frees.
 *   - An OS kind (mmap ... sbrk) adds to calls[] and os only, never to
 *     bytes or live_peak: one mmap call is one call, whatever it maps.
 *   - malloc_usable_size is passed through and never counted.
 *   - A blocking call counts in the window that was open when it began;
 *     in an AUDIT_ALL_THREADS window only if the window is still open
 *     when the call returns (a wait that began before the open, or
 *     returns after the close, is not the window's).
 *
 * Threads: by default a window counts only the thread that opened it
 * (initial-exec TLS, no destructors), so Criterion's IPC thread cannot
 * pollute it.  AUDIT_ALL_THREADS counts every thread's calls between open
 * and close (process-wide atomic counters; one such window at a time).
 *
 * fork(): the child starts with no window open and zeroed counters.
 *
 * Thread-safety: every function may be called from any thread; a window
 * belongs to the thread that opened it and must be closed by that thread.
 * Windows do not nest: opening an open window restarts it.
 *
 * Nothing in the hook path allocates or takes a lock the hook path could
 * re-enter.
 *
 * Signal handlers: a handler that allocates while its thread is inside a
 * hook (the re-entrancy guard is set) has its calls forwarded to glibc
 * uncounted; anywhere else its calls count like any other call of that
 * thread (interposer/tests/test_stress.c pins both down).  The interposer
 * takes no lock, but glibc's allocator itself is not async-signal-safe.
 *
 * Fast windows (audit_thread_state, audit_fast_open/close below) answer
 * only "how many allocator (and OS memory) calls and frees did this
 * thread make in between", at the cost of two loads per edge: the whole window is inline
 * in the client and the interposer does no work for it.  Use them where
 * the full window's call + zeroing + copy would distort the measurement;
 * on a non-zero result, repeat with a full window for kinds, bytes and
 * the stack.
 *
 * Environment (read once at load): AUDIT_VERBOSE=1 logs start-up and each
 * window close to stderr.  AUDIT_CAPTURE_STACK unwinds with a privately
 * dlopen()ed libunwind.so.8; under Valgrind memcheck use
 * interposer/libunwind.supp.  What the interposer does for itself
 * (resolving, unwinding — libunwind maps its caches with
 * syscall(SYS_mmap)) is never counted.
 *
 * Test-only variants: BUILD/interposer/broken/libaudit-broken-<kind>.so is
 * built with -DAUDIT_SELFTEST_EXTERN and a kind index and never counts that
 * one kind (core.h); it exists to prove that the self-tests notice a
 * broken counter, says so at load under AUDIT_VERBOSE, and must never
 * stand in for libaudit.so in a real audit.
 */
#ifndef FRAME_ALLOC_AUDIT_H
#define FRAME_ALLOC_AUDIT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 3: the blocking kinds (AUDIT_MEMORY_KINDS ..), counts.blocking, the
 * call-site table (audit_window_sites, counts.nsites, counts.sites_lost)
 * and audit_api.sites.  The indices of the version 2 kinds are unchanged;
 * struct audit_counts grew (calls[] is longer), so a version 2 client
 * must be rebuilt. */
#define AUDIT_API_VERSION 3

/* What a window counts.  The first AUDIT_HEAP_KINDS are glibc's heap
 * allocator family; glibc's exported aliases of them (__libc_malloc,
 * __libc_calloc, __libc_realloc, __libc_free, __libc_memalign,
 * __libc_valloc, __libc_pvalloc, __libc_reallocarray) are hooked too and
 * counted under the public function's kind.  The rest are memory asked of
 * the kernel through libc: every call of mmap/mmap64/__mmap (anonymous or
 * file-backed), mremap, munmap/__munmap, brk, sbrk/__sbrk, and the same
 * requests made through libc's syscall(SYS_mmap | SYS_mremap | SYS_munmap |
 * SYS_brk, ...).  Not counted, and cannot be from a preload: a raw
 * `syscall` instruction, stack growth (the kernel extends the stack on
 * touch, no call is made), and libc's or the dynamic loader's own internal
 * calls (glibc's malloc calling mmap for a large block is counted once, as
 * the malloc the caller made). */
enum audit_kind {
	AUDIT_MALLOC,
	AUDIT_CALLOC,
	AUDIT_REALLOC,
	AUDIT_REALLOCARRAY,
	AUDIT_FREE,
	AUDIT_POSIX_MEMALIGN,
	AUDIT_ALIGNED_ALLOC,
	AUDIT_MEMALIGN,
	AUDIT_VALLOC,
	AUDIT_PVALLOC,
	AUDIT_HEAP_KINDS,
	AUDIT_MMAP = AUDIT_HEAP_KINDS,
	AUDIT_MREMAP,
	AUDIT_MUNMAP,
	AUDIT_BRK,
	AUDIT_SBRK,
	AUDIT_MEMORY_KINDS,
	/* Calls that can block or take a lock (API version 3), counted in
	 * calls[] and `blocking`, never in allocs, frees, os or the fast
	 * windows.  Every call counts whatever its arguments or result (an
	 * uncontended pthread_mutex_lock is one call; read(-1, ...) too).
	 * Aliases counted under the kind: open64 -> AUDIT_OPEN, openat64 ->
	 * AUDIT_OPENAT, accept4 -> AUDIT_ACCEPT.  Not seen, and cannot be from
	 * a preload: a raw `syscall` instruction (inline assembly, or another
	 * libc's), libc's internal calls (glibc's malloc locking its arena,
	 * sleep() calling nanosleep: one call, of the function called), vDSO
	 * calls (clock_gettime, gettimeofday never enter libc's hooks), and
	 * spinning on atomics (an uncontended Rust std Mutex is one atomic
	 * compare-exchange and makes no call at all).  Not hooked: pread,
	 * pwrite, readv, writev, ppoll, pselect, epoll_pwait, the *_clock*
	 * variants and pthread_timedjoin_np, the _chk fortified wrappers. */
	AUDIT_MUTEX_LOCK = AUDIT_MEMORY_KINDS, /* pthread_mutex_lock */
	AUDIT_MUTEX_TRYLOCK,      /* pthread_mutex_trylock */
	AUDIT_MUTEX_TIMEDLOCK,    /* pthread_mutex_timedlock */
	AUDIT_RWLOCK_RDLOCK,      /* pthread_rwlock_rdlock */
	AUDIT_RWLOCK_TRYRDLOCK,   /* pthread_rwlock_tryrdlock */
	AUDIT_RWLOCK_TIMEDRDLOCK, /* pthread_rwlock_timedrdlock */
	AUDIT_RWLOCK_WRLOCK,      /* pthread_rwlock_wrlock */
	AUDIT_RWLOCK_TRYWRLOCK,   /* pthread_rwlock_trywrlock */
	AUDIT_RWLOCK_TIMEDWRLOCK, /* pthread_rwlock_timedwrlock */
	AUDIT_COND_WAIT,          /* pthread_cond_wait */
	AUDIT_COND_TIMEDWAIT,     /* pthread_cond_timedwait */
	AUDIT_SEM_WAIT,           /* sem_wait */
	AUDIT_SEM_TIMEDWAIT,      /* sem_timedwait */
	AUDIT_JOIN,               /* pthread_join */
	AUDIT_FUTEX,              /* syscall(SYS_futex, ...), any operation */
	AUDIT_NANOSLEEP,          /* nanosleep */
	AUDIT_CLOCK_NANOSLEEP,    /* clock_nanosleep */
	AUDIT_USLEEP,             /* usleep */
	AUDIT_SLEEP,              /* sleep */
	AUDIT_READ,               /* read */
	AUDIT_WRITE,              /* write */
	AUDIT_OPEN,               /* open, open64 */
	AUDIT_OPENAT,             /* openat, openat64 */
	AUDIT_POLL,               /* poll */
	AUDIT_SELECT,             /* select */
	AUDIT_EPOLL_WAIT,         /* epoll_wait */
	AUDIT_ACCEPT,             /* accept, accept4 */
	AUDIT_CONNECT,            /* connect */
	AUDIT_RECV,               /* recv */
	AUDIT_RECVFROM,           /* recvfrom */
	AUDIT_RECVMSG,            /* recvmsg */
	AUDIT_SEND,               /* send */
	AUDIT_SENDTO,             /* sendto */
	AUDIT_SENDMSG,            /* sendmsg */
	AUDIT_FSYNC,              /* fsync */
	AUDIT_KIND_COUNT
};

/* Window flags. */
#define AUDIT_THIS_THREAD 0u
#define AUDIT_ALL_THREADS 1u
/* Capture the call stack of the first counted call in the window, and of
 * every counted call into the window's call-site table (audit_window_sites;
 * the expensive part: one unwind per call; use it on windows that must
 * stay at zero). */
#define AUDIT_CAPTURE_STACK 2u

#define AUDIT_MAX_FRAMES 48
/* The call-site table (API version 3): distinct (kind, stack) pairs per
 * window, and the unwinds one window may make; calls past either bound
 * are counted in sites_lost instead. */
#define AUDIT_MAX_SITES 32
#define AUDIT_MAX_UNWINDS 4096

struct audit_counts {
	uint64_t calls[AUDIT_KIND_COUNT];
	uint64_t allocs;      /* heap kinds except free() */
	uint64_t frees;       /* calls to free() */
	uint64_t os;          /* OS kinds: mmap, mremap, munmap, brk, sbrk */
	uint64_t bytes;       /* bytes requested (heap kinds only) */
	uint64_t live_peak;   /* peak live usable bytes, window-relative */
	/* AUDIT_CAPTURE_STACK: return addresses of the first call seen
	 * (frames[0] is the hooked function's caller); nframes is 0 when
	 * nothing was captured. first_kind says which function it was,
	 * first_tid which thread made it (gettid(); 0 when no call was
	 * captured), opener_tid which thread opened the window (every open
	 * window, flag or not; 0 from closing a window that was not open):
	 * they differ when an AUDIT_ALL_THREADS window caught another
	 * thread's call. */
	uint32_t nframes;
	uint32_t first_kind;
	int32_t first_tid;
	int32_t opener_tid;
	uintptr_t frames[AUDIT_MAX_FRAMES];
	/* API version 3. */
	uint64_t blocking;   /* blocking kinds (AUDIT_MEMORY_KINDS ..) */
	/* AUDIT_CAPTURE_STACK: distinct sites in the window's call-site table
	 * (what audit_window_sites returns right after the close), and the
	 * counted calls no site accounts for (table full, unwind budget spent,
	 * no unwinder, another thread's capture window holding the table).
	 * The calls of the sites plus sites_lost are every counted call. */
	uint32_t nsites;
	uint32_t reserved;
	uint64_t sites_lost;
};

/* One call site of a capture window: `calls` calls of `kind` made from the
 * stack frames[0 .. nframes) (return addresses, frames[0] the hooked
 * function's caller), on any thread. */
struct audit_site {
	uint64_t calls;
	uint32_t kind;
	uint32_t nframes;
	uintptr_t frames[AUDIT_MAX_FRAMES];
};

/* Returns AUDIT_API_VERSION.  Exists only while libaudit.so is loaded. */
int audit_loaded(void);
/* Opens (or restarts) this thread's window. */
void audit_window_open(unsigned flags);
/* Closes this thread's window and stores its counts in *out.  Closing a
 * window that is not open stores zeros and returns -1; otherwise 0. */
int audit_window_close(struct audit_counts *out);
/* Human-readable name of a kind ("malloc", "pthread_mutex_lock", "futex",
 * ...); "?" when out of range. */
const char *audit_kind_name(unsigned kind);
/* The call-site table of the AUDIT_CAPTURE_STACK window this thread closed
 * last: copies up to `max` sites into out[], most calls first, identical
 * stacks merged, and returns how many (0: none; the close's nsites says
 * how many there are).  Returns -1 when this thread's last closed window
 * did not capture, or the table has been taken since: one process-wide
 * table serves one capture window at a time (the first opened; a capture
 * window opened while another is open gets no table and counts its calls
 * in sites_lost), so call it right after audit_window_close.  Lock-free,
 * never allocates (API version 3). */
int audit_window_sites(struct audit_site *out, unsigned max);

/* ---- fast windows ------------------------------------------------------ */

/* A thread's monotonic counters.  The interposer adds 1 on every outermost
 * allocator call the thread makes (the same calls a full window counts:
 * re-entrant calls from inside the interposer or from glibc's own
 * reallocarray -> realloc are not), open window or not.  Written only by
 * the owning thread; never reset, not even in a fork() child. */
struct audit_thread_counts {
	uint64_t allocs; /* every call except free(), OS kinds included */
	uint64_t frees;  /* calls to free() (NULL included) */
};

/* The calling thread's counters.  The pointer is valid on that thread for
 * as long as it lives; never NULL.  Exists only while libaudit.so is
 * loaded (resolve it with audit_fast_resolve). */
const struct audit_thread_counts *audit_thread_state(void);

/* One fast window: which thread block it reads, and the snapshot taken at
 * open (after close: the window's counts).  Belongs to one thread. */
struct audit_fast_window {
	const volatile struct audit_thread_counts *st;
	uint64_t allocs;
	uint64_t frees;
};

/* The compiler barriers keep the measured code between the two snapshots;
 * the loads are volatile so that they are neither merged nor hoisted. */
static inline void audit_fast_open(struct audit_fast_window *w)
{
	__asm__ __volatile__("" ::: "memory");
	w->allocs = w->st->allocs;
	w->frees = w->st->frees;
	__asm__ __volatile__("" ::: "memory");
}

/* Stores the window's allocs and frees in *w and returns their sum (0:
 * this thread made no allocator call since audit_fast_open). */
static inline uint64_t audit_fast_close(struct audit_fast_window *w)
{
	__asm__ __volatile__("" ::: "memory");
	w->allocs = w->st->allocs - w->allocs;
	w->frees = w->st->frees - w->frees;
	__asm__ __volatile__("" ::: "memory");
	return w->allocs + w->frees;
}

/* Run-time binding for clients that must not link libaudit.so. */
struct audit_api {
	int (*loaded)(void);
	void (*open)(unsigned flags);
	int (*close)(struct audit_counts *out);
	const char *(*kind_name)(unsigned kind);
	int (*sites)(struct audit_site *out, unsigned max); /* version 3 */
};

#ifdef AUDIT_WANT_RESOLVE
#include <dlfcn.h>
#include <stddef.h>
/* Fills *api from the already loaded libaudit.so.  Returns 0 on success,
 * -1 when the interposer is not loaded (any symbol missing). */
static inline int audit_api_resolve(struct audit_api *api)
{
	api->loaded = (int (*)(void))dlsym(RTLD_DEFAULT, "audit_loaded");
	api->open = (void (*)(unsigned))dlsym(RTLD_DEFAULT, "audit_window_open");
	api->close = (int (*)(struct audit_counts *))
		dlsym(RTLD_DEFAULT, "audit_window_close");
	api->kind_name = (const char *(*)(unsigned))
		dlsym(RTLD_DEFAULT, "audit_kind_name");
	api->sites = (int (*)(struct audit_site *, unsigned))
		dlsym(RTLD_DEFAULT, "audit_window_sites");
	if (!api->loaded || !api->open || !api->close || !api->kind_name ||
	    !api->sites)
		return -1;
	return api->loaded() == AUDIT_API_VERSION ? 0 : -1;
}

/* Binds *w to the calling thread's counters.  Returns 0, or -1 when the
 * interposer is not loaded; then w->st is NULL and opening the window
 * crashes instead of reading a zero nobody counted.  Call it on the thread
 * that will use the window. */
static inline int audit_fast_resolve(struct audit_fast_window *w)
{
	int (*loaded)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "audit_loaded");
	const struct audit_thread_counts *(*state)(void) =
		(const struct audit_thread_counts *(*)(void))
		dlsym(RTLD_DEFAULT, "audit_thread_state");
	w->st = NULL;
	w->allocs = w->frees = 0;
	if (!loaded || !state || loaded() != AUDIT_API_VERSION)
		return -1;
	w->st = state();
	return w->st ? 0 : -1;
}
#endif

#ifdef __cplusplus
}
#endif
#endif
