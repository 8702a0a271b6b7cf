/*
 * fixture.h — binding a fixture library to struct fx_api (fixture_abi.h).
 *
 * One binder for the two programs that drive fixture libraries: the
 * harness's measuring process (measure.c) and faa-run (runner.c).  Both
 * refuse a library that lacks an fx_* symbol or was built for another
 * FX_ABI_VERSION, with the same message.
 */
#ifndef FAA_FIXTURE_H
#define FAA_FIXTURE_H

#include <stddef.h>

#include "fixture_abi.h"

/* Fills *fx from lib (a dlopen() handle; the caller keeps it open as long
 * as *fx is used) and checks fx_abi_version() against FX_ABI_VERSION.
 * Returns 0, or -1 with a NUL-terminated message in err (truncated to
 * errlen) naming the missing symbol or both versions; *fx is then not
 * usable.  Allocates nothing beyond what dlsym() does. */
int faa_fixture_bind(void *lib, struct fx_api *fx, char *err, size_t errlen);

#endif
