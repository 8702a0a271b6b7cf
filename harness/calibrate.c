/*
 * calibrate.c — one window per hooked entry point (calibrate.h).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "calibrate.h"

/* glibc's exported aliases of its allocator.  Weak: a C library without
 * one must give a calibration failure naming it, not a link error or a
 * crash.  The dynamic linker binds them like any other object's reference,
 * so under LD_PRELOAD they reach the interposer's hooks (if it has any). */
extern void *__libc_malloc(size_t) __attribute__((weak));
extern void *__libc_calloc(size_t, size_t) __attribute__((weak));
extern void *__libc_realloc(void *, size_t) __attribute__((weak));
extern void *__libc_reallocarray(void *, size_t, size_t) __attribute__((weak));
extern void __libc_free(void *) __attribute__((weak));
extern void *__libc_memalign(size_t, size_t) __attribute__((weak));
extern void *__libc_valloc(size_t) __attribute__((weak));
extern void *__libc_pvalloc(size_t) __attribute__((weak));

/* Meson builds with -D_FILE_OFFSET_BITS=64, under which <sys/mman.h>
 * renames every use of `mmap` to `mmap64`: without this label the "mmap"
 * entry would calibrate mmap64 twice and the symbol mmap never. */
extern void *faa_sym_mmap(void *, size_t, int, int, int, long) __asm__("mmap");

enum op {
	OP_MALLOC, OP_CALLOC, OP_REALLOC, OP_REALLOCARRAY, OP_FREE,
	OP_POSIX_MEMALIGN, OP_ALIGNED_ALLOC, OP_MEMALIGN, OP_VALLOC, OP_PVALLOC,
	OP_MMAP, OP_MREMAP, OP_MUNMAP, OP_BRK, OP_SBRK, OP_SYSCALL_MMAP,
};

typedef void (*anyfn)(void);

struct probe {
	const char *fn;
	enum op op;
	unsigned kind;
	anyfn volatile sym; /* volatile: the optimiser must not know the callee */
};

/* A probe of the function `name`, called as OP_what, counted as AUDIT_what. */
#define PROBE(name, what) { #name, OP_##what, AUDIT_##what, (anyfn)name }

static struct probe probes[FAA_CALIB_ENTRIES] = {
	/* the C and POSIX allocators */
	PROBE(malloc, MALLOC), PROBE(calloc, CALLOC), PROBE(realloc, REALLOC),
	PROBE(reallocarray, REALLOCARRAY), PROBE(free, FREE),
	PROBE(posix_memalign, POSIX_MEMALIGN), PROBE(aligned_alloc, ALIGNED_ALLOC),
	PROBE(memalign, MEMALIGN), PROBE(valloc, VALLOC), PROBE(pvalloc, PVALLOC),
	/* glibc's own names for them */
	PROBE(__libc_malloc, MALLOC), PROBE(__libc_calloc, CALLOC), PROBE(__libc_realloc, REALLOC),
	PROBE(__libc_free, FREE), PROBE(__libc_memalign, MEMALIGN),
	PROBE(__libc_valloc, VALLOC), PROBE(__libc_pvalloc, PVALLOC),
	PROBE(__libc_reallocarray, REALLOCARRAY),
	/* the kernel's: mappings and the program break */
	{ "mmap", OP_MMAP, AUDIT_MMAP, (anyfn)faa_sym_mmap },
	PROBE(mmap64, MMAP), PROBE(mremap, MREMAP), PROBE(munmap, MUNMAP),
	PROBE(brk, BRK), PROBE(sbrk, SBRK),
	{ "syscall(SYS_mmap)", OP_SYSCALL_MMAP, AUDIT_MMAP, (anyfn)syscall },
};

/* Setup and cleanup, outside the windows; volatile for the same reason. */
static void *(*volatile plain_malloc)(size_t) = malloc;
static void (*volatile plain_free)(void *) = free;
static int (*volatile plain_munmap)(void *, size_t) = munmap;

#define BLOCK 48
#define ALIGN 64
#define PAGE 4096

struct slot {
	void *p;        /* the block or mapping the call works on / returns */
	size_t maplen;  /* length of the mapping in p (0: p is a heap block) */
};

static void *map_page(void)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void setup(const struct probe *pr, struct slot *s)
{
	*s = (struct slot){ 0 };
	switch (pr->op) {
	case OP_REALLOC:
	case OP_REALLOCARRAY:
	case OP_FREE:
		s->p = plain_malloc(BLOCK);
		break;
	case OP_MREMAP:
	case OP_MUNMAP:
		s->p = map_page();
		s->maplen = s->p ? PAGE : 0;
		break;
	default:
		break;
	}
}

/* The one call the window must count, and nothing else. */
static void call(const struct probe *pr, struct slot *s)
{
	anyfn f = pr->sym;
	void *p;
	switch (pr->op) {
	case OP_MALLOC:
		s->p = ((void *(*)(size_t))f)(BLOCK);
		break;
	case OP_CALLOC:
		s->p = ((void *(*)(size_t, size_t))f)(4, BLOCK / 4);
		break;
	case OP_REALLOC:
		p = ((void *(*)(void *, size_t))f)(s->p, 4 * BLOCK);
		s->p = p ? p : s->p;
		break;
	case OP_REALLOCARRAY:
		p = ((void *(*)(void *, size_t, size_t))f)(s->p, 4, BLOCK);
		s->p = p ? p : s->p;
		break;
	case OP_FREE:
		((void (*)(void *))f)(s->p);
		s->p = NULL;
		break;
	case OP_POSIX_MEMALIGN:
		if (((int (*)(void **, size_t, size_t))f)(&s->p, ALIGN, BLOCK) != 0)
			s->p = NULL;
		break;
	case OP_ALIGNED_ALLOC:
	case OP_MEMALIGN:
		s->p = ((void *(*)(size_t, size_t))f)(ALIGN, BLOCK);
		break;
	case OP_VALLOC:
	case OP_PVALLOC:
		s->p = ((void *(*)(size_t))f)(BLOCK);
		break;
	case OP_MMAP:
		p = ((void *(*)(void *, size_t, int, int, int, long))f)(
			NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		s->p = p == MAP_FAILED ? NULL : p;
		s->maplen = PAGE;
		break;
	case OP_SYSCALL_MMAP:
		p = (void *)((long (*)(long, ...))f)(SYS_mmap, NULL, PAGE, PROT_READ | PROT_WRITE,
						     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
		s->p = p == MAP_FAILED ? NULL : p;
		s->maplen = PAGE;
		break;
	case OP_MREMAP:
		p = ((void *(*)(void *, size_t, size_t, int, ...))f)(s->p, PAGE, 2 * PAGE,
								     MREMAP_MAYMOVE);
		if (p != MAP_FAILED) {
			s->p = p;
			s->maplen = 2 * PAGE;
		}
		break;
	case OP_MUNMAP:
		((int (*)(void *, size_t))f)(s->p, PAGE);
		s->p = NULL;
		break;
	case OP_BRK:
		/* brk(NULL) only asks the kernel for the current break: moving
		 * it would pull the heap from under glibc's malloc. */
		((int (*)(void *))f)(NULL);
		break;
	case OP_SBRK:
		((void *(*)(intptr_t))f)(0);
		break;
	}
}

static void cleanup(struct slot *s)
{
	if (s->p && s->maplen)
		plain_munmap(s->p, s->maplen);
	else if (s->p)
		plain_free(s->p);
	s->p = NULL;
}

/* What the window's totals must be when it read one call of `kind`. */
static int totals_match(const struct audit_counts *c, unsigned kind)
{
	uint64_t allocs = kind < AUDIT_HEAP_KINDS && kind != AUDIT_FREE;
	uint64_t frees = kind == AUDIT_FREE;
	uint64_t os = kind >= AUDIT_HEAP_KINDS;
	return c->allocs == allocs && c->frees == frees && c->os == os;
}

/* The contract's message for the first entry that failed. */
static void describe(const struct audit_api *api, const struct faa_calib_entry *e,
		     const struct audit_counts *c, char *buf, size_t len)
{
	int n = snprintf(buf, len, "interposer calibration failed: %s read %" PRIu64
			 " call(s) of kind %s, expected 1", e->fn, e->calls,
			 api->kind_name(e->kind));
	if (n < 0 || (size_t)n >= len)
		return;
	if (e->missing)
		snprintf(buf + n, len - n, " (no such symbol in this process)");
	else if (e->calls == 1 && e->other)
		snprintf(buf + n, len - n, " and nothing else; its window read %" PRIu64
			 " other call(s)", e->other);
	else if (e->calls == 1)
		snprintf(buf + n, len - n, "; its window's totals are allocs %" PRIu64
			 ", frees %" PRIu64 ", os %" PRIu64, c->allocs, c->frees, c->os);
}

int faa_calibrate(const struct audit_api *api, unsigned flags, struct faa_calibration *out)
{
	memset(out, 0, sizeof *out);
	out->ok = 1;
	out->n = FAA_CALIB_ENTRIES;
	for (unsigned i = 0; i < FAA_CALIB_ENTRIES; i++) {
		const struct probe *pr = &probes[i];
		struct faa_calib_entry *e = &out->e[i];
		struct audit_counts c = { 0 };
		e->fn = pr->fn;
		e->kind = pr->kind;
		e->missing = !pr->sym;
		if (!e->missing) {
			struct slot s;
			setup(pr, &s);
			api->open(flags);
			call(pr, &s);
			api->close(&c);
			cleanup(&s);
			uint64_t total = 0;
			for (unsigned k = 0; k < AUDIT_KIND_COUNT; k++)
				total += c.calls[k];
			e->calls = c.calls[pr->kind];
			e->other = total - e->calls;
			e->ok = e->calls == 1 && e->other == 0 && totals_match(&c, pr->kind);
		}
		if (!e->ok && out->ok) {
			out->ok = 0;
			describe(api, e, &c, out->message, sizeof out->message);
		}
	}
	return out->ok;
}

void faa_calibration_record(FILE *f, const struct audit_api *api, const struct faa_calibration *c)
{
	fprintf(f, "{\"kind\":\"calibration\",\"ok\":%s,\"entries\":[", c->ok ? "true" : "false");
	for (unsigned i = 0; i < c->n; i++) {
		const struct faa_calib_entry *e = &c->e[i];
		fprintf(f, "%s{\"fn\":\"%s\",\"kind\":\"%s\",\"calls\":%" PRIu64, i ? "," : "",
			e->fn, api->kind_name(e->kind), e->calls);
		if (e->other)
			fprintf(f, ",\"other\":%" PRIu64, e->other);
		if (e->missing)
			fputs(",\"missing\":true", f);
		fputc('}', f);
	}
	fputs("]}\n", f);
}
