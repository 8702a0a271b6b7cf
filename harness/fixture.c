/*
 * fixture.c — the fixture binder (fixture.h).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

#include "fixture.h"

/* Stores dlsym(lib, sym) in the function pointer at *slot.  POSIX lets a
 * void * from dlsym() be stored through a void ** view of the pointer;
 * ISO C has no cast between object and function pointers. */
static int bind(void *lib, void *slot, const char *sym, char *err, size_t errlen)
{
	void *p = dlsym(lib, sym);
	if (!p) {
		snprintf(err, errlen, "fixture library lacks %s", sym);
		return -1;
	}
	*(void **)slot = p;
	return 0;
}

int faa_fixture_bind(void *lib, struct fx_api *fx, char *err, size_t errlen)
{
#define BIND(field) bind(lib, &fx->field, "fx_" #field, err, errlen)
	if (BIND(abi_version) || BIND(mode) || BIND(system_name) || BIND(step_count) ||
	    BIND(step_label) || BIND(steady_from) || BIND(steady_to) ||
	    BIND(steady_repeat) || BIND(expect) || BIND(construct) || BIND(dispatch) ||
	    BIND(observe) || BIND(destroy) || BIND(size_of))
		return -1;
#undef BIND
	if (fx->abi_version() != FX_ABI_VERSION) {
		snprintf(err, errlen, "fixture ABI version %u, harness expects %u (rebuild the "
			 "library: v1's fx_observe opened no window)", fx->abi_version(),
			 FX_ABI_VERSION);
		return -1;
	}
	return 0;
}
