/*
 * audit_criterion.h — Criterion assertions over libaudit.so's windows, for
 * your own tests (no Frame fixture needed).
 *
 *     #include <criterion/criterion.h>
 *     #include "audit_criterion.h"       // pkg-config --cflags frame-alloc-audit
 *
 *     Test(parser, no_heap) { cr_assert_no_heap(parse(&p, "42")); }
 *     Test(parser, two)     { cr_assert_heap(2, make_pair(&pair)); }
 *
 * Run the test binary with LD_PRELOAD=$(pkg-config --variable=preload
 * frame-alloc-audit); do not link libaudit.so (audit.h says why).  Under a
 * strict -std=c11 define _GNU_SOURCE first (audit.h's resolver uses
 * RTLD_DEFAULT; -std=gnu11, gcc's default, needs nothing).
 *
 *   cr_assert_no_heap(expr)  expr (evaluated once, as a statement) makes no
 *                            allocator call, no free() and no OS memory call
 *                            (allocs, frees and os all 0);
 *   cr_assert_heap(n, expr)  expr makes exactly n allocator calls (allocs:
 *                            every heap kind except free(); frees and OS
 *                            calls are reported, not constrained);
 *   cr_assert_nonblocking(expr)  no heap call and no call that can block or
 *                            take a lock either (audit.h's blocking kinds:
 *                            pthread mutexes, waits, futex, sleeps, blocking
 *                            I/O), what code run from an interrupt handler
 *                            must read.
 *
 * Each opens one window on the calling thread (AUDIT_THIS_THREAD |
 * AUDIT_CAPTURE_STACK) right before expr and closes it right after, so only
 * expr's own calls on this thread count: Criterion's I/O thread, its
 * assertion machinery (which allocates) and the message formatting are all
 * outside.  A failure names the expression, the counts per kind and the
 * first call: its kind, its thread and the return address the interposer
 * captured, and every call site of the window (audit.h's call-site table;
 * none when another capture window held it), each as `symbol+0xOFF
 * (object)` when dladdr() can name it (build
 * with -D_GNU_SOURCE and link with -rdynamic for your own functions'
 * names), else `object+0xOFF`, which `addr2line -f -e object 0xOFF` turns
 * into a file and line.
 *
 * The first assertion in a process resolves the API (audit_api_resolve)
 * and calibrates: malloc, calloc, realloc, aligned_alloc, posix_memalign,
 * free and a zero nanosleep must each read exactly one call of their own
 * kind in a window of their own.  Without the preload, or with a library in front of it that
 * takes one of them over, the assertion fails ("interposer not loaded …",
 * "calibration: …") instead of reporting a zero nobody counted.
 *
 * Not thread-safe across threads of one test process on the first call
 * (the calibration state is a plain static per translation unit); after
 * that any thread may assert on its own calls.
 */
#ifndef FRAME_ALLOC_AUDIT_CRITERION_H
#define FRAME_ALLOC_AUDIT_CRITERION_H

#ifndef AUDIT_WANT_RESOLVE
#define AUDIT_WANT_RESOLVE
#endif
#include "audit.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Declared here too: -std=c11 without _POSIX_C_SOURCE hides them. */
extern int nanosleep(const struct timespec *req, struct timespec *rem);
extern int posix_memalign(void **out, size_t align, size_t size);

/* Process-wide binding of this translation unit: 0 not yet tried, 1 live
 * and calibrated, -1 failed (audit_cr_why_ says why). */
static struct audit_api audit_cr_api_;
static int audit_cr_state_;
/* The call sites of the last window, copied right after its close. */
static struct audit_site audit_cr_sites_[AUDIT_MAX_SITES];
static int audit_cr_nsites_;
static char audit_cr_why_[256];

/* Calls each calibrated function once through volatile pointers, so the
 * compiler can neither drop a malloc/free pair nor merge the calls. */
static inline void audit_cr_call_(unsigned kind)
{
	void *(*volatile m)(size_t) = malloc;
	void *(*volatile c)(size_t, size_t) = calloc;
	void *(*volatile r)(void *, size_t) = realloc;
	void *(*volatile a)(size_t, size_t) = aligned_alloc;
	int (*volatile pm)(void **, size_t, size_t) = posix_memalign;
	int (*volatile ns)(const struct timespec *, struct timespec *) = nanosleep;
	void (*volatile f)(void *) = free;
	struct timespec zero = { 0, 0 };
	static void *volatile keep;
	void *p = NULL;

	switch (kind) {
	case AUDIT_MALLOC: keep = m(24); return;
	case AUDIT_CALLOC: keep = c(3, 8); return;
	case AUDIT_REALLOC: keep = r(keep, 48); return;
	case AUDIT_ALIGNED_ALLOC: keep = a(64, 64); return;
	case AUDIT_POSIX_MEMALIGN: (void)pm(&p, 64, 64); keep = p; return;
	case AUDIT_NANOSLEEP: (void)ns(&zero, NULL); return;
	default: f(keep); keep = NULL; return;
	}
}

/* One window per calibrated kind, each must read one call of that kind
 * and nothing else.  Every block is freed between windows (uncounted). */
static inline int audit_cr_calibrate_(void)
{
	static const unsigned kinds[] = { AUDIT_MALLOC, AUDIT_REALLOC, AUDIT_FREE,
		AUDIT_CALLOC, AUDIT_FREE, AUDIT_ALIGNED_ALLOC, AUDIT_FREE,
		AUDIT_POSIX_MEMALIGN, AUDIT_FREE, AUDIT_NANOSLEEP };
	struct audit_counts c;

	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		audit_cr_api_.open(AUDIT_THIS_THREAD);
		audit_cr_call_(kinds[i]);
		audit_cr_api_.close(&c);
		uint64_t total = c.allocs + c.frees + c.os + c.blocking;
		if (c.calls[kinds[i]] != 1 || total != 1) {
			snprintf(audit_cr_why_, sizeof audit_cr_why_,
				 "calibration: one %s() read %llu call(s) of its kind and "
				 "%llu in all, expected 1 and 1 (is another library in front "
				 "of libaudit.so?)", audit_cr_api_.kind_name(kinds[i]),
				 (unsigned long long)c.calls[kinds[i]],
				 (unsigned long long)total);
			return -1;
		}
	}
	return 0;
}

/* 0 when the interposer is loaded and counts; else -1 and audit_cr_why_. */
static inline int audit_cr_live_(void)
{
	if (audit_cr_state_ == 0) {
		if (audit_api_resolve(&audit_cr_api_) != 0) {
			snprintf(audit_cr_why_, sizeof audit_cr_why_,
				 "interposer not loaded (or not API version %d): run with "
				 "LD_PRELOAD=$(pkg-config --variable=preload frame-alloc-audit)",
				 AUDIT_API_VERSION);
			audit_cr_state_ = -1;
		} else {
			audit_cr_state_ = audit_cr_calibrate_() == 0 ? 1 : -1;
		}
	}
	return audit_cr_state_ == 1 ? 0 : -1;
}

static inline void audit_cr_open_(void)
{
	if (audit_cr_state_ == 1)
		audit_cr_api_.open(AUDIT_THIS_THREAD | AUDIT_CAPTURE_STACK);
}

static inline void audit_cr_close_(struct audit_counts *c)
{
	audit_cr_nsites_ = 0;
	if (audit_cr_state_ == 1) {
		audit_cr_api_.close(c);
		audit_cr_nsites_ = audit_cr_api_.sites(audit_cr_sites_, AUDIT_MAX_SITES);
	}
}

/* Appends "where" the first call was made: symbol+off (object), or
 * object+off, or the bare address. */
static inline void audit_cr_where_(char *buf, size_t len, uintptr_t addr)
{
#ifdef __USE_GNU
	Dl_info info;
	char exe[512];
	if (dladdr((void *)addr, &info) && info.dli_fname) {
		/* The main program's name is its argv[0] ("boxfort-worker" in
		 * a Criterion worker): name the file instead. */
		const char *obj = info.dli_fname;
		ssize_t n = strchr(obj, '/') ? -1 : readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n > 0) {
			exe[n] = '\0';
			obj = exe;
		}
		if (info.dli_sname)
			snprintf(buf, len, " at %#lx (%s+%#lx in %s)", (unsigned long)addr,
				 info.dli_sname,
				 (unsigned long)(addr - (uintptr_t)info.dli_saddr), obj);
		else
			snprintf(buf, len, " at %#lx (%s+%#lx)", (unsigned long)addr, obj,
				 (unsigned long)(addr - (uintptr_t)info.dli_fbase));
		return;
	}
#endif
	snprintf(buf, len, " at %#lx", (unsigned long)addr);
}

/* Appends "; call sites: malloc 1 at …, malloc 1 at …" (the call-site
 * table of the window; empty when another capture window held it). */
static inline void audit_cr_sites_text_(char *buf, size_t len)
{
	size_t n = strlen(buf);
	for (int i = 0; i < audit_cr_nsites_ && n + 1 < len; i++) {
		const struct audit_site *st = &audit_cr_sites_[i];
		snprintf(buf + n, len - n, "%s%s %llu", i ? ", " : "; call sites: ",
			 audit_cr_api_.kind_name(st->kind), (unsigned long long)st->calls);
		n = strlen(buf);
		if (st->nframes && n + 1 < len)
			audit_cr_where_(buf + n, len - n, st->frames[0]);
		n = strlen(buf);
	}
}

/* The counts as text: "2 allocation(s), 2 free(s), 0 OS call(s), 48
 * byte(s) [malloc 2, free 2]; first call: malloc (tid 123) at …". */
static inline void audit_cr_describe_(char *buf, size_t len,
				      const struct audit_counts *c)
{
	int n = snprintf(buf, len, "%llu allocation(s), %llu free(s), %llu OS call(s), ",
			 (unsigned long long)c->allocs, (unsigned long long)c->frees,
			 (unsigned long long)c->os);
	if (c->blocking && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "%llu blocking call(s), ",
			      (unsigned long long)c->blocking);
	if (n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "%llu byte(s) [",
			      (unsigned long long)c->bytes);
	const char *sep = "";
	for (unsigned k = 0; k < AUDIT_KIND_COUNT && n > 0 && (size_t)n < len; k++) {
		if (!c->calls[k])
			continue;
		n += snprintf(buf + n, len - (size_t)n, "%s%s %llu", sep,
			      audit_cr_api_.kind_name(k), (unsigned long long)c->calls[k]);
		sep = ", ";
	}
	if (n < 0 || (size_t)n >= len)
		return;
	n += snprintf(buf + n, len - (size_t)n, "]");
	if (c->first_tid && (size_t)n < len) {
		n += snprintf(buf + n, len - (size_t)n, "; first call: %s (tid %d)",
			      audit_cr_api_.kind_name(c->first_kind), (int)c->first_tid);
		if (c->nframes && (size_t)n < len)
			audit_cr_where_(buf + n, len - (size_t)n, c->frames[0]);
	}
	audit_cr_sites_text_(buf, len);
}

/* Returns 1 (and the message in buf) when the window broke the rule:
 * want -1 means "no heap call at all", -2 "no heap and no blocking call",
 * else exactly want allocations. */
static inline int audit_cr_failed_(const struct audit_counts *c, long long want,
				   const char *expr, char *buf, size_t len)
{
	if (audit_cr_state_ != 1) {
		snprintf(buf, len, "%s: %s", expr, audit_cr_why_);
		return 1;
	}
	int heap = c->allocs || c->frees || c->os;
	int bad = want == -1 ? heap
		: want == -2 ? heap || c->blocking
		: c->allocs != (unsigned long long)want;
	if (!bad)
		return 0;
	char counts[3072];
	audit_cr_describe_(counts, sizeof counts, c);
	if (want == -1)
		snprintf(buf, len, "`%s` made heap calls, expected none: %s", expr, counts);
	else if (want == -2)
		snprintf(buf, len, "`%s` made heap or blocking calls, expected none: %s",
			 expr, counts);
	else
		snprintf(buf, len, "`%s` made %llu allocation(s), expected %lld: %s",
			 expr, (unsigned long long)c->allocs, want, counts);
	return 1;
}

/* The window is opened after audit_cr_live_() (which allocates the first
 * time, in dlsym) and the message is formatted after it is closed. */
#define audit_cr_assert_(want, expr)                                          \
	do {                                                                  \
		struct audit_counts audit_cr_c_;                              \
		char audit_cr_msg_[3584];                                     \
		memset(&audit_cr_c_, 0, sizeof audit_cr_c_);                  \
		(void)audit_cr_live_();                                       \
		audit_cr_open_();                                             \
		expr;                                                         \
		audit_cr_close_(&audit_cr_c_);                                \
		if (audit_cr_failed_(&audit_cr_c_, (want), #expr, audit_cr_msg_, \
				     sizeof audit_cr_msg_))                   \
			cr_assert_fail("%s", audit_cr_msg_);                  \
	} while (0)

#define cr_assert_no_heap(expr) audit_cr_assert_(-1LL, expr)
#define cr_assert_nonblocking(expr) audit_cr_assert_(-2LL, expr)
#define cr_assert_heap(n, expr) audit_cr_assert_((long long)(n), expr)

#endif
