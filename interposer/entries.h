/*
 * entries.h — every entry point libaudit.so hooks, and how to call each
 * exactly once: the one table behind the harness's calibration
 * (harness/calibrate.c) and the interposer's tests (tests/calls.c).  A new
 * hooked entry point is one row in entries.c (and ENTRY_COUNT below);
 * tests/check_entries.py fails while a hook of audit.map (or a memory
 * number of preload.c's syscall hook) has no row, or a row no hook.
 *
 * Not part of libaudit.so, and it does not link it: the window API comes
 * from audit.h's resolver.  Each row calls the symbol as the dynamic
 * linker binds it for any other object (under LD_PRELOAD: the hook),
 * through a volatile pointer so that gcc can neither delete an allocation
 * it sees freed nor treat the call as a builtin.  `mmap` is the symbol
 * mmap, not the mmap64 that -D_FILE_OFFSET_BITS=64 would make of it.
 * glibc's own names (__libc_malloc, __mmap, ...) are weak references: in a
 * C library without one, its row's `sym` is NULL (a failure naming it, not
 * a link error).
 *
 * Use: in = entry_setup(e); open a window; rc = e->call(e, in, &out);
 * close it; entry_cleanup(e, in, out, rc).  Only the call is in the
 * window: setup and cleanup may allocate, map and unmap.
 */
#ifndef INTERPOSER_ENTRIES_H
#define INTERPOSER_ENTRIES_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"

/* The rows of entries[]: the 10 heap functions, glibc's 8 __libc_
 * aliases of them, the 9 OS functions (mmap, mmap64, __mmap, mremap,
 * munmap, __munmap, brk, sbrk, __sbrk), syscall() with each of the 4
 * memory numbers, the 37 blocking functions (audit.h's blocking kinds,
 * open64, openat64 and accept4 beside open, openat and accept) and
 * syscall(SYS_futex).  entries.c does not compile while it differs. */
#define ENTRY_COUNT 69

struct entry {
	const char *fn;       /* "malloc", "__libc_free", "syscall(SYS_mmap)" */
	enum audit_kind kind; /* what one call counts as */
	uint64_t bytes;       /* the bytes one call requests (0: OS and blocking kinds) */
	/* The entry point, as bound for this object; NULL: no such symbol in
	 * this process (not called). */
	void (*volatile sym)(void);
	/* What the call works on (a block, a page), or NULL for none. */
	void *(*setup)(void);
	/* Exactly one call of sym.  Returns 0 when the forwarded call
	 * succeeded, -1 (errno set) when it failed; *out is what the call
	 * returned for cleanup to release. */
	int (*call)(const struct entry *e, void *in, void **out);
	void (*cleanup)(void *out);
};

extern const struct entry entries[];
extern const size_t n_entries; /* ENTRY_COUNT */

/* The entry called `fn`, or NULL. */
const struct entry *entry_find(const char *fn);

/* Before the window: what e->call works on (NULL when it needs nothing),
 * with everything the call reads (the page size) looked up already. */
void *entry_setup(const struct entry *e);

/* After the window: releases what the call returned (out) and, when the
 * call failed and left it in place, what it worked on (in). */
void entry_cleanup(const struct entry *e, void *in, void *out, int rc);

/* The system's page size (what the mmap entries map). */
size_t page_size(void);

#endif
