/* lex.c — turns the whole .frs file into tokens.
 *
 * Native Rust and Frame share one token stream: the parser decides what is
 * Frame. Output text is always copied from the source bytes, so token
 * granularity only matters for the few multi-character punctuators Frame
 * looks at (-> => :: .. @@); everything else is one character. Comments are
 * dropped, but a token records whether whitespace or a comment preceded it,
 * which is how `push$` (adjacent) differs from `push $`. */
#include "frc.h"

#include <string.h>

TokList src_toks;

static const char *multi_punct[] = {"->", "=>", "::", "..", "@@", NULL};

bool tok_is(const Token *t, const char *s)
{
	int n = (int)strlen(s);
	return t->kind != TK_EOF && t->end - t->start == n &&
	       memcmp(cur_src->text + t->start, s, (size_t)n) == 0;
}

char *tok_str(const Token *t)
{
	return xstrndup(cur_src->text + t->start, (size_t)(t->end - t->start));
}

/* text = { UTF-8 character except NUL }
 * Rust sources are UTF-8 and frc copies native text into its output
 * verbatim, so anything else would only move the error to rustc (or, for a
 * NUL byte, cut the text short). The first offending byte is reported. */
bool check_text(void)
{
	const char *s = cur_src->text;
	int len = cur_src->len, line = 1, col = 1;
	for (int i = 0; i < len;) {
		int n = utf8_seq_len(s, len, i);
		if (n == 0 || s[i] == 0) {
			if (s[i] == 0)
				error_at(line, col, 1, "E008", "NUL byte in the source: frc reads UTF-8 text (is this a binary file?)");
			else
				error_at(line, col, 1, "E008", "invalid UTF-8 (byte 0x%02X): frc and rustc read UTF-8 text only",
				         (unsigned char)s[i]);
			return false;
		}
		if (s[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
		i += n;
	}
	return true;
}

typedef struct Lexer {
	const char *s;
	int len, i, line, col;
	Token *v;
	int n, cap;
	bool ok;
} Lexer;

/* Advances to byte `to`, keeping line and column (in characters). */
static void advance(Lexer *lx, int to)
{
	while (lx->i < to) {
		unsigned char c = (unsigned char)lx->s[lx->i++];
		if (c == '\n') {
			lx->line++;
			lx->col = 1;
		} else if ((c & 0xC0) != 0x80) {
			lx->col++;
		}
	}
}

static void push_tok(Lexer *lx, TokKind k, int end, bool space)
{
	Token t = {k, lx->i, end, lx->line, lx->col, space};
	VEC_PUSH(lx->v, lx->n, lx->cap, t);
	advance(lx, end);
}

/* The line the file ends on. */
static int eof_line(const Lexer *lx)
{
	int line = lx->line;
	for (int i = lx->i; i < lx->len; i++)
		line += lx->s[i] == '\n';
	return line;
}

/* E001 at the opening token (`width` columns) of a literal or comment the
 * file never closes, as E003 reports an unclosed bracket; `hint` (may be
 * empty) says more. Everything after it is skipped. */
static void never_closed(Lexer *lx, int width, const char *what, const char *hint)
{
	error_at(lx->line, lx->col, width, "E001", "%s opened here is never closed (the file ends at line %d)%s",
	         what, eof_line(lx), hint);
	lx->ok = false;
	advance(lx, lx->len);
}

/* A plain string left open at the end usually means an earlier string
 * lost its closing quote and took this one's opening quote for its own:
 * names the last string before it that runs over several lines. */
static void string_never_closed(Lexer *lx, int width)
{
	const char *hint = "";
	for (int k = lx->n - 1; k >= 0; k--) {
		Token *t = &lx->v[k];
		const char *q = lx->s + t->start;
		if (t->kind != TK_STR || *q == 'r' || ((*q == 'b' || *q == 'c') && q[1] == 'r'))
			continue;  /* raw strings end at `"#`, not at any quote */
		int lines = 1;
		for (const char *c = q; c < lx->s + t->end; c++)
			lines += *c == '\n';
		if (lines > 1)
			hint = xsprintf("; the string literal at line %d:%d before it runs over %d lines: is its closing "
			                "`\"` missing?", t->line, t->col, lines);
		break;
	}
	never_closed(lx, width, "string literal", hint);
}

/* r"..", r#".."#, br#".."#: the opening delimiter is the prefix, the
 * hashes and the quote; the closing one is the quote and as many hashes. */
static void raw_never_closed(Lexer *lx, int quote)
{
	int hashes = 0;
	while (lx->s[quote - 1 - hashes] == '#')
		hashes++;
	if (lx->s[quote] != '"') {
		error_at(lx->line, lx->col, quote - lx->i, "E001", "raw string literal `%.*s` opened here needs a `\"` "
		         "after its `#`s", quote - lx->i, lx->s + lx->i);
		lx->ok = false;
		advance(lx, lx->len);
		return;
	}
	never_closed(lx, quote + 1 - lx->i, "raw string literal",
	             xsprintf("; it ends at `\"%.*s`", hashes, "################################"));
}

/* A block comment left open: block comments nest in Rust, so a `/ *`
 * inside it takes the first `* /`; names the first such one. */
static void comment_never_closed(Lexer *lx)
{
	const char *s = lx->s;
	int line = lx->line, col = lx->col, depth = 0;
	for (int i = lx->i; i + 1 < lx->len; i++) {
		if (s[i] == '/' && s[i + 1] == '*' && depth++ == 1) {
			never_closed(lx, 2, "block comment", xsprintf("; block comments nest in Rust, and the `/*` at "
			             "line %d:%d inside it takes the first `*/`", line, col));
			return;
		}
		if (s[i] == '*' && s[i + 1] == '/')
			depth--;
		if (s[i] == '\n')
			line++, col = 1;
		else if (((unsigned char)s[i] & 0xC0) != 0x80)
			col++;
	}
	never_closed(lx, 2, "block comment", "");
}

static int scan_number(const char *s, int len, int i)
{
	bool hex = s[i] == '0' && i + 1 < len && (s[i + 1] == 'x' || s[i + 1] == 'X');
	while (i < len) {
		char c = s[i];
		if (is_ident_char((unsigned char)c)) {
			i++;
			if (!hex && (c == 'e' || c == 'E') && i < len && (s[i] == '+' || s[i] == '-'))
				i++;
		} else if (c == '.' && !hex && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9') {
			i++;
		} else {
			break;
		}
	}
	return i;
}

/* Literal prefixes: b"..", br"..", r"..", r#"..", c"..", cr"..", b'x'.
 * Returns the end, or 0 when this is not a prefixed literal. */
static int scan_prefixed(Lexer *lx, TokKind *kind)
{
	const char *s = lx->s;
	int i = lx->i, len = lx->len;
	int j = i;
	if (s[j] == 'b' || s[j] == 'c')
		j++;
	if (j < len && s[j] == 'r' && j + 1 < len && (s[j + 1] == '"' || s[j + 1] == '#')) {
		/* r#ident is a raw identifier, not a raw string */
		if (s[j + 1] == '#' && j + 2 < len && s[j + 2] != '"' && s[j + 2] != '#')
			return 0;
		*kind = TK_STR;
		int e = scan_raw_string(s, len, j);
		return e < 0 ? -1 : e;
	}
	if (j > i && j < len && s[j] == '"') {
		*kind = TK_STR;
		return scan_string(s, len, j);
	}
	if (j > i && s[i] == 'b' && j < len && s[j] == '\'') {
		bool lt;
		*kind = TK_CHAR;
		return scan_quote(s, len, j, &lt);
	}
	return 0;
}

/* A character literal left open: it holds one character (or one escape)
 * and closes on its own line, so this is not a file-end problem. */
static void char_never_closed(Lexer *lx, int width)
{
	error_at(lx->line, lx->col, width, "E001", "character literal opened here is never closed (a character "
	         "literal is one character or escape between `'`s: `'x'`, `'\\n'`)");
	lx->ok = false;
	advance(lx, lx->len);
}

/* b"..", c"..", b'x', r#".."#, br"..", cr"..": which literal it opens. */
static void prefixed_never_closed(Lexer *lx)
{
	int j = lx->i + (lx->s[lx->i] == 'b' || lx->s[lx->i] == 'c');
	if (lx->s[j] == 'r') {
		int q = j + 1;
		while (q < lx->len && lx->s[q] == '#')
			q++;
		return raw_never_closed(lx, q);
	}
	if (lx->s[j] == '\'')
		return char_never_closed(lx, 2);
	string_never_closed(lx, 2);
}

static void lex_one(Lexer *lx, bool space)
{
	const char *s = lx->s;
	int i = lx->i, len = lx->len;
	unsigned char c = (unsigned char)s[i];
	TokKind kind;
	int e;

	if (is_ident_start(c)) {
		e = scan_prefixed(lx, &kind);
		if (e < 0)
			return prefixed_never_closed(lx);
		if (e > 0)
			return push_tok(lx, kind, e, space);
		e = i;
		if (s[e] == 'r' && e + 1 < len && s[e + 1] == '#')
			e += 2;  /* raw identifier r#type */
		while (e < len && is_ident_char((unsigned char)s[e]))
			e++;
		return push_tok(lx, TK_IDENT, e, space);
	}
	if (c >= '0' && c <= '9')
		return push_tok(lx, TK_NUM, scan_number(s, len, i), space);
	if (c == '"') {
		e = scan_string(s, len, i);
		if (e < 0)
			return string_never_closed(lx, 1);
		return push_tok(lx, TK_STR, e, space);
	}
	if (c == '\'') {
		bool lifetime;
		e = scan_quote(s, len, i, &lifetime);
		if (e < 0)
			return char_never_closed(lx, 1);
		return push_tok(lx, lifetime ? TK_LIFETIME : TK_CHAR, e, space);
	}
	for (const char **p = multi_punct; *p; p++) {
		if (strncmp(s + i, *p, strlen(*p)) == 0)
			return push_tok(lx, TK_PUNCT, i + (int)strlen(*p), space);
	}
	push_tok(lx, TK_PUNCT, i + 1, space);
}

bool lex_file(TokList *out)
{
	Lexer lx = {cur_src->text, cur_src->len, 0, 1, 1, NULL, 0, 0, true};
	bool space = true;
	while (lx.i < lx.len) {
		const char *s = lx.s;
		int i = lx.i;
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			advance(&lx, i + 1);
			space = true;
		} else if (s[i] == '/' && i + 1 < lx.len && s[i + 1] == '/') {
			advance(&lx, scan_line_comment(s, lx.len, i));
			space = true;
		} else if (s[i] == '/' && i + 1 < lx.len && s[i + 1] == '*') {
			int e = scan_block_comment(s, lx.len, i);
			if (e < 0)
				comment_never_closed(&lx);
			else
				advance(&lx, e);
			space = true;
		} else {
			lex_one(&lx, space);
			space = false;
		}
	}
	Token eof = {TK_EOF, lx.len, lx.len, lx.line, lx.col, true};
	VEC_PUSH(lx.v, lx.n, lx.cap, eof);
	out->v = lx.v;
	out->n = lx.n;
	src_toks = *out;
	return lx.ok;
}
