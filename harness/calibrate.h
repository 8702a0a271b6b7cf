/*
 * calibrate.h — prove that the interposer counts every entry point it
 * hooks, before anything is measured (DESIGN.md "No false zero").
 *
 * Every row of the interposer's table of hooked entry points
 * (interposer/entries.h: the ten heap functions, glibc's eight __libc_
 * aliases, mmap, mmap64, __mmap, mremap, munmap, __munmap, brk, sbrk,
 * __sbrk and syscall() with each of its four memory numbers) is called
 * once in a window of its own and must read exactly one call of its kind
 * and nothing else.  A library preloaded in front of libaudit.so that
 * takes over one function, or an interposer that stopped counting a kind,
 * fails here instead of reading 0 in every window after it.
 *
 * The table calls each symbol as the dynamic linker binds it for any other
 * object, so what is calibrated is what a fixture library would call.
 * What a window must not see — allocating the block a free() or realloc()
 * works on, freeing or unmapping the result — happens outside it.
 *
 * No Criterion here: the measuring process (measure.c) calibrates too.
 * Not thread-safe; windows opened with `flags` must see only this thread's
 * calls (AUDIT_ALL_THREADS only in a process with one thread).
 */
#ifndef FAA_CALIBRATE_H
#define FAA_CALIBRATE_H

#include <stdint.h>
#include <stdio.h>

#include "audit.h"
#include "entries.h"

#define FAA_CALIB_ENTRIES ENTRY_COUNT

struct faa_calib_entry {
	const char *fn;   /* the entry point as called, e.g. "__libc_calloc" */
	unsigned kind;    /* the audit_kind it must count as */
	uint64_t calls;   /* calls[kind] read in its window */
	uint64_t other;   /* every other call the window read */
	int missing;      /* no such symbol in the process: not called */
	int ok;
};

struct faa_calibration {
	int ok;
	unsigned n;
	struct faa_calib_entry e[FAA_CALIB_ENTRIES];
	/* "interposer calibration failed: <fn> read <n> call(s) of kind
	 * <kind>, expected 1..." for the first failing entry; "" when ok. */
	char message[320];
};

/* Runs every entry in its own window opened with `flags`; fills *out and
 * returns out->ok.  The interposer must be bound (audit_api_resolve). */
int faa_calibrate(const struct audit_api *api, unsigned flags,
		  struct faa_calibration *out);

/* Writes the `calibration` JSON-lines record (harness records v2). */
void faa_calibration_record(FILE *f, const struct audit_api *api,
			    const struct faa_calibration *c);

#endif
