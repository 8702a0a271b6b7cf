/* emit_c_noalloc.c — the no_alloc C shape (RFC-0036): no allocator call.
 *
 * The system lives in the caller's storage (`S_init(S *self)`; any
 * storage: static, stack, a pool) and everything it needs is inside it:
 *   event         a tagged struct passed by address: S_EventId plus a
 *                 union of one parameter struct per interface method
 *   state         an enum; the routers `switch` on it and on the event id
 *   compartment   the leaf state plus a fixed array holding one context
 *                 union (S_StateCtx) per HSM level; state St always lives
 *                 at chain[depth(St)]
 *   contexts      a fixed array sized by check.c from the self-call graph
 *                 (at most that many nested interface calls), each with
 *                 one typed return slot per method that returns
 *   push$ stack   a fixed array of `@@[no_alloc(state_stack = N)]` entries
 * The file includes only <stdbool.h>, <stddef.h> and <stdint.h> and calls
 * no library function, so it builds with -ffreestanding -fno-builtin.
 *
 * Defined behaviour at the edges (the allocating shape has the same
 * counters):
 *   push$ on a full stack    ignored; `__stack_overflows` counts it
 *   -> pop$ on an empty one  no transition (the handler still ends);
 *                            `__stack_underflows` counts it */
#include "frc.h"

static int stack_cap(System *sys)
{
	return sys->state_stack > 0 ? sys->state_stack : 0;
}

static void prelude(Out *o, System *sys)
{
	(void)sys;
	out_s(o, "#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n\n");
}

static void event_type(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "typedef enum %s_EventId {\n    %s_EV___enter,\n    %s_EV___exit,\n", S, S, S);
	for (int i = 0; i < sys->nmethods; i++)
		out_f(o, "    %s_EV_%s,\n", S, sys->methods[i]->name);
	out_f(o, "} %s_EventId;\n\n", S);
	out_f(o, "/* An event: its id and the parameters of its method, by value. */\n"
	         "typedef struct %s_FrameEvent {\n    %s_EventId id;\n    union {\n        char __none;\n",
	      S, S);
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		if (!m->params.n)
			continue;
		out_s(o, "        struct {");
		for (int k = 0; k < m->params.n; k++) {
			out_s(o, " ");
			c_decl(o, m->params.v[k].type, m->params.v[k].name);
			out_s(o, ";");
		}
		out_f(o, " } %s;\n", m->name);
	}
	out_f(o, "    } p;\n} %s_FrameEvent;\n\n", S);
}

static void types(Out *o, System *sys)
{
	const char *S = sys->name;
	event_type(o, sys);
	out_f(o, "typedef enum %s_State {\n", S);
	for (int i = 0; i < sys->nstates; i++)
		out_f(o, "    %s_STATE_%s,\n", S, sys->states[i]->name);
	out_f(o, "} %s_State;\n\n", S);
	out_f(o, "/* A compartment: the leaf state and one context per HSM level (root first). */\n"
	         "typedef struct %s_Compartment {\n    %s_State state;\n    %s_StateCtx chain[%d];\n} %s_Compartment;\n\n",
	      S, S, S, sys->hsm_depth, S);
	out_f(o, "/* One interface call in progress: its return slot. */\ntypedef struct %s_FrameContext {\n"
	         "    char __none;\n",
	      S);
	for (int i = 0; i < sys->nmethods; i++)
		if (c_has_ret(sys->methods[i])) {
			out_s(o, "    ");
			c_decl(o, sys->methods[i]->ret, xsprintf("r_%s", sys->methods[i]->name));
			out_s(o, ";\n");
		}
	out_f(o, "} %s_FrameContext;\n\n", S);
	out_f(o, "typedef struct %s %s;\nstruct %s {\n", S, S, S);
	for (int i = 0; i < sys->nfields; i++) {
		out_s(o, "    ");
		c_decl(o, sys->fields[i].type, sys->fields[i].name);
		out_s(o, ";\n");
	}
	int cap = stack_cap(sys);
	out_f(o, "    %s_Compartment __compartment;\n    %s_Compartment __next_compartment;\n    bool __has_next;\n"
	         "    %s_FrameEvent __forward;\n    bool __has_forward;\n"
	         "    /* Sized from the self-call graph: at most %d nested interface call%s. */\n"
	         "    %s_FrameContext __context_stack[%d];\n    uint32_t __context_top;\n"
	         "    %s_Compartment __state_stack[%d];\n    uint32_t __state_stack_len;\n    uint32_t __gen;\n"
	         "    /* `-> pop$` on an empty state stack: counted here; no transition happens. */\n"
	         "    uint32_t __stack_underflows;\n"
	         "    /* `push$` on a full state stack: ignored and counted here. */\n"
	         "    uint32_t __stack_overflows;\n};\n\n",
	      S, S, S, sys->ctx_depth, sys->ctx_depth == 1 ? "" : "s", S, sys->ctx_depth, S, cap ? cap : 1);
}

static void protos(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "void %s_init(%s *self);\nvoid %s_deinit(%s *self);\n", S, S, S, S);
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		if (c_has_ret(m))
			out_span(o, m->ret);
		else
			out_s(o, "void");
		out_f(o, " %s_%s(%s *self", S, m->name, S);
		c_params(o, &m->params, NULL);
		out_s(o, ");\n");
	}
	out_f(o, "static void %s__route(%s *self, %s_FrameEvent *__e);\nstatic void %s__drain(%s *self);\n", S, S, S, S, S);
	for (int i = 0; i < sys->nstates; i++) {
		out_f(o, "static void %s__comp_%s(%s_Compartment *__c", S, sys->states[i]->name, S);
		for (int k = 0; k < sys->states[i]->params.n; k++) {
			out_s(o, ", ");
			c_decl(o, sys->states[i]->params.v[k].type, sys->states[i]->params.v[k].name);
		}
		out_s(o, ");\n");
	}
}

/* ---- construction and the interface ----------------------------------------- */

static void lifecycle(Out *o, System *sys, const char *fn, const char *id, bool enter)
{
	const char *S = sys->name;
	out_f(o, "/* `%s` goes to the leaf state only */\nstatic void %s__%s(%s *self)\n{\n"
	         "    %s_FrameEvent __ev = {0};\n    __ev.id = %s_EV___%s;\n    (void)__ev;\n    switch (self->__compartment.state) {\n",
	      enter ? "$>" : "<$", S, fn, S, S, S, id);
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		if (enter ? st->enter != NULL : st->exit != NULL)
			out_f(o, "    case %s_STATE_%s:\n        %s__state_%s(self, &__ev);\n        break;\n", S, st->name, S,
			      st->name);
	}
	out_s(o, "    default:\n        break;\n    }\n}\n\n");
}

static void constructors(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "/* Builds the system in the caller's storage and enters the start state\n"
	         " * (runs its `$>`). Nothing here or anywhere else allocates. */\n"
	         "void %s_init(%s *self)\n{\n",
	      S, S);
	c_domain_init(o, sys);
	out_f(o, "    %s__comp_%s(&self->__compartment);\n"
	         "    self->__has_next = false;\n    self->__has_forward = false;\n    self->__context_top = 0;\n"
	         "    self->__state_stack_len = 0;\n    self->__gen = 0;\n    self->__stack_underflows = 0;\n"
	         "    self->__stack_overflows = 0;\n    %s__enter(self);\n    %s__drain(self);\n}\n\n"
	         "/* Nothing to release: the storage is the caller's. */\nvoid %s_deinit(%s *self)\n{\n    (void)self;\n}\n\n",
	      S, sys->states[0]->name, S, S, S, S);
}

static void interface(Out *o, System *sys)
{
	const char *S = sys->name;
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		c_method_head(o, sys, m);
		out_f(o, "\n{\n    %s_FrameEvent __e = {0};\n    __e.id = %s_EV_%s;\n", S, S, m->name);
		for (int k = 0; k < m->params.n; k++)
			out_f(o, "    __e.p.%s.%s = %s;\n", m->name, m->params.v[k].name, m->params.v[k].name);
		out_f(o, "    %s_FrameContext __c = {0};\n", S);
		if (c_has_ret(m)) {
			out_s(o, "    ");
			c_decl(o, m->ret, "__d");
			c_ret_default(o, m);
			out_f(o, ";\n    __c.r_%s = __d;\n", m->name);
		}
		out_f(o, "    self->__context_stack[self->__context_top++] = __c;\n"
		         "    %s__route(self, &__e);\n    %s__drain(self);\n    self->__context_top--;\n",
		      S, S);
		if (c_has_ret(m))
			out_f(o, "    return self->__context_stack[self->__context_top].r_%s;\n", m->name);
		out_s(o, "}\n\n");
	}
}

/* ---- routing: switch on the state, then on the event id ------------------------ */

static void route(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "static void %s__route(%s *self, %s_FrameEvent *__e)\n{\n    switch (self->__compartment.state) {\n", S,
	      S, S);
	for (int i = 0; i < sys->nstates; i++)
		out_f(o, "    case %s_STATE_%s:\n        %s__state_%s(self, __e);\n        break;\n", S,
		      sys->states[i]->name, S, sys->states[i]->name);
	out_s(o, "    }\n}\n\n");
}

static void state_router(Out *o, System *sys, State *st)
{
	const char *S = sys->name;
	bool enter = false, exit = false;
	out_f(o, "static void %s__state_%s(%s *self, %s_FrameEvent *__e)\n{\n    switch (__e->id) {\n", S, st->name, S, S);
	for (int j = 0; j < st->nhandlers; j++) {
		Handler *h = st->handlers[j];
		if (h->kind != H_EVENT) {
			enter |= h->kind == H_ENTER;
			exit |= h->kind == H_EXIT;
			out_f(o, "    case %s_EV___%s:\n        %s__s_%s_%s(self, __e);\n        break;\n", S,
			      h->kind == H_ENTER ? "enter" : "exit", S, st->name, h->kind == H_ENTER ? "enter" : "exit");
			continue;
		}
		out_f(o, "    case %s_EV_%s:\n        %s__s_%s_%s(self, __e", S, h->name, S, st->name, h->name);
		for (int k = 0; k < h->method->params.n; k++)
			out_f(o, ", __e->p.%s.%s", h->name, h->method->params.v[k].name);
		out_s(o, ");\n        break;\n");
	}
	if (st->default_forward && st->parent) {
		if (!enter)
			out_f(o, "    case %s_EV___enter:\n", S);
		if (!exit)
			out_f(o, "    case %s_EV___exit:\n", S);
		if (!enter || !exit)
			out_s(o, "        break;\n");
		out_f(o, "    default:\n        %s__state_%s(self, __e);\n        break;\n", S, st->parent->name);
	} else {
		out_s(o, "    default:\n        break;\n");
	}
	out_s(o, "    }\n    (void)self;\n}\n\n");
}

static void drain(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "/* Runs the pending transitions: `<$` to the current state, switch, `$>` to\n"
	         " * the new one (and the forwarded event after it). */\n"
	         "static void %s__drain(%s *self)\n{\n    while (self->__has_next) {\n"
	         "        self->__has_next = false;\n        %s__exit(self);\n"
	         "        self->__compartment = self->__next_compartment;\n        self->__gen++;\n"
	         "        bool forward = self->__has_forward;\n        %s_FrameEvent f = self->__forward;\n"
	         "        self->__has_forward = false;\n        %s__enter(self);\n"
	         "        if (forward)\n            %s__route(self, &f);\n    }\n}\n\n",
	      S, S, S, S, S, S);
}

/* `S__comp_T(c, state args)`: a fresh compartment of T. */
static void comp_builders(Out *o, System *sys)
{
	const char *S = sys->name;
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "static FRC_UNUSED void %s__comp_%s(%s_Compartment *__c", S, st->name, S);
		for (int k = 0; k < st->params.n; k++) {
			out_s(o, ", ");
			c_decl(o, st->params.v[k].type, st->params.v[k].name);
		}
		out_f(o, ")\n{\n    __c->state = %s_STATE_%s;\n", S, st->name);
		for (State *a = st->parent; a; a = a->parent)
			out_f(o, "    %s__mk_%s(&__c->chain[%d].%s);\n", S, a->name, a->depth, a->name);
		out_f(o, "    %s__mk_%s(&__c->chain[%d].%s", S, st->name, st->depth, st->name);
		for (int k = 0; k < st->params.n; k++)
			out_f(o, ", %s", st->params.v[k].name);
		out_s(o, ");\n}\n\n");
	}
}

static void runtime(Out *o, System *sys)
{
	lifecycle(o, sys, "enter", "enter", true);
	lifecycle(o, sys, "exit", "exit", false);
	drain(o, sys);
	constructors(o, sys);
	interface(o, sys);
	route(o, sys);
	for (int i = 0; i < sys->nstates; i++)
		state_router(o, sys, sys->states[i]);
	comp_builders(o, sys);
}

/* ---- forms ------------------------------------------------------------------------ */

static void sv_body(Out *o, System *sys, State *st)
{
	(void)sys;
	out_f(o, "    return &self->__compartment.chain[%d].%s;\n", st->depth, st->name);
}

static void ret_place(Out *o, System *sys, Method *m)
{
	(void)sys;
	out_f(o, "self->__context_stack[self->__context_top - 1].r_%s", m->name);
}

static void event_arg(Out *o, System *sys, Method *m, int k)
{
	(void)sys;
	out_f(o, "__e->p.%s.%s", m->name, m->params.v[k].name);
}

/* __forward belongs to the system, not to a compartment: every transition
 * sets or clears it; forwarding `$>` is delivering it once, as the `$>`. */
static void transition(Out *o, System *sys, Handler *h, Form *f)
{
	State *t = f->target_state;
	(void)h;
	out_f(o, " %s__comp_%s(&self->__next_compartment", sys->name, t->name);
	for (int i = 0; i < f->n_state; i++)
		out_f(o, ", __sa%d", i);
	out_s(o, ");");
	for (int i = 0; t->enter && i < f->n_enter && i < t->enter->params.n; i++)
		out_f(o, " self->__next_compartment.chain[%d].%s.e_%s = __ea%d;", t->depth, t->name,
		      t->enter->params.v[i].name, i);
	if (f->forward)
		out_f(o, " self->__has_forward = __e->id != %s_EV___enter && __e->id != %s_EV___exit;"
		         " self->__forward = *__e;",
		      sys->name, sys->name);
	else
		out_s(o, " self->__has_forward = false;");
	out_s(o, " self->__has_next = true; return;");
}

static void push(Out *o, System *sys)
{
	out_f(o, "{ if (self->__state_stack_len < %d) { self->__state_stack[self->__state_stack_len++] = "
	         "self->__compartment; } else { self->__stack_overflows++; } }",
	      stack_cap(sys));
}

static void pop(Out *o, System *sys)
{
	(void)sys;
	out_s(o, " if (self->__state_stack_len > 0) { self->__next_compartment = "
	         "self->__state_stack[--self->__state_stack_len]; self->__has_forward = false; "
	         "self->__has_next = true; } else { self->__stack_underflows++; } return;");
}

static void state_is(Out *o, System *sys, State *st)
{
	out_f(o, "self->__compartment.state == %s_STATE_%s", sys->name, st->name);
}

const CShape c_noalloc_shape = {
	.title = "no_alloc shape (RFC-0036)",
	.prelude = prelude, .types = types, .protos = protos, .runtime = runtime, .sv_body = sv_body,
	.ret_place = ret_place, .event_arg = event_arg, .transition = transition, .push = push, .pop = pop,
	.state_is = state_is,
};
