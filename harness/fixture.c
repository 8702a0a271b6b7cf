/*
 * fixture.c — the fixture binder (fixture.h).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"

/* Room for the prefix and the longest field name (steady_repeat). */
#define SYMBOL_MAX (FAA_PREFIX_MAX + 32)

/* Stores dlsym(lib, prefix + field) in the function pointer at *slot.
 * POSIX lets a void * from dlsym() be stored through a void ** view of the
 * pointer; ISO C has no cast between object and function pointers.  The
 * caller has checked that the prefix fits. */
static int bind(void *lib, void *slot, const char *prefix, const char *field, char *err,
		size_t errlen)
{
	char sym[SYMBOL_MAX];
	snprintf(sym, sizeof sym, "%s%s", prefix, field);
	void *p = dlsym(lib, sym);
	if (!p) {
		snprintf(err, errlen, "fixture library lacks %s", sym);
		return -1;
	}
	*(void **)slot = p;
	return 0;
}

int faa_fixture_bind(void *lib, const char *prefix, struct fx_api *fx, char *err,
		     size_t errlen)
{
	if (!prefix || !*prefix)
		prefix = FAA_FIXTURE_PREFIX;
	size_t len = strlen(prefix);
	if (len > FAA_PREFIX_MAX) {
		snprintf(err, errlen, "fixture symbol prefix of %zu bytes (%.40s...), at most %d",
			 len, prefix, FAA_PREFIX_MAX);
		return -1;
	}
#define BIND(field) bind(lib, &fx->field, prefix, #field, err, errlen)
	if (BIND(abi_version) || BIND(mode) || BIND(system_name) || BIND(step_count) ||
	    BIND(step_label) || BIND(steady_from) || BIND(steady_to) ||
	    BIND(steady_repeat) || BIND(expect) || BIND(construct) || BIND(dispatch) ||
	    BIND(observe) || BIND(destroy) || BIND(size_of))
		return -1;
#undef BIND
	if (fx->abi_version() != FX_ABI_VERSION) {
		snprintf(err, errlen, "fixture ABI version %u, harness expects %u (rebuild the "
			 "library: v1's %sobserve opened no window)", fx->abi_version(),
			 FX_ABI_VERSION, prefix);
		return -1;
	}
	return 0;
}
