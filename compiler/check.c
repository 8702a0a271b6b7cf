/* check.c — semantic checks, name resolution, and the no_alloc profile.
 *
 * Resolves parents, handlers' methods, transition targets, `$.x` owners and
 * `@@:self.x` callees, and computes what the emitters size statically: the
 * HSM depth and the context-stack depth (from the self-call graph). Every
 * rule has its own error code (ERRORS.md); checking goes on after an error
 * so that one run reports as many as it can. */
#include "frc.h"

#include <stdlib.h>

static bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* Name -> index tables (open addressing), so that lookups and duplicate
 * checks stay linear however many names a file declares. */
typedef struct Names {
	const char **key;
	int *val;
	int cap;  /* a power of two, more than twice the entries */
} Names;

static Names names_new(int n)
{
	Names t = {0};
	t.cap = 16;
	while (t.cap < 2 * n + 2)
		t.cap *= 2;
	t.key = xalloc(sizeof(char *) * (size_t)t.cap);
	t.val = xalloc(sizeof(int) * (size_t)t.cap);
	return t;
}

static unsigned name_hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int *names_slot(Names *t, const char *name, bool *found)
{
	unsigned i = name_hash(name) & (unsigned)(t->cap - 1);
	while (t->key[i] && !streq(t->key[i], name))
		i = (i + 1) & (unsigned)(t->cap - 1);
	*found = t->key[i] != NULL;
	t->key[i] = name;  /* harmless when found: the same text */
	return &t->val[i];
}

/* Index of `name`, or -1. */
static int names_find(Names *t, const char *name)
{
	if (!t->cap)
		return -1;
	unsigned i = name_hash(name) & (unsigned)(t->cap - 1);
	while (t->key[i] && !streq(t->key[i], name))
		i = (i + 1) & (unsigned)(t->cap - 1);
	return t->key[i] ? t->val[i] : -1;
}

/* Records name -> v unless present; returns the index already recorded
 * (the first declaration), or -1 when the name is new. */
static int names_add(Names *t, const char *name, int v)
{
	bool found;
	int *slot = names_slot(t, name, &found);
	if (found)
		return *slot;
	*slot = v;
	return -1;
}

/* The current system's names (check_system builds them first). */
static Names method_ix, state_ix, action_ix, field_ix;

static void index_system(System *sys)
{
	method_ix = names_new(sys->nmethods);
	state_ix = names_new(sys->nstates);
	action_ix = names_new(sys->nactions);
	field_ix = names_new(sys->nfields);
	for (int i = 0; i < sys->nmethods; i++)
		names_add(&method_ix, sys->methods[i]->name, i);
	for (int i = 0; i < sys->nstates; i++)
		names_add(&state_ix, sys->states[i]->name, i);
	for (int i = 0; i < sys->nactions; i++)
		names_add(&action_ix, sys->actions[i]->name, i);
	for (int i = 0; i < sys->nfields; i++)
		names_add(&field_ix, sys->fields[i].name, i);
}

static Method *find_method(System *sys, const char *name)
{
	int i = names_find(&method_ix, name);
	return i < 0 ? NULL : sys->methods[i];
}

static State *find_state(System *sys, const char *name)
{
	int i = names_find(&state_ix, name);
	return i < 0 ? NULL : sys->states[i];
}

static Action *find_action(System *sys, const char *name)
{
	int i = names_find(&action_ix, name);
	return i < 0 ? NULL : sys->actions[i];
}

static Field *find_field(System *sys, const char *name)
{
	int i = names_find(&field_ix, name);
	return i < 0 ? NULL : &sys->fields[i];
}

static void dup(int tok, int first_tok, const char *what, const char *name)
{
	error_tok(TOK(tok), "E015", "duplicate %s `%s` (first declared at line %d:%d)", what, name,
	          TOK(first_tok)->line, TOK(first_tok)->col);
}

static void check_param_dups(Params *ps, const char *where)
{
	Names seen = names_new(ps->n);
	for (int i = 0; i < ps->n; i++) {
		int j = names_add(&seen, ps->v[i].name, i);
		if (j >= 0)
			dup(ps->v[i].tok, ps->v[j].tok, xsprintf("parameter of %s", where), ps->v[i].name);
	}
}

/* Token text of a span with whitespace removed, for comparing types. */
static char *span_key(Span sp)
{
	Out o = {0};
	out_s(&o, "");
	for (int k = sp.b; k < sp.e; k++)
		out_n(&o, cur_src->text + TOK(k)->start, (size_t)(TOK(k)->end - TOK(k)->start));
	return o.buf;
}

/* The span as written, any run of whitespace or comments shown as one space. */
static char *span_text(Span sp)
{
	Out o = {0};
	out_s(&o, "");
	for (int k = sp.b; k < sp.e; k++) {
		if (k > sp.b && TOK(k)->space_before)
			out_s(&o, " ");
		out_n(&o, cur_src->text + TOK(k)->start, (size_t)(TOK(k)->end - TOK(k)->start));
	}
	return o.buf;
}

/* Names the generated impl already uses: a user method `new` or a field
 * `__compartment` would collide with them. */
static void check_reserved(int tok, const char *what, const char *name)
{
	if (frc_target == TARGET_C) {
		/* C: S_<method> and S_<action> beside S_create/S_destroy,
		 * S_init/S_deinit and the S__* statics; members `_*` beside the
		 * runtime's */
		static const char *c_names[] = {"create", "destroy", "init", "deinit", NULL};
		bool hit = name[0] == '_';
		for (const char **c = c_names; *c && !hit; c++)
			hit = strcmp(name, *c) == 0;
		if (hit)
			error_tok(TOK(tok), "E015", "%s `%s` clashes with a name frc generates in C (`create`, `destroy`, "
			          "`init`, `deinit`, `_*` are reserved)", what, name);
		return;
	}
	if (strcmp(name, "new") == 0 || strncmp(name, "__", 2) == 0 || strncmp(name, "_s_", 3) == 0)
		error_tok(TOK(tok), "E015", "%s `%s` clashes with a name frc generates (`new`, `__*`, `_s_*` are reserved)",
		          what, name);
}

static void check_declarations(System *sys)
{
	for (int i = 0; i < sys->nmethods; i++)
		check_reserved(sys->methods[i]->tok, "interface method", sys->methods[i]->name);
	for (int i = 0; i < sys->nactions; i++)
		check_reserved(sys->actions[i]->tok, "action", sys->actions[i]->name);
	for (int i = 0; i < sys->nfields; i++)
		check_reserved(sys->fields[i].tok, "domain field", sys->fields[i].name);
	/* a duplicate is reported against the first declaration (the index
	 * tables, which find_* look in, keep the first) */
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i], *first = find_method(sys, m->name);
		check_param_dups(&m->params, xsprintf("`%s`", m->name));
		if (first != m)
			dup(m->tok, first->tok, "interface method", m->name);
	}
	for (int i = 0; i < sys->nactions; i++) {
		Action *a = sys->actions[i], *first = find_action(sys, a->name);
		check_param_dups(&a->params, xsprintf("action `%s`", a->name));
		if (first != a)
			dup(a->tok, first->tok, "action", a->name);
		Method *m = find_method(sys, a->name);
		if (m)
			dup(a->tok, m->tok, "name (action and interface method)", a->name);
	}
	for (int i = 0; i < sys->nfields; i++) {
		Field *f = &sys->fields[i], *first = find_field(sys, f->name);
		if (first != f)
			dup(f->tok, first->tok, "domain field", f->name);
	}
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i], *first = find_state(sys, st->name);
		if (first != st)
			dup(st->tok, first->tok, "state", xsprintf("$%s", st->name));
		check_param_dups(&st->params, xsprintf("state `$%s`", st->name));
		Names vars = names_new(st->nvars);
		for (int v = 0; v < st->nvars; v++) {
			int w = names_add(&vars, st->vars[v].name, v);
			if (w >= 0)
				dup(st->vars[v].tok, st->vars[w].tok, "state variable", xsprintf("$.%s", st->vars[v].name));
		}
	}
}

/* Parents, cycles, depth. */
static void check_hierarchy(System *sys)
{
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		if (!st->parent_name)
			continue;
		st->parent = find_state(sys, st->parent_name);
		if (!st->parent)
			error_tok(TOK(st->parent_tok), "E010", "unknown parent state `$%s` of `$%s`", st->parent_name,
			          st->name);
	}
	/* Depths by walking up from each state, memoised (mark 2), so that a
	 * long chain costs linear time. Reaching a state already on the current
	 * walk (mark 1) is a cycle: it is reported at that state, whose parent
	 * link is cut, and the walk is redone. */
	sys->hsm_depth = 1;
	int n = sys->nstates;
	char *mark = xalloc((size_t)n);
	State **path = xalloc(sizeof(State *) * (size_t)n);
	for (int i = 0; i < n; i++) {
		int np;
		State *s;
	again:
		np = 0;
		for (s = sys->states[i]; s && mark[s->index] == 0; s = s->parent) {
			mark[s->index] = 1;
			path[np++] = s;
		}
		if (s && mark[s->index] == 1) {
			error_tok(TOK(s->tok), "E024", "state `$%s` is its own ancestor (cycle in `=>` parents)", s->name);
			s->parent = NULL;
			for (int k = 0; k < np; k++)
				mark[path[k]->index] = 0;
			goto again;
		}
		int d = s ? s->depth : -1;
		for (int k = np - 1; k >= 0; k--) {
			path[k]->depth = ++d;
			mark[path[k]->index] = 2;
			if (d + 1 > sys->hsm_depth)
				sys->hsm_depth = d + 1;
		}
	}
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		if (st->parent && st->parent->params.n > 0)
			error_tok(TOK(st->parent_tok), "E025",
			          "parent state `$%s` has state parameters; a parent is built when a child is entered and "
			          "nothing can pass them (give `$%s` state variables instead)",
			          st->parent->name, st->parent->name);
		if (st->default_forward && !st->parent)
			error_tok(TOK(st->forward_tok), "E018", "`=> $^` in state `$%s`, which has no parent state", st->name);
	}
	State *start = sys->nstates ? sys->states[0] : NULL;
	if (start && start->params.n > 0)
		error_tok(TOK(start->tok), "E025",
		          "start state `$%s` has state parameters; the system starts in it with nothing to pass them "
		          "(system parameters are not supported)",
		          start->name);
	for (State *s = start; s; s = s->parent) {
		for (int h = 0; h < s->nhandlers; h++)
			if (s->handlers[h]->kind == H_ENTER && s->handlers[h]->params.n > 0 && s == start)
				error_tok(TOK(s->handlers[h]->tok), "E025",
				          "the start state's `$>` takes parameters; nothing can pass enter args when the system "
				          "starts");
	}
}

/* A reference without 'static cannot be stored in the event, a context or
 * the system struct: none of them carries a lifetime parameter. */
static bool borrowed(Span sp)
{
	for (int k = sp.b; k < sp.e; k++)
		if (tok_is(TOK(k), "&") && !(k + 1 < sp.e && tok_is(TOK(k + 1), "'static")))
			return true;
	return false;
}

static void check_stored_type(Span sp, const char *what, const char *name)
{
	if (sp.e > sp.b && borrowed(sp))
		error_tok(TOK(sp.b), "E026", "%s `%s` has the borrowed type `%s`, which the generated system cannot store "
		          "(it has no lifetime parameter); use an owned type or `&'static`",
		          what, name, span_text(sp));
}

static void check_params_stored(Params *ps, const char *what)
{
	for (int i = 0; i < ps->n; i++)
		check_stored_type(ps->v[i].type, what, ps->v[i].name);
}

static void check_stored_types(System *sys)
{
	for (int i = 0; i < sys->nmethods; i++) {
		check_params_stored(&sys->methods[i]->params, "interface parameter");
		check_stored_type(sys->methods[i]->ret, "the return type of", sys->methods[i]->name);
	}
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		check_params_stored(&st->params, "state parameter");
		for (int v = 0; v < st->nvars; v++)
			check_stored_type(st->vars[v].type, "state variable", st->vars[v].name);
		for (int h = 0; h < st->nhandlers; h++)
			if (st->handlers[h]->kind != H_EVENT)
				check_params_stored(&st->handlers[h]->params, "enter/exit parameter");
	}
	for (int i = 0; i < sys->nfields; i++)
		check_stored_type(sys->fields[i].type, "domain field", sys->fields[i].name);
}

/* ---- bodies -------------------------------------------------------------- */

typedef struct Ctx {
	System *sys;
	Handler *h;    /* NULL in an action */
	Action *act;
	int src_node;  /* self-call graph node of this body */
} Ctx;

/* Self-call graph: nodes 0..M-1 methods, M lifecycle ($> / <$), M+1.. actions. */
typedef struct Edge {
	int from, to;
	Form *site;
} Edge;
static Edge *edges;
static int nedges, capedges;
/* find_leaves' stack: room for every state of the system being checked. */
static State **leaf_stack;

void check_reset(void)
{
	edges = NULL;
	nedges = capedges = 0;
	leaf_stack = NULL;
	method_ix = state_ix = action_ix = field_ix = (Names){0};
}

static void add_edge(int from, int to, Form *site)
{
	Edge e = {from, to, site};
	VEC_PUSH(edges, nedges, capedges, e);
}

static int action_index(System *sys, Action *a)
{
	for (int i = 0; i < sys->nactions; i++)
		if (sys->actions[i] == a)
			return i;
	return 0;
}

static void check_body(Ctx *c, Body *b);

static void check_args(Ctx *c, Body **v, int n)
{
	for (int i = 0; i < n; i++)
		check_body(c, v[i]);
}

static StateVar *lookup_var(State *st, const char *name, State **owner)
{
	for (State *s = st; s; s = s->parent)
		for (int i = 0; i < s->nvars; i++)
			if (streq(s->vars[i].name, name)) {
				*owner = s;
				return &s->vars[i];
			}
	return NULL;
}

static Handler *find_lifecycle(State *st, HandlerKind k)
{
	for (int i = 0; i < st->nhandlers; i++)
		if (st->handlers[i]->kind == k)
			return st->handlers[i];
	return NULL;
}

/* ---- enter/exit args along the hierarchy ------------------------------------
 *
 * `<$` and `$>` go to the leaf state only; a parent's runs only through an
 * explicit `=> $^` in the child's, which passes the child's args on (the
 * emitter copies them). So the exit args of a transition go to the `<$` of
 * the state being left: the handler's own state, or a descendant from which
 * the handler's event reached it through `=> $^`. Every one of those whose
 * `<$` takes parameters must get them (E014), and the enter args (E013)
 * must fit the target's `$>`, whichever state's handler transitions. */

/* A `=> $^` among the body's forms. */
static bool body_forwards(Body *b)
{
	for (int i = 0; b && i < b->nforms; i++)
		if (b->forms[i]->kind == F_PARENT)
			return true;
	return false;
}

static Handler *event_handler(State *s, const char *name)
{
	for (int i = 0; i < s->nhandlers; i++)
		if (s->handlers[i]->kind == H_EVENT && streq(s->handlers[i]->name, name))
			return s->handlers[i];
	return NULL;
}

/* Does h's event, once it reached state s, go on to s's parent? An event
 * goes up through s's handler for it when that does `=> $^`, else through
 * a state-level `=> $^`; `$>` and `<$` only through the former. */
static bool passes_up(State *s, Handler *h)
{
	Handler *own = h->kind == H_EVENT ? event_handler(s, h->name) : find_lifecycle(s, h->kind);
	if (own)
		return body_forwards(own->body);
	return h->kind == H_EVENT && s->default_forward;
}

static void link_children(System *sys)
{
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		if (st->parent)
			VEC_PUSH(st->parent->children, st->parent->nchildren, st->parent->capchildren, st);
	}
}

/* Two opaque types written with the same tokens. */
static bool same_type(Span a, Span b)
{
	if (a.e - a.b != b.e - b.b)
		return false;
	for (int k = 0; k < a.e - a.b; k++) {
		Token *x = TOK(a.b + k), *y = TOK(b.b + k);
		if (x->end - x->start != y->end - y->start ||
		    memcmp(cur_src->text + x->start, cur_src->text + y->start, (size_t)(x->end - x->start)) != 0)
			return false;
	}
	return true;
}

/* A state's `<$` (`$>`) parameters differ from another's: in number or in a
 * type. */
static bool lifecycle_params_differ(Handler *a, Handler *b)
{
	if (a->params.n != b->params.n)
		return true;
	for (int i = 0; i < a->params.n; i++)
		if (!same_type(a->params.v[i].type, b->params.v[i].type))
			return true;
	return false;
}

/* State->exit_sig for every state (see frc.h): states keyed by the types
 * their `<$` takes. */
static void exit_signatures(System *sys)
{
	Names sigs = names_new(sys->nstates);
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		Handler *ex = find_lifecycle(st, H_EXIT);
		if (!ex || ex->params.n == 0)
			continue;
		Out key = {0};
		for (int k = 0; k < ex->params.n; k++)
			out_f(&key, "%s%s", k ? "," : "", span_key(ex->params.v[k].type));
		int j = names_add(&sigs, key.buf, i);
		st->exit_sig = j >= 0 ? sys->states[j] : st;
	}
}

/* Fills h's leaf fields (see frc.h), once: a walk down from h's state to
 * the children its event comes from. */
static void find_leaves(Handler *h)
{
	State **stack = leaf_stack;
	if (h->leaves_done)
		return;
	h->leaves_done = true;
	int sp = 0;
	stack[sp++] = h->state;
	while (sp > 0) {
		State *s = stack[--sp];
		h->nleaves++;
		if (s->exit_sig) {
			h->n_exit_leaves++;
			if (!h->exit_first)
				h->exit_first = s;
			else if (!h->exit_other && s->exit_sig != h->exit_first->exit_sig)
				h->exit_other = s;
		}
		for (int i = s->nchildren - 1; i >= 0; i--)
			if (passes_up(s->children[i], h))
				stack[sp++] = s->children[i];
	}
}

static char *params_text(Params *ps)
{
	Out o = {0};
	out_s(&o, "(");
	for (int i = 0; i < ps->n; i++)
		out_f(&o, "%s%s: %s", i ? ", " : "", ps->v[i].name, span_text(ps->v[i].type));
	out_s(&o, ")");
	return o.buf;
}

static const char *plural(int n) { return n == 1 ? "" : "s"; }

/* "`$Par.go` (line 11)": the handler, for messages. */
static char *handler_at(Handler *h)
{
	return xsprintf("`$%s.%s` (line %d)", h->state->name, h->name, TOK(h->tok)->line);
}

/* Why a transition in h can leave its descendant s, for messages. */
static char *reaches(Handler *h, State *s)
{
	return xsprintf("`%s` reaches `$%s` from `$%s` through `=> $^`", h->name, h->state->name, s->name);
}

/* E014 when no state the transition can leave takes exit args, or when
 * those that do disagree. Returns false after reporting. */
static bool exit_args_fit_all(Ctx *c, Form *f)
{
	Handler *h = c->h;
	State *own = h->state;
	if (h->n_exit_leaves == 0) {
		if (f->n_exit > 0 && h->nleaves == 1)
			error_at(f->line, f->col, 2, "E014", "transition passes %d exit arg%s but `<$` of `$%s` takes 0",
			         f->n_exit, plural(f->n_exit), own->name);
		else if (f->n_exit > 0)
			error_at(f->line, f->col, 2, "E014", "transition in %s passes %d exit arg%s, but no state it can leave "
			         "takes any: neither `$%s` nor a state from which `%s` reaches it through `=> $^` has a `<$` "
			         "with parameters",
			         handler_at(h), f->n_exit, plural(f->n_exit), own->name, h->name);
		return false;
	}
	State *a = h->exit_first, *b = h->exit_other;
	if (!b)
		return true;
	error_at(f->line, f->col, 2, "E014", "transition in %s can leave `$%s` or `$%s`, whose `<$` take different "
	         "parameters, `%s` and `%s` (%s): no exit args fit both",
	         handler_at(h), a->name, b->name, params_text(&find_lifecycle(a, H_EXIT)->params),
	         params_text(&find_lifecycle(b, H_EXIT)->params), reaches(h, b));
	return false;
}

/* E014: the exit args of the transition f in c->h (see above). */
static void check_exit_args(Ctx *c, Form *f)
{
	Handler *h = c->h;
	State *own = h->state;
	find_leaves(h);
	if (!exit_args_fit_all(c, f))
		return;
	State *s = h->exit_first;
	int want = find_lifecycle(s, H_EXIT)->params.n;
	if (!f->has_exit && s == own)
		error_at(f->line, f->col, 2, "E014",
		         "`<$` of `$%s` takes %d parameter%s; pass them as exit args: `(..) -> $Target`", own->name, want,
		         plural(want));
	else if (!f->has_exit)
		error_at(f->line, f->col, 2, "E014", "transition in %s can leave `$%s`, whose `<$` takes %d parameter%s "
		         "(%s); pass them as exit args: `(..) -> $Target`",
		         handler_at(h), s->name, want, plural(want), reaches(h, s));
	else if (want != f->n_exit && s == own)
		error_at(f->line, f->col, 2, "E014", "transition passes %d exit arg%s but `<$` of `$%s` takes %d",
		         f->n_exit, plural(f->n_exit), own->name, want);
	else if (want != f->n_exit)
		error_at(f->line, f->col, 2, "E014", "transition in %s passes %d exit arg%s but can leave `$%s`, whose "
		         "`<$` takes %d (%s)",
		         handler_at(h), f->n_exit, plural(f->n_exit), s->name, want, reaches(h, s));
	else if (h->n_exit_leaves > 1 || s != own)
		h->exit_helper = s->exit_sig->exit_sig_used = true;
}

/* E013/E014: `=> $^` in a `$>` or `<$` runs the parent's, which gets the
 * same args (copied by the emitter), so it may only take what this one
 * takes. */
static void check_lifecycle_forward(Ctx *c, Form *f)
{
	Handler *h = c->h;
	State *p = h->state->parent;
	if (!p || h->kind == H_EVENT)
		return;
	Handler *up = find_lifecycle(p, h->kind);
	if (!up || up->params.n == 0 || !lifecycle_params_differ(h, up))
		return;
	bool enter = h->kind == H_ENTER;
	error_at(f->line, f->col, 3, enter ? "E013" : "E014", "`=> $^` in `%s` of `$%s` hands its %s args to `%s` "
	         "of `$%s`, which takes `%s` while this one takes `%s`: give both the same parameters",
	         h->name, h->state->name, enter ? "enter" : "exit", h->name, p->name, params_text(&up->params),
	         params_text(&h->params));
}

static void check_transition(Ctx *c, Form *f)
{
	check_exit_args(c, f);
	if (f->pop)
		return;
	State *t = find_state(c->sys, f->target);
	f->target_state = t;
	if (!t) {
		error_tok(TOK(f->target_tok), "E010", "unknown state `$%s`", f->target);
		return;
	}
	if (t->params.n != f->n_state)
		error_tok(TOK(f->target_tok), "E012", "state `$%s` takes %d state arg%s but the transition passes %d",
		          t->name, t->params.n, t->params.n == 1 ? "" : "s", f->n_state);
	Handler *en = find_lifecycle(t, H_ENTER);
	int want = en ? en->params.n : 0;
	if (want != f->n_enter)
		error_at(f->line, f->col, 2, "E013", "`$>` of `$%s` takes %d enter arg%s but the transition passes %d",
		         t->name, want, want == 1 ? "" : "s", f->n_enter);
}

static void check_self_call(Ctx *c, Form *f)
{
	Method *m = find_method(c->sys, f->name);
	Action *a = m ? NULL : find_action(c->sys, f->name);
	if (!m && !a) {
		error_tok(TOK(f->name_tok), "E021", "`@@:self.%s(..)`: `%s` is neither an interface method nor an action",
		          f->name, f->name);
		return;
	}
	f->callee = m;
	f->is_action = a != NULL;
	Params *ps = m ? &m->params : &a->params;
	if (ps->n != f->nargs)
		error_tok(TOK(f->name_tok), "E021", "`@@:self.%s(..)` passes %d argument%s but `%s` takes %d", f->name,
		          f->nargs, f->nargs == 1 ? "" : "s", f->name, ps->n);
	if (m)
		add_edge(c->src_node, m->index, f);
	else
		add_edge(c->src_node, c->sys->nmethods + 1 + action_index(c->sys, a), f);
}

static void check_form(Ctx *c, Form *f)
{
	bool in_action = c->h == NULL;
	switch (f->kind) {
	case F_TRANSITION:
	case F_PUSH:
	case F_PARENT:
		if (in_action) {
			error_at(f->line, f->col, 2, "E016", "%s in action `%s`: actions may not change state",
			         f->kind == F_TRANSITION ? "a transition" : f->kind == F_PUSH ? "`push$`" : "`=> $^`",
			         c->act->name);
			break;
		}
		if (f->kind == F_PUSH)
			c->sys->uses_push = true;
		if (f->kind == F_TRANSITION) {
			check_args(c, f->exit_args, f->n_exit);
			check_args(c, f->enter_args, f->n_enter);
			check_args(c, f->state_args, f->n_state);
			check_transition(c, f);
			if (f->pop)
				c->sys->uses_push = true;
			if (c->h->kind == H_EVENT && c->h->method)
				c->h->method->transitions = true;
		}
		if (f->kind == F_PARENT && !c->h->state->parent)
			error_at(f->line, f->col, 3, "E018", "`=> $^` in state `$%s`, which has no parent state",
			         c->h->state->name);
		else if (f->kind == F_PARENT)
			check_lifecycle_forward(c, f);
		break;
	case F_STATE_VAR: {
		if (in_action) {
			error_at(f->line, f->col, 2, "E017", "`$.%s` in action `%s`: actions cannot see state variables",
			         f->name, c->act->name);
			break;
		}
		State *owner = NULL;
		if (!lookup_var(c->h->state, f->name, &owner))
			error_tok(TOK(f->name_tok), "E019", "state `$%s` (and its ancestors) has no state variable `$.%s`",
			          c->h->state->name, f->name);
		f->var_state = owner;
		break;
	}
	case F_RETURN_SET:
	case F_RETURN_LEAVE:
	case F_RETURN_PLACE:
		if (f->expr)
			check_body(c, f->expr);
		if (in_action || c->h->kind != H_EVENT)
			error_at(f->line, f->col, 3, "E023", "`@@:return` outside an event handler (%s): it sets the return "
			         "value of the interface call that a handler serves",
			         in_action ? "in an action" : xsprintf("in `%s` of `$%s`", c->h->name, c->h->state->name));
		else if (c->h->method && c->h->method->ret.b == c->h->method->ret.e)
			error_at(f->line, f->col, 3, "E023", "`@@:return` in handler `%s`, but interface method `%s` has no "
			         "return type",
			         c->h->name, c->h->name);
		break;
	case F_SELF_CALL:
		check_args(c, f->args, f->nargs);
		check_self_call(c, f);
		break;
	case F_SELF_FIELD:
		if (!find_field(c->sys, f->name))
			error_tok(TOK(f->name_tok), "E021", "`@@:self.%s`: no domain field `%s`", f->name, f->name);
		break;
	}
}

/* A plain `self.m(..)` of an interface method in native code is a nested
 * dispatch too: it must count in the context-stack depth and in cycles. */
static void native_self_calls(Ctx *c, Body *b)
{
	for (int k = b->tb; k + 3 < b->te; k++) {
		if (!tok_is(TOK(k), "self") || (k > 0 && tok_is(TOK(k - 1), ":")) || !tok_is(TOK(k + 1), ".") ||
		    !tok_is(TOK(k + 3), "("))
			continue;
		Method *m = find_method(c->sys, tok_str(TOK(k + 2)));
		Action *a = m ? NULL : find_action(c->sys, tok_str(TOK(k + 2)));
		if (!m && !a)
			continue;
		Form *site = xalloc(sizeof *site);
		site->kind = F_SELF_FIELD;  /* marks a native call site (caret under `self`) */
		site->line = TOK(k)->line;
		site->col = TOK(k)->col;
		add_edge(c->src_node, m ? m->index : c->sys->nmethods + 1 + action_index(c->sys, a), site);
	}
}

static void check_body(Ctx *c, Body *b)
{
	for (int i = 0; i < b->nforms; i++)
		check_form(c, b->forms[i]);
}

/* `first`: index in st of the first handler with h's name, -1 if h is it. */
static void check_handler(System *sys, State *st, Handler *h, int first)
{
	if (first >= 0)
		error_tok(TOK(h->tok), "E015", "duplicate handler `%s` in state `$%s` (first declared at line %d:%d)",
		          h->name, st->name, TOK(st->handlers[first]->tok)->line, TOK(st->handlers[first]->tok)->col);
	check_param_dups(&h->params, xsprintf("handler `%s`", h->name));
	if (h->kind == H_ENTER)
		st->enter = h;
	if (h->kind == H_EXIT)
		st->exit = h;
	if (h->kind == H_EVENT) {
		Method *m = find_method(sys, h->name);
		if (!m) {
			error_tok(TOK(h->tok), "E011", "state `$%s` handles `%s`, which is not an interface method", st->name,
			          h->name);
		} else {
			h->method = m;
			if (m->params.n != h->params.n)
				error_tok(TOK(h->tok), "E020", "handler `%s` has %d parameter%s but interface method `%s` has %d",
				          h->name, h->params.n, h->params.n == 1 ? "" : "s", m->name, m->params.n);
			else
				for (int i = 0; i < m->params.n; i++) {
					Param *hp = &h->params.v[i], *mp = &m->params.v[i];
					if (!streq(hp->name, mp->name))
						error_tok(TOK(hp->tok), "E020", "handler parameter `%s` does not match interface parameter "
						          "`%s` of `%s`",
						          hp->name, mp->name, m->name);
					else if (hp->type.e > hp->type.b && !streq(span_key(hp->type), span_key(mp->type)))
						error_tok(TOK(hp->type.b), "E020", "handler parameter `%s: %s` does not match the "
						          "interface's type `%s`",
						          hp->name, span_text(hp->type), span_text(mp->type));
				}
			if (h->ret.e > h->ret.b && !streq(span_key(h->ret), span_key(m->ret)))
				error_tok(TOK(h->ret.b), "E022", "handler `%s` returns `%s` but interface method `%s` returns `%s`",
				          h->name, span_text(h->ret), m->name, m->ret.e > m->ret.b ? span_text(m->ret) : "()");
		}
	}
	Ctx c = {sys, h, NULL, h->kind == H_EVENT ? (h->method ? h->method->index : -1) : sys->nmethods};
	if (c.src_node < 0)
		c.src_node = sys->nmethods;
	check_body(&c, h->body);
	native_self_calls(&c, h->body);
}

/* ---- the no_alloc profile ---------------------------------------------- */

static bool is_prim(Token *t)
{
	static const char *prims[] = {"i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128",
	                              "usize", "f32", "f64", "bool", "char", NULL};
	for (const char **p = prims; *p; p++)
		if (tok_is(t, *p))
			return true;
	return false;
}

static bool is_heap_name(Token *t)
{
	static const char *heap[] = {"String", "Vec", "Box", "Rc", "Arc", "HashMap", "HashSet", "BTreeMap",
	                             "BTreeSet", "VecDeque", "BinaryHeap", "LinkedList", "CString", "OsString",
	                             "PathBuf", NULL};
	for (const char **p = heap; *p; p++)
		if (tok_is(t, *p))
			return true;
	return false;
}

static CopyKind combine(CopyKind a, CopyKind b)
{
	if (a == COPY_NO || b == COPY_NO)
		return COPY_NO;
	if (a == COPY_UNKNOWN || b == COPY_UNKNOWN)
		return COPY_UNKNOWN;
	return COPY_YES;
}

/* Splits [b, e) at depth-0 commas and combines the parts' kinds. */
static CopyKind list_kind(int b, int e)
{
	CopyKind k = COPY_YES;
	int depth = 0, start = b;
	for (int i = b; i <= e; i++) {
		if (i == e || (depth == 0 && tok_is(TOK(i), ","))) {
			if (i > start)
				k = combine(k, type_copy_kind((Span){start, i}));
			start = i + 1;
			continue;
		}
		Token *t = TOK(i);
		if (tok_is(t, "(") || tok_is(t, "[") || tok_is(t, "<") || tok_is(t, "{"))
			depth++;
		else if (tok_is(t, ")") || tok_is(t, "]") || tok_is(t, ">") || tok_is(t, "}"))
			depth--;
	}
	return k;
}

CopyKind type_copy_kind(Span sp)
{
	int b = sp.b, e = sp.e;
	if (b >= e)
		return COPY_UNKNOWN;
	Token *f = TOK(b), *l = TOK(e - 1);
	if (tok_is(f, "(") && tok_is(l, ")"))
		return list_kind(b + 1, e - 1);  /* () and tuples */
	if (tok_is(f, "[") && tok_is(l, "]")) {
		for (int i = b + 1; i < e - 1; i++)
			if (tok_is(TOK(i), ";"))
				return type_copy_kind((Span){b + 1, i});
		return COPY_NO;  /* [T] is unsized */
	}
	if (tok_is(f, "&")) {
		if (b + 1 < e && tok_is(TOK(b + 1), "mut"))
			return COPY_NO;
		if (b + 1 < e && TOK(b + 1)->kind == TK_LIFETIME && tok_is(TOK(b + 1), "'static"))
			return COPY_YES;
		return COPY_NO;  /* a borrowed event cannot outlive the call */
	}
	/* a path: judge by its last segment */
	int last = b;
	for (int i = b; i < e; i++) {
		if (tok_is(TOK(i), "<"))
			break;
		if (TOK(i)->kind == TK_IDENT)
			last = i;
	}
	Token *name = TOK(last);
	if (is_heap_name(name))
		return COPY_NO;
	if (last == e - 1 && is_prim(name))
		return COPY_YES;
	if (tok_is(name, "Option") && last + 1 < e && tok_is(TOK(last + 1), "<") && tok_is(l, ">"))
		return type_copy_kind((Span){last + 2, e - 1});
	if (tok_is(name, "str"))
		return COPY_NO;
	return COPY_UNKNOWN;
}

static bool mentions_heap(Span sp)
{
	for (int i = sp.b; i < sp.e; i++)
		if (is_heap_name(TOK(i)))
			return true;
	return false;
}

static const char *USE_INSTEAD =
	"use a Copy type instead: a fixed-size buffer such as `[u8; 32]` (with a length), an integer id or enum, "
	"or `&'static str`";

static void profile_params(Params *ps, const char *code, const char *what)
{
	for (int i = 0; i < ps->n; i++) {
		Param *pm = &ps->v[i];
		if (pm->type.e > pm->type.b && type_copy_kind(pm->type) == COPY_NO && !borrowed(pm->type))
			error_tok(TOK(pm->type.b), code, "%s parameter `%s: %s` is not Copy; under @@[no_alloc] %s", what,
			          pm->name, span_text(pm->type), USE_INSTEAD);
	}
}

/* ---- the no_alloc profile for C (frc compile -l c) ------------------------ */

/* A C type with a pointer in it (`char *`, `void *`, `const uint8_t *`, a
 * function pointer): what it points to may be heap memory, which the
 * no_alloc shape could neither own nor free, and a string would be the
 * caller's heap copy. Fixed-size arrays (`char[16]`) and structs by value
 * are stored inline. */
static bool c_pointer(Span sp)
{
	for (int k = sp.b; k < sp.e; k++)
		if (tok_is(TOK(k), "*"))
			return true;
	return false;
}

static const char *C_INSTEAD = "use a scalar, an enum, a struct by value or a fixed-size array such as `char[16]` "
                               "(with a length) instead";

static void c_profile_params(Params *ps, const char *code, const char *what)
{
	for (int i = 0; i < ps->n; i++)
		if (c_pointer(ps->v[i].type))
			error_tok(TOK(ps->v[i].type.b), code, "%s parameter `%s: %s` is a pointer, which may point to heap "
			          "data; under @@[no_alloc] values are stored inline, so %s",
			          what, ps->v[i].name, span_text(ps->v[i].type), C_INSTEAD);
}

/* E109: interface parameters and return types; E110: state parameters,
 * state variables and enter/exit parameters. */
static void c_profile_checks(System *sys)
{
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		c_profile_params(&m->params, "E109", xsprintf("interface method `%s`:", m->name));
		if (c_pointer(m->ret))
			error_tok(TOK(m->ret.b), "E109", "interface method `%s` returns `%s`, a pointer, which may point to "
			          "heap data; under @@[no_alloc] the return slot is stored inline, so %s",
			          m->name, span_text(m->ret), C_INSTEAD);
	}
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		c_profile_params(&st->params, "E110", xsprintf("state `$%s`:", st->name));
		for (int v = 0; v < st->nvars; v++)
			if (c_pointer(st->vars[v].type))
				error_tok(TOK(st->vars[v].type.b), "E110", "state variable `$.%s: %s` of `$%s` is a pointer, "
				          "which may point to heap data; under @@[no_alloc] state variables live in an inline "
				          "context, so %s",
				          st->vars[v].name, span_text(st->vars[v].type), st->name, C_INSTEAD);
		for (int h = 0; h < st->nhandlers; h++)
			if (st->handlers[h]->kind != H_EVENT)
				c_profile_params(&st->handlers[h]->params, "E110",
				                 xsprintf("`%s` of `$%s`:", st->handlers[h]->name, st->name));
	}
}

static void profile_checks(System *sys)
{
	if (frc_target == TARGET_C) {
		c_profile_checks(sys);
		return;
	}
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		profile_params(&m->params, "E101", xsprintf("interface method `%s`:", m->name));
		if (m->ret.e > m->ret.b && type_copy_kind(m->ret) == COPY_NO && !borrowed(m->ret))
			error_tok(TOK(m->ret.b), "E102", "interface method `%s` returns `%s`, which is not Copy; under "
			          "@@[no_alloc] the return slot is stored inline, so %s",
			          m->name, span_text(m->ret), USE_INSTEAD);
	}
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		profile_params(&st->params, "E103", xsprintf("state `$%s`:", st->name));
		for (int v = 0; v < st->nvars; v++)
			if (type_copy_kind(st->vars[v].type) == COPY_NO && !borrowed(st->vars[v].type))
				error_tok(TOK(st->vars[v].type.b), "E104", "state variable `$.%s: %s` of `$%s` is not Copy; under "
				          "@@[no_alloc] state variables live in an inline Copy context, so %s",
				          st->vars[v].name, span_text(st->vars[v].type), st->name, USE_INSTEAD);
		for (int h = 0; h < st->nhandlers; h++) {
			Handler *hd = st->handlers[h];
			if (hd->kind != H_EVENT)
				profile_params(&hd->params, "E105", xsprintf("`%s` of `$%s`:", hd->name, st->name));
		}
	}
	for (int i = 0; i < sys->nfields; i++)
		if (mentions_heap(sys->fields[i].type))
			error_tok(TOK(sys->fields[i].type.b), "E108", "domain field `%s: %s` needs the heap, which "
			          "@@[no_alloc] forbids (the output must build as #![no_std] without `alloc`); use a fixed-size "
			          "array or a Copy type",
			          sys->fields[i].name, span_text(sys->fields[i].type));
}

static void report_push_without_capacity(System *sys, Body *b)
{
	for (int i = 0; i < b->nforms; i++) {
		Form *f = b->forms[i];
		if (f->kind == F_PUSH || (f->kind == F_TRANSITION && f->pop)) {
			error_at(f->line, f->col, f->kind == F_PUSH ? 5 : 2, "E106",
			         "%s under @@[no_alloc] needs a fixed state-stack capacity: write "
			         "`@@[no_alloc(state_stack = N)]` on system `%s`",
			         f->kind == F_PUSH ? "`push$`" : "`-> pop$`", sys->name);
			return;
		}
	}
}

/* ---- self-call graph ----------------------------------------------------- */

static const char *node_name(System *sys, int n)
{
	if (n < sys->nmethods)
		return sys->methods[n]->name;
	if (n == sys->nmethods)
		return "$>/<$ (state lifecycle)";
	return xsprintf("action %s", sys->actions[n - sys->nmethods - 1]->name);
}

/* The self-call graph in adjacency form: the edges from node n are
 * out[start[n] .. start[n+1]), in the order they were added. */
typedef struct Graph {
	System *sys;
	int *start;
	Edge *out;
} Graph;

static Graph build_graph(System *sys, int nn)
{
	Graph g = {sys, xalloc(sizeof(int) * (size_t)(nn + 1)), xalloc(sizeof(Edge) * (size_t)(nedges + 1))};
	int *fill = xalloc(sizeof(int) * (size_t)(nn + 1));
	for (int i = 0; i < nedges; i++)
		g.start[edges[i].from + 1]++;
	for (int n = 0; n < nn; n++)
		g.start[n + 1] += g.start[n];
	memcpy(fill, g.start, sizeof(int) * (size_t)(nn + 1));
	for (int i = 0; i < nedges; i++)
		g.out[fill[edges[i].from]++] = edges[i];
	return g;
}

/* Reports the cycle stack[k..sp] -> to (E107). Long cycles are shortened
 * in the middle; the message has room for about 2000 characters. */
static void report_cycle(Graph *g, int *stack, int sp, Edge *e)
{
	System *sys = g->sys;
	int k = sp;
	while (stack[k] != e->to)
		k--;
	Out path = {0};
	out_s(&path, node_name(sys, stack[k]));
	for (int j = k + 1; j <= sp; j++) {
		if (path.len > 1200 && j < sp) {
			out_s(&path, " -> ...");
			j = sp;
		}
		out_f(&path, " -> %s", node_name(sys, stack[j]));
	}
	out_f(&path, " -> %s", node_name(sys, e->to));
	error_at(e->site ? e->site->line : TOK(sys->tok)->line, e->site ? e->site->col : TOK(sys->tok)->col,
	         !e->site ? 1 : e->site->kind == F_SELF_FIELD ? 4 : 3, "E107",
	         "self-call cycle under @@[no_alloc]: %s; the context stack would need unbounded depth "
	         "(break the cycle, e.g. record the work in a domain field and handle it in the caller)",
	         path.buf);
}

/* Depth-first from root, with an explicit stack (a chain of self-calls may
 * be as long as the file allows). depth[n] is the max number of
 * interface-call contexts live on any path from n; a back edge is a cycle,
 * reported once under @@[no_alloc]. */
static void visit(Graph *g, int root, int *color, int *depth, int *stack, int *next, int *best, bool *cycle_seen)
{
	System *sys = g->sys;
	if (color[root] == 2)
		return;
	int sp = 0;
	stack[0] = root;
	next[0] = g->start[root];
	best[0] = 0;
	color[root] = 1;
	while (sp >= 0) {
		int n = stack[sp];
		if (next[sp] < g->start[n + 1]) {
			Edge *e = &g->out[next[sp]++];
			if (color[e->to] == 1) {
				if (sys->no_alloc && !*cycle_seen) {
					report_cycle(g, stack, sp, e);
					*cycle_seen = true;
				}
			} else if (color[e->to] == 2) {
				if (depth[e->to] > best[sp])
					best[sp] = depth[e->to];
			} else {
				sp++;
				stack[sp] = e->to;
				next[sp] = g->start[e->to];
				best[sp] = 0;
				color[e->to] = 1;
			}
			continue;
		}
		color[n] = 2;
		depth[n] = best[sp] + (n < sys->nmethods ? 1 : 0);
		if (--sp >= 0 && depth[n] > best[sp])
			best[sp] = depth[n];
	}
}

static void call_graph(System *sys)
{
	int nn = sys->nmethods + 1 + sys->nactions;
	/* a method whose handlers transition runs $> / <$ handlers */
	for (int i = 0; i < sys->nmethods; i++)
		if (sys->methods[i]->transitions)
			add_edge(i, sys->nmethods, NULL);
	Graph g = build_graph(sys, nn);
	int *color = xalloc(sizeof(int) * (size_t)nn);
	int *depth = xalloc(sizeof(int) * (size_t)nn);
	int *stack = xalloc(sizeof(int) * (size_t)nn);
	int *next = xalloc(sizeof(int) * (size_t)nn);
	int *best = xalloc(sizeof(int) * (size_t)nn);
	bool cycle = false;
	sys->ctx_depth = 1;
	for (int n = 0; n < nn; n++) {
		visit(&g, n, color, depth, stack, next, best, &cycle);
		if (depth[n] > sys->ctx_depth)
			sys->ctx_depth = depth[n];
	}
}

static void check_system(System *sys)
{
	nedges = 0;
	index_system(sys);
	if (sys->nstates == 0) {
		error_tok(TOK(sys->tok), "E002", "system `%s` has no states (add a `machine:` section)", sys->name);
		return;
	}
	check_declarations(sys);
	check_stored_types(sys);
	check_hierarchy(sys);
	link_children(sys);
	exit_signatures(sys);
	leaf_stack = xalloc(sizeof(State *) * (size_t)sys->nstates);
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		Names seen = names_new(st->nhandlers);
		for (int h = 0; h < st->nhandlers; h++)
			check_handler(sys, st, st->handlers[h], names_add(&seen, st->handlers[h]->name, h));
	}
	for (int i = 0; i < sys->nactions; i++) {
		Ctx c = {sys, NULL, sys->actions[i], sys->nmethods + 1 + i};
		check_body(&c, sys->actions[i]->body);
		native_self_calls(&c, sys->actions[i]->body);
	}
	if (sys->no_alloc) {
		profile_checks(sys);
		if (sys->uses_push && sys->state_stack < 0)
			for (int i = 0; i < sys->nstates; i++)
				for (int h = 0; h < sys->states[i]->nhandlers; h++)
					report_push_without_capacity(sys, sys->states[i]->handlers[h]->body);
	}
	call_graph(sys);
}

bool check_program(Program *prog)
{
	Names systems = names_new(prog->ncuts);
	for (int i = 0; i < prog->ncuts; i++) {
		System *sys = prog->cuts[i].sys;
		if (!sys)
			continue;
		int j = names_add(&systems, sys->name, i);
		if (j >= 0)
			dup(sys->tok, prog->cuts[j].sys->tok, "system", sys->name);
		check_system(sys);
	}
	return error_count() == 0;
}
