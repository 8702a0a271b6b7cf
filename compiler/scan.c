/* scan.c — Rust's lexical structure, just enough to step over native code.
 *
 * The point is that Frame syntax inside a string, a char literal or a
 * comment is not Frame syntax: `"-> $X"` must stay a string. These helpers
 * only find where a literal or comment ends; they never interpret it. */
#include "frc.h"

bool is_ident_start(int c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

bool is_ident_char(int c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

int scan_line_comment(const char *s, int len, int i)
{
	while (i < len && s[i] != '\n')
		i++;
	return i;
}

/* Rust block comments nest: / * / * * / * / is one comment. */
int scan_block_comment(const char *s, int len, int i)
{
	int depth = 0;
	while (i < len) {
		if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			depth++;
			i += 2;
		} else if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') {
			depth--;
			i += 2;
			if (depth == 0)
				return i;
		} else {
			i++;
		}
	}
	return -1;
}

/* At the opening '"'. Backslash escapes anything, including a newline. */
int scan_string(const char *s, int len, int i)
{
	i++;
	while (i < len) {
		if (s[i] == '\\')
			i += 2;
		else if (s[i] == '"')
			return i + 1;
		else
			i++;
	}
	return -1;
}

/* At the 'r' of r"..", r#".."#, r##".."## (b/c prefixes already skipped).
 * No escapes inside; the closing quote must be followed by as many '#'. */
int scan_raw_string(const char *s, int len, int i)
{
	i++;
	int hashes = 0;
	while (i < len && s[i] == '#') {
		hashes++;
		i++;
	}
	if (i >= len || s[i] != '"')
		return -1;
	i++;
	while (i < len) {
		if (s[i] == '"') {
			int k = 0;
			while (k < hashes && i + 1 + k < len && s[i + 1 + k] == '#')
				k++;
			if (k == hashes)
				return i + 1 + hashes;
		}
		i++;
	}
	return -1;
}

/* A quote starts either a char literal ('a', '\n', '\u{1F600}', '\'') or a
 * lifetime/label ('a, 'static). A lifetime is an identifier after the quote
 * that is NOT followed by a closing quote: 'a' is a char, 'a is not. */
int scan_quote(const char *s, int len, int i, bool *is_lifetime)
{
	*is_lifetime = false;
	int j = i + 1;
	if (j >= len)
		return -1;
	if (s[j] == '\\') {
		j += 2;
		while (j < len && s[j] != '\'' && s[j] != '\n')
			j++;
		return j < len && s[j] == '\'' ? j + 1 : -1;
	}
	if (is_ident_start((unsigned char)s[j])) {
		int k = j + 1;
		while (k < len && is_ident_char((unsigned char)s[k]))
			k++;
		/* 'a' (one UTF-8 character then a quote) is a char literal */
		int first_end = j + 1;
		while (first_end < len && ((unsigned char)s[first_end] & 0xC0) == 0x80)
			first_end++;
		if (first_end < len && s[first_end] == '\'')
			return first_end + 1;
		*is_lifetime = true;
		return k;
	}
	/* any other single character, possibly multi-byte UTF-8 */
	j++;
	while (j < len && ((unsigned char)s[j] & 0xC0) == 0x80)
		j++;
	return j < len && s[j] == '\'' ? j + 1 : -1;
}
