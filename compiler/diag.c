/* diag.c — the only place that prints user diagnostics, plus the arena and
 * the internal-error path (die), which is deliberately separate: a user
 * error exits 65, an internal bug aborts with a different message. */
#include "frc.h"

#include <stdlib.h>
#include <string.h>

Source *cur_src;
static int nerrors;
static bool limit_hit;

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

/* Prints source line `line` and a caret line; tabs are kept so the caret
 * lines up in a terminal. */
static void show_line(int line, int col, int width)
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
	fprintf(stderr, "%5d | %.*s\n      | ", line, i - b, s + b);
	int c = 1;
	for (int k = b; k < i && c < col; k++) {
		if (((unsigned char)s[k] & 0xC0) == 0x80)
			continue;
		fputc(s[k] == '\t' ? '\t' : ' ', stderr);
		c++;
	}
	if (width < 1)
		width = 1;
	for (int k = 0; k < width; k++)
		fputc('^', stderr);
	fputc('\n', stderr);
}

void error_at(int line, int col, int width, const char *code, const char *fmt, ...)
{
	if (limit_hit)
		return;
	if (nerrors == DIAG_LIMIT) {
		fprintf(stderr, "%s: too many errors (%d), stopping\n", cur_src->path, DIAG_LIMIT);
		limit_hit = true;
		return;
	}
	nerrors++;
	va_list ap;
	fprintf(stderr, "%s:%d:%d: error[%s]: ", cur_src->path, line, col, code);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	show_line(line, col, width);
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

void note_at(int line, int col, const char *fmt, ...)
{
	if (limit_hit)
		return;
	va_list ap;
	fprintf(stderr, "%s:%d:%d: note: ", cur_src->path, line, col);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
