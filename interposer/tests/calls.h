/*
 * calls.h — every hooked entry point of libaudit.so, callable from the
 * tests: the v_* pointers below for test bodies, and the table of
 * ../entries.h (shared with the harness's calibration) run in a window and
 * checked (entry_run, entry_check).
 *
 * Shared by the Criterion suite (through common.h) and count_probe.c,
 * which must not depend on Criterion.  Nothing here links libaudit.so:
 * the window API comes in as a resolved struct audit_api.
 *
 * The functions are reached through volatile pointers so that gcc can
 * neither delete an allocation it sees freed nor treat a call as a
 * builtin.  The pointers are bound by the dynamic loader from this
 * program's own references, so under LD_PRELOAD they point at the hooks —
 * which proves that references versioned against glibc
 * (__libc_malloc@GLIBC_2.2.5, __mmap@GLIBC_PRIVATE, ...) bind to the
 * interposer's unversioned definitions.  `mmap` here is the symbol mmap,
 * not the mmap64 that -D_FILE_OFFSET_BITS=64 would turn it into.
 */
#ifndef INTERPOSER_TESTS_CALLS_H
#define INTERPOSER_TESTS_CALLS_H

#define AUDIT_WANT_RESOLVE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"
#include "entries.h" /* struct entry, entries[], entry_find, page_size */

extern void *(*volatile v_malloc)(size_t);
extern void *(*volatile v_calloc)(size_t, size_t);
extern void *(*volatile v_realloc)(void *, size_t);
extern void *(*volatile v_reallocarray)(void *, size_t, size_t);
extern void (*volatile v_free)(void *);
extern int (*volatile v_posix_memalign)(void **, size_t, size_t);
extern void *(*volatile v_aligned_alloc)(size_t, size_t);
extern void *(*volatile v_memalign)(size_t, size_t);
extern void *(*volatile v_valloc)(size_t);
extern void *(*volatile v_pvalloc)(size_t);
extern size_t (*volatile v_malloc_usable_size)(void *);

/* glibc's exported aliases (v_libc_malloc is __libc_malloc, ...) */
extern void *(*volatile v_libc_malloc)(size_t);
extern void *(*volatile v_libc_calloc)(size_t, size_t);
extern void *(*volatile v_libc_realloc)(void *, size_t);
extern void *(*volatile v_libc_reallocarray)(void *, size_t, size_t);
extern void (*volatile v_libc_free)(void *);
extern void *(*volatile v_libc_memalign)(size_t, size_t);
extern void *(*volatile v_libc_valloc)(size_t);
extern void *(*volatile v_libc_pvalloc)(size_t);

/* memory from the OS (v_libc_mmap is __mmap, ...) */
extern void *(*volatile v_mmap)(void *, size_t, int, int, int, off_t);
extern void *(*volatile v_mmap64)(void *, size_t, int, int, int, off_t);
extern void *(*volatile v_libc_mmap)(void *, size_t, int, int, int, off_t);
extern void *(*volatile v_mremap)(void *, size_t, size_t, int, ...);
extern int (*volatile v_munmap)(void *, size_t);
extern int (*volatile v_libc_munmap)(void *, size_t);
extern int (*volatile v_brk)(void *);
extern void *(*volatile v_sbrk)(intptr_t);
extern void *(*volatile v_libc_sbrk)(intptr_t);
extern long (*volatile v_syscall)(long, ...);

struct entry_result {
	bool missing;     /* e->sym is NULL: nothing was called */
	int close_rc;     /* audit_window_close() */
	int call_rc;      /* 0: the forwarded call succeeded */
	int call_errno;   /* errno after a failed call */
	struct audit_counts c;     /* the full window around the call */
	struct audit_fast_window fw; /* the fast window inside it (counts) */
};

/* entry_setup; open a full window (flags) and, inside it, a fast window
 * on `fast` (bound to the calling thread); e->call; close both;
 * entry_cleanup.  Nothing at all when the entry's symbol is missing. */
void entry_run(const struct entry *e, const struct audit_api *api,
	       unsigned flags, const struct audit_fast_window *fast,
	       struct entry_result *r);

/* Checks that the symbol was there and r saw exactly `n` calls of
 * e->kind (0 or 1) and nothing else: every other kind 0; allocs, frees
 * and os as the kind implies; e->bytes per call; the fast window
 * agreeing; with AUDIT_CAPTURE_STACK in `flags`, the capture naming
 * e->kind and this thread.  Returns true when it holds; otherwise false
 * with the first difference in msg. */
bool entry_check(const struct entry *e, const struct entry_result *r,
		 unsigned flags, uint64_t n, const struct audit_api *api,
		 char *msg, size_t cap);

#endif
