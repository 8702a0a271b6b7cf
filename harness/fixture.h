/*
 * fixture.h — binding a fixture library to struct fx_api (fixture_abi.h).
 *
 * One binder for the two programs that drive fixture libraries: the
 * harness's measuring process (measure.c) and faa-run (runner.c).  Both
 * refuse a library that lacks one of the fixture's symbols or was built
 * for another FX_ABI_VERSION, with the same message.
 *
 * Symbol prefix.  A library may hold several fixtures (a "bundle": one
 * crate per shape x opt-level x bucket of fixtures).  Each fixture exports
 * the functions of struct fx_api under its own prefix: the function for
 * field F is PREFIX + F, e.g. fx_port_reset__construct.  A library of one
 * fixture uses the prefix "fx_" (fx_construct, fx_dispatch, ...).
 */
#ifndef FAA_FIXTURE_H
#define FAA_FIXTURE_H

#include <stddef.h>

#include "fixture_abi.h"

/* The prefix of a library of one fixture, and the longest prefix the
 * binder accepts (bytes, without the NUL). */
#define FAA_FIXTURE_PREFIX "fx_"
#define FAA_PREFIX_MAX 200

/* Fills *fx from lib (a dlopen() handle; the caller keeps it open as long
 * as *fx is used) with the symbols PREFIX + field name (prefix NULL or ""
 * means FAA_FIXTURE_PREFIX) and checks abi_version() against
 * FX_ABI_VERSION.  Returns 0, or -1 with a NUL-terminated message in err
 * (truncated to errlen) naming the missing symbol in full, both versions,
 * or a prefix longer than FAA_PREFIX_MAX; *fx is then not usable.
 * Allocates nothing beyond what dlsym() does. */
int faa_fixture_bind(void *lib, const char *prefix, struct fx_api *fx, char *err,
		     size_t errlen);

#endif
