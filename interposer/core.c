/*
 * core.c — window state and counting for libaudit.so.
 *
 * The hook path (_audit_enter/_audit_count/_audit_leave) touches only
 * initial-exec TLS and process-wide atomics: no lock, no allocation, no
 * stdio.  The expensive operations, unwinding the stack for
 * AUDIT_CAPTURE_STACK and the gettid() system call behind first_tid (once
 * per thread, then cached), happen at most once per window.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

/* Why initial-exec: the default (global-dynamic) model may call
 * __tls_get_addr, which can allocate the first time a thread touches the
 * block — from inside malloc.  libaudit.so is loaded at start-up by
 * LD_PRELOAD, so its TLS is always in the static block. */

/* What a window counts, and the first call's stack when it captures one:
 * the same in the per-thread window (tw) and the all-threads one (gw).
 * frames comes last, so that opening a window need not clear it. */
struct counts {
	uint64_t calls[AUDIT_KIND_COUNT];
	uint64_t bytes;
	int64_t live;
	uint64_t live_peak;
	uint64_t sites_lost; /* counted calls the site table does not hold */
	uint32_t nframes;
	uint32_t first_kind;
	int32_t first_tid;
	uintptr_t frames[AUDIT_MAX_FRAMES];
};

struct window {
	bool open;
	unsigned flags;
	bool captured;
	bool has_sites; /* this capture window holds the site table */
	int32_t opener_tid;
	struct counts c; /* last: see struct counts */
};

/* Plain data only: a thread's block is reclaimed with its stack, so there
 * is no destructor to run and nothing to leak.  The hook path's per-thread
 * state is _audit_tls (core.h), shared with preload.c so that the hooks
 * test it inline. */
IE_TLS struct _audit_tls _audit_tls;
static IE_TLS struct window tw;
/* This thread's gettid(), 0 until first asked for (_audit_tid). */
static IE_TLS int32_t own_tid;
/* The site table's generation when this thread last closed a window that
 * held it (0: never); audit_window_sites answers only while it holds. */
static IE_TLS unsigned last_sites_gen;
int _audit_slow = _AUDIT_SLOW_START;

/* AUDIT_ALL_THREADS window.  Any thread's hook may update the counters,
 * so they are only touched with __atomic builtins.  The captured stack is
 * written by whichever thread wins CAP_WANTED -> CAP_BUSY and published by
 * the release store of CAP_DONE. */
enum { CAP_OFF, CAP_WANTED, CAP_BUSY, CAP_DONE };
static struct {
	int capture;
	int sites; /* the all-threads window holds the site table */
	struct counts c;
} gw;

/* ---- options: one table of AUDIT_* environment variables ---------------- */

static struct opt_entry {
	const char *name;
	long value;
} options[] = {
	{ "AUDIT_VERBOSE", 0 }, /* 1: log start-up and every window close to stderr */
};
enum { OPT_VERBOSE };

static void read_options(void)
{
	/* getenv() neither allocates nor locks. */
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
		const char *s = getenv(options[i].name);
		if (s && *s)
			options[i].value = strtol(s, NULL, 0);
	}
}

/* ---- diagnostics -------------------------------------------------------- */

const char *_audit_u64(char *buf, uint64_t v)
{
	char *p = buf + 20;
	*p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return p;
}

static size_t append(char *buf, size_t n, size_t cap, const char *s)
{
	while (s && *s && n < cap)
		buf[n++] = *s++;
	return n;
}

static void say_v(const char *first, va_list ap)
{
	char buf[512];
	size_t n = 0, cap = sizeof buf - 1;
	int saved = errno;

	n = append(buf, n, cap, "libaudit: ");
	n = append(buf, n, cap, first);
	for (const char *s; (s = va_arg(ap, const char *));)
		n = append(buf, n, cap, s);
	buf[n++] = '\n';
	for (size_t off = 0; off < n;) {
		ssize_t w = write(STDERR_FILENO, buf + off, n - off);
		if (w > 0)
			off += (size_t)w;
		else if (errno != EINTR)
			break;
	}
	errno = saved;
}

void _audit_say(const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	say_v(first, ap);
	va_end(ap);
}

void _audit_die(const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	say_v(first, ap);
	va_end(ap);
	abort();
}

/* gettid() is glibc's own system-call stub, not syscall(): it never comes
 * back through the syscall() hook, so asking for the id from inside a hook
 * neither recurses nor counts.  Cached because the full window API and the
 * capture path would otherwise pay one system call each time. */
int32_t _audit_tid(void)
{
	if (!own_tid)
		own_tid = (int32_t)gettid();
	return own_tid;
}

/* ---- stack capture ------------------------------------------------------ */

/* libunwind, from a private (RTLD_LOCAL) copy of libunwind.so.  Not
 * linked: the shared libunwind exports the _Unwind_* ABI, and as a
 * dependency of a preloaded library it would sit in the global scope in
 * front of libgcc_s for every Rust cdylib the harness dlopens; the static
 * libunwind.a is not position-independent.  The header only supplies the
 * types and the architecture's symbol names.
 *
 * Why a step loop and not unw_backtrace(): unw_backtrace keeps a
 * per-thread trace cache whose pthread-key destructor releases it with
 * syscall(SYS_munmap) when the thread exits — outside any hook, so an
 * all-threads window open at that moment counted the interposer's own
 * clean-up as the exiting thread's munmap.  unw_init_local/unw_step with
 * the default (global) caching policy leave nothing per thread. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#ifndef AUDIT_LIBUNWIND
#define AUDIT_LIBUNWIND "libunwind.so.8"
#endif
#define UNW_SYMBOL_(name) #name
#define UNW_SYMBOL(name) UNW_SYMBOL_(name) /* e.g. "_ULx86_64_step" */

static struct {
	int (*getcontext)(unw_context_t *);
	int (*init_local)(unw_cursor_t *, unw_context_t *);
	int (*step)(unw_cursor_t *);
	int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
} unw;

static void load_unwinder(void)
{
	void *h = dlopen(AUDIT_LIBUNWIND, RTLD_NOW | RTLD_LOCAL);
	if (h) {
		/* unw_getcontext is a function on x86-64 only; a macro
		 * elsewhere (and then this needs porting). */
		*(void **)&unw.getcontext = dlsym(h, UNW_SYMBOL(unw_tdep_getcontext));
		*(void **)&unw.init_local = dlsym(h, UNW_SYMBOL(unw_init_local));
		*(void **)&unw.step = dlsym(h, UNW_SYMBOL(unw_step));
		*(void **)&unw.get_reg = dlsym(h, UNW_SYMBOL(unw_get_reg));
	}
	if (!unw.getcontext || !unw.init_local || !unw.step || !unw.get_reg) {
		unw.getcontext = NULL;
		_audit_say("cannot load the unwinder from " AUDIT_LIBUNWIND
			   "; AUDIT_CAPTURE_STACK windows will report no frames",
			   NULL);
	}
}

/* The instruction pointers of the calling stack, innermost first (what
 * unw_backtrace returns).  noinline: the context must be this frame's. */
static __attribute__((noinline)) int backtrace_ips(void **ips, int max)
{
	unw_context_t uc;
	unw_cursor_t cur;
	unw_word_t ip;
	int n = 0;

	if (unw.getcontext(&uc) != 0 || unw.init_local(&cur, &uc) != 0)
		return 0;
	while (n < max && unw.get_reg(&cur, UNW_REG_IP, &ip) == 0) {
		ips[n++] = (void *)(uintptr_t)ip;
		if (unw.step(&cur) <= 0)
			break;
	}
	return n;
}

/* Address range of this library's executable segments, read from our own
 * program headers (no dl_iterate_phdr, no lock) on first use. */
extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));
static uintptr_t text_lo, text_hi;

static void find_own_text(void)
{
	const ElfW(Ehdr) *eh = &__ehdr_start;
	const ElfW(Phdr) *ph = (const void *)((const char *)eh + eh->e_phoff);
	uintptr_t bias = 0, lo = UINTPTR_MAX, hi = 0;

	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
			bias = (uintptr_t)eh - ph[i].p_vaddr;
			break;
		}
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
			continue;
		if (bias + ph[i].p_vaddr < lo)
			lo = bias + ph[i].p_vaddr;
		if (bias + ph[i].p_vaddr + ph[i].p_memsz > hi)
			hi = bias + ph[i].p_vaddr + ph[i].p_memsz;
	}
	__atomic_store_n(&text_hi, hi, __ATOMIC_RELAXED);
	__atomic_store_n(&text_lo, lo, __ATOMIC_RELAXED);
}

static bool in_own_text(uintptr_t a)
{
	return a >= __atomic_load_n(&text_lo, __ATOMIC_RELAXED) &&
	       a < __atomic_load_n(&text_hi, __ATOMIC_RELAXED);
}

/* Fills frames[] with return addresses starting at the hooked function's
 * caller.  Runs inside the hook (_audit_tls.in_hook set), so allocations libunwind
 * might make are forwarded uncounted.  The raw trace starts somewhere in
 * libunwind or in this library; everything up to and including the last of
 * our own frames is dropped. */
static uint32_t capture(uintptr_t *frames)
{
	void *raw[AUDIT_MAX_FRAMES + 16];
	int n, i = 0, start = 0;

	if (!unw.getcontext)
		return 0;
	if (!__atomic_load_n(&text_hi, __ATOMIC_RELAXED))
		find_own_text();
	n = backtrace_ips(raw, (int)(sizeof raw / sizeof raw[0]));
	while (i < n && !in_own_text((uintptr_t)raw[i]))
		i++;
	while (i < n && in_own_text((uintptr_t)raw[i]))
		start = ++i;
	uint32_t k = 0;
	for (i = start; i < n && k < AUDIT_MAX_FRAMES; i++)
		frames[k++] = (uintptr_t)raw[i];
	return k;
}

/* ---- the call-site table ------------------------------------------------ */

/* One process-wide table of distinct (kind, stack) sites, held by at most
 * one open AUDIT_CAPTURE_STACK window (sites.open) and read back by the
 * thread that opened it (audit_window_sites).  Lock-free: a new site
 * claims the next slot with a fetch-and-add and publishes it with a
 * release store of `ready`; a known site is one atomic add.  Two threads
 * adding the same new site at once may each claim a slot; the reader
 * merges identical slots.  Static storage: per-thread tables would put
 * AUDIT_MAX_SITES stacks in every thread's TLS. */
struct site_slot {
	int ready;
	uint32_t kind;
	uint32_t nframes;
	uint64_t hash;
	uint64_t calls;
	uintptr_t frames[AUDIT_MAX_FRAMES];
};

static struct {
	int open;        /* a capture window holds the table */
	int32_t owner;   /* gettid() of that window's opener */
	unsigned gen;    /* bumped at every claim */
	unsigned used;   /* slots claimed; may run past AUDIT_MAX_SITES */
	unsigned unwinds; /* unwinds made for the table in this window */
	struct site_slot slot[AUDIT_MAX_SITES];
} sites;

static uint64_t site_hash(uint32_t kind, const uintptr_t *frames, uint32_t n)
{
	uint64_t h = 1469598103934665603ull ^ kind;
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ frames[i]) * 1099511628211ull;
	return h;
}

static bool same_site(const struct site_slot *a, uint32_t kind, const uintptr_t *frames,
		      uint32_t n)
{
	if (a->kind != kind || a->nframes != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (a->frames[i] != frames[i])
			return false;
	return true;
}

/* Takes the table for the window being opened (false: another capture
 * window holds it).  `mine`: the calling thread's previous window held it
 * (a restart keeps it). */
static bool sites_claim(bool mine)
{
	int idle = 0;
	if (!mine && !__atomic_compare_exchange_n(&sites.open, &idle, 1, false,
						  __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return false;
	for (int i = 0; i < AUDIT_MAX_SITES; i++)
		__atomic_store_n(&sites.slot[i].ready, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&sites.used, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&sites.unwinds, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&sites.owner, _audit_tid(), __ATOMIC_RELAXED);
	__atomic_add_fetch(&sites.gen, 1, __ATOMIC_RELEASE);
	return true;
}

static void sites_release(void)
{
	__atomic_store_n(&sites.open, 0, __ATOMIC_RELEASE);
}

/* One more unwind for the table, within the window's budget? */
static bool sites_budget(void)
{
	return __atomic_fetch_add(&sites.unwinds, 1, __ATOMIC_RELAXED) < AUDIT_MAX_UNWINDS;
}

/* Counts one call at its site; false when the table is full. */
static bool sites_add(uint32_t kind, const uintptr_t *frames, uint32_t n)
{
	uint64_t h = site_hash(kind, frames, n);
	unsigned used = __atomic_load_n(&sites.used, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < used && i < AUDIT_MAX_SITES; i++) {
		struct site_slot *sl = &sites.slot[i];
		if (__atomic_load_n(&sl->ready, __ATOMIC_ACQUIRE) && sl->hash == h &&
		    same_site(sl, kind, frames, n)) {
			__atomic_add_fetch(&sl->calls, 1, __ATOMIC_RELAXED);
			return true;
		}
	}
	unsigned i = __atomic_fetch_add(&sites.used, 1, __ATOMIC_ACQ_REL);
	if (i >= AUDIT_MAX_SITES)
		return false;
	struct site_slot *sl = &sites.slot[i];
	sl->kind = kind;
	sl->nframes = n;
	sl->hash = h;
	memcpy(sl->frames, frames, n * sizeof frames[0]);
	__atomic_store_n(&sl->calls, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->ready, 1, __ATOMIC_RELEASE);
	return true;
}

/* The distinct sites of the table, most calls first: idx[k] is the slot of
 * the k-th, tot[k] its calls with identical slots merged.  Returns how
 * many.  Read only after the window closed. */
static unsigned sites_merged(unsigned *idx, uint64_t *tot)
{
	unsigned n = 0, used = __atomic_load_n(&sites.used, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < used && i < AUDIT_MAX_SITES; i++) {
		const struct site_slot *sl = &sites.slot[i];
		if (!__atomic_load_n(&sl->ready, __ATOMIC_ACQUIRE))
			continue;
		uint64_t calls = __atomic_load_n(&sl->calls, __ATOMIC_RELAXED);
		unsigned k = 0;
		while (k < n && !same_site(&sites.slot[idx[k]], sl->kind, sl->frames, sl->nframes))
			k++;
		if (k == n) {
			idx[n] = i;
			tot[n++] = 0;
		}
		tot[k] += calls;
	}
	for (unsigned a = 1; a < n; a++) /* insertion sort, stable: first seen first */
		for (unsigned b = a; b > 0 && tot[b] > tot[b - 1]; b--) {
			unsigned ti = idx[b];
			uint64_t tt = tot[b];
			idx[b] = idx[b - 1], tot[b] = tot[b - 1];
			idx[b - 1] = ti, tot[b - 1] = tt;
		}
	return n;
}

/* ---- hook path ---------------------------------------------------------- */

/* What a capture window does with one counted call: the stack, unwound at
 * most once, becomes the window's first stack (`first`: not captured yet)
 * and is counted at its site (`table`: the window holds the table).
 * Returns false when the call's site could not be recorded. */
static bool capture_call(uint32_t kind, bool first, bool table, uintptr_t *frames,
			 uint32_t *n)
{
	bool unwind = (table && sites_budget()) || first;
	*n = unwind ? capture(frames) : 0;
	return table && unwind && *n && sites_add(kind, frames, *n);
}

static void count_thread(enum audit_kind kind, uint64_t bytes, int64_t delta)
{
	tw.c.calls[kind]++;
	tw.c.bytes += bytes;
	tw.c.live += delta;
	if (tw.c.live > 0 && (uint64_t)tw.c.live > tw.c.live_peak)
		tw.c.live_peak = (uint64_t)tw.c.live;
	if (!(tw.flags & AUDIT_CAPTURE_STACK))
		return;
	uintptr_t frames[AUDIT_MAX_FRAMES];
	uint32_t n;
	bool first = !tw.captured;
	if (!capture_call(kind, first, tw.has_sites, frames, &n))
		tw.c.sites_lost++;
	if (first) {
		tw.captured = true;
		tw.c.first_kind = kind;
		tw.c.first_tid = _audit_tid();
		tw.c.nframes = n;
		memcpy(tw.c.frames, frames, n * sizeof frames[0]);
	}
}

static void count_global(enum audit_kind kind, uint64_t bytes, int64_t delta)
{
	__atomic_add_fetch(&gw.c.calls[kind], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&gw.c.bytes, bytes, __ATOMIC_RELAXED);
	int64_t live = __atomic_add_fetch(&gw.c.live, delta, __ATOMIC_RELAXED);
	uint64_t peak = __atomic_load_n(&gw.c.live_peak, __ATOMIC_RELAXED);
	while (live > 0 && (uint64_t)live > peak &&
	       !__atomic_compare_exchange_n(&gw.c.live_peak, &peak, (uint64_t)live,
					    true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	int want = CAP_WANTED;
	bool first = __atomic_compare_exchange_n(&gw.capture, &want, CAP_BUSY, false,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
	if (!first && want == CAP_OFF)
		return; /* not a capture window */
	uintptr_t frames[AUDIT_MAX_FRAMES];
	uint32_t n;
	bool table = __atomic_load_n(&gw.sites, __ATOMIC_ACQUIRE);
	if (!capture_call(kind, first, table, frames, &n))
		__atomic_add_fetch(&gw.c.sites_lost, 1, __ATOMIC_RELAXED);
	if (first) {
		gw.c.first_kind = kind;
		gw.c.first_tid = _audit_tid();
		gw.c.nframes = n;
		memcpy(gw.c.frames, frames, n * sizeof frames[0]);
		__atomic_store_n(&gw.capture, CAP_DONE, __ATOMIC_RELEASE);
	}
}

void _audit_count(enum audit_kind kind, uint64_t bytes, int64_t live_delta)
{
	if (_AUDIT_IGNORED(kind))
		return;
	int saved = errno;

	/* Re-checked here, not trusted from _audit_enter(): the real call in
	 * between may have taken long enough for another thread to close the
	 * all-threads window. */
	if (_audit_tls.counting)
		count_thread(kind, bytes, live_delta);
	if (__atomic_load_n(&_audit_slow, __ATOMIC_ACQUIRE) & _AUDIT_SLOW_ALL)
		count_global(kind, bytes, live_delta);
	errno = saved;
}

/* ---- window API (exported) ---------------------------------------------- */

AUDIT_PUBLIC int audit_loaded(void)
{
	return AUDIT_API_VERSION;
}

AUDIT_PUBLIC void audit_window_open(unsigned flags)
{
	/* Marked _audit_tls.in_hook so that nothing this thread does here counts. */
	int outer = !_audit_tls.in_hook;
	_audit_tls.in_hook = 1;
	/* Restarting this thread's all-threads window as a per-thread one
	 * must stop the process-wide counting too. */
	if (tw.open && (tw.flags & AUDIT_ALL_THREADS))
		__atomic_fetch_and(&_audit_slow, ~_AUDIT_SLOW_ALL, __ATOMIC_RELEASE);
	bool had_sites = tw.open && tw.has_sites;
	bool has_sites = (flags & AUDIT_CAPTURE_STACK) && sites_claim(had_sites);
	if (had_sites && !has_sites)
		sites_release();
	if (flags & AUDIT_ALL_THREADS) {
		__atomic_fetch_and(&_audit_slow, ~_AUDIT_SLOW_ALL, __ATOMIC_RELEASE);
		for (int k = 0; k < AUDIT_KIND_COUNT; k++)
			__atomic_store_n(&gw.c.calls[k], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&gw.c.sites_lost, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&gw.sites, has_sites, __ATOMIC_RELAXED);
		__atomic_store_n(&gw.c.bytes, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&gw.c.live, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&gw.c.live_peak, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&gw.c.nframes, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&gw.capture,
				 flags & AUDIT_CAPTURE_STACK ? CAP_WANTED : CAP_OFF,
				 __ATOMIC_RELAXED);
	}
	memset(&tw, 0, offsetof(struct window, c.frames));
	tw.flags = flags;
	tw.has_sites = has_sites;
	tw.opener_tid = _audit_tid();
	tw.open = true;
	_audit_tls.counting = !(flags & AUDIT_ALL_THREADS);
	if (flags & AUDIT_ALL_THREADS)
		__atomic_fetch_or(&_audit_slow, _AUDIT_SLOW_ALL, __ATOMIC_RELEASE);
	if (outer)
		_audit_tls.in_hook = 0;
}

static void fill_from_thread(struct audit_counts *out)
{
	memcpy(out->calls, tw.c.calls, sizeof out->calls);
	out->bytes = tw.c.bytes;
	out->live_peak = tw.c.live_peak;
	out->nframes = tw.c.nframes;
	out->first_kind = tw.c.first_kind;
	out->first_tid = tw.c.first_tid;
	memcpy(out->frames, tw.c.frames, tw.c.nframes * sizeof tw.c.frames[0]);
	out->sites_lost = tw.c.sites_lost;
}

static void fill_from_global(struct audit_counts *out)
{
	/* Closing first stops other threads from adding to the counters we
	 * are about to read. */
	__atomic_fetch_and(&_audit_slow, ~_AUDIT_SLOW_ALL, __ATOMIC_SEQ_CST);
	for (int k = 0; k < AUDIT_KIND_COUNT; k++)
		out->calls[k] = __atomic_load_n(&gw.c.calls[k], __ATOMIC_RELAXED);
	out->bytes = __atomic_load_n(&gw.c.bytes, __ATOMIC_RELAXED);
	out->live_peak = __atomic_load_n(&gw.c.live_peak, __ATOMIC_RELAXED);
	out->sites_lost = __atomic_load_n(&gw.c.sites_lost, __ATOMIC_RELAXED);
	__atomic_store_n(&gw.sites, 0, __ATOMIC_RELAXED);
	/* A capture still in progress on another thread is reported as none. */
	if (__atomic_load_n(&gw.capture, __ATOMIC_ACQUIRE) == CAP_DONE) {
		out->nframes = gw.c.nframes;
		out->first_kind = gw.c.first_kind;
		out->first_tid = gw.c.first_tid;
		memcpy(out->frames, gw.c.frames, gw.c.nframes * sizeof gw.c.frames[0]);
	}
	__atomic_store_n(&gw.capture, CAP_OFF, __ATOMIC_RELAXED);
}

static void log_close(const struct audit_counts *c)
{
	char a[21], f[21], o[21], b[21], p[21], k[21];
	_audit_say("window closed: allocs=", _audit_u64(a, c->allocs),
		   " frees=", _audit_u64(f, c->frees),
		   " os=", _audit_u64(o, c->os),
		   " bytes=", _audit_u64(b, c->bytes),
		   " live_peak=", _audit_u64(p, c->live_peak),
		   " blocking=", _audit_u64(k, c->blocking), NULL);
}

/* The totals of a closed window's calls[]; its site count when it held
 * the site table (which it then gives up). */
static void totals(struct audit_counts *c, bool had_sites)
{
	for (int k = 0; k < AUDIT_HEAP_KINDS; k++)
		if (k != AUDIT_FREE)
			c->allocs += c->calls[k];
	for (int k = AUDIT_HEAP_KINDS; k < AUDIT_MEMORY_KINDS; k++)
		c->os += c->calls[k];
	for (int k = AUDIT_MEMORY_KINDS; k < AUDIT_KIND_COUNT; k++)
		c->blocking += c->calls[k];
	c->frees = c->calls[AUDIT_FREE];
	if (had_sites) {
		unsigned idx[AUDIT_MAX_SITES];
		uint64_t tot[AUDIT_MAX_SITES];
		c->nsites = sites_merged(idx, tot);
		sites_release();
	}
}

AUDIT_PUBLIC int audit_window_close(struct audit_counts *out)
{
	struct audit_counts c;
	int rc = 0;
	int outer = !_audit_tls.in_hook;

	_audit_tls.in_hook = 1;
	memset(&c, 0, offsetof(struct audit_counts, frames));
	c.blocking = c.sites_lost = 0;
	c.nsites = c.reserved = 0;
	bool had_sites = tw.open && tw.has_sites;
	if (!tw.open)
		rc = -1;
	else if (tw.flags & AUDIT_ALL_THREADS)
		fill_from_global(&c);
	else
		fill_from_thread(&c);
	if (rc == 0)
		c.opener_tid = tw.opener_tid;
	tw.open = false;
	tw.has_sites = false;
	_audit_tls.counting = 0;
	totals(&c, had_sites);
	last_sites_gen = had_sites ? __atomic_load_n(&sites.gen, __ATOMIC_ACQUIRE) : 0;
	if (rc == 0 && options[OPT_VERBOSE].value)
		log_close(&c);

	if (out) {
		memcpy(out, &c, offsetof(struct audit_counts, frames));
		memcpy(out->frames, c.frames, c.nframes * sizeof c.frames[0]);
		memset(out->frames + c.nframes, 0,
		       (AUDIT_MAX_FRAMES - c.nframes) * sizeof c.frames[0]);
		out->blocking = c.blocking;
		out->nsites = c.nsites;
		out->reserved = 0;
		out->sites_lost = c.sites_lost;
	}
	if (outer)
		_audit_tls.in_hook = 0;
	return rc;
}

AUDIT_PUBLIC int audit_window_sites(struct audit_site *out, unsigned max)
{
	int outer = !_audit_tls.in_hook;
	int rc = -1;
	_audit_tls.in_hook = 1;
	unsigned gen = __atomic_load_n(&sites.gen, __ATOMIC_ACQUIRE);
	if (last_sites_gen && gen == last_sites_gen &&
	    !__atomic_load_n(&sites.open, __ATOMIC_ACQUIRE) &&
	    __atomic_load_n(&sites.owner, __ATOMIC_RELAXED) == _audit_tid()) {
		unsigned idx[AUDIT_MAX_SITES];
		uint64_t tot[AUDIT_MAX_SITES];
		unsigned n = sites_merged(idx, tot), k;
		for (k = 0; k < n && k < max; k++) {
			const struct site_slot *sl = &sites.slot[idx[k]];
			out[k].calls = tot[k];
			out[k].kind = sl->kind;
			out[k].nframes = sl->nframes;
			memcpy(out[k].frames, sl->frames, sl->nframes * sizeof sl->frames[0]);
			memset(out[k].frames + sl->nframes, 0,
			       (AUDIT_MAX_FRAMES - sl->nframes) * sizeof sl->frames[0]);
		}
		/* Taken by another window meanwhile: what was copied may be torn. */
		if (__atomic_load_n(&sites.gen, __ATOMIC_ACQUIRE) == gen)
			rc = (int)k;
	}
	if (outer)
		_audit_tls.in_hook = 0;
	return rc;
}

AUDIT_PUBLIC const struct audit_thread_counts *audit_thread_state(void)
{
	return &_audit_tls.tc;
}

AUDIT_PUBLIC const char *audit_kind_name(unsigned kind)
{
	static const char *const names[AUDIT_KIND_COUNT] = {
		[AUDIT_MALLOC] = "malloc",
		[AUDIT_CALLOC] = "calloc",
		[AUDIT_REALLOC] = "realloc",
		[AUDIT_REALLOCARRAY] = "reallocarray",
		[AUDIT_FREE] = "free",
		[AUDIT_POSIX_MEMALIGN] = "posix_memalign",
		[AUDIT_ALIGNED_ALLOC] = "aligned_alloc",
		[AUDIT_MEMALIGN] = "memalign",
		[AUDIT_VALLOC] = "valloc",
		[AUDIT_PVALLOC] = "pvalloc",
		[AUDIT_MMAP] = "mmap",
		[AUDIT_MREMAP] = "mremap",
		[AUDIT_MUNMAP] = "munmap",
		[AUDIT_BRK] = "brk",
		[AUDIT_SBRK] = "sbrk",
		[AUDIT_MUTEX_LOCK] = "pthread_mutex_lock",
		[AUDIT_MUTEX_TRYLOCK] = "pthread_mutex_trylock",
		[AUDIT_MUTEX_TIMEDLOCK] = "pthread_mutex_timedlock",
		[AUDIT_RWLOCK_RDLOCK] = "pthread_rwlock_rdlock",
		[AUDIT_RWLOCK_TRYRDLOCK] = "pthread_rwlock_tryrdlock",
		[AUDIT_RWLOCK_TIMEDRDLOCK] = "pthread_rwlock_timedrdlock",
		[AUDIT_RWLOCK_WRLOCK] = "pthread_rwlock_wrlock",
		[AUDIT_RWLOCK_TRYWRLOCK] = "pthread_rwlock_trywrlock",
		[AUDIT_RWLOCK_TIMEDWRLOCK] = "pthread_rwlock_timedwrlock",
		[AUDIT_COND_WAIT] = "pthread_cond_wait",
		[AUDIT_COND_TIMEDWAIT] = "pthread_cond_timedwait",
		[AUDIT_SEM_WAIT] = "sem_wait",
		[AUDIT_SEM_TIMEDWAIT] = "sem_timedwait",
		[AUDIT_JOIN] = "pthread_join",
		[AUDIT_FUTEX] = "futex",
		[AUDIT_NANOSLEEP] = "nanosleep",
		[AUDIT_CLOCK_NANOSLEEP] = "clock_nanosleep",
		[AUDIT_USLEEP] = "usleep",
		[AUDIT_SLEEP] = "sleep",
		[AUDIT_READ] = "read",
		[AUDIT_WRITE] = "write",
		[AUDIT_OPEN] = "open",
		[AUDIT_OPENAT] = "openat",
		[AUDIT_POLL] = "poll",
		[AUDIT_SELECT] = "select",
		[AUDIT_EPOLL_WAIT] = "epoll_wait",
		[AUDIT_ACCEPT] = "accept",
		[AUDIT_CONNECT] = "connect",
		[AUDIT_RECV] = "recv",
		[AUDIT_RECVFROM] = "recvfrom",
		[AUDIT_RECVMSG] = "recvmsg",
		[AUDIT_SEND] = "send",
		[AUDIT_SENDTO] = "sendto",
		[AUDIT_SENDMSG] = "sendmsg",
		[AUDIT_FSYNC] = "fsync",
	};
	_Static_assert(AUDIT_KIND_COUNT == 50, "a kind without a name");
	return kind < AUDIT_KIND_COUNT ? names[kind] : "?";
}

/* ---- start-up and fork -------------------------------------------------- */

/* The child of fork() is a new process with one thread: whatever window
 * the parent had open (its own or the all-threads one) is not the
 * child's to close. */
static void atfork_child(void)
{
	memset(&tw, 0, sizeof tw);
	own_tid = 0; /* the child is a new thread with a new id */
	_audit_tls.in_hook = 0;
	_audit_tls.counting = 0;
	memset(&gw, 0, sizeof gw);
	memset(&sites, 0, sizeof sites);
	last_sites_gen = 0;
	_audit_slow &= ~_AUDIT_SLOW_ALL;
}

void _audit_core_init(void)
{
	read_options();
	find_own_text();
	if (pthread_atfork(NULL, NULL, atfork_child) != 0)
		_audit_die("pthread_atfork failed: a forked child would inherit "
			   "the parent's window", NULL);
	/* Loaded now because dlopen() allocates and locks.  Not warmed up
	 * with a first unwind here: under Valgrind that call makes
	 * libunwind's address probe (a write(2) of stack bytes) report an
	 * error in every preloaded process.  The first capture pays for the
	 * set-up instead; it runs with _audit_tls.in_hook set, so whatever libunwind
	 * allocates then is forwarded uncounted. */
	load_unwinder();
	if (options[OPT_VERBOSE].value) {
		char pid[21];
		_audit_say("loaded in pid ", _audit_u64(pid, (uint64_t)getpid()),
			   NULL);
#ifdef AUDIT_SELFTEST_EXTERN
		_audit_say("self-test build: never counts ",
			   audit_kind_name((unsigned)audit_selftest_uncounted), NULL);
#endif
	}
}
