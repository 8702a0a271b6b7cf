/* emit.c — the walk shared by both Rust shapes.
 *
 * Native Rust outside systems is copied byte for byte; each system is
 * handed to the back end its attributes select (allocating or no_alloc).
 * Handler and action bodies are native text with Frame forms replaced: the
 * shape-independent forms ($.x, @@:return, @@:self...) are expanded here
 * through accessors every shape defines (`__sv_S()`, `__ret_m()`,
 * `__gen`); transitions, push$ and => $^ go through the Emitter table. */
#include "frc.h"

#include <stdlib.h>

static const Emitter *emitters[] = {&alloc_emitter, &noalloc_emitter, NULL};

const Emitter *emitter_by_name(const char *name)
{
	for (const Emitter **e = emitters; *e; e++)
		if (strcmp((*e)->name, name) == 0)
			return *e;
	die("no emitter named '%s'", name);
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
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *b = xalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b, (size_t)n + 1, fmt, ap);
	va_end(ap);
	out_n(o, b, (size_t)n);
}

void out_span(Out *o, Span sp)
{
	if (sp.e <= sp.b)
		return;
	out_n(o, cur_src->text + TOK(sp.b)->start, (size_t)(TOK(sp.e - 1)->end - TOK(sp.b)->start));
}

int tok_line(int tok)
{
	return TOK(tok)->line;
}

void emit_line_comment(Out *o, int tok, const char *what)
{
	out_f(o, "    // %s:%d %s\n", cur_src->path, tok_line(tok), what);
}

State *system_start(System *sys)
{
	return sys->states[0];
}

/* Does identifier `name` occur in the body (outside Frame forms is close
 * enough: it decides whether a state/enter param is bound)? */
bool body_mentions(Body *b, const char *name)
{
	for (int k = b->tb; k < b->te; k++)
		if (TOK(k)->kind == TK_IDENT && tok_is(TOK(k), name))
			return true;
	return false;
}

void emit_params_decl(Out *o, Params *ps, Method *iface)
{
	for (int i = 0; i < ps->n; i++) {
		out_f(o, ", %s: ", ps->v[i].name);
		out_span(o, iface ? iface->params.v[i].type : ps->v[i].type);
	}
}

/* ---- bodies -------------------------------------------------------------- */

static bool needs_separator(Body *b, Form *f)
{
	if (f->tb == b->tb)
		return false;
	Token *pr = TOK(f->tb - 1);
	return !(tok_is(pr, "{") || tok_is(pr, ";") || tok_is(pr, "}") || tok_is(pr, ",") || tok_is(pr, "=>"));
}

/* Frame statements need no `;` of their own, so a form that starts a line
 * after a line ending in a complete expression gets one: `$.n = $.n + 1`
 * then `$.m = 0` on the next line must not parse as one expression. */
static bool line_start_needs_separator(Body *b, Form *f)
{
	static const char *cont[] = {"return", "else", "in", "let", "mut", "as", "move", "break", "match", "if",
	                             "while", NULL};
	if (f->tb == b->tb || TOK(f->tb - 1)->line == TOK(f->tb)->line)
		return false;
	Token *pr = TOK(f->tb - 1);
	if (pr->kind == TK_IDENT) {
		for (const char **c = cont; *c; c++)
			if (tok_is(pr, *c))
				return false;
		return true;
	}
	return pr->kind != TK_PUNCT || tok_is(pr, ")") || tok_is(pr, "]") || tok_is(pr, "}") || tok_is(pr, "?");
}

static void emit_args(Out *o, const Emitter *em, System *sys, Handler *h, Body **v, int n)
{
	for (int i = 0; i < n; i++) {
		out_s(o, i ? ", " : "");
		emit_body(o, em, sys, h, v[i]);
	}
}

static void emit_form(Out *o, const Emitter *em, System *sys, Handler *h, Form *f)
{
	switch (f->kind) {
	case F_TRANSITION:
		em->transition(o, sys, h, f);
		break;
	case F_PUSH:
		em->push(o, sys, h, f);
		break;
	case F_PARENT:
		/* `=> $^`: the parent's router, the same in both shapes */
		out_f(o, "self.__state_%s(__e);", h->state->parent->name);
		break;
	case F_STATE_VAR:
		if (!f->var_state)
			die("$.%s at %d:%d reached the emitter unresolved", f->name, f->line, f->col);
		out_f(o, "self.__sv_%s().v_%s", f->var_state->name, f->name);
		break;
	case F_RETURN_PLACE:
		out_f(o, "*self.__ret_%s()", h->method->name);
		break;
	case F_RETURN_SET:
	case F_RETURN_LEAVE:
		out_f(o, "{ *self.__ret_%s() = (", h->method->name);
		emit_body(o, em, sys, h, f->expr);
		out_s(o, f->kind == F_RETURN_LEAVE ? "); return; }" : "); }");
		break;
	case F_SELF_CALL:
		if (f->is_action || !h) {
			out_f(o, "self.%s(", f->name);
			emit_args(o, em, sys, h, f->args, f->nargs);
			out_s(o, ")");
		} else {
			/* a nested dispatch; if it changed state, this handler stops */
			out_f(o, "{ let __g = self.__gen; let __r = self.%s(", f->name);
			emit_args(o, em, sys, h, f->args, f->nargs);
			out_s(o, "); if self.__gen != __g { return; } __r }");
		}
		break;
	case F_SELF_FIELD:
		out_f(o, "self.%s", f->name);
		break;
	}
}

/* The last token starting at or before byte `off`, or -1. */
static int tok_at_or_before(int off)
{
	int lo = 0, hi = src_toks.n - 1, k = -1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		if (TOK(mid)->start <= off) {
			k = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return k;
}

static void out_marker(Out *o)
{
	if (o->frs_col)
		out_f(o, " // frs:%d:%d", o->frs_line, o->frs_col);
	else
		out_f(o, " // frs:%d", o->frs_line);
}

/* Does the current output line hold anything but indentation? */
static bool out_line_has_text(Out *o)
{
	for (size_t i = o->len; i > 0 && o->buf[i - 1] != '\n'; i--)
		if (o->buf[i - 1] != ' ' && o->buf[i - 1] != '\t')
			return true;
	return false;
}

/* Ends the output line (with its marker) and starts the next one at token
 * k's line and column: a token boundary, so the newline is only whitespace
 * to rustc. */
static void break_line_at(Out *o, int k)
{
	while (o->len > 0 && (o->buf[o->len - 1] == ' ' || o->buf[o->len - 1] == '\t'))
		o->buf[--o->len] = 0;
	out_marker(o);
	out_s(o, "\n                ");
	o->frs_line = TOK(k)->line;
	o->frs_col = TOK(k)->col;
}

/* Native text [from, to) of a body, with the line markers emit_body()
 * promises. The marker goes before a '\r' of a CRLF ending: a bare CR is
 * an error in some Rust comments. Text inside a multi-line token is copied
 * one line for one, so its lines need no marker of their own. */
static void out_native(Out *o, int from, int to)
{
	const char *t = cur_src->text;
	int pos = from;
	for (int p = from; p < to && o->frs_line; p++) {
		if (t[p] != '\n')
			continue;
		int k = tok_at_or_before(p);
		int line = k < 0 ? 1 : TOK(k)->line;
		for (int q = k < 0 ? 0 : TOK(k)->start; q < p; q++)
			line += t[q] == '\n';
		int eol = p > pos && t[p - 1] == '\r' ? p - 1 : p;
		out_n(o, t + pos, (size_t)(eol - pos));
		if (k < 0 || p >= TOK(k)->end)
			out_marker(o);
		pos = eol;
		o->frs_line = line + 1;
		o->frs_col = 0;
	}
	out_n(o, t + pos, (size_t)(to - pos));
}

/* Writes body b of a handler or action with its `// frs:N` line markers. */
static void emit_marked_body(Out *o, const Emitter *em, System *sys, Handler *h, Body *b)
{
	if (b->te <= b->tb)
		return;
	o->frs_line = TOK(b->tb)->line;
	o->frs_col = 0;
	emit_body(o, em, sys, h, b);
	out_marker(o);
	o->frs_line = o->frs_col = 0;
}

void emit_body(Out *o, const Emitter *em, System *sys, Handler *h, Body *b)
{
	if (b->te <= b->tb)
		return;
	int pos = TOK(b->tb)->start;
	int end = TOK(b->te - 1)->end;
	for (int i = 0; i < b->nforms; i++) {
		Form *f = b->forms[i];
		out_native(o, pos, TOK(f->tb)->start);
		bool stmt = f->kind == F_TRANSITION || f->kind == F_PUSH || f->kind == F_PARENT ||
		            f->kind == F_RETURN_SET || f->kind == F_RETURN_LEAVE;
		bool own_line = stmt && o->frs_line;
		if (own_line && out_line_has_text(o))
			break_line_at(o, f->tb);
		if (stmt ? needs_separator(b, f) : line_start_needs_separator(b, f))
			out_s(o, ";");
		emit_form(o, em, sys, h, f);
		pos = TOK(f->te - 1)->end;
		if (own_line && f->te < b->te && TOK(f->te)->line == TOK(f->te - 1)->line) {
			break_line_at(o, f->te);
			while (cur_src->text[pos] == ' ' || cur_src->text[pos] == '\t')
				pos++;
		}
	}
	out_native(o, pos, end);
}

/* ---- pieces shared by both shapes ------------------------------------------ */

/* `fn __mk_S(params) -> SysSCtx`: a fresh per-state context. State variable
 * initialisers run here, with the state parameters in scope by name. */
void emit_mk_state_fns(Out *o, System *sys, const char *indent)
{
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "%sfn __mk_%s(", indent, st->name);
		for (int k = 0; k < st->params.n; k++) {
			out_f(o, "%s%s: ", k ? ", " : "", st->params.v[k].name);
			out_span(o, st->params.v[k].type);
		}
		out_f(o, ") -> %s_%s_Ctx {\n", sys->name, st->name);
		for (int v = 0; v < st->nvars; v++) {
			out_f(o, "%s    let v_%s: ", indent, st->vars[v].name);
			out_span(o, st->vars[v].type);
			out_s(o, " = ");
			out_span(o, st->vars[v].init);
			out_s(o, ";\n");
		}
		out_f(o, "%s    %s_%s_Ctx {", indent, sys->name, st->name);
		for (int k = 0; k < st->params.n; k++)
			out_f(o, " p_%s: %s,", st->params.v[k].name, st->params.v[k].name);
		for (int v = 0; v < st->nvars; v++)
			out_f(o, " v_%s: v_%s,", st->vars[v].name, st->vars[v].name);
		if (st->enter)
			for (int k = 0; k < st->enter->params.n; k++)
				out_f(o, " e_%s: None,", st->enter->params.v[k].name);
		if (st->exit)
			for (int k = 0; k < st->exit->params.n; k++)
				out_f(o, " x_%s: None,", st->exit->params.v[k].name);
		out_f(o, " }\n%s}\n", indent);
	}
}

/* Per-state context structs and the enum that holds one of them. */
void emit_state_ctx_types(Out *o, System *sys, const char *derive)
{
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "// %s:%d state $%s: state args, state variables, enter/exit args\n", cur_src->path,
		      tok_line(st->tok), st->name);
		out_f(o, "#[derive(%s)]\nstruct %s_%s_Ctx {\n", derive, sys->name, st->name);
		for (int k = 0; k < st->params.n; k++) {
			out_f(o, "    p_%s: ", st->params.v[k].name);
			out_span(o, st->params.v[k].type);
			out_s(o, ",\n");
		}
		for (int v = 0; v < st->nvars; v++) {
			out_f(o, "    v_%s: ", st->vars[v].name);
			out_span(o, st->vars[v].type);
			out_s(o, ",\n");
		}
		Handler *lc[2] = {st->enter, st->exit};
		for (int j = 0; j < 2; j++)
			if (lc[j])
				for (int k = 0; k < lc[j]->params.n; k++) {
					out_f(o, "    %c_%s: Option<", j ? 'x' : 'e', lc[j]->params.v[k].name);
					out_span(o, lc[j]->params.v[k].type);
					out_s(o, ">,\n");
				}
		out_s(o, "}\n\n");
	}
	out_f(o, "#[derive(%s)]\nenum %sStateCtx {\n    __None,\n", derive, sys->name);
	for (int i = 0; i < sys->nstates; i++)
		out_f(o, "    %s(%s_%s_Ctx),\n", sys->states[i]->name, sys->name, sys->states[i]->name);
	out_s(o, "}\n\n");
}

/* The event enum: one variant per interface method (its parameters as
 * fields) plus the two lifecycle events. */
void emit_event_enum(Out *o, System *sys, const char *derive)
{
	out_f(o, "#[derive(%s)]\nenum %sFrameEvent {\n    __Enter,\n    __Exit,\n", derive, sys->name);
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		out_f(o, "    %s", m->name);
		if (m->params.n) {
			out_s(o, " {");
			for (int k = 0; k < m->params.n; k++) {
				out_f(o, " %s: ", m->params.v[k].name);
				out_span(o, m->params.v[k].type);
				out_s(o, ",");
			}
			out_s(o, " }");
		}
		out_s(o, ",\n");
	}
	out_s(o, "}\n\n");
}

/* The pattern that matches method m's event and binds its fields. */
void emit_event_pattern(Out *o, System *sys, Method *m)
{
	out_f(o, "%sFrameEvent::%s", sys->name, m->name);
	if (m->params.n) {
		out_s(o, " {");
		for (int k = 0; k < m->params.n; k++)
			out_f(o, "%s %s", k ? "," : "", m->params.v[k].name);
		out_s(o, " }");
	}
}

/* Per-state routers: a state handles its events, and either ignores the
 * rest or (with a state-level `=> $^`) passes them to its parent. `$>`
 * and `<$` go to the leaf only. */
void emit_state_routers(Out *o, System *sys, const char *event_ref, const char *deref)
{
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "    fn __state_%s(&mut self, __e: %s) {\n        match %s__e {\n", st->name, event_ref, deref);
		for (int h = 0; h < st->nhandlers; h++) {
			Handler *hd = st->handlers[h];
			if (hd->kind == H_ENTER)
				out_f(o, "            %sFrameEvent::__Enter => self._s_%s_enter(__e),\n", sys->name, st->name);
			else if (hd->kind == H_EXIT)
				out_f(o, "            %sFrameEvent::__Exit => self._s_%s_exit(__e),\n", sys->name, st->name);
			else {
				out_s(o, "            ");
				emit_event_pattern(o, sys, hd->method);
				out_f(o, " => self._s_%s_%s(__e", st->name, hd->name);
				for (int k = 0; k < hd->method->params.n; k++)
					out_f(o, ", %s.clone()", hd->method->params.v[k].name);
				out_s(o, "),\n");
			}
		}
		if (st->default_forward && st->parent) {
			out_f(o, "            %sFrameEvent::__Enter | %sFrameEvent::__Exit => {}\n", sys->name, sys->name);
			out_f(o, "            _ => self.__state_%s(__e),\n", st->parent->name);
		} else {
			out_s(o, "            _ => {}\n");
		}
		out_s(o, "        }\n    }\n\n");
	}
}

static const char *handler_fn_name(System *sys, Handler *h)
{
	(void)sys;
	if (h->kind == H_ENTER)
		return xsprintf("_s_%s_enter", h->state->name);
	if (h->kind == H_EXIT)
		return xsprintf("_s_%s_exit", h->state->name);
	return xsprintf("_s_%s_%s", h->state->name, h->name);
}

/* A handler's own parameter hides a state parameter of the same name. */
static bool shadowed(Handler *h, const char *name)
{
	for (int k = 0; k < h->params.n; k++)
		if (strcmp(h->params.v[k].name, name) == 0)
			return true;
	return false;
}

/* One method per handler. Parameters come from the event (cloned when
 * routed); state args and enter/exit args are bound by name from the
 * state's context when the body mentions them. `keep` emits the escape
 * that stops LLVM from deleting an allocation (allocating shape only). */
void emit_handler_fns(Out *o, const Emitter *em, System *sys, const char *event_ref, bool keep)
{
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		for (int j = 0; j < st->nhandlers; j++) {
			Handler *h = st->handlers[j];
			emit_line_comment(o, h->tok, xsprintf("$%s.%s", st->name, h->name));
			out_f(o, "    fn %s(&mut self, __e: %s", handler_fn_name(sys, h), event_ref);
			if (h->kind == H_EVENT)
				emit_params_decl(o, &h->params, h->method);
			out_s(o, ") {\n");
			if (h->kind == H_EVENT && keep)
				for (int k = 0; k < h->params.n; k++)
					out_f(o, "        self.__keep(&%s);\n", h->params.v[k].name);
			for (int k = 0; k < st->params.n; k++)
				if (body_mentions(h->body, st->params.v[k].name) && !shadowed(h, st->params.v[k].name)) {
					out_f(o, "        let mut %s = self.__sv_%s().p_%s.clone();\n", st->params.v[k].name, st->name,
					      st->params.v[k].name);
					if (keep)
						out_f(o, "        self.__keep(&%s);\n", st->params.v[k].name);
				}
			if (h->kind != H_EVENT)
				for (int k = 0; k < h->params.n; k++) {
					out_f(o, "        let mut %s = self.__sv_%s().%c_%s.clone().expect(\"%s args of $%s were not passed\");\n",
					      h->params.v[k].name, st->name, h->kind == H_ENTER ? 'e' : 'x', h->params.v[k].name,
					      h->kind == H_ENTER ? "enter" : "exit", st->name);
					if (keep)
						out_f(o, "        self.__keep(&%s);\n", h->params.v[k].name);
				}
			out_s(o, "        ");
			emit_marked_body(o, em, sys, h, h->body);
			out_s(o, "\n    }\n\n");
		}
	}
}

void emit_actions(Out *o, System *sys, const Emitter *em)
{
	for (int i = 0; i < sys->nactions; i++) {
		Action *a = sys->actions[i];
		emit_line_comment(o, a->tok, xsprintf("action %s", a->name));
		out_f(o, "    fn %s(&mut self", a->name);
		emit_params_decl(o, &a->params, NULL);
		out_s(o, ")");
		if (a->ret.e > a->ret.b) {
			out_s(o, " -> ");
			out_span(o, a->ret);
		}
		out_s(o, " {\n        ");
		emit_marked_body(o, em, sys, NULL, a->body);
		out_s(o, "\n    }\n\n");
	}
}

/* `pub field: Type` lines and their initialisers. */
void emit_domain_decls(Out *o, System *sys)
{
	for (int i = 0; i < sys->nfields; i++) {
		out_f(o, "    pub %s: ", sys->fields[i].name);
		out_span(o, sys->fields[i].type);
		out_s(o, ",\n");
	}
}

void emit_domain_inits(Out *o, System *sys, const char *indent)
{
	for (int i = 0; i < sys->nfields; i++) {
		out_f(o, "%s%s: ", indent, sys->fields[i].name);
		if (sys->fields[i].init.e > sys->fields[i].init.b)
			out_span(o, sys->fields[i].init);
		else
			out_s(o, "Default::default()");
		out_s(o, ",\n");
	}
}

/* The signature of interface method m: `pub fn m(&mut self, a: T) -> R`. */
void emit_iface_sig(Out *o, Method *m)
{
	emit_line_comment(o, m->tok, xsprintf("interface %s", m->name));
	out_f(o, "    pub fn %s(&mut self", m->name);
	emit_params_decl(o, &m->params, NULL);
	out_s(o, ")");
	if (m->ret.e > m->ret.b) {
		out_s(o, " -> ");
		out_span(o, m->ret);
	}
	out_s(o, " {\n");
}

void emit_ret_default(Out *o, Method *m)
{
	if (m->dflt.e > m->dflt.b)
		out_span(o, m->dflt);
	else
		out_s(o, "Default::default()");
}

/* Evaluates transition args into locals (__sa*, __ea*, __xa*) before the
 * transition is recorded: they may read $.x or handler parameters. */
void emit_transition_args(Out *o, const Emitter *em, System *sys, Handler *h, Form *f)
{
	for (int i = 0; i < f->n_state; i++) {
		out_f(o, " let __sa%d = (", i);
		emit_body(o, em, sys, h, f->state_args[i]);
		out_s(o, ");");
	}
	for (int i = 0; i < f->n_enter; i++) {
		out_f(o, " let __ea%d = (", i);
		emit_body(o, em, sys, h, f->enter_args[i]);
		out_s(o, ");");
	}
	for (int i = 0; i < f->n_exit; i++) {
		out_f(o, " let __xa%d = (", i);
		emit_body(o, em, sys, h, f->exit_args[i]);
		out_s(o, ");");
	}
	/* exit args go to the handler's own state's `<$` */
	State *own = h->state;
	for (int i = 0; i < f->n_exit && own->exit; i++)
		out_f(o, " self.__sv_%s().x_%s = Some(__xa%d);", own->name,
		      own->exit->params.v[i].name, i);
}

char *emit_program(Program *prog, Out *o)
{
	out_f(o, "// generated by frc %s from %s — do not edit\n", FRC_VERSION, cur_src->path);
	out_s(o, "#![allow(unused, non_snake_case, non_camel_case_types, dead_code, unused_parens, "
	         "redundant_semicolons, unreachable_code, unreachable_patterns, clippy::all)]\n");
	int pos = 0;
	for (int i = 0; i < prog->ncuts; i++) {
		Cut *c = &prog->cuts[i];
		out_n(o, cur_src->text + pos, (size_t)(c->begin - pos));
		if (c->sys) {
			System *sys = c->sys;
			/* the attribute alone picks the shape (RFC-0036: it is the only difference) */
			const Emitter *em = emitter_by_name(sys->no_alloc ? "noalloc" : "alloc");
			em->system(o, sys);
		}
		pos = c->end;
	}
	out_n(o, cur_src->text + pos, (size_t)(cur_src->len - pos));
	return o->buf;
}
