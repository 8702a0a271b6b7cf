/* emit_c_alloc.c — the allocating C shape: framec's C runtime.
 *
 * framec's C target (its `-l c` output) builds its runtime from heap
 * objects: a string-keyed FrameDict (malloc + calloc of 16 buckets), a
 * FrameVec (malloc of the struct, of the items, calloc of the owned
 * flags: 3 calls), a FrameEvent carrying its message string and a
 * parameter FrameVec, a FrameContext per interface call (malloc + its
 * FrameDict `_data`) on a FrameVec context stack, and refcounted
 * Compartments (malloc + state_args, enter_args, exit_args FrameVecs and
 * a state_vars FrameDict: 12 calls) chained through parent_compartment
 * for HSM states; states and events are matched by name (strcmp). This
 * file writes the same objects and makes the same allocator calls, per
 * interface call:
 *   the event, the context and its dict        4
 *   parameters                                 + one FrameVec (3)
 *   a transition                               + a compartment per HSM
 *                                                level of the target (12
 *                                                each), the `<$` and `$>`
 *                                                events (1 each): 18 flat
 *   state, enter or exit args of a transition  + one FrameVec per list (3)
 *   forward (-> =>)                            the `$>` event as above
 *   push$                                      + a copy of the compartment
 *                                                chain (12 per level)
 *   a self-call                                its own call's figures
 *   S_create()                                 45 for a flat start state:
 *     calloc of S, then framec's constructor body twice (its `_create`
 *     runs `_new`'s body again): two FrameVec stacks (6), the start
 *     compartment (12), the start `$>` event and its context (4) - 22 each
 *     time. frc frees what the first run built (framec leaks it) and
 *     routes the `$>` of the second run only, so `$>` runs once.
 * Where framec boxes values into the vectors and the dict (`void *` slots,
 * heap boxes for what does not fit a pointer), frc keeps them typed: the
 * parameters are read through the event's FrameVec from the caller's
 * arguments, and each compartment holds its state's context
 * (S_<State>_Ctx) in `ctx`; the vectors and the dict are allocated as
 * framec does and stay empty. */
#include "frc.h"

/* The text with every `@S` replaced by the system's name. */
static void out_sub(Out *o, const char *t, const char *S)
{
	for (const char *p; (p = strstr(t, "@S")); t = p + 2) {
		out_n(o, t, (size_t)(p - t));
		out_s(o, S);
	}
	out_s(o, t);
}

static const char *RUNTIME_VEC =
	"#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n\n"
	"/* @S_FrameVec: framec's dynamic array (3 allocator calls to build) */\n"
	"typedef struct @S_FrameVec {\n    void **items;\n    unsigned char *owned;\n    int size;\n    int capacity;\n"
	"} @S_FrameVec;\n\n"
	"static FRC_UNUSED FRC_NOINLINE @S_FrameVec *@S_FrameVec_new(void)\n{\n"
	"    @S_FrameVec *v = malloc(sizeof(@S_FrameVec));\n    v->capacity = 8;\n    v->size = 0;\n"
	"    v->items = malloc(sizeof(void *) * (size_t)v->capacity);\n    v->owned = calloc((size_t)v->capacity, 1);\n"
	"    return v;\n}\n\n"
	"static FRC_UNUSED void @S_FrameVec_push(@S_FrameVec *v, void *item)\n{\n"
	"    if (v->size >= v->capacity) {\n        v->capacity *= 2;\n"
	"        v->items = realloc(v->items, sizeof(void *) * (size_t)v->capacity);\n"
	"        v->owned = realloc(v->owned, (size_t)v->capacity);\n    }\n"
	"    v->owned[v->size] = 0;\n    v->items[v->size++] = item;\n}\n\n"
	"static FRC_UNUSED void *@S_FrameVec_pop(@S_FrameVec *v)\n{\n"
	"    return v->size == 0 ? NULL : v->items[--v->size];\n}\n\n"
	"static FRC_UNUSED void *@S_FrameVec_last(@S_FrameVec *v)\n{\n"
	"    return v->size == 0 ? NULL : v->items[v->size - 1];\n}\n\n"
	"static FRC_UNUSED void *@S_FrameVec_get(@S_FrameVec *v, int i)\n{\n"
	"    return i < 0 || i >= v->size ? NULL : v->items[i];\n}\n\n"
	"static FRC_UNUSED FRC_NOINLINE void @S_FrameVec_destroy(@S_FrameVec *v)\n{\n"
	"    if (!v)\n        return;\n    free(v->owned);\n    free(v->items);\n    free(v);\n}\n\n";

static const char *RUNTIME_DICT =
	"/* @S_FrameDict: framec's string-keyed dictionary (malloc + calloc of 16 buckets) */\n"
	"typedef struct @S_FrameDictEntry {\n    char *key;\n    void *value;\n    struct @S_FrameDictEntry *next;\n"
	"} @S_FrameDictEntry;\n\n"
	"typedef struct @S_FrameDict {\n    @S_FrameDictEntry **buckets;\n    int bucket_count;\n    int size;\n"
	"} @S_FrameDict;\n\n"
	"static FRC_UNUSED FRC_NOINLINE @S_FrameDict *@S_FrameDict_new(void)\n{\n"
	"    @S_FrameDict *d = malloc(sizeof(@S_FrameDict));\n    d->bucket_count = 16;\n"
	"    d->buckets = calloc((size_t)d->bucket_count, sizeof(@S_FrameDictEntry *));\n    d->size = 0;\n"
	"    return d;\n}\n\n"
	"static FRC_UNUSED FRC_NOINLINE void @S_FrameDict_destroy(@S_FrameDict *d)\n{\n"
	"    for (int i = 0; i < d->bucket_count; i++) {\n        @S_FrameDictEntry *e = d->buckets[i];\n"
	"        while (e) {\n            @S_FrameDictEntry *next = e->next;\n            free(e->key);\n"
	"            free(e);\n            e = next;\n        }\n    }\n    free(d->buckets);\n    free(d);\n}\n\n";

static const char *RUNTIME_EVENT =
	"/* @S_FrameEvent: the message by name and its parameters */\n"
	"typedef struct @S_FrameEvent {\n    const char *_message;\n    @S_FrameVec *_parameters;\n"
	"    int _owns_parameters;\n} @S_FrameEvent;\n\n"
	"static FRC_UNUSED FRC_NOINLINE @S_FrameEvent *@S_FrameEvent_new(const char *message, @S_FrameVec *parameters, int owns)\n{\n"
	"    @S_FrameEvent *e = malloc(sizeof(@S_FrameEvent));\n    e->_message = message;\n"
	"    e->_parameters = parameters;\n    e->_owns_parameters = owns;\n    return e;\n}\n\n"
	"static FRC_UNUSED FRC_NOINLINE void @S_FrameEvent_destroy(@S_FrameEvent *e)\n{\n"
	"    if (e->_owns_parameters)\n        @S_FrameVec_destroy(e->_parameters);\n    free(e);\n}\n\n"
	"/* @S_FrameContext: one interface call in progress (frc: `_return` points to\n"
	" * the call's typed return slot) */\n"
	"typedef struct @S_FrameContext {\n    @S_FrameEvent *event;\n    void *_return;\n"
	"    @S_FrameDict *_data;\n} @S_FrameContext;\n\n"
	"static FRC_UNUSED FRC_NOINLINE @S_FrameContext *@S_FrameContext_new(@S_FrameEvent *event, void *ret)\n{\n"
	"    @S_FrameContext *c = malloc(sizeof(@S_FrameContext));\n    c->event = event;\n    c->_return = ret;\n"
	"    c->_data = @S_FrameDict_new();\n    return c;\n}\n\n"
	"static FRC_UNUSED FRC_NOINLINE void @S_FrameContext_destroy(@S_FrameContext *c)\n{\n"
	"    @S_FrameDict_destroy(c->_data);\n    free(c);\n}\n\n";

/* The runtime's constructors and destructors are never inlined: gcc -O2
 * deletes a malloc/free pair it can see whose pointer never escapes, and
 * the counts must not depend on the optimisation level. */
static void prelude(Out *o, System *sys)
{
	out_s(o, "#ifndef FRC_NOINLINE\n#if defined(__GNUC__)\n#define FRC_NOINLINE __attribute__((noinline))\n#else\n"
	         "#define FRC_NOINLINE\n#endif\n#endif\n");
	out_sub(o, RUNTIME_VEC, sys->name);
	out_sub(o, RUNTIME_DICT, sys->name);
	out_sub(o, RUNTIME_EVENT, sys->name);
}

static const char *COMPARTMENT =
	"/* @S_Compartment: a state's closure, refcounted, one per HSM level\n"
	" * (12 allocator calls); frc keeps the state's context typed in `ctx` */\n"
	"typedef struct @S_Compartment {\n    const char *state;\n    @S_FrameVec *state_args;\n"
	"    @S_FrameDict *state_vars;\n    @S_FrameVec *enter_args;\n    @S_FrameVec *exit_args;\n"
	"    @S_FrameEvent *forward_event;\n    struct @S_Compartment *parent_compartment;\n    int _ref_count;\n"
	"    @S_StateCtx ctx;\n} @S_Compartment;\n\n"
	"static FRC_UNUSED FRC_NOINLINE @S_Compartment *@S_Compartment_new(const char *state)\n{\n"
	"    @S_Compartment *c = malloc(sizeof(@S_Compartment));\n    c->state = state;\n"
	"    c->state_args = @S_FrameVec_new();\n    c->state_vars = @S_FrameDict_new();\n"
	"    c->enter_args = @S_FrameVec_new();\n    c->exit_args = @S_FrameVec_new();\n"
	"    c->forward_event = NULL;\n    c->parent_compartment = NULL;\n    c->_ref_count = 1;\n"
	"    c->ctx.__none = 0;\n    return c;\n}\n\n"
	"static FRC_UNUSED FRC_NOINLINE void @S_Compartment_unref(@S_Compartment *c)\n{\n"
	"    while (c && --c->_ref_count <= 0) {\n        @S_Compartment *parent = c->parent_compartment;\n"
	"        @S_FrameVec_destroy(c->state_args);\n        @S_FrameDict_destroy(c->state_vars);\n"
	"        @S_FrameVec_destroy(c->enter_args);\n        @S_FrameVec_destroy(c->exit_args);\n"
	"        free(c);\n        c = parent;\n    }\n}\n\n"
	"/* push$: a copy of the whole chain (12 calls per level) */\n"
	"static FRC_UNUSED FRC_NOINLINE @S_Compartment *@S_Compartment_copy(@S_Compartment *src)\n{\n"
	"    if (!src)\n        return NULL;\n    @S_Compartment *parent = @S_Compartment_copy(src->parent_compartment);\n"
	"    @S_Compartment *c = @S_Compartment_new(src->state);\n    c->parent_compartment = parent;\n"
	"    c->ctx = src->ctx;\n    return c;\n}\n\n";

static void types(Out *o, System *sys)
{
	const char *S = sys->name;
	out_sub(o, COMPARTMENT, S);
	out_f(o, "struct %s {\n", S);
	for (int i = 0; i < sys->nfields; i++) {
		out_s(o, "    ");
		c_decl(o, sys->fields[i].type, sys->fields[i].name);
		out_s(o, ";\n");
	}
	out_sub(o, "    @S_FrameVec *_state_stack;\n    @S_Compartment *__compartment;\n"
	           "    @S_Compartment *__next_compartment;\n    @S_FrameVec *_context_stack;\n"
	           "    uint32_t __gen;\n"
	           "    /* `-> pop$` on an empty state stack: counted here; no transition happens. */\n"
	           "    uint32_t __stack_underflows;\n"
	           "    /* `push$` on a full state stack (never in this shape: the FrameVec grows). */\n"
	           "    uint32_t __stack_overflows;\n"
	           "    /* the last allocation published by @S__keep */\n    void *__escape;\n};\n\n"
	           "/* Publishes an allocation so that the optimiser cannot prove it unused and\n"
	           " * delete it: the counts must not depend on the optimisation level. */\n"
	           "#define @S__keep(self, p) ((__typeof__(p))@S__keep_((self), (p)))\n"
	           "static FRC_UNUSED void *@S__keep_(struct @S *self, void *p)\n{\n"
	           "    *(void *volatile *)&self->__escape = p;\n    return p;\n}\n\n",
	        S);
}

static void protos(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "typedef struct %s %s;\n%s *%s_create(void);\nvoid %s_destroy(%s *self);\n", S, S, S, S, S, S);
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
	out_sub(o, "static void @S__route(@S *self, @S_FrameEvent *__e);\n"
	           "static void @S__kernel(@S *self, @S_FrameEvent *__e);\n", S);
	for (int i = 0; i < sys->nstates; i++) {
		out_f(o, "static %s_Compartment *%s__comp_%s(%s *self", S, S, sys->states[i]->name, S);
		for (int k = 0; k < sys->states[i]->params.n; k++) {
			out_s(o, ", ");
			c_decl(o, sys->states[i]->params.v[k].type, sys->states[i]->params.v[k].name);
		}
		out_s(o, ");\n");
	}
}

/* ---- construction ------------------------------------------------------------ */

/* framec's constructor body: the stacks, the domain, the start compartment,
 * then the start `$>` event and its context (routed when `route`). */
static void ctor_body(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "static void %s__ctor_body(%s *self, bool route)\n{\n", S, S);
	out_sub(o, "    self->_state_stack = @S_FrameVec_new();\n    self->_context_stack = @S_FrameVec_new();\n", S);
	c_domain_init(o, sys);
	out_f(o, "    self->__compartment = %s__comp_%s(self);\n", S, sys->states[0]->name);
	out_sub(o, "    self->__next_compartment = NULL;\n"
	           "    @S_FrameEvent *__e = @S_FrameEvent_new(\"$>\", self->__compartment->enter_args, 0);\n"
	           "    @S_FrameContext *__ctx = @S_FrameContext_new(__e, NULL);\n"
	           "    @S_FrameVec_push(self->_context_stack, __ctx);\n"
	           "    if (route)\n        @S__kernel(self, __e);\n"
	           "    @S_FrameContext_destroy((@S_FrameContext *)@S_FrameVec_pop(self->_context_stack));\n"
	           "    @S_FrameEvent_destroy(__e);\n}\n\n",
	        S);
}

static const char *CREATE_DESTROY =
	"/* Builds the system and enters the start state (runs its `$>`). framec's\n"
	" * `_create` runs the constructor body of `_new` a second time; frc makes the\n"
	" * same allocator calls, frees what the first run built and routes `$>` once. */\n"
	"@S *@S_create(void)\n{\n    @S *self = calloc(1, sizeof(@S));\n"
	"    @S__ctor_body(self, false);\n"
	"    @S_Compartment_unref(self->__compartment);\n"
	"    @S_FrameVec_destroy(self->_state_stack);\n    @S_FrameVec_destroy(self->_context_stack);\n"
	"    @S__ctor_body(self, true);\n    return self;\n}\n\n"
	"void @S_destroy(@S *self)\n{\n    if (!self)\n        return;\n"
	"    @S_Compartment_unref(self->__compartment);\n    @S_Compartment_unref(self->__next_compartment);\n"
	"    for (int i = 0; i < self->_state_stack->size; i++)\n"
	"        @S_Compartment_unref((@S_Compartment *)self->_state_stack->items[i]);\n"
	"    @S_FrameVec_destroy(self->_state_stack);\n    @S_FrameVec_destroy(self->_context_stack);\n"
	"    free(self);\n}\n\n";

/* framec's kernel: route, then run the pending transitions: `<$` to the
 * current state, switch (the old compartment released), `$>` to the new one
 * (and the forwarded event after it). */
static const char *KERNEL =
	"static void @S__kernel(@S *self, @S_FrameEvent *__e)\n{\n    @S__route(self, __e);\n"
	"    while (self->__next_compartment != NULL) {\n"
	"        @S_Compartment *next = self->__next_compartment;\n        self->__next_compartment = NULL;\n"
	"        @S_FrameEvent *exit_event = @S__keep(self, @S_FrameEvent_new(\"<$\", self->__compartment->exit_args, 0));\n"
	"        @S__route(self, exit_event);\n        @S_FrameEvent_destroy(exit_event);\n"
	"        @S_Compartment_unref(self->__compartment);\n        self->__compartment = next;\n"
	"        self->__gen++;\n"
	"        @S_FrameEvent *forward = next->forward_event;\n        next->forward_event = NULL;\n"
	"        @S_FrameEvent *enter_event = @S__keep(self, @S_FrameEvent_new(\"$>\", next->enter_args, 0));\n"
	"        @S__route(self, enter_event);\n        @S_FrameEvent_destroy(enter_event);\n"
	"        if (forward)\n            @S__route(self, forward);\n    }\n}\n\n"
	"static FRC_UNUSED void @S__transition(@S *self, @S_Compartment *next)\n{\n"
	"    @S_Compartment_unref(self->__next_compartment);\n    self->__next_compartment = next;\n}\n\n"
	"static FRC_UNUSED @S_FrameContext *@S__ctx_top(@S *self)\n{\n"
	"    return (@S_FrameContext *)@S_FrameVec_last(self->_context_stack);\n}\n\n";

/* ---- the interface ------------------------------------------------------------- */

static void interface(Out *o, System *sys)
{
	const char *S = sys->name;
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		c_method_head(o, sys, m);
		out_s(o, "\n{\n");
		if (c_has_ret(m)) {
			out_s(o, "    ");
			c_decl(o, m->ret, "__ret");
			c_ret_default(o, m);
			out_s(o, ";\n");
		}
		if (m->params.n) {
			out_f(o, "    %s_FrameVec *__params = %s_FrameVec_new();\n", S, S);
			for (int k = 0; k < m->params.n; k++)
				out_f(o, "    %s_FrameVec_push(__params, &%s);\n", S, m->params.v[k].name);
		}
		out_f(o, "    %s_FrameEvent *__e = %s_FrameEvent_new(\"%s\", %s, %d);\n", S, S, m->name,
		      m->params.n ? "__params" : "NULL", m->params.n ? 1 : 0);
		out_f(o, "    %s_FrameContext *__ctx = %s_FrameContext_new(__e, %s);\n", S, S, c_has_ret(m) ? "&__ret" : "NULL");
		out_sub(o, "    @S_FrameVec_push(self->_context_stack, __ctx);\n    @S__kernel(self, __e);\n"
		           "    @S_FrameContext_destroy((@S_FrameContext *)@S_FrameVec_pop(self->_context_stack));\n"
		           "    @S_FrameEvent_destroy(__e);\n",
		        S);
		out_s(o, c_has_ret(m) ? "    return __ret;\n}\n\n" : "}\n\n");
	}
}

/* ---- routing by name ----------------------------------------------------------- */

static void route(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "static void %s__route(%s *self, %s_FrameEvent *__e)\n{\n", S, S, S);
	for (int i = 0; i < sys->nstates; i++)
		out_f(o, "    %sif (strcmp(self->__compartment->state, \"%s\") == 0)\n        %s__state_%s(self, __e);\n",
		      i ? "else " : "", sys->states[i]->name, S, sys->states[i]->name);
	out_s(o, "}\n\n");
}

static void state_router(Out *o, System *sys, State *st)
{
	const char *S = sys->name;
	out_f(o, "static void %s__state_%s(%s *self, %s_FrameEvent *__e)\n{\n", S, st->name, S, S);
	for (int j = 0; j < st->nhandlers; j++) {
		Handler *h = st->handlers[j];
		const char *msg = h->kind == H_ENTER ? "$>" : h->kind == H_EXIT ? "<$" : h->name;
		const char *fn = h->kind == H_ENTER ? "enter" : h->kind == H_EXIT ? "exit" : h->name;
		out_f(o, "    if (strcmp(__e->_message, \"%s\") == 0) {\n        %s__s_%s_%s(self, __e", msg, S, st->name, fn);
		for (int k = 0; h->kind == H_EVENT && k < h->method->params.n; k++) {
			out_s(o, ", *(");
			out_span(o, h->method->params.v[k].type);
			out_f(o, " *)%s_FrameVec_get(__e->_parameters, %d)", S, k);
		}
		out_s(o, ");\n        return;\n    }\n");
	}
	if (st->default_forward && st->parent)
		out_f(o, "    if (strcmp(__e->_message, \"$>\") != 0 && strcmp(__e->_message, \"<$\") != 0)\n"
		         "        %s__state_%s(self, __e);\n",
		      S, st->parent->name);
	out_s(o, "    (void)self;\n    (void)__e;\n}\n\n");
}

/* `S__comp_T(self, state args)`: framec's prepareEnter, a compartment per
 * level, root first. */
static void comp_builders(Out *o, System *sys)
{
	const char *S = sys->name;
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "static FRC_UNUSED %s_Compartment *%s__comp_%s(%s *self", S, S, st->name, S);
		for (int k = 0; k < st->params.n; k++) {
			out_s(o, ", ");
			c_decl(o, st->params.v[k].type, st->params.v[k].name);
		}
		out_s(o, ")\n{\n    (void)self;\n");
		if (st->parent)
			out_f(o, "    %s_Compartment *parent = %s__comp_%s(self);\n", S, S, st->parent->name);
		out_f(o, "    %s_Compartment *c = %s_Compartment_new(\"%s\");\n", S, S, st->name);
		if (st->parent)
			out_s(o, "    c->parent_compartment = parent;\n");
		out_f(o, "    %s__mk_%s(&c->ctx.%s", S, st->name, st->name);
		for (int k = 0; k < st->params.n; k++)
			out_f(o, ", %s", st->params.v[k].name);
		out_s(o, ");\n    return c;\n}\n\n");
	}
}

static void runtime(Out *o, System *sys)
{
	ctor_body(o, sys);
	out_sub(o, CREATE_DESTROY, sys->name);
	out_sub(o, KERNEL, sys->name);
	interface(o, sys);
	route(o, sys);
	for (int i = 0; i < sys->nstates; i++)
		state_router(o, sys, sys->states[i]);
	comp_builders(o, sys);
}

/* ---- forms ------------------------------------------------------------------------ */

/* An ancestor's context lives in a parent compartment: walk up by name. */
static void sv_body(Out *o, System *sys, State *st)
{
	out_f(o, "    %s_Compartment *c = self->__compartment;\n"
	         "    while (c && strcmp(c->state, \"%s\") != 0)\n        c = c->parent_compartment;\n"
	         "    return &c->ctx.%s;\n",
	      sys->name, st->name, st->name);
}

static void ret_place(Out *o, System *sys, Method *m)
{
	out_s(o, "(*(");
	out_span(o, m->ret);
	out_f(o, " *)%s__ctx_top(self)->_return)", sys->name);
}

static void event_arg(Out *o, System *sys, Method *m, int k)
{
	out_s(o, "*(");
	out_span(o, m->params.v[k].type);
	out_f(o, " *)%s_FrameVec_get(__e->_parameters, %d)", sys->name, k);
}

/* One FrameVec per arg list, as framec builds one to hand them over
 * (published through __keep: gcc -O2 deletes a malloc/free pair whose
 * pointer never escapes, and the counts must not depend on -O). */
static void arg_vec(Out *o, System *sys, int n, const char *what)
{
	if (n)
		out_f(o, " %s_FrameVec_destroy(%s__keep(self, %s_FrameVec_new())); /* the %s vector */", sys->name,
		      sys->name, sys->name, what);
}

static void transition(Out *o, System *sys, Handler *h, Form *f)
{
	State *t = f->target_state;
	const char *S = sys->name;
	arg_vec(o, sys, f->n_exit, "exit args");
	arg_vec(o, sys, f->n_state, "state args");
	arg_vec(o, sys, f->n_enter, "enter args");
	out_f(o, " %s_Compartment *__c = %s__comp_%s(self", S, S, t->name);
	for (int i = 0; i < f->n_state; i++)
		out_f(o, ", __sa%d", i);
	out_s(o, ");");
	for (int i = 0; t->enter && i < f->n_enter && i < t->enter->params.n; i++)
		out_f(o, " __c->ctx.%s.e_%s = __ea%d;", t->name, t->enter->params.v[i].name, i);
	if (f->forward)
		out_s(o, " if (strcmp(__e->_message, \"$>\") != 0 && strcmp(__e->_message, \"<$\") != 0)"
		         " __c->forward_event = __e;");
	(void)h;
	out_f(o, " %s__transition(self, __c); return;", S);
}

static void push(Out *o, System *sys)
{
	out_f(o, "%s_FrameVec_push(self->_state_stack, %s_Compartment_copy(self->__compartment));", sys->name,
	      sys->name);
}

static void pop(Out *o, System *sys)
{
	out_f(o, " %s_Compartment *__c = (%s_Compartment *)%s_FrameVec_pop(self->_state_stack);"
	         " if (__c) { %s__transition(self, __c); } else { self->__stack_underflows++; } return;",
	      sys->name, sys->name, sys->name, sys->name);
}

static void state_is(Out *o, System *sys, State *st)
{
	(void)sys;
	out_f(o, "strcmp(self->__compartment->state, \"%s\") == 0", st->name);
}

const CShape c_alloc_shape = {
	.title = "allocating shape (framec's C runtime)",
	.prelude = prelude, .types = types, .protos = protos, .runtime = runtime, .sv_body = sv_body,
	.ret_place = ret_place, .event_arg = event_arg, .transition = transition, .push = push, .pop = pop,
	.state_is = state_is,
};
