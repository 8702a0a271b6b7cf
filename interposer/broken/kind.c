/* kind.c — the one kind a libaudit-broken-KIND.so never counts (core.h,
 * AUDIT_SELFTEST_EXTERN): compiled per variant with
 * -DAUDIT_SELFTEST_KIND=<kind index> and linked with the self-test build
 * of the library's sources, compiled once for all variants. */
#include "core.h"

#ifndef AUDIT_SELFTEST_KIND
#error "AUDIT_SELFTEST_KIND (a kind index) is required"
#endif
_Static_assert(AUDIT_SELFTEST_KIND >= 0 && AUDIT_SELFTEST_KIND < AUDIT_KIND_COUNT,
	       "AUDIT_SELFTEST_KIND must be a kind index");

const int audit_selftest_uncounted = AUDIT_SELFTEST_KIND;
