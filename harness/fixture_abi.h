/*
 * fixture_abi.h — the C side of the fixture ABI.
 *
 * Every fixture library (one cdylib per fixture x mode x opt-level, built
 * by scripts/faa/build.py from the shim that scripts/faa/shim.py generates)
 * exports these plain C functions.  The library owns the system under test
 * in static storage; the harness never sees a Rust type.
 *
 * Windows.  The harness passes two hooks and a context pointer; the shim
 * calls open(ctx) immediately before the measured code and close(ctx)
 * immediately after it.  For a dispatch the measured code is exactly the
 * interface call and the drop of its return value: arguments are built
 * (and made opaque to the optimiser) before open().  For construction it is
 * `Sys::__create()` and the move of the result into static storage.  Hooks
 * are opaque function pointers, so the optimiser cannot move work across
 * them.
 *
 * Step indices are 0-based.  Strings returned by the library are static,
 * NUL-terminated and owned by the library.
 *
 * Not thread-safe: one harness thread drives one library.
 */
#ifndef FAA_FIXTURE_ABI_H
#define FAA_FIXTURE_ABI_H

#include <stddef.h>
#include <stdint.h>

/* v2: fx_observe takes window hooks, so the observation pass is counted
 * like every other dispatch.  The harness refuses v1 libraries. */
#define FX_ABI_VERSION 2

/* The Rust code panicked; the shim caught it (a panic never unwinds into C). */
#define FX_PANICKED (-2)

typedef void (*fx_hook)(void *ctx);

struct fx_api {
	uint32_t (*abi_version)(void);
	/* "alloc" or "noalloc" */
	const char *(*mode)(void);
	const char *(*system_name)(void);
	uint32_t (*step_count)(void);
	const char *(*step_label)(uint32_t i);
	/* Steady-state cycle: right after step steady_to has run, steps
	 * steady_from..steady_to (inclusive) are replayed steady_repeat times
	 * (0 = none); the cycle must return the system to the state it had
	 * before steady_from. */
	uint32_t (*steady_from)(void);
	uint32_t (*steady_to)(void);
	uint32_t (*steady_repeat)(void);
	/* Expected allocating-shape counts for step i (i = -1: construction);
	 * -1 in *allocs / *frees means "no expectation". */
	void (*expect)(int32_t i, int64_t *allocs, int64_t *frees);
	/* Builds the system (Sys::__create) inside a window.  Returns 0, or
	 * FX_PANICKED (the window was left open: the caller closes it). */
	int32_t (*construct)(fx_hook open, fx_hook close, void *ctx);
	/* Runs step i inside a window.  Returns 0, -1 for a bad index or
	 * when no system is constructed, or FX_PANICKED. */
	int32_t (*dispatch)(uint32_t i, fx_hook open, fx_hook close, void *ctx);
	/* Runs step i inside a window — open(ctx) right before the interface
	 * call, close(ctx) right after it, before anything is formatted — and
	 * writes "ret=<Debug>; field=<Debug>..." into buf (NUL-terminated,
	 * truncated to len).  Returns the full length, -1 on a bad index / no
	 * system, or FX_PANICKED (the window was left open). */
	int64_t (*observe)(uint32_t i, char *buf, size_t len, fx_hook open,
			   fx_hook close, void *ctx);
	/* Drops the system.  It opens no window itself: the harness puts one
	 * around the whole call (Drop code is counted too). */
	void (*destroy)(void);
	/* core::mem::size_of of the system type. */
	size_t (*size_of)(void);
};

#endif
