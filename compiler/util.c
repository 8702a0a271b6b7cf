/* util.c — what every other file of frc uses and which uses nothing of
 * frc: the arena, strings allocated in it, the growable output buffer (Out)
 * and the internal-error path (die). It calls only the C library, so the
 * dependencies point one way: diag.c, lex.c, emit.c... → util.c.
 *
 * die is deliberately separate from diag.c's user diagnostics: a user error
 * exits 65, an internal bug aborts with a different message. */
#include "frc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The arena: every allocation is one calloc'd block behind a header that
 * links it into a list, so frc_release() can free them all (the fuzz target
 * compiles thousands of inputs in one process). A block per allocation
 * (rather than big chunks) keeps AddressSanitizer's redzones around each
 * object. */
typedef union Blk {
	union Blk *next;
	max_align_t align;
} Blk;
static Blk *arena;

void *xalloc(size_t n)
{
	if (n > SIZE_MAX - sizeof(Blk))
		die("out of memory (%zu bytes)", n);
	Blk *b = calloc(1, sizeof(Blk) + n);
	if (!b)
		die("out of memory (%zu bytes)", n);
	b->next = arena;
	arena = b;
	return b + 1;
}

void arena_free_all(void)
{
	while (arena) {
		Blk *next = arena->next;
		free(arena);
		arena = next;
	}
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xalloc(n + 1);
	memcpy(p, s, n);
	return p;
}

/* ap is used twice (measure, then print), so it is copied; the caller
 * still va_ends its own. */
char *xvsprintf(const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	char *p = xalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, again);
	va_end(again);
	return p;
}

char *xsprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = xvsprintf(fmt, ap);
	va_end(ap);
	return p;
}

_Noreturn void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "frc: internal error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

void out_n(Out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 4096;
		while (nc < o->len + n + 1)
			nc *= 2;
		char *b = xalloc(nc);
		if (o->len)
			memcpy(b, o->buf, o->len);
		o->buf = b;
		o->cap = nc;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = 0;
}

void out_s(Out *o, const char *s)
{
	out_n(o, s, strlen(s));
}

void out_f(Out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *b = xvsprintf(fmt, ap);
	va_end(ap);
	out_n(o, b, strlen(b));
}
