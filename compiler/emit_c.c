/* emit_c.c — the C target (`frc compile -l c`): what both C shapes share.
 *
 * A C fixture is native C with @@system blocks; everything outside systems
 * is copied byte for byte, as for Rust. Each system becomes one block of
 * C11 in the same translation unit: the shape's runtime and types
 * (emit_c_alloc.c: framec's C runtime, FrameEvent/FrameContext/FrameDict/
 * FrameVec/Compartment on the heap; emit_c_noalloc.c: no allocator call at
 * all), then, written here, the per-state context structs, the state
 * accessors, the handlers and the actions.
 *
 * The walk of handler bodies is emit.c's emit_body(): its Emitter `form`
 * hook (c_form below) writes every Frame form in C, and the native text in
 * between is copied with its line breaks, so that one `#line N "FILE.frs"`
 * before a body maps every line of it to the .frs (compiler errors,
 * debuggers, addr2line, the audit's attribution); a form written over
 * several .frs lines gets a `#line` of its own after it. After the body a
 * `#line` hands the lines back to the generated file (its basename, e.g.
 * `port_reset.c`). Above every handler, interface function, action and
 * state context: `// fixtures/c/NAME.frs:LINE what`, the mapping comment the
 * audit reads, as in the Rust output.
 *
 * Names: S is the system. Public: `S_<method>` and the shape's
 * constructors; every other function is `static` and named `S__...`;
 * per-state contexts `S_<State>_Ctx` with members p_<state param>,
 * v_<state var>, e_<enter param>, x_<exit param>. */
#include "frc.h"

static const CShape *shape;   /* the shape of the system being written */

/* ---- declarations ---------------------------------------------------------- */

/* The `[` that starts a trailing array suffix of the type, or -1. */
static int array_suffix(Span t)
{
	if (t.e <= t.b || !tok_is(TOK(t.e - 1), "]"))
		return -1;
	int depth = 0;
	for (int k = t.b; k < t.e; k++) {
		if (tok_is(TOK(k), "(") || tok_is(TOK(k), "{"))
			depth++;
		else if (tok_is(TOK(k), ")") || tok_is(TOK(k), "}"))
			depth--;
		else if (depth == 0 && tok_is(TOK(k), "["))
			return k;
	}
	return -1;
}

void c_decl(Out *o, Span type, const char *name)
{
	int lb = array_suffix(type);
	if (lb < 0) {
		out_span(o, type);
		out_f(o, " %s", name);
		return;
	}
	out_span(o, (Span){type.b, lb});
	out_f(o, " %s", name);
	out_span(o, (Span){lb, type.e});
}

void c_params(Out *o, Params *ps, Method *iface)
{
	for (int i = 0; i < ps->n; i++) {
		out_s(o, ", ");
		c_decl(o, iface ? iface->params.v[i].type : ps->v[i].type, ps->v[i].name);
	}
}

bool c_has_ret(Method *m)
{
	return m && m->ret.e > m->ret.b;
}

/* What both shapes put before an interface function's body: its mapping
 * comment and `RET S_m(S *self, T a, ...)`. */
void c_method_head(Out *o, System *sys, Method *m)
{
	out_f(o, "// %s:%d interface %s\n", cur_src->path, TOK(m->tok)->line, m->name);
	if (c_has_ret(m))
		out_span(o, m->ret);
	else
		out_s(o, "void");
	out_f(o, " %s_%s(%s *self", sys->name, m->name, sys->name);
	c_params(o, &m->params, NULL);
	out_s(o, ")");
}

void c_ret_default(Out *o, Method *m)
{
	out_s(o, " = ");
	if (m->dflt.e > m->dflt.b)
		out_span(o, m->dflt);
	else
		out_s(o, "{0}");
}

/* `{ T __v = init; dst = __v; }`: a brace initialiser works for structs;
 * an array is copied byte by byte (C cannot assign it). */
static void c_init_into(Out *o, const char *dst, Span type, Span init)
{
	out_s(o, "    { ");
	c_decl(o, type, "__v");
	out_s(o, " = ");
	if (init.e > init.b)
		out_span(o, init);
	else
		out_s(o, "{0}");
	if (array_suffix(type) >= 0)
		out_f(o, "; for (size_t __i = 0; __i < sizeof __v; __i++) ((unsigned char *)%s)[__i] = "
		         "((unsigned char *)__v)[__i]; }\n",
		      dst);
	else
		out_f(o, "; %s = __v; }\n", dst);
}

void c_domain_init(Out *o, System *sys)
{
	for (int i = 0; i < sys->nfields; i++)
		c_init_into(o, xsprintf("self->%s", sys->fields[i].name), sys->fields[i].type, sys->fields[i].init);
}

/* ---- per-state contexts ------------------------------------------------------ */

void c_ctx_types(Out *o, System *sys)
{
	const char *S = sys->name;
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "// %s:%d state $%s: state args, state variables, enter/exit args\n", cur_src->path,
		      TOK(st->tok)->line, st->name);
		out_f(o, "typedef struct %s_%s_Ctx {\n    char __none;\n", S, st->name);
		for (int k = 0; k < st->params.n; k++) {
			out_s(o, "    ");
			c_decl(o, st->params.v[k].type, xsprintf("p_%s", st->params.v[k].name));
			out_s(o, ";\n");
		}
		for (int v = 0; v < st->nvars; v++) {
			out_s(o, "    ");
			c_decl(o, st->vars[v].type, xsprintf("v_%s", st->vars[v].name));
			out_s(o, ";\n");
		}
		Handler *lc[2] = {st->enter, st->exit};
		for (int j = 0; j < 2; j++)
			for (int k = 0; lc[j] && k < lc[j]->params.n; k++) {
				out_s(o, "    ");
				c_decl(o, lc[j]->params.v[k].type, xsprintf("%c_%s", j ? 'x' : 'e', lc[j]->params.v[k].name));
				out_s(o, ";\n");
			}
		out_f(o, "} %s_%s_Ctx;\n\n", S, st->name);
	}
	out_f(o, "typedef union %s_StateCtx {\n    char __none;\n", S);
	for (int i = 0; i < sys->nstates; i++)
		out_f(o, "    %s_%s_Ctx %s;\n", S, sys->states[i]->name, sys->states[i]->name);
	out_f(o, "} %s_StateCtx;\n\n", S);
}

static void state_params_decl(Out *o, State *st)
{
	for (int k = 0; k < st->params.n; k++) {
		out_s(o, ", ");
		c_decl(o, st->params.v[k].type, st->params.v[k].name);
	}
}

static const char *handler_fn(System *sys, Handler *h)
{
	if (h->kind == H_ENTER)
		return xsprintf("%s__s_%s_enter", sys->name, h->state->name);
	if (h->kind == H_EXIT)
		return xsprintf("%s__s_%s_exit", sys->name, h->state->name);
	return xsprintf("%s__s_%s_%s", sys->name, h->state->name, h->name);
}

/* Prototypes of everything emit_c.c defines (the shape's router and
 * interface call handlers before they are defined). */
void c_shared_protos(Out *o, System *sys)
{
	const char *S = sys->name;
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "static %s_%s_Ctx *%s__sv_%s(%s *self);\n", S, st->name, S, st->name, S);
		out_f(o, "static void %s__mk_%s(%s_%s_Ctx *__x", S, st->name, S, st->name);
		state_params_decl(o, st);
		out_s(o, ");\n");
		out_f(o, "static void %s__state_%s(%s *self, %s_FrameEvent *__e);\n", S, st->name, S, S);
		for (int j = 0; j < st->nhandlers; j++) {
			Handler *h = st->handlers[j];
			out_f(o, "static void %s(%s *self, %s_FrameEvent *__e", handler_fn(sys, h), S, S);
			if (h->kind == H_EVENT)
				c_params(o, &h->params, h->method);
			out_s(o, ");\n");
		}
		if (st->exit_sig_used) {
			out_f(o, "static void %s__xa_%s(%s *self", S, st->name, S);
			for (int k = 0; k < st->exit->params.n; k++) {
				out_s(o, ", ");
				c_decl(o, st->exit->params.v[k].type, xsprintf("__xa%d", k));
			}
			out_s(o, ");\n");
		}
	}
	for (int i = 0; i < sys->nactions; i++) {
		Action *a = sys->actions[i];
		out_s(o, "static ");
		if (a->ret.e > a->ret.b)
			out_span(o, a->ret);
		else
			out_s(o, "void");
		out_f(o, " %s_%s(%s *self", S, a->name, S);
		c_params(o, &a->params, NULL);
		out_s(o, ");\n");
	}
	out_s(o, "\n");
}

/* ---- the Frame forms in C ------------------------------------------------------ */

static void c_args(Out *o, const Emitter *em, System *sys, Handler *h, Body **v, int n)
{
	for (int i = 0; i < n; i++) {
		out_s(o, ", ");
		emit_body(o, em, sys, h, v[i]);
	}
}

/* `T __sa0 = (expr);` for each arg of one list; `types` gives T (NULL: the
 * expression's own type). */
static void c_arg_locals(Out *o, const Emitter *em, System *sys, Handler *h, Body **v, int n, const char *pfx,
                         Params *types)
{
	for (int i = 0; i < n; i++) {
		out_s(o, " ");
		if (types && i < types->n)
			c_decl(o, types->v[i].type, xsprintf("%s%d", pfx, i));
		else
			die("%s%d has no declared type", pfx, i);  /* check.c: E012/E013/E014 */
		out_s(o, " = (");
		emit_body(o, em, sys, h, v[i]);
		out_s(o, ");");
	}
}

/* The transition's args into locals, the exit args into the context of the
 * state being left (through __xa_X when a descendant may be the one);
 * then the shape writes the rest. */
static void c_transition(Out *o, const Emitter *em, System *sys, Handler *h, Form *f)
{
	State *t = f->target_state, *own = h->state;
	State *xs = h->exit_helper && h->exit_first ? h->exit_first : own;
	out_s(o, "{");
	c_arg_locals(o, em, sys, h, f->state_args, f->n_state, "__sa", t ? &t->params : NULL);
	c_arg_locals(o, em, sys, h, f->enter_args, f->n_enter, "__ea", t && t->enter ? &t->enter->params : NULL);
	c_arg_locals(o, em, sys, h, f->exit_args, f->n_exit, "__xa", xs->exit ? &xs->exit->params : NULL);
	if (h->exit_helper && f->n_exit) {
		out_f(o, " %s__xa_%s(self", sys->name, h->exit_first->exit_sig->name);
		for (int i = 0; i < f->n_exit; i++)
			out_f(o, ", __xa%d", i);
		out_s(o, ");");
	} else {
		for (int i = 0; i < f->n_exit && own->exit && i < own->exit->params.n; i++)
			out_f(o, " %s__sv_%s(self)->x_%s = __xa%d;", sys->name, own->name, own->exit->params.v[i].name, i);
	}
	if (f->pop)
		shape->pop(o, sys);
	else if (!t)
		die("transition at %d:%d reached the emitter unresolved", f->line, f->col);
	else
		shape->transition(o, sys, h, f);
	out_s(o, " }");
}

/* `=> $^` in a `$>`/`<$` hands its args to the parent's first. */
static void c_parent(Out *o, System *sys, Handler *h)
{
	State *st = h->state, *p = st->parent;
	Handler *up = h->kind == H_ENTER ? p->enter : h->kind == H_EXIT ? p->exit : NULL;
	char c = h->kind == H_ENTER ? 'e' : 'x';
	for (int i = 0; up && i < up->params.n && i < h->params.n; i++)
		out_f(o, "%s__sv_%s(self)->%c_%s = %s__sv_%s(self)->%c_%s; ", sys->name, p->name, c, up->params.v[i].name,
		      sys->name, st->name, c, h->params.v[i].name);
	out_f(o, "%s__state_%s(self, __e);", sys->name, p->name);
}

/* `@@:self.m(args)`: a nested dispatch. As a statement of its own (after
 * `{`, `;`, `}`, `)`, `:` or `else`, and followed by `;`), the calling
 * handler stops when it transitioned; inside an expression it is the plain
 * call (C has no block expressions), and the handler goes on. */
static void c_self_call(Out *o, const Emitter *em, System *sys, Handler *h, Form *f)
{
	Token *prev = TOK(f->tb - 1);
	bool after = tok_is(prev, "{") || tok_is(prev, ";") || tok_is(prev, "}") || tok_is(prev, ")") ||
	             tok_is(prev, ":") || tok_is(prev, "else");
	bool stmt = h && !f->is_action && after && f->te < src_toks.n && tok_is(TOK(f->te), ";");
	if (stmt)
		out_s(o, "{ uint32_t __g = self->__gen; ");
	out_f(o, "%s_%s(self", sys->name, f->name);
	c_args(o, em, sys, h, f->args, f->nargs);
	out_s(o, ")");
	if (stmt)
		out_s(o, "; if (self->__gen != __g) return; }");
}

static void c_form(Out *o, const Emitter *em, System *sys, Handler *h, Form *f)
{
	switch (f->kind) {
	case F_TRANSITION:
		c_transition(o, em, sys, h, f);
		break;
	case F_PUSH:
		shape->push(o, sys);
		break;
	case F_PARENT:
		c_parent(o, sys, h);
		break;
	case F_STATE_VAR:
		if (!f->var_state)
			die("$.%s at %d:%d reached the emitter unresolved", f->name, f->line, f->col);
		out_f(o, "%s__sv_%s(self)->v_%s", sys->name, f->var_state->name, f->name);
		break;
	case F_RETURN_PLACE:
		shape->ret_place(o, sys, h->method);
		break;
	case F_RETURN_SET:
	case F_RETURN_LEAVE:
		out_s(o, "{ ");
		shape->ret_place(o, sys, h->method);
		out_s(o, " = (");
		emit_body(o, em, sys, h, f->expr);
		out_s(o, f->kind == F_RETURN_LEAVE ? "); return; }" : "); }");
		break;
	case F_SELF_CALL:
		c_self_call(o, em, sys, h, f);
		break;
	case F_SELF_FIELD:
		out_f(o, "self->%s", f->name);
		break;
	}
	/* a form written over several .frs lines is written on one: what
	 * follows it is on its last line */
	int l0 = TOK(f->tb)->line, l1 = TOK(f->te - 1)->line;
	if (l1 != l0)
		out_f(o, "\n#line %d \"%s\"\n", l1, cur_src->path);
}

static const Emitter c_emitter = {.name = "c", .title = "C", .form = c_form};

/* ---- bodies with #line -------------------------------------------------------- */

static const char *gen_name;   /* the generated file's basename, for `#line` back */

static int out_lines(Out *o)
{
	int n = 1;
	for (size_t i = 0; i < o->len; i++)
		n += o->buf[i] == '\n';
	return n;
}

/* The body on lines of its own: `#line` to the .frs, the text, `#line`
 * back to the generated file. */
static void c_body(Out *o, System *sys, Handler *h, Body *b)
{
	if (!b || b->te <= b->tb)
		return;
	out_f(o, "#line %d \"%s\"\n", TOK(b->tb)->line, cur_src->path);
	int col = TOK(b->tb)->col;
	for (int i = 1; i < col; i++)
		out_s(o, " ");
	emit_body(o, &c_emitter, sys, h, b);
	out_s(o, "\n");
	out_f(o, "#line %d \"%s\"\n", out_lines(o) + 1, gen_name);
}

static bool mentions(Body *b, const char *name)
{
	for (int k = b->tb; k < b->te; k++)
		if (TOK(k)->kind == TK_IDENT && tok_is(TOK(k), name))
			return true;
	return false;
}

static bool shadowed(Handler *h, const char *name)
{
	for (int k = 0; k < h->params.n; k++)
		if (strcmp(h->params.v[k].name, name) == 0)
			return true;
	return false;
}

/* The locals a handler body sees besides its parameters: the state args
 * and enter/exit args it mentions, copied from the state's context. */
static void c_handler_locals(Out *o, System *sys, State *st, Handler *h)
{
	for (int k = 0; k < st->params.n; k++) {
		Param *p = &st->params.v[k];
		if (!mentions(h->body, p->name) || shadowed(h, p->name) || array_suffix(p->type) >= 0)
			continue;
		out_s(o, "    ");
		c_decl(o, p->type, p->name);
		out_f(o, " = %s__sv_%s(self)->p_%s; (void)%s;\n", sys->name, st->name, p->name, p->name);
	}
	if (h->kind == H_EVENT)
		return;
	for (int k = 0; k < h->params.n; k++) {
		Param *p = &h->params.v[k];
		if (array_suffix(p->type) >= 0)
			continue;
		out_s(o, "    ");
		c_decl(o, p->type, p->name);
		out_f(o, " = %s__sv_%s(self)->%c_%s; (void)%s;\n", sys->name, st->name, h->kind == H_ENTER ? 'e' : 'x',
		      p->name, p->name);
	}
}

static void c_handlers(Out *o, System *sys)
{
	const char *S = sys->name;
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		for (int j = 0; j < st->nhandlers; j++) {
			Handler *h = st->handlers[j];
			out_f(o, "// %s:%d $%s.%s\n", cur_src->path, TOK(h->tok)->line, st->name, h->name);
			out_f(o, "static void %s(%s *self, %s_FrameEvent *__e", handler_fn(sys, h), S, S);
			if (h->kind == H_EVENT)
				c_params(o, &h->params, h->method);
			out_s(o, ")\n{\n    (void)self; (void)__e;\n");
			for (int k = 0; h->kind == H_EVENT && k < h->params.n; k++)
				out_f(o, "    (void)%s;\n", h->params.v[k].name);
			c_handler_locals(o, sys, st, h);
			c_body(o, sys, h, h->body);
			out_s(o, "}\n\n");
		}
	}
}

static void c_actions(Out *o, System *sys)
{
	for (int i = 0; i < sys->nactions; i++) {
		Action *a = sys->actions[i];
		out_f(o, "// %s:%d action %s\nstatic FRC_UNUSED ", cur_src->path, TOK(a->tok)->line, a->name);
		if (a->ret.e > a->ret.b)
			out_span(o, a->ret);
		else
			out_s(o, "void");
		out_f(o, " %s_%s(%s *self", sys->name, a->name, sys->name);
		c_params(o, &a->params, NULL);
		out_s(o, ")\n{\n    (void)self;\n");
		for (int k = 0; k < a->params.n; k++)
			out_f(o, "    (void)%s;\n", a->params.v[k].name);
		c_body(o, sys, NULL, a->body);
		out_s(o, "}\n\n");
	}
}

/* `S__xa_X(exit args)`: stores them in the context of the state being left
 * when its `<$` takes the same parameter types as X's (check.c). */
static void c_exit_helper(Out *o, System *sys, State *x)
{
	const char *S = sys->name;
	out_f(o, "// the exit args of a transition, for the `<$` of the state being left\n"
	         "static FRC_UNUSED void %s__xa_%s(%s *self",
	      S, x->name, S);
	for (int k = 0; k < x->exit->params.n; k++) {
		out_s(o, ", ");
		c_decl(o, x->exit->params.v[k].type, xsprintf("__xa%d", k));
	}
	out_s(o, ")\n{\n");
	for (int k = 0; k < x->exit->params.n; k++)
		out_f(o, "    (void)__xa%d;\n", k);
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		if (st->exit_sig != x)
			continue;
		out_s(o, "    if (");
		shape->state_is(o, sys, st);
		out_s(o, ") {");
		for (int k = 0; k < st->exit->params.n; k++)
			out_f(o, " %s__sv_%s(self)->x_%s = __xa%d;", S, st->name, st->exit->params.v[k].name, k);
		out_s(o, " }\n");
	}
	out_s(o, "}\n\n");
}

/* The per-state functions both shapes share: the context accessor
 * (its body from the shape), the context builder, the exit-args helpers,
 * the handlers and the actions. */
void c_shared_fns(Out *o, const CShape *sh, System *sys)
{
	const char *S = sys->name;
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "static FRC_UNUSED %s_%s_Ctx *%s__sv_%s(%s *self)\n{\n", S, st->name, S, st->name, S);
		sh->sv_body(o, sys, st);
		out_s(o, "}\n\n");
		out_f(o, "static FRC_UNUSED void %s__mk_%s(%s_%s_Ctx *__x", S, st->name, S, st->name);
		state_params_decl(o, st);
		out_s(o, ")\n{\n    __x->__none = 0;\n");
		for (int k = 0; k < st->params.n; k++)
			if (array_suffix(st->params.v[k].type) < 0)
				out_f(o, "    __x->p_%s = %s;\n", st->params.v[k].name, st->params.v[k].name);
		for (int v = 0; v < st->nvars; v++)
			c_init_into(o, xsprintf("__x->v_%s", st->vars[v].name), st->vars[v].type, st->vars[v].init);
		out_s(o, "}\n\n");
	}
	for (int i = 0; i < sys->nstates; i++)
		if (sys->states[i]->exit_sig_used)
			c_exit_helper(o, sys, sys->states[i]);
	c_handlers(o, sys);
	c_actions(o, sys);
}

/* ---- the program ----------------------------------------------------------------- */

static void c_system(Out *o, System *sys)
{
	shape = sys->no_alloc ? &c_noalloc_shape : &c_alloc_shape;
	out_f(o, "// ---- system %s (%s:%d): %s ----\n", sys->name, cur_src->path, TOK(sys->tok)->line, shape->title);
	out_s(o, "#ifndef FRC_UNUSED\n#if defined(__GNUC__)\n#define FRC_UNUSED __attribute__((unused))\n#else\n"
	         "#define FRC_UNUSED\n#endif\n#endif\n");
	shape->prelude(o, sys);
	c_ctx_types(o, sys);
	shape->types(o, sys);
	shape->protos(o, sys);
	c_shared_protos(o, sys);
	shape->runtime(o, sys);
	c_shared_fns(o, shape, sys);
	out_f(o, "// ---- end of system %s ----\n", sys->name);
}

static const char *basename_c(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	const char *dot = strrchr(base, '.');
	if (dot && dot != base)
		n = (size_t)(dot - base);
	return xsprintf("%.*s.c", (int)n, base);
}

char *emit_c_program(Program *prog, Out *o)
{
	gen_name = basename_c(cur_src->path);
	out_f(o, "// generated by frc %s from %s — do not edit\n", FRC_VERSION, cur_src->path);
	int pos = 0;
	for (int i = 0; i < prog->ncuts; i++) {
		Cut *c = &prog->cuts[i];
		out_n(o, cur_src->text + pos, (size_t)(c->begin - pos));
		if (c->sys)
			c_system(o, c->sys);
		pos = c->end;
	}
	out_n(o, cur_src->text + pos, (size_t)(cur_src->len - pos));
	return o->buf;
}
