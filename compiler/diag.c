/* diag.c — the only place that prints user diagnostics: it collects them
 * and prints them in source order, each with its source line and a caret.
 * It uses util.c (arena, Out) and the Token layout (frc.h), and no
 * function of the files that report errors (lex.c, parse.c, check.c...). */
#include "frc.h"
#include "check_native.h"

#include <stdlib.h>
#include <string.h>

Source *cur_src;
FILE *diag_out;
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

int error_count(void)
{
	return nerrors;
}

void diag_reset(void)
{
	nerrors = 0;
	limit_hit = false;
	diags = NULL;
	ndiags = capdiags = 0;
}

/* Length of the valid UTF-8 sequence at s[i] (1 for ASCII), 0 if the bytes
 * there are not valid UTF-8 (overlong forms and surrogates included). */
int utf8_seq_len(const char *s, int len, int i)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned c = u[i];
	int n;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, min = 0x10000;
	else
		return 0;
	if (i + n > len)
		return 0;
	unsigned cp = c & (0x7Fu >> n);
	for (int k = 1; k < n; k++) {
		if ((u[i + k] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (u[i + k] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* One column of the echoed line at s[*k], appended to o (or skipped when o
 * is NULL). Tabs are kept so the caret lines up in a terminal; control
 * characters and bytes that are not UTF-8 (the E008 line) show as '?'. Like
 * the lexer, a column is a byte that is not a UTF-8 continuation byte. */
static void echo_char(Out *o, const char *s, int len, int *k)
{
	unsigned char c = (unsigned char)s[*k];
	int n = utf8_seq_len(s, len, *k);
	if (c == '\t' || n > 1 || (n == 1 && c >= 0x20 && c != 0x7F)) {
		if (o)
			out_n(o, s + *k, (size_t)n);
		*k += n;
		return;
	}
	if (o)
		out_s(o, "?");
	(*k)++;
	while (*k < len && ((unsigned char)s[*k] & 0xC0) == 0x80)
		(*k)++;
}

/* At most this many columns of a source line are echoed: a window around the
 * caret, with "..." where the line was cut, so a 100 KB one-line file cannot
 * print 100 KB per diagnostic. */
enum { ECHO_COLS = 120, ECHO_BEFORE = 60 };

/* Source line `line` and a caret line under [col, col+width). */
static char *show_line(int line, int col, int width)
{
	const char *s = cur_src->text;
	int len = cur_src->len;
	int l = 1, i = 0;
	while (i < len && l < line) {
		if (s[i] == '\n')
			l++;
		i++;
	}
	int b = i;
	while (i < len && s[i] != '\n')
		i++;
	int e = i > b && s[i - 1] == '\r' ? i - 1 : i;  /* CRLF sources */
	int first = col > ECHO_COLS - ECHO_BEFORE / 2 ? col - ECHO_BEFORE : 1;  /* first column shown */
	Out text = {0}, pad = {0};
	out_s(&text, first > 1 ? "..." : "");
	out_s(&pad, first > 1 ? "   " : "");
	int c = 1, k = b;
	while (k < e && c < first + ECHO_COLS) {
		if (c >= first && c < col)
			out_s(&pad, s[k] == '\t' ? "\t" : " ");
		echo_char(c >= first ? &text : NULL, s, e, &k);
		c++;
	}
	if (k < e)
		out_s(&text, "...");
	while (c < col) {  /* a caret past the end of the line (EOF, a cut line) */
		out_s(&pad, " ");
		c++;
	}
	if (width < 1)
		width = 1;
	if (width > ECHO_COLS)
		width = ECHO_COLS;
	char *caret = xalloc((size_t)width + 1);
	memset(caret, '^', (size_t)width);
	return xsprintf("%5d | %s\n      | %s%s\n", line, text.buf, pad.buf, caret);
}

/* For `frc check` (check_native.h): the echo of `line` without its caret
 * line when col < 1. */
char *diag_echo(int line, int col, int width)
{
	char *text = show_line(line, col < 1 ? 1 : col, width);
	if (col < 1)
		*(strchr(text, '\n') + 1) = 0;
	return text;
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
	FILE *f = diag_out ? diag_out : stderr;
	for (int i = 0; i < ndiags; i++)
		fputs(diags[i].text, f);
	if (limit_hit)
		fprintf(f, "%s: too many errors, stopped after %d\n", cur_src->path, DIAG_LIMIT);
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

/* Width of token t in columns, for the caret: its characters up to the end
 * of its first line (a column is a byte that is not a UTF-8 continuation
 * byte, as in the lexer); at least 1. */
static int tok_width(const Token *t)
{
	int w = 0;
	for (int i = t->start; i < t->end; i++) {
		if (cur_src->text[i] == '\n')
			break;
		if (((unsigned char)cur_src->text[i] & 0xC0) != 0x80)
			w++;
	}
	return w ? w : 1;
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

