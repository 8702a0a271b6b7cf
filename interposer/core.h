/*
 * core.h — internal interface between the exported shim (preload.c) and
 * the counting core (core.c).  Not installed, not part of audit.h.
 *
 * Naming: `audit_` is public (audit.h), `_audit_` is internal to
 * libaudit.so (hidden by -fvisibility=hidden and audit.map), everything
 * else is static.
 *
 * Protocol for one hooked call (every hook in preload.c follows it):
 *
 *     int mode = _audit_enter(kind);
 *     if (mode == _AUDIT_NESTED)      -> forward to the real function (or the
 *                                        bootstrap buffer) and return; do not
 *                                        call _audit_leave()
 *     ... call the real function ...
 *     if (mode == _AUDIT_COUNT)       -> _audit_count(...)
 *     _audit_leave();
 *
 * Between _audit_enter() and _audit_leave() the calling thread is marked
 * "inside the hook": any hooked call it makes meanwhile (from dlsym, from
 * libunwind, which maps its caches with syscall(SYS_mmap), or from a glibc
 * function that calls another public allocator function internally, e.g.
 * reallocarray -> realloc) is forwarded without being counted, so each
 * user-visible call counts once.  The same mark keeps the interposer's
 * own work (window API, stack capture) out of the counts; core.c's
 * unwinder leaves no per-thread state whose clean-up could run later,
 * outside any hook.
 *
 * The OS hooks (mmap family, brk/sbrk, syscall() with a memory number)
 * and the blocking hooks (locks, waits, sleeps, blocking I/O, syscall()
 * with SYS_futex) follow the same protocol with bytes = 0 and
 * live_delta = 0.
 *
 * Thread-safety: all functions may be called from any thread; they take
 * no lock and never allocate.
 */
#ifndef FRAME_ALLOC_AUDIT_CORE_H
#define FRAME_ALLOC_AUDIT_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"

#define AUDIT_PUBLIC __attribute__((visibility("default")))

enum {
	_AUDIT_NESTED, /* re-entrant call: forward only */
	_AUDIT_QUIET,  /* outermost call, no window wants it */
	_AUDIT_COUNT,  /* outermost call, a window is counting */
};

/* Why initial-exec: the default (global-dynamic) model may call
 * __tls_get_addr, which can allocate the first time a thread touches the
 * block — from inside malloc.  libaudit.so is loaded at start-up by
 * LD_PRELOAD, so its TLS is always in the static block. */
#define IE_TLS __thread __attribute__((tls_model("initial-exec")))

/* Everything the hook path reads or writes for the calling thread, in one
 * block (one TLS offset for the whole hook).  Defined in core.c. */
struct _audit_tls {
	union {
		struct {
			int in_hook;  /* inside a hook, or inside the window API */
			int counting; /* this thread's per-thread window is open */
		};
		uint64_t busy; /* both at once: one test on the pass-through */
	};
	struct audit_thread_counts tc; /* audit_thread_state() */
};
extern IE_TLS struct _audit_tls _audit_tls __attribute__((visibility("hidden")));

/* Process-wide reasons for every hook to take the full path, in one word
 * so that the pass-through tests them with one load:
 * _AUDIT_SLOW_START until preload.c has resolved the real functions,
 * _AUDIT_SLOW_ALL while the AUDIT_ALL_THREADS window is open (any
 * thread's calls count), _AUDIT_SLOW_BOOT for good once preload.c has
 * handed out a bootstrap block (never, with glibc 2.36 under LD_PRELOAD).
 * Changed with __atomic read-modify-writes. */
#define _AUDIT_SLOW_START 1
#define _AUDIT_SLOW_ALL 2
#define _AUDIT_SLOW_BOOT 4
extern int _audit_slow __attribute__((visibility("hidden")));

/* Test-only build switch (audit.h): compiled with -DAUDIT_SELFTEST_EXTERN
 * (once, into a static library: broken/meson.build) the library never
 * counts the one kind audit_selftest_uncounted names — no window and no
 * fast-window counter sees it, while the hook still forwards.  Each
 * libaudit-broken-KIND.so links that library with a one-line
 * broken/kind.c that defines the variable (and checks its range).  It
 * exists to prove that the gate's self-test notices a broken counter; the
 * shipped libaudit.so is built without it, and then _AUDIT_IGNORED() is
 * the constant 0 (every hook passes a constant kind, so the test folds
 * away). */
#ifdef AUDIT_SELFTEST_EXTERN
extern const int audit_selftest_uncounted __attribute__((visibility("hidden")));
#define _AUDIT_IGNORED(kind) ((int)(kind) == audit_selftest_uncounted)
#else
#define _AUDIT_IGNORED(kind) 0
#endif

/* `kind` is the audit_kind of the hooked call, or _AUDIT_UNCOUNTED for
 * entries that are not allocator calls (start-up, malloc_usable_size).  An
 * outermost counted call bumps the thread's fast-window counters
 * (audit_thread_state) before anything else: frees for AUDIT_FREE, allocs
 * for every other memory kind, OS kinds included (the blocking kinds
 * touch neither).  Inline: with no window open
 * this and _audit_leave() are the whole cost of the interposer. */
#define _AUDIT_UNCOUNTED AUDIT_KIND_COUNT
static inline int _audit_enter(int kind)
{
	struct _audit_tls *t = &_audit_tls;
	if (t->in_hook)
		return _AUDIT_NESTED;
	t->in_hook = 1;
	if (!_AUDIT_IGNORED(kind)) {
		if (kind == AUDIT_FREE)
			t->tc.frees++;
		else if (kind < AUDIT_MEMORY_KINDS)
			t->tc.allocs++;
	}
	if (t->counting ||
	    (__atomic_load_n(&_audit_slow, __ATOMIC_ACQUIRE) & _AUDIT_SLOW_ALL))
		return _AUDIT_COUNT;
	return _AUDIT_QUIET;
}

/* The pass-through test: true when no window can want this call and the
 * hook is not re-entered, i.e. the hook may jump straight to the real
 * function without marking the thread (a tail call, no frame).  Bumps the
 * fast-window counters like _audit_enter() when it says yes.  Only for
 * functions whose glibc implementation never calls a public allocator
 * function back (everything but reallocarray, which calls realloc). */
static inline int _audit_pass(int kind)
{
	struct _audit_tls *t = &_audit_tls;
	if (__builtin_expect(t->busy != 0, 0) ||
	    __builtin_expect(__atomic_load_n(&_audit_slow, __ATOMIC_ACQUIRE) != 0, 0))
		return 0;
	if (_AUDIT_IGNORED(kind))
		return 1;
	if (kind == AUDIT_FREE)
		t->tc.frees++;
	else
		t->tc.allocs++;
	return 1;
}

/* The pass-through test of a blocking kind's hook: as _audit_pass, but
 * the fast-window counters (allocator calls only) are left alone. */
static inline int _audit_pass_blocking(void)
{
	return __builtin_expect(_audit_tls.busy == 0, 1) &&
	       __builtin_expect(__atomic_load_n(&_audit_slow, __ATOMIC_ACQUIRE) == 0, 1);
}

static inline void _audit_leave(void)
{
	_audit_tls.in_hook = 0;
}

/* Records one counted call.  `bytes` is the size requested (already 0 for
 * an overflowing nmemb*size); `live_delta` is usable bytes gained (positive)
 * or released (negative) by the call; both are 0 for the OS kinds, which
 * add to neither bytes nor live_peak.  Preserves errno. */
void _audit_count(enum audit_kind kind, uint64_t bytes, int64_t live_delta);

/* One-time setup, called from the shim's constructor after the real
 * functions are resolved: options, fork handler, libunwind warm-up. */
void _audit_core_init(void);

/* Async-signal-safe diagnostics: "libaudit: " + the NULL-terminated
 * pieces + "\n" written to stderr with write(2).  Preserves errno. */
void _audit_say(const char *first, ...) __attribute__((sentinel));
/* The calling thread's kernel thread id (gettid()), cached per thread;
 * the cache is dropped in a fork() child.  Async-signal-safe, never
 * allocates, and goes through no hooked function. */
int32_t _audit_tid(void);
/* Decimal rendering into a caller-supplied buffer (>= 21 bytes). */
const char *_audit_u64(char *buf, uint64_t v);
/* Writes a message with _audit_say() and aborts. */
void _audit_die(const char *first, ...) __attribute__((sentinel, noreturn));

#endif
