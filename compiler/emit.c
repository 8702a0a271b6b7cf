/* emit.c — the system skeleton and the walk shared by both Rust shapes.
 *
 * Native Rust outside systems is copied byte for byte. Each system is
 * written here, part by part (types, struct, constructors, interface,
 * router, per-state helpers, handlers, actions); where the allocating and
 * the no_alloc shape differ, the back end its attribute selects fills in
 * through the Emitter table (emit_alloc.c, emit_noalloc.c). Handler and
 * action bodies are native text with Frame forms replaced: the
 * shape-independent forms ($.x, @@:return, @@:self..., => $^) are expanded
 * here through accessors every shape defines (`__sv_S()`, `__ret_m()`,
 * `__gen`); the transition's skeleton is here too, its pop, forward and
 * push$ come from the table. */
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

void out_span(Out *o, Span sp)
{
	if (sp.e <= sp.b)
		return;
	out_n(o, cur_src->text + TOK(sp.b)->start, (size_t)(TOK(sp.e - 1)->end - TOK(sp.b)->start));
}

State *system_start(System *sys)
{
	return sys->states[0];
}

static int tok_line(int tok)
{
	return TOK(tok)->line;
}

static void emit_line_comment(Out *o, int tok, const char *what)
{
	out_f(o, "    // %s:%d %s\n", cur_src->path, tok_line(tok), what);
}

/* Does identifier `name` occur in the body (outside Frame forms is close
 * enough: it decides whether a state/enter param is bound)? */
static bool body_mentions(Body *b, const char *name)
{
	for (int k = b->tb; k < b->te; k++)
		if (TOK(k)->kind == TK_IDENT && tok_is(TOK(k), name))
			return true;
	return false;
}

static void emit_params_decl(Out *o, Params *ps, Method *iface)
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

static void emit_transition(Out *o, const Emitter *em, System *sys, Handler *h, Form *f);

/* `=> $^` in a `$>` or `<$` runs the parent's, which gets the same enter
 * or exit args: copied into the parent's context first (check.c made sure
 * both take the same parameters). */
static void emit_parent_args(Out *o, Handler *h)
{
	State *st = h->state, *p = st->parent;
	Handler *up = h->kind == H_ENTER ? p->enter : h->kind == H_EXIT ? p->exit : NULL;
	char c = h->kind == H_ENTER ? 'e' : 'x';
	if (up && up->params.n > h->params.n)
		die("`=> $^` at %d:%d hands on fewer args than `%s` of $%s takes", TOK(h->tok)->line, TOK(h->tok)->col,
		    h->name, p->name);
	for (int i = 0; up && i < up->params.n; i++)
		out_f(o, "self.__sv_%s().%c_%s = self.__sv_%s().%c_%s.clone(); ", p->name, c, up->params.v[i].name,
		      st->name, c, h->params.v[i].name);
}

static void emit_form(Out *o, const Emitter *em, System *sys, Handler *h, Form *f)
{
	if (em->form) {
		em->form(o, em, sys, h, f);
		return;
	}
	switch (f->kind) {
	case F_TRANSITION:
		emit_transition(o, em, sys, h, f);
		break;
	case F_PUSH:
		em->push(o, sys);
		break;
	case F_PARENT:
		/* `=> $^`: the parent's router, the same in both shapes */
		emit_parent_args(o, h);
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
		if (!em->form && (stmt ? needs_separator(b, f) : line_start_needs_separator(b, f)))
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

/* ---- Frame statements ------------------------------------------------------- */

/* Evaluates transition args into locals (__sa*, __ea*, __xa*) before the
 * transition is recorded: they may read $.x or handler parameters. */
static void emit_transition_args(Out *o, const Emitter *em, System *sys, Handler *h, Form *f)
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
	/* exit args go to the `<$` of the state being left: the handler's own
	 * state's, or (when a descendant may be the one left) whichever state
	 * is current, through __xa_<State>() */
	State *own = h->state;
	if (h->exit_helper && f->n_exit) {
		out_f(o, " self.__xa_%s(", h->exit_first->exit_sig->name);
		for (int i = 0; i < f->n_exit; i++)
			out_f(o, "%s__xa%d", i ? ", " : "", i);
		out_s(o, ");");
		return;
	}
	for (int i = 0; i < f->n_exit && own->exit; i++)
		out_f(o, " self.__sv_%s().x_%s = Some(__xa%d);", own->name,
		      own->exit->params.v[i].name, i);
}

/* `-> $T(args)`, `-> (enter args) $T`, `-> =>` and `-> pop$`: one block
 * that records the next compartment and ends the handler; __drain() runs
 * the exit and enter events once the handler has returned. */
static void emit_transition(Out *o, const Emitter *em, System *sys, Handler *h, Form *f)
{
	out_s(o, "{");
	emit_transition_args(o, em, sys, h, f);
	if (f->pop) {
		em->pop(o);
		out_s(o, " return; }");
		return;
	}
	State *t = f->target_state;
	if (!t)
		die("transition at %d:%d reached the emitter unresolved", f->line, f->col);
	out_f(o, " let mut __c = %s::__comp_%s(", sys->name, t->name);
	for (int i = 0; i < f->n_state; i++)
		out_f(o, "%s__sa%d", i ? ", " : "", i);
	out_s(o, ");");
	if (t->enter && f->n_enter) {
		out_f(o, " if let %sStateCtx::%s(ref mut __v) = ", sys->name, t->name);
		em->ctx_of(o, t, "__c");
		out_s(o, " {");
		for (int i = 0; i < f->n_enter; i++)
			out_f(o, " __v.e_%s = Some(__ea%d);", t->enter->params.v[i].name, i);
		out_s(o, " }");
	}
	em->forward(o, f->forward);
	out_s(o, " self.__next_compartment = Some(__c); return; }");
}

/* ---- types ------------------------------------------------------------------ */

/* Per-state context structs and the enum that holds one of them. */
static void emit_state_ctx_types(Out *o, System *sys, const char *derive)
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
static void emit_event_enum(Out *o, System *sys, const char *derive)
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

void emit_ret_fields(Out *o, System *sys)
{
	for (int i = 0; i < sys->nmethods; i++)
		if (sys->methods[i]->ret.e > sys->methods[i]->ret.b) {
			out_f(o, "    r_%s: Option<", sys->methods[i]->name);
			out_span(o, sys->methods[i]->ret);
			out_s(o, ">,\n");
		}
}

void emit_ret_nones(Out *o, System *sys)
{
	for (int i = 0; i < sys->nmethods; i++)
		if (sys->methods[i]->ret.e > sys->methods[i]->ret.b)
			out_f(o, " r_%s: None,", sys->methods[i]->name);
}

/* `pub struct S`: the domain fields, then the runtime's. */
static void emit_system_struct(Out *o, const Emitter *em, System *sys)
{
	const char *S = sys->name;
	out_f(o, "pub struct %s {\n", S);
	for (int i = 0; i < sys->nfields; i++) {
		out_f(o, "    pub %s: ", sys->fields[i].name);
		out_span(o, sys->fields[i].type);
		out_s(o, ",\n");
	}
	out_f(o, "    __compartment: %sCompartment,\n    __next_compartment: Option<%sCompartment>,\n", S, S);
	em->stack_fields(o, sys);
	out_s(o, "    __gen: u32,\n");
	if (em->escape)
		out_s(o, "    __escape: usize,\n");
	out_f(o, "    /// `-> pop$` on an empty state stack: counted here; no transition happens.\n"
	         "    pub __stack_underflows: u32,\n"
	         "    /// %s\n"
	         "    pub __stack_overflows: u32,\n}\n\n",
	      em->overflow_doc);
}

/* ---- impl S: constructors and interface ------------------------------------- */

static void emit_constructors(Out *o, const Emitter *em, System *sys)
{
	const char *S = sys->name;
	out_f(o, "    /// Builds the system in its start state without running `$>`.\n"
	         "    pub fn new() -> %s {\n        %s {\n",
	      S, S);
	for (int i = 0; i < sys->nfields; i++) {
		out_f(o, "            %s: ", sys->fields[i].name);
		if (sys->fields[i].init.e > sys->fields[i].init.b)
			out_span(o, sys->fields[i].init);
		else
			out_s(o, "Default::default()");
		out_s(o, ",\n");
	}
	out_f(o, "            __compartment: %s::__comp_%s(),\n            __next_compartment: None,\n", S,
	      system_start(sys)->name);
	em->stack_inits(o, sys);
	out_s(o, em->escape ? "            __gen: 0,\n            __escape: 0,\n" : "            __gen: 0,\n");
	out_s(o, "            __stack_underflows: 0,\n            __stack_overflows: 0,\n"
	         "        }\n    }\n\n");
	out_f(o, "    /// Builds the system and enters the start state (runs its `$>`).\n"
	         "    pub fn __create() -> %s {\n"
	         "        let mut __s = %s::new();\n",
	      S, S);
	em->enter_start(o, sys);
	out_s(o, "        __s\n    }\n\n");
}

/* `// file:line what` and `    fn_name(&mut self, params) -> ret {` of an
 * interface method or an action. */
static void emit_fn_head(Out *o, int tok, const char *what, const char *fn_name, Params *ps, Span ret)
{
	emit_line_comment(o, tok, what);
	out_f(o, "    %s(&mut self", fn_name);
	emit_params_decl(o, ps, NULL);
	out_s(o, ")");
	if (ret.e > ret.b) {
		out_s(o, " -> ");
		out_span(o, ret);
	}
	out_s(o, " {");
}

/* `SFrameEvent::m { a: a<arg_suffix>, }`: the event of a call of m. */
void emit_event_value(Out *o, System *sys, Method *m, const char *arg_suffix)
{
	out_f(o, "%sFrameEvent::%s", sys->name, m->name);
	if (m->params.n) {
		out_s(o, " {");
		for (int k = 0; k < m->params.n; k++)
			out_f(o, " %s: %s%s,", m->params.v[k].name, m->params.v[k].name, arg_suffix);
		out_s(o, " }");
	}
}

/* One public method per interface method: build the event and a context
 * (its return slot set to the default), route, run the transitions, pop
 * the context and return its slot. */
static void emit_interface(Out *o, const Emitter *em, System *sys)
{
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		emit_fn_head(o, m->tok, xsprintf("interface %s", m->name), xsprintf("pub fn %s", m->name), &m->params,
		             m->ret);
		out_s(o, "\n");
		em->call_begin(o, sys, m);
		if (m->ret.e > m->ret.b) {
			out_f(o, "        __c.r_%s = Some(", m->name);
			if (m->dflt.e > m->dflt.b)
				out_span(o, m->dflt);
			else
				out_s(o, "Default::default()");
			out_s(o, ");\n");
		}
		em->context_push(o);
		out_s(o, "        self.__route(&__e);\n        self.__drain();\n");
		em->context_pop(o, m);
		out_s(o, "    }\n\n");
	}
}

/* ---- impl S: runtime -------------------------------------------------------- */

/* `fn __route`: the leaf state's router gets the event. */
static void emit_route(Out *o, const Emitter *em, System *sys)
{
	out_f(o, "    fn __route(&mut self, __e: %s) {\n        match %s {\n", em->event_type(sys), em->state_match);
	for (int i = 0; i < sys->nstates; i++) {
		out_s(o, "            ");
		em->state_pattern(o, sys, sys->states[i]);
		out_f(o, " => self.__state_%s(__e),\n", sys->states[i]->name);
	}
	if (em->route_wildcard)
		out_s(o, "            _ => {}\n");
	out_s(o, "        }\n    }\n\n");
}

void emit_mk_call(Out *o, System *sys, State *st)
{
	out_f(o, "%sStateCtx::%s(%s::__mk_%s(", sys->name, st->name, sys->name, st->name);
	for (int k = 0; k < st->params.n; k++)
		out_f(o, "%s%s", k ? ", " : "", st->params.v[k].name);
	out_s(o, "))");
}

static void emit_state_params_decl(Out *o, State *st)
{
	for (int k = 0; k < st->params.n; k++) {
		out_f(o, "%s%s: ", k ? ", " : "", st->params.v[k].name);
		out_span(o, st->params.v[k].type);
	}
}

/* Per state: `__comp_T(args)`, a fresh compartment, and `__sv_T()`, the
 * context of T in the current compartment (what `$.x` reads). */
static void emit_state_access(Out *o, const Emitter *em, System *sys)
{
	const char *S = sys->name;
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "    fn __comp_%s(", st->name);
		emit_state_params_decl(o, st);
		out_f(o, ") -> %sCompartment {\n", S);
		em->compartment_value(o, sys, st);
		out_s(o, "    }\n\n");

		out_f(o, "    fn __sv_%s(&mut self) -> &mut %s_%s_Ctx {\n", st->name, S, st->name);
		const char *comp = em->find_compartment(o, st);
		out_s(o, "        match &mut ");
		em->ctx_of(o, st, comp);
		out_f(o, " {\n"
		         "            %sStateCtx::%s(__v) => __v,\n"
		         "            _ => unreachable!(),\n"
		         "        }\n    }\n\n",
		      S, st->name);
	}
}

/* `fn __mk_S(params) -> SysSCtx`: a fresh per-state context. State variable
 * initialisers run here, with the state parameters in scope by name. */
static void emit_mk_state_fns(Out *o, System *sys)
{
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "    fn __mk_%s(", st->name);
		emit_state_params_decl(o, st);
		out_f(o, ") -> %s_%s_Ctx {\n", sys->name, st->name);
		for (int v = 0; v < st->nvars; v++) {
			out_f(o, "        let v_%s: ", st->vars[v].name);
			out_span(o, st->vars[v].type);
			out_s(o, " = ");
			out_span(o, st->vars[v].init);
			out_s(o, ";\n");
		}
		out_f(o, "        %s_%s_Ctx {", sys->name, st->name);
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
		out_s(o, " }\n    }\n");
	}
	out_s(o, "\n");
}

/* `fn __ret_m()`: the return slot of the innermost call (`@@:return`). */
static void emit_ret_fns(Out *o, const Emitter *em, System *sys)
{
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		if (m->ret.e <= m->ret.b)
			continue;
		out_f(o, "    fn __ret_%s(&mut self) -> &mut ", m->name);
		out_span(o, m->ret);
		out_f(o, " {\n        %s.r_%s.as_mut().unwrap()\n    }\n\n", em->context_top, m->name);
	}
}

/* The pattern that matches method m's event and binds its fields. */
static void emit_event_pattern(Out *o, System *sys, Method *m)
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
static void emit_state_routers(Out *o, const Emitter *em, System *sys)
{
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "    fn __state_%s(&mut self, __e: %s) {\n        match %s__e {\n", st->name, em->event_type(sys),
		      em->event_deref);
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

/* ---- impl S: handlers and actions ------------------------------------------- */

static const char *handler_fn_name(Handler *h)
{
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

/* The locals a handler body sees: its event parameters (published through
 * __keep when em->escape), and the state args and enter/exit args its body
 * mentions, cloned from the state's context. */
static void emit_handler_locals(Out *o, const Emitter *em, State *st, Handler *h)
{
	if (h->kind == H_EVENT && em->escape)
		for (int k = 0; k < h->params.n; k++)
			out_f(o, "        self.__keep(&%s);\n", h->params.v[k].name);
	for (int k = 0; k < st->params.n; k++)
		if (body_mentions(h->body, st->params.v[k].name) && !shadowed(h, st->params.v[k].name)) {
			out_f(o, "        let mut %s = self.__sv_%s().p_%s.clone();\n", st->params.v[k].name, st->name,
			      st->params.v[k].name);
			if (em->escape)
				out_f(o, "        self.__keep(&%s);\n", st->params.v[k].name);
		}
	if (h->kind != H_EVENT)
		for (int k = 0; k < h->params.n; k++) {
			out_f(o, "        let mut %s = self.__sv_%s().%c_%s.clone().expect(\"%s args of $%s were not passed\");\n",
			      h->params.v[k].name, st->name, h->kind == H_ENTER ? 'e' : 'x', h->params.v[k].name,
			      h->kind == H_ENTER ? "enter" : "exit", st->name);
			if (em->escape)
				out_f(o, "        self.__keep(&%s);\n", h->params.v[k].name);
		}
}

/* `fn __xa_X(exit args)`, for a state X that check.c marked exit_sig_used:
 * stores the exit args of a transition in the context of the current state
 * (the one being left) when its `<$` takes the same parameter types as X's
 * (check.c made sure it does whenever the transition can leave it). Used
 * by the transitions of handlers that can run while a descendant of their
 * own state is the current one; the others store their exit args in their
 * own state's context directly. */
static void emit_exit_helper(Out *o, const Emitter *em, System *sys, State *x)
{
	Params *ps = &x->exit->params;
	int arms = 0;
	out_s(o, "    // the exit args of a transition, for the `<$` of the state being left\n");
	out_f(o, "    fn __xa_%s(&mut self", x->name);
	for (int i = 0; i < ps->n; i++) {
		out_f(o, ", __xa%d: ", i);
		out_span(o, ps->v[i].type);
	}
	out_f(o, ") {\n        match %s {\n", em->state_match);
	for (int k = 0; k < sys->nstates; k++) {
		State *st = sys->states[k];
		if (st->exit_sig != x)
			continue;
		arms++;
		out_s(o, "            ");
		em->state_pattern(o, sys, st);
		out_s(o, " => {");
		for (int i = 0; i < st->exit->params.n; i++)
			out_f(o, " self.__sv_%s().x_%s = Some(__xa%d);", st->name, st->exit->params.v[i].name, i);
		out_s(o, " }\n");
	}
	if (em->route_wildcard || arms < sys->nstates)
		out_s(o, "            _ => {}\n");
	out_s(o, "        }\n    }\n\n");
}

static void emit_exit_helpers(Out *o, const Emitter *em, System *sys)
{
	for (int i = 0; i < sys->nstates; i++)
		if (sys->states[i]->exit_sig_used)
			emit_exit_helper(o, em, sys, sys->states[i]);
}

/* One method per handler. Parameters come from the event (cloned when
 * routed). */
static void emit_handler_fns(Out *o, const Emitter *em, System *sys)
{
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		for (int j = 0; j < st->nhandlers; j++) {
			Handler *h = st->handlers[j];
			emit_line_comment(o, h->tok, xsprintf("$%s.%s", st->name, h->name));
			out_f(o, "    fn %s(&mut self, __e: %s", handler_fn_name(h), em->event_type(sys));
			if (h->kind == H_EVENT)
				emit_params_decl(o, &h->params, h->method);
			out_s(o, ") {\n");
			emit_handler_locals(o, em, st, h);
			out_s(o, "        ");
			emit_marked_body(o, em, sys, h, h->body);
			out_s(o, "\n    }\n\n");
		}
	}
}

static void emit_actions(Out *o, const Emitter *em, System *sys)
{
	for (int i = 0; i < sys->nactions; i++) {
		Action *a = sys->actions[i];
		emit_fn_head(o, a->tok, xsprintf("action %s", a->name), xsprintf("fn %s", a->name), &a->params, a->ret);
		out_s(o, "\n        ");
		emit_marked_body(o, em, sys, NULL, a->body);
		out_s(o, "\n    }\n\n");
	}
}

/* ---- the system and the module ---------------------------------------------- */

static void emit_system(Out *o, const Emitter *em, System *sys)
{
	out_f(o, "// ---- system %s (%s:%d): %s ----\n", sys->name, cur_src->path, tok_line(sys->tok), em->title);
	emit_event_enum(o, sys, em->derive);
	emit_state_ctx_types(o, sys, em->derive);
	em->compartment_type(o, sys);
	em->context_type(o, sys);
	emit_system_struct(o, em, sys);
	out_f(o, "impl %s {\n", sys->name);
	emit_constructors(o, em, sys);
	emit_interface(o, em, sys);
	emit_route(o, em, sys);
	em->runtime(o, sys);
	emit_state_access(o, em, sys);
	emit_mk_state_fns(o, sys);
	emit_ret_fns(o, em, sys);
	emit_state_routers(o, em, sys);
	emit_exit_helpers(o, em, sys);
	emit_handler_fns(o, em, sys);
	emit_actions(o, em, sys);
	out_f(o, "}\n// ---- end of system %s ----\n", sys->name);
}

int frc_target = TARGET_RUST;

char *emit_program(Program *prog, Out *o)
{
	if (frc_target == TARGET_C)
		return emit_c_program(prog, o);
	out_f(o, "// generated by frc %s from %s — do not edit\n", FRC_VERSION, cur_src->path);
	out_s(o, "#![allow(unused, non_snake_case, non_camel_case_types, dead_code, unused_parens, "
	         "redundant_semicolons, unreachable_code, unreachable_patterns, clippy::all)]\n");
	int pos = 0;
	for (int i = 0; i < prog->ncuts; i++) {
		Cut *c = &prog->cuts[i];
		out_n(o, cur_src->text + pos, (size_t)(c->begin - pos));
		if (c->sys) {
			/* the attribute alone picks the shape (RFC-0036: it is the only difference) */
			emit_system(o, emitter_by_name(c->sys->no_alloc ? "noalloc" : "alloc"), c->sys);
		}
		pos = c->end;
	}
	out_n(o, cur_src->text + pos, (size_t)(cur_src->len - pos));
	return o->buf;
}
