/* check_native.c — `frc check FILE.frs`: errors in native code at .frs
 * positions.
 *
 * frc copies native Rust through unparsed, so a handler whose native
 * statements are not Rust (a missing `;`, a misspelt name, a wrong type)
 * is accepted by frc and rejected by rustc, against the generated file.
 * `frc check` compiles FILE in both shapes (as written, and with the
 * no_alloc attribute toggled without moving a line, as the audit does),
 * runs rustc on each output (`--crate-type lib --emit=metadata`; the
 * no_alloc shape under `#![no_std]`, as the audit's static proof builds
 * it) and prints each of rustc's errors at the .frs line it came from:
 *
 *   FILE.frs:LINE:COL: error: <rustc's message>
 *   <the .frs line and a caret>
 *   <the generated line, named by shape and generated line:column>
 *
 * The .frs line is read from frc's mapping (check_map_line): the
 * `// frs:N` marker that ends every generated body line, the mapping
 * comment above a handler's or method's `fn` line, and for native code
 * outside the systems the lines it keeps. The column is recovered
 * (check_map_col) by finding the text around rustc's column in the .frs
 * line. An error in generated code without a .frs line keeps its
 * generated location, and says so. An error the two shapes share is
 * printed once.
 *
 * Exit: 0 both shapes build, 1 rustc rejected the generated Rust,
 * 64 usage, 65 frc rejected the source, 66 input unreadable, 69 rustc
 * could not be run. */
#define _GNU_SOURCE  /* nftw, open_memstream, mkdtemp */
#include "frc.h"
#include "check_native.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* One shape of the file: the source frc compiled and what it wrote. */
typedef struct Shape {
	const char *label;     /* "allocating shape", "no_alloc shape", ... */
	char *src;             /* the .frs text compiled (the variant for the toggled shape) */
	int src_len;
	char *out;             /* frc's output */
	size_t out_len;
	bool no_std;           /* every system no_alloc: built under #![no_std] */
	int *sys_end;          /* per system, the .frs line of its closing `}` */
	int nsys;
} Shape;

/* One rustc error, mapped. */
typedef struct NErr {
	int line, col;         /* .frs position; line 0: unmapped */
	char *msg;             /* rustc's message */
	char *gen;             /* the generated line */
	int gline, gcol;       /* its generated position */
	unsigned shapes;       /* bit per shape that reported it */
	char *note;            /* for an unmapped error: what it is */
} NErr;

typedef struct Errs {
	NErr *v;
	int n, cap;
} Errs;

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		die("out of memory");
	memcpy(d, s, n);
	d[n] = 0;
	return d;
}

/* Lines of `text`, each NUL-terminated in a copy (a final newline makes no
 * extra empty line). */
static char **split_lines(const char *text, size_t len, int *n)
{
	char *c = dupn(text, len);
	int cap = 16, k = 0;
	char **v = malloc(sizeof(char *) * (size_t)cap);
	for (char *p = c; p < c + len;) {
		char *nl = memchr(p, '\n', (size_t)(c + len - p));
		if (k == cap)
			v = realloc(v, sizeof(char *) * (size_t)(cap *= 2));
		v[k++] = p;
		if (!nl)
			break;
		*nl = 0;
		if (nl > p && nl[-1] == '\r')
			nl[-1] = 0;
		p = nl + 1;
	}
	*n = k;
	return v;
}

/* ---- the shapes: compile, toggle, describe ------------------------------- */

/* Index of the token after the attribute `@@[ .. ]` starting at k. */
static int attr_end(int k)
{
	int depth = 0;
	for (int j = k + 1; j < src_toks.n; j++) {
		if (tok_is(&src_toks.v[j], "[") || tok_is(&src_toks.v[j], "("))
			depth++;
		else if ((tok_is(&src_toks.v[j], "]") || tok_is(&src_toks.v[j], ")")) && --depth == 0)
			return j + 1;
	}
	return src_toks.n - 1;
}

static bool is_no_alloc_attr(int k)
{
	Token *t = src_toks.v;
	return k + 2 < src_toks.n && tok_is(&t[k], "@@") && tok_is(&t[k + 1], "[") && tok_is(&t[k + 2], "no_alloc");
}

static bool is_system(int k)
{
	return k + 1 < src_toks.n && tok_is(&src_toks.v[k], "@@") && tok_is(&src_toks.v[k + 1], "system");
}

/* The compiled source (cur_src, its tokens) with the no_alloc attribute
 * toggled and no line moved: every `@@[no_alloc..]` blanked when it has
 * one, else `@@[no_alloc] ` in front of every `@@system` (only that line's
 * columns move). NULL when the source has no system. */
static char *toggled(size_t *vlen)
{
	const char *s = cur_src->text;
	size_t len = (size_t)cur_src->len;
	bool has = false, sys = false;
	for (int k = 0; k < src_toks.n; k++) {
		has = has || is_no_alloc_attr(k);
		sys = sys || is_system(k);
	}
	if (!sys)
		return NULL;
	static const char attr[] = "@@[no_alloc] ";
	char *v = malloc(len + (has ? 0 : (size_t)src_toks.n * (sizeof attr - 1)) + 1);
	size_t n = 0, pos = 0;
	for (int k = 0; k < src_toks.n; k++) {
		if (has ? !is_no_alloc_attr(k) : !is_system(k))
			continue;
		size_t at = (size_t)src_toks.v[k].start;
		memcpy(v + n, s + pos, at - pos);
		n += at - pos;
		pos = at;
		if (!has) {
			memcpy(v + n, attr, sizeof attr - 1);
			n += sizeof attr - 1;
			continue;
		}
		for (size_t e = (size_t)src_toks.v[attr_end(k) - 1].end; pos < e; pos++)
			v[n++] = s[pos] == '\n' ? '\n' : ' ';
	}
	memcpy(v + n, s + pos, len - pos);
	n += len - pos;
	v[n] = 0;
	*vlen = n;
	return v;
}

/* The .frs line of each system's closing brace, from the tokens, for the
 * native text after a system (check_map_line). */
static void system_ends(Shape *sh)
{
	int cap = 4;
	sh->sys_end = malloc(sizeof(int) * (size_t)cap);
	for (int k = 0; k < src_toks.n; k++) {
		if (!is_system(k))
			continue;
		int j = k, depth = 0;
		while (j < src_toks.n && !tok_is(&src_toks.v[j], "{"))
			j++;
		for (; j < src_toks.n; j++) {
			depth += tok_is(&src_toks.v[j], "{") - tok_is(&src_toks.v[j], "}");
			if (depth == 0)
				break;
		}
		if (sh->nsys == cap)
			sh->sys_end = realloc(sh->sys_end, sizeof(int) * (size_t)(cap *= 2));
		sh->sys_end[sh->nsys++] = j < src_toks.n ? src_toks.v[j].line : 0;
		k = j;
	}
}

/* Names the shape by the system banners in its output. */
static void describe_shape(Shape *sh)
{
	bool alloc = strstr(sh->out, "): allocating shape") != NULL;
	bool noalloc = strstr(sh->out, "): no_alloc shape") != NULL;
	sh->no_std = noalloc && !alloc;
	sh->label = alloc && noalloc ? "mixed shapes" : alloc ? "allocating shape" :
	            noalloc ? "no_alloc shape" : "native code";
}

/* Compiles `text` into sh (diagnostics to `diag`); with `variant`, also
 * makes the toggled source. Returns frc's exit status. */
static int compile_shape(const char *path, const char *text, size_t len, FILE *diag, Shape *sh,
                         char **variant, size_t *vlen)
{
	char *out;
	size_t out_len;
	int status = frc_compile_buffer(path, text, len, diag, &out, &out_len);
	if (status == EXIT_OK) {
		sh->src = dupn(cur_src->text, (size_t)cur_src->len);
		sh->src_len = cur_src->len;
		sh->out = dupn(out, out_len);
		sh->out_len = out_len;
		describe_shape(sh);
		system_ends(sh);
		if (variant)
			*variant = toggled(vlen);
	}
	frc_release();
	return status;
}

/* ---- running rustc --------------------------------------------------------- */

static bool write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	bool ok = f && fwrite(text, 1, len, f) == len;
	return f && fclose(f) == 0 && ok;
}

/* The generated file's name in the scratch directory (messages name it
 * STEM.rs, as `frc compile` would): any file name is a valid #[path]. */
#define GEN_FILE "frc_checked.rs"

/* Runs rustc on shape `sh` in `dir` (its generated file dir/GEN_FILE);
 * rustc's output goes to dir/rustc.txt. Returns rustc's exit status, or
 * -1 (with `why`) when it could not be run. */
static int run_rustc(const char *rustc, const char *dir, Shape *sh, char **why)
{
	char *gen = xsprintf("%s/" GEN_FILE, dir), *root = gen;
	if (mkdir(dir, 0700) != 0 || !write_text(gen, sh->out, sh->out_len)) {
		*why = xsprintf("cannot write %s: %s", gen, strerror(errno));
		return -1;
	}
	if (sh->no_std) {
		root = xsprintf("%s/frc_check_root.rs", dir);
		const char *text = "#![no_std]\n#[path = \"" GEN_FILE "\"]\npub mod checked;\n";
		if (!write_text(root, text, strlen(text))) {
			*why = xsprintf("cannot write %s: %s", root, strerror(errno));
			return -1;
		}
	}
	char *argv[] = {(char *)rustc, "--edition", "2021", "--crate-type", "lib", "--crate-name", "frc_check",
	                "--emit=metadata", "-A", "warnings", "--error-format=short", "-o",
	                xsprintf("%s/libfrc_check.rmeta", dir), root, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, xsprintf("%s/rustc.txt", dir), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	pid_t pid;
	int err = posix_spawnp(&pid, rustc, &fa, NULL, argv, environ), st;
	posix_spawn_file_actions_destroy(&fa);
	if (err != 0) {
		*why = xsprintf("cannot run %s: %s (set RUSTC or --rustc PATH)", rustc, strerror(err));
		return -1;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st)) {
		*why = xsprintf("%s was killed by signal %d", rustc, WTERMSIG(st));
		return -1;
	}
	return WEXITSTATUS(st);
}

/* ---- mapping a generated line back to the .frs --------------------------- */

/* The `// frs:N` or `// frs:N:C` marker ending a generated line: N, or 0. */
static int marker_of(const char *g)
{
	const char *m = NULL;
	for (const char *p = strstr(g, " // frs:"); p; p = strstr(p + 1, " // frs:"))
		m = p;
	return m ? atoi(m + 8) : 0;
}

/* `// PATH:N description` (a mapping comment naming the .frs being
 * checked): N, and the description in *desc; 0 when it is not one. */
static int mapping_of(const char *g, const char *path, const char **desc)
{
	while (*g == ' ' || *g == '\t')
		g++;
	size_t pl = strlen(path);
	if (strncmp(g, "// ", 3) != 0 || strncmp(g + 3, path, pl) != 0 || g[3 + pl] != ':')
		return 0;
	char *end;
	long n = strtol(g + 4 + pl, &end, 10);
	if (n <= 0 || *end != ' ')
		return 0;
	*desc = end + 1;
	return (int)n;
}

/* `// ---- system NAME (PATH:N): ...` opens a system, `// ---- end of
 * system` closes it: +1, -1, else 0. */
static int banner_of(const char *g)
{
	if (strncmp(g, "// ---- system ", 15) == 0)
		return 1;
	return strncmp(g, "// ---- end of system ", 22) == 0 ? -1 : 0;
}

/* The .frs line generated line `l` (1-based) came from, or 0 with *note
 * saying what the line is:
 *   - a body line ends with its `// frs:N` marker;
 *   - a `fn` line right under a mapping comment (`// FILE:N $S.ev`, `//
 *     FILE:N interface go`) is that handler's or method's signature;
 *   - native text outside the systems keeps its lines: two down before
 *     the first system (the banner and the #![allow] line), and after a
 *     system counted from the line of the system's closing brace. */
static int check_map_line(char **gl, int l, const Shape *sh, const char *path, char **note)
{
	const char *g = gl[l - 1], *desc = NULL;
	int n = marker_of(g), nsys = 0, inside = 0, after = 0;
	if (n)
		return n;
	for (int k = l - 2, seen = 0; k >= 0 && seen < 3; k--, seen++) {
		if (strstr(gl[k], "#[") == gl[k] + strspn(gl[k], " \t"))
			continue;
		if ((n = mapping_of(gl[k], path, &desc)) && strstr(g, "fn ")) {
			*note = xsprintf("the signature frc generated for %s", desc);
			return n;
		}
		break;
	}
	for (int k = 0; k < l - 1; k++) {
		int b = banner_of(gl[k]);
		inside += b;
		nsys += b < 0;
		after = b < 0 ? k + 1 : after;
	}
	if (!inside && l > 2 && banner_of(g) == 0) {
		if (nsys == 0)
			return l - 2;
		if (nsys <= sh->nsys && sh->sys_end[nsys - 1])
			return sh->sys_end[nsys - 1] + (l - after - 1);
	}
	for (int k = l - 2; k >= 0 && !n; k--)
		n = mapping_of(gl[k], path, &desc);
	if (n && strncmp(desc, "state ", 6) == 0)
		n = 0;  /* a state's struct: nothing below it is that state's */
	*note = n ? xsprintf("generated code with no .frs line (the nearest mapping comment above it: %s:%d %s)",
	                     path, n, desc) : xsprintf("generated code with no .frs line");
	return 0;
}

/* Byte offset of 1-based character column `col` in s (at most len). */
static int byte_of_col(const char *s, int len, int col)
{
	int i = 0;
	for (int c = 1; c < col && i < len; c++) {
		i++;
		while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
	}
	return i;
}

/* Occurrences of needle[0..n) in hay starting before byte `limit`. */
static int count_before(const char *hay, int limit, const char *needle, int n)
{
	int c = 0;
	for (int i = 0; i < limit && hay[i]; i++)
		c += strncmp(hay + i, needle, (size_t)n) == 0;
	return c;
}

/* Between two identifier characters: inside a word. */
static bool mid_word(const char *s, int i)
{
	return i > 0 && is_ident_char((unsigned char)s[i - 1]) && is_ident_char((unsigned char)s[i]);
}

/* Is g[from, from+n) at s[at] a true match: it holds the whole word at
 * the error column k (a part of `Strng` is not `String`), and starts and
 * ends inside a word only where s's copy does too? */
static bool fits(const char *g, int from, int n, int k, const char *s, int at)
{
	int a = k, b = k;
	while (a > 0 && mid_word(g, a))
		a--;
	while (g[b] && is_ident_char((unsigned char)g[b]))
		b++;
	if (is_ident_char((unsigned char)g[k]) && (from > a || from + n < b))
		return false;
	int back = k;
	while (back > 0 && is_ident_char((unsigned char)g[back - 1]))
		back--;
	if (from + n == k && from > back)
		return false;  /* ends at the column: holds the word before it whole */
	return mid_word(g, from) == mid_word(s, at) && mid_word(g, from + n) == mid_word(s, at + n);
}

/* Byte offset in s of a true match (fits) of g[from, from+n), or -1: the
 * idx-th (0-based) occurrence when there are that many, else the first. */
static int find_fit(const char *s, const char *g, int from, int n, int k, int idx)
{
	int first = -1, seen = 0;
	for (int i = 0; s[i]; i++) {
		if (strncmp(s + i, g + from, (size_t)n) != 0 || !fits(g, from, n, k, s, i))
			continue;
		if (seen++ == idx)
			return i;
		first = first < 0 ? i : first;
	}
	return first;
}

static bool has_text(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return true;
	return false;
}

/* The .frs column of rustc's column `gcol` on generated line g, or 0: the
 * longest stretch (up to 40 bytes) of g starting at that column, or ending
 * there, that the .frs line s holds too (fits). Native text is copied
 * verbatim, so a column in it is found; one inside a Frame form's
 * expansion only when text beside it is. */
static int check_map_col(const char *g, const char *s, int gcol)
{
	const char *m = strstr(g, " // frs:");
	for (const char *p = m; p; p = strstr(p + 1, " // frs:"))
		m = p;
	int glen = m ? (int)(m - g) : (int)strlen(g);
	char *gc = xsprintf("%.*s", glen, g);
	int k = byte_of_col(gc, glen, gcol), best = 0, pos = -1;
	for (int n = glen - k < 40 ? glen - k : 40; n >= 2 && !best; n--) {
		int at = has_text(gc + k, n) ? find_fit(s, gc, k, n, k, count_before(gc, k, gc + k, n)) : -1;
		if (at >= 0)
			best = n, pos = at;
	}
	for (int n = k < 40 ? k : 40; n > best && n >= 2; n--) {
		int at = has_text(gc + k - n, n) ? find_fit(s, gc, k - n, n, k, count_before(gc, k - n, gc + k - n, n)) : -1;
		if (at >= 0) {
			pos = at + n;
			break;
		}
	}
	if (pos < 0)
		return 0;
	int col = 1;
	for (int i = 0; i < pos; i++)
		col += ((unsigned char)s[i] & 0xC0) != 0x80;
	return col;
}

/* ---- rustc's output -------------------------------------------------------- */

/* `PATH:L:C: error[..]: MSG` (rustc's short format): fills the parts and
 * returns true. */
static bool parse_short(char *line, char **path, int *l, int *c, char **msg)
{
	for (char *p = strchr(line, ':'); p; p = strchr(p + 1, ':')) {
		int used = 0;
		if (sscanf(p, ":%d:%d: %n", l, c, &used) != 2 || !used)
			continue;
		if (strncmp(p + used, "error", 5) != 0)
			return false;
		*p = 0;
		*path = line;
		*msg = p + used;
		return true;
	}
	return false;
}

static bool is_generated(const char *path)
{
	const char *base = strrchr(path, '/');
	return strcmp(base ? base + 1 : path, GEN_FILE) == 0;
}

/* One message, or one with rustc's label appended (`MSG: LABEL`): rustc
 * words the same error with and without its label. */
static bool same_msg(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > lb)
		return same_msg(b, a);
	return strncmp(a, b, la) == 0 && (la == lb || strncmp(b + la, ": ", 2) == 0);
}

/* Adds one error of shape `bit`, or marks the same one already found. */
static void add_err(Errs *es, NErr e)
{
	for (int i = 0; i < es->n; i++) {
		NErr *o = &es->v[i];
		if (o->line == e.line && o->col == e.col && same_msg(o->msg, e.msg) &&
		    (e.line || strcmp(o->gen, e.gen) == 0)) {
			o->shapes |= e.shapes;
			if (strlen(e.msg) > strlen(o->msg))
				o->msg = e.msg;
			return;
		}
	}
	if (es->n == es->cap) {
		es->cap = es->cap ? es->cap * 2 : 8;
		es->v = realloc(es->v, sizeof(NErr) * (size_t)es->cap);
	}
	es->v[es->n++] = e;
}

/* Reads rustc's output of shape `bit`: each error in the generated file is
 * mapped (es); anything else rustc said is kept in *other. */
static void read_rustc(const char *text, const Shape *sh, unsigned bit, const char *path,
                       Errs *es, Out *other)
{
	int ng, ns, nl;
	char **gl = split_lines(sh->out, sh->out_len, &ng);
	char **sl = split_lines(sh->src, (size_t)sh->src_len, &ns);
	char **lines = split_lines(text, strlen(text), &nl);
	for (int i = 0; i < nl; i++) {
		char *gpath = NULL, *msg = NULL, *note = NULL;
		int l, c;
		if (!parse_short(lines[i], &gpath, &l, &c, &msg) || !is_generated(gpath) || l < 1 || l > ng) {
			if (*lines[i] && strncmp(lines[i], "error: aborting due to", 22) != 0)
				out_f(other, "frc: rustc (%s): %s\n", sh->label, lines[i]);
			continue;
		}
		NErr e = {0, 0, msg, gl[l - 1], l, c, bit, NULL};
		e.line = check_map_line(gl, l, sh, path, &note);
		if (e.line > ns)
			e.line = 0;
		e.note = note;
		if (e.line)
			e.col = check_map_col(e.gen, sl[e.line - 1], c);
		add_err(es, e);
	}
}

/* ---- printing ---------------------------------------------------------------- */

static int err_cmp(const void *a, const void *b)
{
	const NErr *x = a, *y = b;
	if (!x->line != !y->line)
		return x->line ? -1 : 1;
	if (x->line != y->line)
		return x->line - y->line;
	return x->line ? x->col - y->col : x->gline - y->gline;
}

static const char *shapes_of(const NErr *e, const Shape *sh, int nshapes)
{
	if (nshapes == 2 && e->shapes == 3)
		return "both shapes";
	return sh[e->shapes & 1 ? 0 : 1].label;
}

/* The generated line, without its indentation, cut to 160 bytes. */
static const char *gen_text(const char *g)
{
	g += strspn(g, " \t");
	return strlen(g) > 160 ? xsprintf("%.157s...", g) : g;
}

/* One error: at its .frs position with the .frs line and the generated
 * line, or, unmapped, at its generated position, saying so. */
static void print_err(FILE *f, const NErr *e, const Shape *sh, int nshapes, const char *path, const char *stem)
{
	const char *shapes = shapes_of(e, sh, nshapes);
	if (!e->line) {
		fprintf(f, "%s.rs:%d:%d: %s\n      = note: %s; %s of %s\n%5d | %s\n", stem, e->gline, e->gcol,
		        e->msg, e->note, shapes, path, e->gline, gen_text(e->gen));
		return;
	}
	const Shape *own = &sh[e->shapes & 1 ? 0 : 1];
	Source s = {path, own->src, own->src_len};
	cur_src = &s;
	if (e->col)
		fprintf(f, "%s:%d:%d: %s\n", path, e->line, e->col, e->msg);
	else
		fprintf(f, "%s:%d: %s\n", path, e->line, e->msg);
	fputs(diag_echo(e->line, e->col, 1), f);
	if (e->note)
		fprintf(f, "      = note: in %s\n", e->note);
	fprintf(f, "      = generated %s.rs:%d:%d (%s%s): %s\n", stem, e->gline, e->gcol, own->label,
	        shapes == own->label ? "" : "; the other shape has it too", gen_text(e->gen));
	cur_src = NULL;
}

/* ---- the command ------------------------------------------------------------ */

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

/* The source with the no_alloc attribute toggled, compiled into *sh;
 * false (with a note on stderr) when frc rejects it: that shape is not
 * checked, the one as written is. */
static bool other_shape(const char *path, char *variant, size_t vlen, const Shape *written, Shape *sh)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *mem = open_memstream(&buf, &blen);
	int st = compile_shape(path, variant, vlen, mem ? mem : stderr, sh, NULL, NULL);
	if (mem)
		fclose(mem);
	if (st == EXIT_OK)
		return true;
	const char *which = written->no_std ? "allocating shape" : "no_alloc shape";
	size_t first = buf ? strcspn(buf, "\n") : 0;
	fprintf(stderr, "frc: %s: the %s is not checked: with the no_alloc attribute %s, frc rejects the file "
	        "(%.*s)\n", path, which, written->no_std ? "removed" : "added", (int)first, buf ? buf : "");
	free(buf);
	return false;
}

/* Runs rustc on every shape in a fresh temporary directory and reads
 * what it says; returns -1 (message printed) when rustc could not run,
 * else the number of shapes rustc rejected. */
static int rustc_shapes(const char *rustc, const char *path, Shape *sh, int nshapes,
                        Errs *es, Out *other)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = xsprintf("%s/frc-check-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "frc: cannot create a directory in %s: %s\n", tmp && *tmp ? tmp : "/tmp", strerror(errno));
		return -1;
	}
	int rejected = 0;
	for (int i = 0; i < nshapes && rejected >= 0; i++) {
		char *sub = xsprintf("%s/%s", dir, sh[i].no_std ? "noalloc" : "alloc"), *why = NULL;
		int rc = run_rustc(rustc, sub, &sh[i], &why);
		if (rc < 0) {
			fprintf(stderr, "frc: %s\n", why);
			rejected = -1;
			break;
		}
		int len;
		char *text = frc_read_file(xsprintf("%s/rustc.txt", sub), &len);
		read_rustc(text ? text : "", &sh[i], 1u << i, path, es, other);
		rejected += rc != 0;
	}
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
	return rejected;
}

/* The .frs file's stem: the generated module's name (frc compile's). */
static char *stem_of(const char *file)
{
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	const char *dot = strrchr(base, '.');
	return xsprintf("%.*s", (int)(dot && dot != base ? dot - base : (int)strlen(base)), base);
}

/* check's options: -l rust (the default), --rustc PATH, one FILE. */
static int check_options(int argc, char **argv, const char **rustc, const char **file)
{
	static const struct option longopts[] = {
		{ "language", required_argument, NULL, 'l' },
		{ "rustc", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("RUSTC");
	*rustc = env && *env ? env : "rustc";
	opterr = 0;
	optind = 1;
	for (int c; (c = getopt_long(argc, argv, ":l:", longopts, NULL)) != -1;) {
		if (c == 'l' && strcmp(optarg, "rust") != 0)
			return frc_usage_error(xsprintf("frc check checks Rust output only, not '%s'", optarg));
		else if (c == 'r')
			*rustc = optarg;
		else if (c != 'l')
			return frc_usage_error(xsprintf("unknown or incomplete option '%s'", argv[optind - 1]));
	}
	if (optind != argc - 1)
		return frc_usage_error(optind < argc ? "more than one input file" : "check needs one FILE");
	*file = argv[optind];
	return EXIT_OK;
}

int check_command(int argc, char **argv)
{
	const char *rustc = NULL, *file = NULL;
	int st = check_options(argc, argv, &rustc, &file), len;
	if (st != EXIT_OK)
		return st;
	char *text = frc_read_file(file, &len);
	if (!text) {
		fprintf(stderr, "frc: cannot read %s: %s\n", file, strerror(errno));
		return EXIT_NOINPUT;
	}
	Shape sh[2] = {{0}};
	char *variant = NULL;
	size_t vlen = 0;
	if ((st = compile_shape(file, text, (size_t)len, stderr, &sh[0], &variant, &vlen)) != EXIT_OK)
		return st;
	int nshapes = variant && other_shape(file, variant, vlen, &sh[0], &sh[1]) ? 2 : 1;
	char *stem = stem_of(file);
	Errs es = {0};
	Out other = {0};
	int rejected = rustc_shapes(rustc, file, sh, nshapes, &es, &other);
	if (rejected < 0)
		return EXIT_NO_RUSTC;
	if (es.n > 1)
		qsort(es.v, (size_t)es.n, sizeof *es.v, err_cmp);
	for (int i = 0; i < es.n; i++)
		print_err(stderr, &es.v[i], sh, nshapes, file, stem);
	if (other.buf)
		fputs(other.buf, stderr);
	if (!rejected)
		return EXIT_OK;
	fprintf(stderr, "frc: %s: rustc rejected the generated Rust (%d error%s)\n", file, es.n, es.n == 1 ? "" : "s");
	return EXIT_RUSTC_REJECTED;
}
