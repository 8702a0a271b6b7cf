/* parse.c — recursive-descent parser for the Frame constructs of a .frs file.
 *
 * Native Rust is never parsed: it is a token range copied verbatim. Types,
 * defaults and initialisers are opaque ranges delimited by balanced brackets
 * (bracket pairs are matched once, up front, for the whole file) and by line
 * ends. Each parse function has its grammar rule in the comment above it.
 *
 * Error recovery: a malformed item is reported and skipped up to the next
 * line at the same bracket level, so several errors per file are reported. */
#include "frc.h"

#include <stdlib.h>

typedef struct P {
	Token *t;
	int n;
	int i;
	int *match;   /* match[k]: index of the bracket matching token k, or -1 */
	Program *prog;
	int depth;    /* Frame forms nested inside Frame forms' arguments */
	bool too_deep;
} P;

/* Frame forms may nest (`-> $S(@@:self.m(-> ...))`); the parser, checker
 * and emitters recurse once per level, so the depth is bounded (E009)
 * rather than left to the stack. */
enum { FORM_DEPTH_MAX = 100 };

static Token *tk(P *p, int k) { return &p->t[k < p->n ? k : p->n - 1]; }
static Token *cur(P *p) { return tk(p, p->i); }
static bool at(P *p, const char *s) { return tok_is(cur(p), s); }
static bool at_k(P *p, int k, const char *s) { return tok_is(tk(p, p->i + k), s); }
static bool at_ident(P *p) { return cur(p)->kind == TK_IDENT; }
static bool is_eof(P *p) { return cur(p)->kind == TK_EOF; }
/* `a` immediately followed by `b` (no space): push$, $>, <$, $^ */
static bool adjacent(P *p, int k) { return !tk(p, k + 1)->space_before; }

static const char *describe(Token *t)
{
	if (t->kind == TK_EOF)
		return "end of file";
	return xsprintf("`%s`", tok_str(t));
}

static void syntax(P *p, const char *expected)
{
	error_tok(cur(p), "E002", "expected %s, found %s", expected, describe(cur(p)));
}

/* Takes the identifier at p: returns its token's index, or -1 after a
 * syntax error saying that `what` was expected. */
static int take_ident(P *p, const char *what)
{
	if (!at_ident(p)) {
		syntax(p, what);
		return -1;
	}
	return p->i++;
}

static bool expect(P *p, const char *s)
{
	if (at(p, s)) {
		p->i++;
		return true;
	}
	syntax(p, xsprintf("`%s`", s));
	return false;
}

static bool is_open(Token *t) { return tok_is(t, "(") || tok_is(t, "[") || tok_is(t, "{"); }
static bool is_close(Token *t) { return tok_is(t, ")") || tok_is(t, "]") || tok_is(t, "}"); }

/* Where the file ends inside brackets, the strict pairing blames the
 * outermost ones (often the `@@system` brace), since every later `}` closes
 * the innermost open `{`. The indentation says better which `{` was left
 * open: a `}` that starts its line closes the innermost open `{` whose line
 * starts at the same column or left of it, and each `{` on a line indented
 * deeper that it passes over is one that is never closed. pass_over[k] is
 * the `}` that passed over opener k, OPEN_AT_EOF when nothing closed it,
 * else -1. Returns false when the indentation does not tell (a closer that
 * fits no opener). */
enum { OPEN_AT_EOF = -2 };

static bool pair_by_indent(P *p, int *pass_over)
{
	int *stack = xalloc(sizeof(int) * (size_t)p->n), *first = xalloc(sizeof(int) * (size_t)p->n);
	int sp = 0;
	for (int k = 0; k < p->n; k++) {
		Token *t = &p->t[k];
		bool starts_line = k == 0 || p->t[k - 1].line != t->line;
		first[k] = starts_line ? t->col : first[k - 1];  /* the column its line starts at */
		pass_over[k] = -1;
		if (is_open(t)) {
			stack[sp++] = k;
			continue;
		}
		if (!is_close(t))
			continue;
		while (starts_line && tok_is(t, "}") && sp > 0 && tok_is(&p->t[stack[sp - 1]], "{") &&
		       first[stack[sp - 1]] > t->col)
			pass_over[stack[--sp]] = k;
		if (sp == 0 || (*tok_str(&p->t[stack[sp - 1]]) == '{') != tok_is(t, "}"))
			return false;
		sp--;
	}
	while (sp > 0)
		pass_over[stack[--sp]] = OPEN_AT_EOF;
	return true;
}

/* E003 at opener k, which is never closed (`why`): at `@@` for an
 * attribute's `@@[`. */
static void never_closed(P *p, int k, const char *why)
{
	Token *o = &p->t[k], *at = k > 0 ? &p->t[k - 1] : NULL;
	if (tok_is(o, "[") && at && tok_is(at, "@@") && !o->space_before)
		error_at(at->line, at->col, 3, "E003", "attribute `@@[` opened here is never closed (%s)", why);
	else
		error_tok(o, "E003", "`%s` opened here is never closed (%s)", tok_str(o), why);
}

/* E003 at each bracket the file ends without closing: by indentation
 * (pair_by_indent) when it tells, else the ones the strict pairing left
 * open (`stack`). */
static void report_unclosed(P *p, const int *stack, int sp)
{
	int *pass_over = xalloc(sizeof(int) * (size_t)p->n);
	int eof_line = p->t[p->n - 1].line;
	if (!pair_by_indent(p, pass_over)) {
		for (int k = 0; k < p->n; k++)
			pass_over[k] = -1;
		for (int i = 0; i < sp; i++)
			pass_over[stack[i]] = OPEN_AT_EOF;
	}
	for (int k = 0; k < p->n; k++) {
		Token *c = &p->t[pass_over[k] >= 0 ? pass_over[k] : k];
		if (pass_over[k] >= 0)
			never_closed(p, k, xsprintf("the `}` at line %d:%d, by its indentation, closes an outer one",
			                            c->line, c->col));
		else if (pass_over[k] == OPEN_AT_EOF)
			never_closed(p, k, xsprintf("the file ends at line %d", eof_line));
	}
}

/* Index in the open-bracket stack of the innermost opener that closer t
 * closes, or -1. */
static int opener_for(P *p, const int *stack, int sp, Token *t)
{
	char open = tok_is(t, ")") ? '(' : tok_is(t, "]") ? '[' : '{';
	for (int d = sp - 1; d >= 0; d--)
		if (*tok_str(&p->t[stack[d]]) == open)
			return d;
	return -1;
}

/* Pairs every bracket in the file. An unclosed bracket says where it was
 * opened: at the end of the file (report_unclosed), or where a closer
 * closes a bracket around it (`-> $B(1, 2` then the handler's `}`); a
 * closer that closes nothing open says which opener it fails to close. */
static bool match_brackets(P *p)
{
	int *stack = xalloc(sizeof(int) * (size_t)p->n);
	int sp = 0;
	bool ok = true;
	p->match = xalloc(sizeof(int) * (size_t)p->n);
	for (int k = 0; k < p->n; k++) {
		p->match[k] = -1;
		Token *t = &p->t[k];
		if (is_open(t)) {
			stack[sp++] = k;
		} else if (is_close(t)) {
			if (sp == 0) {
				error_tok(t, "E003", "unexpected `%s` with no matching opening bracket", tok_str(t));
				return false;
			}
			Token *o = &p->t[stack[sp - 1]];
			char want = *tok_str(o) == '(' ? ')' : *tok_str(o) == '[' ? ']' : '}';
			int d = *tok_str(t) == want ? sp - 1 : opener_for(p, stack, sp, t);
			if (d < 0) {
				error_tok(t, "E003", "mismatched `%s`: expected `%c` to close `%s` at line %d:%d", tok_str(t),
				          want, tok_str(o), o->line, o->col);
				return false;
			}
			/* t closes an outer bracket: the ones opened inside it since are never closed */
			for (Token *c = &p->t[stack[d]]; sp - 1 > d; sp--, ok = false)
				never_closed(p, stack[sp - 1], xsprintf("the `%s` at line %d:%d closes the `%s` of line %d:%d "
				             "around it first", tok_str(t), t->line, t->col, tok_str(c), c->line, c->col));
			sp--;
			p->match[k] = stack[sp];
			p->match[stack[sp]] = k;
		}
	}
	if (sp > 0) {
		report_unclosed(p, stack, sp);
		ok = false;
	}
	return ok;
}

/* Skips one token, or a whole bracketed group. */
static void skip_one(P *p)
{
	if (is_open(cur(p)) && p->match[p->i] > 0)
		p->i = p->match[p->i] + 1;
	else if (!is_eof(p))
		p->i++;
}

/* Recovery: skip to the first token on a later line than `line` at this
 * level, stopping before an unmatched closer. */
static void skip_item(P *p, int line)
{
	int start = p->i;
	while (!is_eof(p) && !is_close(cur(p)) && cur(p)->line <= line)
		skip_one(p);
	if (p->i == start)
		skip_one(p);  /* always make progress, even at a stray closer */
}

enum { OP_ANGLE = 1, OP_EQ = 2, OP_COMMA = 4, OP_BRACE = 8, OP_LINE = 16, OP_SEMI = 32 };

/* Opaque Rust text: balanced tokens up to a stop token at depth 0. */
static Span opaque(P *p, int stops)
{
	Span sp = {p->i, p->i};
	int angle = 0, line = cur(p)->line;
	while (!is_eof(p) && !is_close(cur(p))) {
		Token *t = cur(p);
		if (p->i > sp.b && (stops & OP_LINE) && t->line > line && angle == 0)
			break;
		if (angle == 0 && (stops & OP_EQ) && tok_is(t, "=") && !tok_is(tk(p, p->i + 1), "="))
			break;
		if (angle == 0 && (stops & OP_COMMA) && tok_is(t, ","))
			break;
		if ((stops & OP_SEMI) && tok_is(t, ";"))
			break;
		if ((stops & OP_BRACE) && tok_is(t, "{") && angle == 0)
			break;
		if ((stops & OP_ANGLE) && tok_is(t, "<"))
			angle++;
		if ((stops & OP_ANGLE) && tok_is(t, ">") && angle > 0)
			angle--;
		if (is_open(t)) {
			int close = p->match[p->i];
			line = p->t[close].line;
		}
		skip_one(p);
	}
	sp.e = p->i;
	return sp;
}

/* Opaque text up to stops that must not be empty: false after a syntax
 * error saying that `what` was expected. */
static bool required_opaque(P *p, int stops, const char *what, Span *out)
{
	*out = opaque(p, stops);
	if (out->b == out->e) {
		syntax(p, what);
		return false;
	}
	return true;
}

/* param = IDENT [ ":" type ]
 * params = "(" [ param { "," param } [ "," ] ] ")" */
static bool parse_params(P *p, Params *ps, bool types_required)
{
	if (!expect(p, "("))
		return false;
	while (!at(p, ")")) {
		int t = take_ident(p, "a parameter name");
		if (t < 0)
			return false;
		Param pm = {tok_str(tk(p, t)), t, {0, 0}};
		if (at(p, ":")) {
			p->i++;
			if (!required_opaque(p, OP_ANGLE | OP_COMMA, "a type", &pm.type))
				return false;
		} else if (types_required) {
			syntax(p, xsprintf("`:` and a type for parameter `%s`", pm.name));
			return false;
		}
		VEC_PUSH(ps->v, ps->n, ps->cap, pm);
		if (at(p, ","))
			p->i++;
		else if (!at(p, ")")) {
			syntax(p, "`,` or `)`");
			return false;
		}
	}
	p->i++;
	return true;
}

/* ---- bodies -------------------------------------------------------------- */

static void parse_forms(P *p, Body *b);

static Body *new_body(int tb, int te)
{
	Body *b = xalloc(sizeof *b);
	b->tb = tb;
	b->te = te;
	return b;
}

/* args = "(" [ native { "," native } ] ")"   — at the "(" */
static Body **parse_args(P *p, int open, int *nargs)
{
	int close = p->match[open];
	Body **v = NULL;
	int n = 0, cap = 0, start = open + 1;
	for (int k = open + 1; k <= close; k++) {
		if (k == close || tok_is(&p->t[k], ",")) {
			if (k > start || n > 0 || k != close) {
				Body *b = new_body(start, k);
				parse_forms(p, b);
				VEC_PUSH(v, n, cap, b);
			}
			start = k + 1;
		} else if (is_open(&p->t[k])) {
			k = p->match[k];
		}
	}
	*nargs = n;
	return v;
}

static Form *new_form(P *p, FormKind k, int tb)
{
	Form *f = xalloc(sizeof *f);
	f->kind = k;
	f->tb = tb;
	f->line = p->t[tb].line;
	f->col = p->t[tb].col;
	return f;
}

static void not_supported(P *p, int k, const char *what)
{
	error_tok(&p->t[k], "E007", "not supported by frc: %s (FRAME_SUBSET.md section 5)", what);
}

/* Is the `->` at k a Frame transition (rather than a closure's return
 * type)? It is when followed by `$`, `=>`, `pop$`, a label string, or
 * `( .. ) $`. */
static bool is_transition_arrow(P *p, int k)
{
	Token *n = tk(p, k + 1);
	if (tok_is(n, "$") || tok_is(n, "=>") || n->kind == TK_STR)
		return true;
	if (tok_is(n, "pop") && tok_is(tk(p, k + 2), "$"))
		return true;
	if (tok_is(n, "(") && p->match[k + 1] > 0)
		return tok_is(tk(p, p->match[k + 1] + 1), "$");
	return false;
}

static bool at_statement_start(P *p, Body *b, int k)
{
	if (k == b->tb)
		return true;
	Token *pr = &p->t[k - 1];
	return tok_is(pr, "{") || tok_is(pr, ";") || tok_is(pr, "}") || tok_is(pr, "=>") || tok_is(pr, ",");
}


static void add_form(Body *b, Form *f)
{
	VEC_PUSH(b->forms, b->nforms, b->cap, f);
}

/* state_ref = "$" IDENT [ "(" args ")" ]   — at the "$"; returns next index */
static int parse_target(P *p, Form *f, int k)
{
	if (!tok_is(tk(p, k), "$") || tk(p, k + 1)->kind != TK_IDENT || tk(p, k + 1)->space_before) {
		error_tok(tk(p, k), "E002", "expected a target state `$Name` or `pop$` after `->`, found %s",
		          describe(tk(p, k)));
		return -1;
	}
	f->target = tok_str(tk(p, k + 1));
	f->target_tok = k + 1;
	k += 2;
	if (tok_is(tk(p, k), "(") && tk(p, k)->line == tk(p, k - 1)->line) {
		f->has_state = true;
		f->state_args = parse_args(p, k, &f->n_state);
		k = p->match[k] + 1;
	}
	return k;
}

/* transition = [ "(" args ")" ] "->" [ "=>" ] [ "(" args ")" ] ( state_ref | "pop$" )
 * `start` is the exit-args paren or the arrow itself. Returns the index
 * after the transition, or -1 after reporting an error. */
static int parse_transition(P *p, Body *b, int start, int arrow)
{
	Form *f = new_form(p, F_TRANSITION, start);
	f->line = p->t[arrow].line;
	f->col = p->t[arrow].col;
	if (arrow != start) {
		f->has_exit = true;
		f->exit_args = parse_args(p, start, &f->n_exit);
	}
	int k = arrow + 1;
	if (tok_is(tk(p, k), "=>")) {
		f->forward = true;
		k++;
	}
	if (tk(p, k)->kind == TK_STR) {
		not_supported(p, k, "a transition label (`-> \"label\" $S`)");
		return -1;
	}
	if (tok_is(tk(p, k), "pop") && tok_is(tk(p, k + 1), "$") && adjacent(p, k)) {
		if (f->forward) {
			not_supported(p, k, "`-> => pop$` (forwarding an event to a popped state)");
			return -1;
		}
		f->pop = true;
		f->te = k + 2;
		add_form(b, f);
		return f->te;
	}
	if (tok_is(tk(p, k), "(")) {
		f->has_enter = true;
		f->enter_args = parse_args(p, k, &f->n_enter);
		k = p->match[k] + 1;
	}
	k = parse_target(p, f, k);
	if (k < 0)
		return -1;
	f->te = k;
	add_form(b, f);
	return k;
}

/* A form of `kind` starting at k whose expression is the parenthesised
 * group opening at `open` (its forms parsed); added to b. Returns the index
 * after the group. */
static int add_paren_form(P *p, Body *b, FormKind kind, int k, int open)
{
	Form *f = new_form(p, kind, k);
	f->expr = new_body(open + 1, p->match[open]);
	parse_forms(p, f->expr);
	f->te = p->match[open] + 1;
	add_form(b, f);
	return f->te;
}

/* context = "@@:" ( "(" expr ")" | "return" [ "(" expr ")" ] | "self" "." IDENT [ args ] )
 * At the "@@". Returns the next index or -1. */
static int parse_context(P *p, Body *b, int k)
{
	Token *t = tk(p, k + 2);
	if (!tok_is(tk(p, k + 1), ":")) {
		if (tk(p, k + 1)->kind == TK_IDENT) {
			not_supported(p, k, xsprintf("`@@%s(...)` (constructing a system inside native code)",
			                             tok_str(tk(p, k + 1))));
			return -1;
		}
		error_tok(tk(p, k), "E002", "expected `@@:` in a handler body, found %s", describe(tk(p, k + 1)));
		return -1;
	}
	if (tok_is(t, "(")) {
		return add_paren_form(p, b, F_RETURN_SET, k, k + 2);
	}
	if (tok_is(t, "return")) {
		if (tok_is(tk(p, k + 3), "(") && adjacent(p, k + 2)) {
			return add_paren_form(p, b, F_RETURN_LEAVE, k, k + 3);
		}
		Form *f = new_form(p, F_RETURN_PLACE, k);
		f->te = k + 3;
		add_form(b, f);
		return f->te;
	}
	if (tok_is(t, "self") && tok_is(tk(p, k + 3), ".") && tk(p, k + 4)->kind == TK_IDENT) {
		bool call = tok_is(tk(p, k + 5), "(");
		Form *f = new_form(p, call ? F_SELF_CALL : F_SELF_FIELD, k);
		f->name = tok_str(tk(p, k + 4));
		f->name_tok = k + 4;
		f->te = k + 5;
		if (call) {
			f->args = parse_args(p, k + 5, &f->nargs);
			f->te = p->match[k + 5] + 1;
		}
		add_form(b, f);
		return f->te;
	}
	static const char *unsupported[] = {"data", "event", "params", "system", NULL};
	for (const char **u = unsupported; *u; u++)
		if (tok_is(t, *u)) {
			not_supported(p, k, xsprintf("`@@:%s`", *u));
			return -1;
		}
	error_tok(t, "E002", "expected `(`, `return` or `self.` after `@@:`, found %s", describe(t));
	return -1;
}

/* Scans native tokens [b->tb, b->te) for Frame forms:
 *   transition | "push$" | "=>" "$^" | "$." IDENT | context */
static void parse_forms(P *p, Body *b)
{
	if (p->depth == FORM_DEPTH_MAX) {
		if (!p->too_deep)
			error_tok(&p->t[b->tb], "E009", "Frame forms nested more than %d deep inside each other's arguments",
			          FORM_DEPTH_MAX);
		p->too_deep = true;
		return;
	}
	p->depth++;
	int k = b->tb;
	while (k < b->te) {
		Token *t = &p->t[k];
		int next = k + 1;
		if (tok_is(t, "->") && is_transition_arrow(p, k)) {
			next = parse_transition(p, b, k, k);
		} else if (tok_is(t, "(") && at_statement_start(p, b, k) && p->match[k] + 1 < b->te &&
		           tok_is(tk(p, p->match[k] + 1), "->") && is_transition_arrow(p, p->match[k] + 1)) {
			next = parse_transition(p, b, k, p->match[k] + 1);
		} else if (tok_is(t, "=>") && tok_is(tk(p, k + 1), "$") && tok_is(tk(p, k + 2), "^")) {
			Form *f = new_form(p, F_PARENT, k);
			f->te = k + 3;
			add_form(b, f);
			next = f->te;
		} else if (tok_is(t, "push") && tok_is(tk(p, k + 1), "$") && adjacent(p, k)) {
			Form *f = new_form(p, F_PUSH, k);
			f->te = k + 2;
			add_form(b, f);
			next = f->te;
		} else if (tok_is(t, "$")) {
			if (tok_is(tk(p, k + 1), ".") && tk(p, k + 2)->kind == TK_IDENT) {
				Form *f = new_form(p, F_STATE_VAR, k);
				f->name = tok_str(tk(p, k + 2));
				f->name_tok = k + 2;
				f->te = k + 3;
				add_form(b, f);
				next = f->te;
			} else {
				error_tok(t, "E002", "unexpected `$` in native code (expected `$.name` or a transition)");
			}
		} else if (tok_is(t, "@@")) {
			next = parse_context(p, b, k);
		}
		if (next < 0) {
			/* error reported: resume after the offending token's line */
			int line = t->line;
			next = k + 1;
			while (next < b->te && p->t[next].line == line && !is_open(&p->t[next]))
				next++;
		}
		k = next;
	}
	p->depth--;
}

/* body = "{" native-with-frame-forms "}"   — at the "{" */
static Body *parse_body(P *p)
{
	if (!at(p, "{")) {
		syntax(p, "`{`");
		return NULL;
	}
	int open = p->i, close = p->match[open];
	Body *b = new_body(open + 1, close);
	parse_forms(p, b);
	p->i = close + 1;
	return b;
}

/* ---- sections ---------------------------------------------------------- */

static bool is_section_header(P *p)
{
	static const char *names[] = {"interface", "machine", "actions", "domain", "operations", NULL};
	if (!at_ident(p) || !at_k(p, 1, ":") || at_k(p, 2, ":"))
		return false;
	for (const char **n = names; *n; n++)
		if (at(p, *n))
			return true;
	return false;
}

static Span optional_ret(P *p, int stops)
{
	Span none = {p->i, p->i};
	if (!at(p, ":"))
		return none;
	p->i++;
	Span r = opaque(p, stops);
	if (r.b == r.e)
		syntax(p, "a return type");
	return r;
}

/* The rest of a handler or action after its parameters: [ ":" type ] body.
 * False when the body is missing. */
static bool ret_and_body(P *p, Span *ret, Body **body)
{
	*ret = optional_ret(p, OP_ANGLE | OP_BRACE);
	*body = parse_body(p);
	return *body != NULL;
}

/* method = IDENT params [ ":" type [ "=" default ] ] [ ";" ] */
static bool parse_method(P *p, System *sys)
{
	int t = take_ident(p, "an interface method name");
	if (t < 0)
		return false;
	Method *m = xalloc(sizeof *m);
	m->index = sys->nmethods;
	m->name = tok_str(tk(p, t));
	m->tok = t;
	if (!parse_params(p, &m->params, true))
		return false;
	m->ret = optional_ret(p, OP_ANGLE | OP_EQ | OP_LINE | OP_SEMI);
	m->dflt = (Span){p->i, p->i};
	if (at(p, "=")) {
		if (m->ret.b == m->ret.e) {
			error_tok(cur(p), "E002", "a default value needs a return type: `%s(..): Type = value`", m->name);
			return false;
		}
		p->i++;
		if (!required_opaque(p, OP_LINE | OP_SEMI, "a default value", &m->dflt))
			return false;
	}
	if (at(p, ";"))
		p->i++;
	VEC_PUSH(sys->methods, sys->nmethods, sys->capmethods, m);
	return true;
}

/* handler = ( IDENT | "$>" | "<$" ) [ params ] [ ":" type ] body */
static bool parse_handler(P *p, State *st, HandlerKind kind)
{
	Handler *h = xalloc(sizeof *h);
	h->kind = kind;
	h->tok = p->i;
	h->state = st;
	if (kind == H_EVENT) {
		h->name = tok_str(cur(p));
		p->i++;
	} else {
		h->name = kind == H_ENTER ? "$>" : "<$";
		p->i += 2;
	}
	if (kind == H_EVENT || at(p, "(")) {
		if (!parse_params(p, &h->params, kind != H_EVENT))
			return false;
	}
	if (!ret_and_body(p, &h->ret, &h->body))
		return false;
	VEC_PUSH(st->handlers, st->nhandlers, st->caphandlers, h);
	return true;
}

/* state_var = "$." IDENT ":" type "=" init [ ";" ] */
static bool parse_state_var(P *p, State *st)
{
	StateVar v = {tok_str(tk(p, p->i + 2)), p->i + 2, {0, 0}, {0, 0}};
	p->i += 3;
	if (!expect(p, ":"))
		return false;
	if (!required_opaque(p, OP_ANGLE | OP_EQ | OP_LINE | OP_SEMI, "a type", &v.type))
		return false;
	if (!at(p, "=")) {
		error_tok(cur(p), "E002", "state variable `$.%s` needs an initialiser: `$.%s: Type = value`", v.name,
		          v.name);
		return false;
	}
	p->i++;
	if (!required_opaque(p, OP_LINE | OP_SEMI, "an initial value", &v.init))
		return false;
	if (at(p, ";"))
		p->i++;
	VEC_PUSH(st->vars, st->nvars, st->capvars, v);
	return true;
}

/* state_item = state_var | handler | "=>" "$^" */
static bool parse_state_item(P *p, State *st)
{
	if (at(p, "$") && at_k(p, 1, ".") && tk(p, p->i + 2)->kind == TK_IDENT) {
		if (st->nhandlers > 0) {
			error_tok(cur(p), "E002", "state variables must come first in state `$%s`", st->name);
			return false;
		}
		return parse_state_var(p, st);
	}
	if (at(p, "$") && at_k(p, 1, ">") && adjacent(p, p->i))
		return parse_handler(p, st, H_ENTER);
	if (at(p, "<") && at_k(p, 1, "$") && adjacent(p, p->i))
		return parse_handler(p, st, H_EXIT);
	if (at(p, "=>") && at_k(p, 1, "$") && at_k(p, 2, "^")) {
		st->default_forward = true;
		st->forward_tok = p->i;
		p->i += 3;
		return true;
	}
	if (at_ident(p) && at_k(p, 1, "("))
		return parse_handler(p, st, H_EVENT);
	syntax(p, "a handler, `$>`, `<$`, a state variable `$.x` or `=> $^`");
	return false;
}

/* state = "$" IDENT [ params ] [ "=>" "$" IDENT ] "{" { state_item } "}" */
static bool parse_state(P *p, System *sys)
{
	if (!at(p, "$") || tk(p, p->i + 1)->kind != TK_IDENT) {
		syntax(p, "a state `$Name`");
		return false;
	}
	State *st = xalloc(sizeof *st);
	st->name = tok_str(tk(p, p->i + 1));
	st->tok = p->i + 1;
	st->index = sys->nstates;
	p->i += 2;
	if (at(p, "(") && !parse_params(p, &st->params, true))
		return false;
	if (at(p, "=>")) {
		p->i++;
		if (!at(p, "$") || tk(p, p->i + 1)->kind != TK_IDENT) {
			syntax(p, "a parent state `$Name` after `=>`");
			return false;
		}
		st->parent_name = tok_str(tk(p, p->i + 1));
		st->parent_tok = p->i + 1;
		p->i += 2;
	}
	if (!at(p, "{")) {
		syntax(p, "`{`");
		return false;
	}
	VEC_PUSH(sys->states, sys->nstates, sys->capstates, st);
	int close = p->match[p->i];
	p->i++;
	while (p->i < close) {
		int line = cur(p)->line;
		if (!parse_state_item(p, st))
			skip_item(p, line);
	}
	p->i = close + 1;
	return true;
}

/* action = IDENT params [ ":" type ] body */
static bool parse_action(P *p, System *sys)
{
	int t = take_ident(p, "an action name");
	if (t < 0)
		return false;
	Action *a = xalloc(sizeof *a);
	a->name = tok_str(tk(p, t));
	a->tok = t;
	if (!parse_params(p, &a->params, true) || !ret_and_body(p, &a->ret, &a->body))
		return false;
	VEC_PUSH(sys->actions, sys->nactions, sys->capactions, a);
	return true;
}

/* field = [ "var" ] IDENT ":" type [ "=" init ] [ ";" ]   (`var` as in older Frame) */
static bool parse_field(P *p, System *sys)
{
	if (at(p, "var") && tk(p, p->i + 1)->kind == TK_IDENT && !at_k(p, 1, ":"))
		p->i++;
	int t = take_ident(p, "a domain field `name: Type = value`");
	if (t < 0)
		return false;
	Field f = {tok_str(tk(p, t)), t, {0, 0}, {0, 0}};
	if (!expect(p, ":"))
		return false;
	if (!required_opaque(p, OP_ANGLE | OP_EQ | OP_LINE | OP_SEMI, "a type", &f.type))
		return false;
	f.init = (Span){p->i, p->i};
	if (at(p, "=")) {
		p->i++;
		if (!required_opaque(p, OP_LINE | OP_SEMI, "an initial value", &f.init))
			return false;
	}
	if (at(p, ";") || at(p, ","))
		p->i++;
	VEC_PUSH(sys->fields, sys->nfields, sys->capfields, f);
	return true;
}

typedef bool (*ItemFn)(P *, System *);

/* section = NAME ":" { item }   — items up to the next header or `}` */
static void parse_section_items(P *p, System *sys, ItemFn fn, int close)
{
	while (p->i < close && !is_section_header(p)) {
		int line = cur(p)->line;
		if (!fn(p, sys))
			skip_item(p, line);
	}
}

/* system_body = "{" [ "interface:" .. ] [ "machine:" .. ] [ "actions:" .. ] [ "domain:" .. ] "}" */
static void parse_system_body(P *p, System *sys)
{
	static const char *order[] = {"interface", "machine", "actions", "domain"};
	static const ItemFn fns[] = {parse_method, parse_state, parse_action, parse_field};
	int close = p->match[p->i];
	int last = -1;
	p->i++;
	while (p->i < close) {
		if (!is_section_header(p)) {
			syntax(p, "a section (`interface:`, `machine:`, `actions:` or `domain:`)");
			skip_item(p, cur(p)->line);
			continue;
		}
		Token *h = cur(p);
		if (at(p, "operations")) {
			not_supported(p, p->i, "the `operations:` section");
			p->i += 2;
			while (p->i < close && !is_section_header(p))
				skip_one(p);
			continue;
		}
		int s = 0;
		while (!tok_is(h, order[s]))
			s++;
		if (s == last)
			error_tok(h, "E006", "duplicate section `%s:`", order[s]);
		else if (s < last)
			error_tok(h, "E006", "section `%s:` must come before `%s:` (order: interface, machine, actions, domain)",
			          order[s], order[last]);
		if (s > last)
			last = s;
		p->i += 2;
		parse_section_items(p, sys, fns[s], close);
	}
	p->i = close + 1;
}

/* ---- top level ------------------------------------------------------------ */

typedef struct Attrs {
	int begin;        /* byte offset of the first pending system attribute, -1 none */
	bool no_alloc;
	int no_alloc_tok;
	int state_stack;
	bool seen_target;
	bool seen_system;
} Attrs;

/* attribute = "@@[" IDENT [ "(" args ")" ] "]"   — at the "@@" */
static void parse_attribute(P *p, Attrs *at_)
{
	int start = p->i;
	int close = p->match[p->i + 1];
	Token *name = tk(p, p->i + 2);
	p->i += 2;
	if (tok_is(name, "target")) {
		if (at_->seen_target)
			error_tok(name, "E005", "duplicate `@@[target(..)]` attribute");
		else if (at_->seen_system)
			error_tok(name, "E005", "`@@[target(..)]` must come before any `@@system`");
		at_->seen_target = true;
		Token *arg = tk(p, p->i + 2);
		const char *want = frc_target == TARGET_C ? "\"c\"" : "\"rust\"";
		if (!at_k(p, 1, "(") || arg->kind != TK_STR || !tok_is(arg, want) || !at_k(p, 3, ")") ||
		    p->i + 4 != close) {
			if (frc_target == TARGET_C)
				error_tok(name, "E005", "`frc compile -l c` only compiles `@@[target(\"c\")]`");
			else
				error_tok(name, "E005", "frc only compiles `@@[target(\"rust\")]`");
		}
		if (at_->begin < 0) {
			Cut c = {p->t[start].start, p->t[close].end, NULL};
			VEC_PUSH(p->prog->cuts, p->prog->ncuts, p->prog->capcuts, c);
		}
		p->i = close + 1;
		return;
	}
	if (at_->begin < 0)
		at_->begin = p->t[start].start;
	if (tok_is(name, "no_alloc")) {
		if (at_->no_alloc)
			error_tok(name, "E005", "duplicate `@@[no_alloc]` attribute");
		at_->no_alloc = true;
		at_->no_alloc_tok = p->i;
		if (at_k(p, 1, "(")) {
			bool ok = at_k(p, 2, "state_stack") && at_k(p, 3, "=") && tk(p, p->i + 4)->kind == TK_NUM &&
			          at_k(p, 5, ")") && p->i + 6 == close;
			long n = ok ? strtol(tok_str(tk(p, p->i + 4)), NULL, 10) : 0;
			if (!ok || n < 1 || n > 65536)
				error_tok(name, "E005",
				          "malformed `@@[no_alloc(..)]`: the only argument is `state_stack = N` (1..65536)");
			else
				at_->state_stack = (int)n;
		} else if (p->i + 1 != close) {
			error_tok(name, "E005", "malformed `@@[no_alloc]` attribute");
		}
	} else if (tok_is(name, "persist") || tok_is(name, "save") || tok_is(name, "load") ||
	           tok_is(name, "async")) {
		not_supported(p, p->i, xsprintf("the `@@[%s]` attribute", tok_str(name)));
	} else if (name->kind == TK_IDENT) {
		error_tok(name, "E004", "unknown attribute `@@[%s]` (frc knows `target` and `no_alloc`)", tok_str(name));
	} else {
		error_tok(name, "E002", "expected an attribute name after `@@[`, found %s", describe(name));
	}
	p->i = close + 1;
}

/* system = { attribute } "@@system" IDENT system_body */
static void parse_system(P *p, Attrs *at_)
{
	System *sys = xalloc(sizeof *sys);
	int start = p->i;
	sys->no_alloc = at_->no_alloc;
	sys->no_alloc_tok = at_->no_alloc_tok;
	sys->state_stack = at_->no_alloc ? at_->state_stack : -1;
	sys->src_begin = at_->begin >= 0 ? at_->begin : p->t[start].start;
	at_->begin = -1;
	at_->no_alloc = false;
	at_->state_stack = -1;
	at_->seen_system = true;
	p->i += 2;
	int t = take_ident(p, "a system name after `@@system`");
	if (t < 0)
		return;
	sys->name = tok_str(tk(p, t));
	sys->tok = t;
	if (at(p, "(")) {
		not_supported(p, p->i, "system parameters (`@@system Name(..)`)");
		skip_one(p);
	}
	if (!at(p, "{")) {
		syntax(p, "`{` after the system name");
		return;
	}
	int close = p->match[p->i];
	parse_system_body(p, sys);
	sys->src_end = p->t[close].end;
	Cut c = {sys->src_begin, sys->src_end, sys};
	VEC_PUSH(p->prog->cuts, p->prog->ncuts, p->prog->capcuts, c);
}

/* program = { native | attribute | system } */
bool parse_program(Program *prog)
{
	P p = {prog->toks.v, prog->toks.n, 0, NULL, prog, 0, false};
	if (!match_brackets(&p))
		return false;
	Attrs at_ = {-1, false, 0, -1, false, false};
	int attr_tok = -1;
	while (!is_eof(&p)) {
		if (at(&p, "@@") && at_k(&p, 1, "[") && adjacent(&p, p.i)) {
			if (at_.begin < 0)
				attr_tok = p.i;
			parse_attribute(&p, &at_);
		} else if (at(&p, "@@") && at_k(&p, 1, "system") && adjacent(&p, p.i)) {
			parse_system(&p, &at_);
		} else if (at(&p, "@@") && at_k(&p, 1, ":")) {
			error_tok(cur(&p), "E002", "`@@:` can only be used inside a handler or action body");
			p.i++;
		} else if (at(&p, "@@")) {
			Body scratch = {p.i, p.i + 1, NULL, 0, 0};
			parse_context(&p, &scratch, p.i);
			p.i++;
		} else {
			if (at_.begin >= 0) {
				error_tok(&p.t[attr_tok + 2], "E005", "attribute `@@[%s]` must be followed by `@@system`",
				          tok_str(&p.t[attr_tok + 2]));
				at_.begin = -1;
				at_.no_alloc = false;
			}
			p.i++;
		}
	}
	if (at_.begin >= 0)
		error_tok(&p.t[attr_tok + 2], "E005", "attribute `@@[%s]` must be followed by `@@system`",
		          tok_str(&p.t[attr_tok + 2]));
	return error_count() == 0;
}
