/* emit_noalloc.c — the RFC-0036 shape: zero heap allocations per dispatch.
 *
 * Everything is a Copy value stored inline in the system struct:
 *   event         Copy enum, passed by reference
 *   state         Copy enum; the router matches on it
 *   compartment   the leaf state plus a fixed array holding one per-state
 *                 context (state args, state vars, enter/exit args) per
 *                 HSM level; state S always lives at chain[depth(S)]
 *   contexts      fixed array sized by check.c from the self-call graph
 *   push$ stack   fixed array of `@@[no_alloc(state_stack = N)]` entries
 * Only prelude names (Option, Some, None, Default) and no paths at all: the
 * module builds in a #![no_std] crate, in any edition,
 * without `alloc`. It touches no lazily initialised std state.
 *
 * Defined behaviour at the edges (the same in the allocating shape):
 *   push$ on a full stack  ignored; `__stack_overflows` counts it
 *   -> pop$ on an empty    no transition (the handler still ends);
 *   stack                  `__stack_underflows` counts it
 * Array indexing stays bounds-checked, so a bug can panic but never
 * corrupt memory. emit.c writes the skeleton; these hooks are where this
 * shape differs from the allocating one. */
#include "frc.h"

static const char *event_type(System *sys)
{
	return xsprintf("&%sFrameEvent", sys->name);
}

static int stack_cap(System *sys)
{
	return sys->state_stack > 0 ? sys->state_stack : 0;
}

/* ---- compartments: a state enum and a fixed chain of contexts ---------------- */

static void compartment_type(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "#[derive(Clone, Copy, PartialEq, Eq)]\nenum %sState {\n", S);
	for (int i = 0; i < sys->nstates; i++)
		out_f(o, "    %s,\n", sys->states[i]->name);
	out_s(o, "}\n\n");
	out_f(o, "/// A compartment: the leaf state and one context per HSM level (root first).\n"
	         "#[derive(Clone, Copy)]\nstruct %sCompartment {\n    state: %sState,\n    chain: [%sStateCtx; %d],\n}\n\n",
	      S, S, S, sys->hsm_depth);
}

static void compartment_value(Out *o, System *sys, State *st)
{
	const char *S = sys->name;
	out_f(o, "        let mut __c = %sCompartment { state: %sState::%s, chain: [%sStateCtx::__None; %d] };\n", S, S,
	      st->name, S, sys->hsm_depth);
	for (State *a = st->parent; a; a = a->parent)
		out_f(o, "        __c.chain[%d] = %sStateCtx::%s(%s::__mk_%s());\n", a->depth, S, a->name, S, a->name);
	out_f(o, "        __c.chain[%d] = ", st->depth);
	emit_mk_call(o, sys, st);
	out_s(o, ";\n        __c\n");
}

/* State S always lives at chain[depth(S)] of the current compartment. */
static const char *find_compartment(Out *o, State *st)
{
	(void)o, (void)st;
	return "self.__compartment";
}

static void ctx_of(Out *o, State *st, const char *comp)
{
	out_f(o, "%s.chain[%d]", comp, st->depth);
}

static void state_pattern(Out *o, System *sys, State *st)
{
	out_f(o, "%sState::%s", sys->name, st->name);
}

/* `$>` and `<$` go to the leaf state only, so they need no full route:
 * __enter()/__exit() match just the states that have such a handler, and
 * are empty (free after inlining) when none has.  Measured on
 * modal_editor: a transition's dispatch went from 168 to 111 instructions. */
static void lifecycle(Out *o, System *sys, const char *fn, const char *event, bool enter)
{
	out_f(o, "    fn __%s(&mut self) {\n        match self.__compartment.state {\n", fn);
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		if (enter ? st->enter != NULL : st->exit != NULL) {
			out_s(o, "            ");
			state_pattern(o, sys, st);
			out_f(o, " => self.__state_%s(&%sFrameEvent::%s),\n", st->name, sys->name, event);
		}
	}
	out_s(o, "            _ => {}\n        }\n    }\n\n");
}

static void runtime(Out *o, System *sys)
{
	lifecycle(o, sys, "enter", "__Enter", true);
	lifecycle(o, sys, "exit", "__Exit", false);
	out_f(o, "    fn __drain(&mut self) {\n"
	         "        while let Some(__next) = self.__next_compartment.take() {\n"
	         "            self.__exit();\n"
	         "            self.__compartment = __next;\n"
	         "            self.__gen = self.__gen.wrapping_add(1);\n"
	         "            match self.__forward.take() {\n"
	         "                None | Some(%sFrameEvent::__Enter) => self.__enter(),\n"
	         "                Some(__f) => {\n"
	         "                    self.__enter();\n"
	         "                    self.__route(&__f);\n"
	         "                }\n"
	         "            }\n        }\n    }\n\n",
	      sys->name);
}

/* ---- the system struct: fixed arrays ------------------------------------------ */

static void stack_fields(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "    __forward: Option<%sFrameEvent>,\n"
	         "    /// Sized from the self-call graph: at most %d nested interface call%s.\n"
	         "    __context_stack: [%sFrameContext; %d],\n"
	         "    __context_top: usize,\n"
	         "    __state_stack: [%sCompartment; %d],\n"
	         "    __state_stack_len: usize,\n",
	      S, sys->ctx_depth, sys->ctx_depth == 1 ? "" : "s", S, sys->ctx_depth, S, stack_cap(sys));
}

static void stack_inits(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "            __forward: None,\n"
	         "            __context_stack: [%sFrameContext::EMPTY; %d],\n"
	         "            __context_top: 0,\n"
	         "            __state_stack: [%s::__comp_%s(); %d],\n"
	         "            __state_stack_len: 0,\n",
	      S, sys->ctx_depth, S, system_start(sys)->name, stack_cap(sys));
}

static void enter_start(Out *o, System *sys)
{
	(void)sys;
	out_s(o, "        __s.__enter();\n        __s.__drain();\n");
}

/* ---- the context stack: return slots only ------------------------------------ */

static void context_type(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "/// One interface call in progress: its return slot.\n#[derive(Clone, Copy)]\nstruct %sFrameContext {\n",
	      S);
	emit_ret_fields(o, sys);
	out_s(o, "}\n\n");
	out_f(o, "impl %sFrameContext {\n    const EMPTY: %sFrameContext = %sFrameContext {", S, S, S);
	emit_ret_nones(o, sys);
	out_s(o, " };\n}\n\n");
}

static void call_begin(Out *o, System *sys, Method *m)
{
	out_s(o, "        let __e = ");
	emit_event_value(o, sys, m, "");
	out_f(o, ";\n        let mut __c = %sFrameContext::EMPTY;\n", sys->name);
}

static void context_push(Out *o)
{
	out_s(o, "        self.__context_stack[self.__context_top] = __c;\n        self.__context_top += 1;\n");
}

static void context_pop(Out *o, Method *m)
{
	out_s(o, "        self.__context_top -= 1;\n");
	if (m->ret.e > m->ret.b)
		out_f(o, "        self.__context_stack[self.__context_top].r_%s.unwrap()\n", m->name);
}

/* ---- Frame statements --------------------------------------------------------- */

static void pop(Out *o)
{
	out_s(o, " if self.__state_stack_len > 0 { self.__state_stack_len -= 1; self.__forward = None;"
	         " self.__next_compartment = Some(self.__state_stack[self.__state_stack_len]); }"
	         " else { self.__stack_underflows += 1; }");
}

/* __forward belongs to the system, not to a compartment: every transition
 * sets or clears it. */
static void forward(Out *o, bool fwd)
{
	out_s(o, fwd ? " self.__forward = Some(*__e);" : " self.__forward = None;");
}

static void push(Out *o, System *sys)
{
	out_f(o, "{ if self.__state_stack_len < %d { self.__state_stack[self.__state_stack_len] = self.__compartment; "
	         "self.__state_stack_len += 1; } else { self.__stack_overflows += 1; } }",
	      stack_cap(sys));
}

const Emitter noalloc_emitter = {
	/* the shape (banner, derives, overflow doc); the router's and context
	 * stack's expressions; the hooks, by name (EMITTER_HOOKS) */
	.name = "noalloc", .title = "no_alloc shape (RFC-0036)", .derive = "Clone, Copy",
	.overflow_doc = "`push$` on a full state stack: ignored and counted here.", .escape = false,
	.event_deref = "", .state_match = "self.__compartment.state", .route_wildcard = false,
	.context_top = "self.__context_stack[self.__context_top - 1]", EMITTER_HOOKS,
};
