/* diag.c — the only place that prints user diagnostics, plus the arena and
 * the internal-error path (die), which is deliberately separate: a user
 * error exits 65, an internal bug aborts with a different message. */
#include "frc.h"

#include <stdlib.h>
#include <string.h>

Source *cur_src;
static int nerrors;
static bool limit_hit;

/* Diagnostics are collected and printed in source order by
 * flush_diagnostics(): checks run pass by pass, readers read top-down. */
typedef struct Diag {
	int line, col, seq;
	char *text;
} Diag;
static Diag *diags;
static int ndiags, capdiags;

void *xalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xalloc(n + 1);
	memcpy(p, s, n);
	return p;
}

char *xsprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *p = xalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
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

int error_count(void)
{
	return nerrors;
}

/* Appends source line `line` and a caret line under [col, col+width) to a
 * buffer; tabs are kept so the caret lines up in a terminal. */
static char *show_line(int line, int col, int width)
{
	const char *s = cur_src->text;
	int l = 1, i = 0;
	while (s[i] && l < line) {
		if (s[i] == '\n')
			l++;
		i++;
	}
	int b = i;
	while (s[i] && s[i] != '\n')
		i++;
	int e = i > b && s[i - 1] == '\r' ? i - 1 : i;  /* CRLF sources */
	char *pad = xalloc((size_t)(i - b) + 1);
	int c = 1, n = 0;
	for (int k = b; k < i && c < col; k++) {
		if (((unsigned char)s[k] & 0xC0) == 0x80)
			continue;
		pad[n++] = s[k] == '\t' ? '\t' : ' ';
		c++;
	}
	char *caret = xalloc((size_t)(width < 1 ? 1 : width) + 1);
	memset(caret, '^', (size_t)(width < 1 ? 1 : width));
	return xsprintf("%5d | %.*s\n      | %s%s\n", line, e - b, s + b, pad, caret);
}

static int diag_cmp(const void *a, const void *b)
{
	const Diag *x = a, *y = b;
	if (x->line != y->line)
		return x->line - y->line;
	if (x->col != y->col)
		return x->col - y->col;
	return x->seq - y->seq;
}

void flush_diagnostics(void)
{
	if (ndiags > 1)
		qsort(diags, (size_t)ndiags, sizeof *diags, diag_cmp);
	for (int i = 0; i < ndiags; i++)
		fputs(diags[i].text, stderr);
	if (limit_hit)
		fprintf(stderr, "%s: too many errors, stopped after %d\n", cur_src->path, DIAG_LIMIT);
	ndiags = 0;
}

void error_at(int line, int col, int width, const char *code, const char *fmt, ...)
{
	if (nerrors == DIAG_LIMIT) {
		limit_hit = true;
		return;
	}
	nerrors++;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	Diag d = {line, col, nerrors,
	          xsprintf("%s:%d:%d: error[%s]: %s\n%s", cur_src->path, line, col, code, msg,
	                   show_line(line, col, width))};
	VEC_PUSH(diags, ndiags, capdiags, d);
}

void error_tok(const Token *t, const char *code, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	error_at(t->line, t->col, t->kind == TK_EOF ? 1 : tok_width(t), code, "%s", buf);
}

