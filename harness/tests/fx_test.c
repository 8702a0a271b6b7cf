/*
 * fx_test.c — a fixture library written in C (fixture_abi.h, ABI v2) whose
 * only job is to allocate where the harness must notice it, or nowhere.
 *
 * One shared module per variant (-DFX_VARIANT=...; meson.build):
 *   FX_CLEAN    allocates nothing, anywhere;
 *   FX_THREAD   starts a thread when it is loaded; step 2's dispatch hands
 *               that thread an allocation and waits for it to finish;
 *   FX_LATE     allocates on dispatch number FX_LATE_AT only, far beyond
 *               the steps and the windowed steady replay (33 dispatches):
 *               inside a timing batch;
 *   FX_DESTROY  allocates in fx_destroy();
 *   FX_OBSERVE  allocates in its second construction only: the
 *               observation pass's;
 *   FX_OS       maps and unmaps a page in step 3;
 *   FX_OLD_ABI  FX_CLEAN, but says it is ABI v1: harness and faa-run
 *               must refuse it (fixture.h).
 * Every allocation is a malloc+free pair through volatile pointers (gcc
 * deletes a visible pair).  mode() says "noalloc" in every variant.
 *
 * A bundle (several fixtures in one library, fixture.h): -DFX_PREFIX=P
 * exports the ABI as P##field instead of fx_##field (every other symbol is
 * static, so objects built with different prefixes link into one shared
 * module); -DFX_SYSTEM="Name" and -DFX_STEPS=N (at most 8) tell the
 * fixtures of one bundle apart.  Defaults: fx_, "TestSys", 3.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "fixture_abi.h"

#define FX_CLEAN 0
#define FX_THREAD 1
#define FX_LATE 2
#define FX_DESTROY 3
#define FX_OBSERVE 4
#define FX_OS 5
#define FX_OLD_ABI 6

#ifndef FX_VARIANT
#error "build with -DFX_VARIANT=FX_..."
#endif

#ifndef FX_PREFIX
#define FX_PREFIX fx_
#endif
#ifndef FX_SYSTEM
#define FX_SYSTEM "TestSys"
#endif
#ifndef FX_STEPS
#define FX_STEPS 3
#endif

/* FX(construct) is the exported name of field construct. */
#define FX_CAT2(a, b) a##b
#define FX_CAT(a, b) FX_CAT2(a, b)
#define FX(field) FX_CAT(FX_PREFIX, field)

#define STEPS FX_STEPS
#define FX_LATE_AT 1000

#define EXPORT __attribute__((visibility("default")))

static void *(*volatile do_malloc)(size_t) = malloc;
static void (*volatile do_free)(void *) = free;

static int constructed, constructions;
static unsigned long dispatches;

static __attribute__((unused)) void allocate(void)
{
	do_free(do_malloc(24));
}

#if FX_VARIANT == FX_THREAD
static sem_t go, done;

static void *helper(void *arg)
{
	(void)arg;
	for (;;) {
		while (sem_wait(&go) != 0)
			;
		allocate();
		sem_post(&done);
	}
	return NULL;
}

/* At load time, outside every window: the thread is the library's own. */
__attribute__((constructor)) static void start_helper(void)
{
	pthread_t t;
	sem_init(&go, 0, 0);
	sem_init(&done, 0, 0);
	if (pthread_create(&t, NULL, helper, NULL) != 0)
		abort();
}

static void on_another_thread(void)
{
	sem_post(&go);
	while (sem_wait(&done) != 0)
		;
}
#endif

/* The "interface call" of step i. */
static void step(uint32_t i)
{
	(void)i;
	dispatches++;
#if FX_VARIANT == FX_THREAD
	if (i == 1)
		on_another_thread();
#elif FX_VARIANT == FX_LATE
	if (dispatches == FX_LATE_AT)
		allocate();
#elif FX_VARIANT == FX_OS
	if (i == 2) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			munmap(p, 4096);
	}
#endif
}

EXPORT uint32_t FX(abi_version)(void) { return FX_VARIANT == FX_OLD_ABI ? 1 : FX_ABI_VERSION; }
EXPORT const char *FX(mode)(void) { return "noalloc"; }
EXPORT const char *FX(system_name)(void) { return FX_SYSTEM; }
EXPORT uint32_t FX(step_count)(void) { return STEPS; }
EXPORT uint32_t FX(steady_from)(void) { return 0; }
EXPORT uint32_t FX(steady_to)(void) { return STEPS - 1; }
EXPORT uint32_t FX(steady_repeat)(void) { return 10; }
EXPORT size_t FX(size_of)(void) { return sizeof constructed; }

EXPORT const char *FX(step_label)(uint32_t i)
{
	static const char *labels[8] = { "a()", "b()", "c()", "d()", "e()", "f()", "g()", "h()" };
	_Static_assert(STEPS <= 8, "FX_STEPS: at most 8");
	return i < STEPS ? labels[i] : "?";
}

EXPORT void FX(expect)(int32_t i, int64_t *allocs, int64_t *frees)
{
	(void)i;
	*allocs = *frees = -1;
}

EXPORT int32_t FX(construct)(fx_hook open, fx_hook close, void *ctx)
{
	open(ctx);
	constructed = 1;
	constructions++;
#if FX_VARIANT == FX_OBSERVE
	if (constructions == 2)
		allocate();
#endif
	close(ctx);
	return 0;
}

EXPORT int32_t FX(dispatch)(uint32_t i, fx_hook open, fx_hook close, void *ctx)
{
	if (!constructed || i >= STEPS)
		return -1;
	open(ctx);
	step(i);
	close(ctx);
	return 0;
}

EXPORT int64_t FX(observe)(uint32_t i, char *buf, size_t len, fx_hook open, fx_hook close,
			  void *ctx)
{
	if (FX(dispatch)(i, open, close, ctx) != 0)
		return -1;
	return snprintf(buf, len, "ret=()\x1f" "dispatches=%lu", dispatches);
}

EXPORT void FX(destroy)(void)
{
#if FX_VARIANT == FX_DESTROY
	if (constructed)
		allocate();
#endif
	constructed = 0;
}
