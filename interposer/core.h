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
 *     int mode = _audit_enter();
 *     if (mode == _AUDIT_NESTED)      -> forward to the real function (or the
 *                                        bootstrap buffer) and return; do not
 *                                        call _audit_leave()
 *     ... call the real function ...
 *     if (mode == _AUDIT_COUNT)       -> _audit_count(...)
 *     _audit_leave();
 *
 * Between _audit_enter() and _audit_leave() the calling thread is marked
 * "inside the hook": any allocator call it makes meanwhile (from dlsym,
 * from libunwind, or from a glibc function that calls another public
 * allocator function internally, e.g. reallocarray -> realloc) is
 * forwarded without being counted, so each user-visible call counts once.
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

int _audit_enter(void);
void _audit_leave(void);

/* Records one counted call.  `bytes` is the size requested (already 0 for
 * an overflowing nmemb*size); `live_delta` is usable bytes gained (positive)
 * or released (negative) by the call.  Preserves errno. */
void _audit_count(enum audit_kind kind, uint64_t bytes, int64_t live_delta);

/* One-time setup, called from the shim's constructor after the real
 * functions are resolved: options, fork handler, libunwind warm-up. */
void _audit_core_init(void);

/* Async-signal-safe diagnostics: "libaudit: " + the NULL-terminated
 * pieces + "\n" written to stderr with write(2).  Preserves errno. */
void _audit_say(const char *first, ...) __attribute__((sentinel));
/* Decimal rendering into a caller-supplied buffer (>= 21 bytes). */
const char *_audit_u64(char *buf, uint64_t v);
/* Writes a message with _audit_say() and aborts. */
void _audit_die(const char *first, ...) __attribute__((sentinel, noreturn));

#endif
