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
 * corrupt memory. */
#include "frc.h"

#define SOME "Some"
#define NONE "None"

static void types(Out *o, System *sys)
{
	const char *S = sys->name;
	emit_event_enum(o, sys, "Clone, Copy");
	emit_state_ctx_types(o, sys, "Clone, Copy");
	out_f(o, "#[derive(Clone, Copy, PartialEq, Eq)]\nenum %sState {\n", S);
	for (int i = 0; i < sys->nstates; i++)
		out_f(o, "    %s,\n", sys->states[i]->name);
	out_s(o, "}\n\n");
	out_f(o, "/// A compartment: the leaf state and one context per HSM level (root first).\n"
	         "#[derive(Clone, Copy)]\nstruct %sCompartment {\n    state: %sState,\n    chain: [%sStateCtx; %d],\n}\n\n",
	      S, S, S, sys->hsm_depth);
	out_f(o, "/// One interface call in progress: its return slot.\n#[derive(Clone, Copy)]\nstruct %sFrameContext {\n",
	      S);
	for (int i = 0; i < sys->nmethods; i++)
		if (sys->methods[i]->ret.e > sys->methods[i]->ret.b) {
			out_f(o, "    r_%s: Option<", sys->methods[i]->name);
			out_span(o, sys->methods[i]->ret);
			out_s(o, ">,\n");
		}
	out_s(o, "}\n\n");
	out_f(o, "impl %sFrameContext {\n    const EMPTY: %sFrameContext = %sFrameContext {", S, S, S);
	for (int i = 0; i < sys->nmethods; i++)
		if (sys->methods[i]->ret.e > sys->methods[i]->ret.b)
			out_f(o, " r_%s: " NONE ",", sys->methods[i]->name);
	out_s(o, " };\n}\n\n");
}

static int stack_cap(System *sys)
{
	return sys->state_stack > 0 ? sys->state_stack : 0;
}

static void system_struct(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "pub struct %s {\n", S);
	emit_domain_decls(o, sys);
	out_f(o, "    __compartment: %sCompartment,\n"
	         "    __next_compartment: Option<%sCompartment>,\n"
	         "    __forward: Option<%sFrameEvent>,\n"
	         "    /// Sized from the self-call graph: at most %d nested interface call%s.\n"
	         "    __context_stack: [%sFrameContext; %d],\n"
	         "    __context_top: usize,\n"
	         "    __state_stack: [%sCompartment; %d],\n"
	         "    __state_stack_len: usize,\n"
	         "    __gen: u32,\n"
	         "    /// `-> pop$` on an empty state stack: counted here; no transition happens.\n"
	         "    pub __stack_underflows: u32,\n"
	         "    /// `push$` on a full state stack: ignored and counted here.\n"
	         "    pub __stack_overflows: u32,\n}\n\n",
	      S, S, S, sys->ctx_depth, sys->ctx_depth == 1 ? "" : "s", S, sys->ctx_depth, S, stack_cap(sys));
}

static void constructors(Out *o, System *sys)
{
	const char *S = sys->name, *start = system_start(sys)->name;
	out_f(o, "    /// Builds the system in its start state without running `$>`.\n"
	         "    pub fn new() -> %s {\n        %s {\n",
	      S, S);
	emit_domain_inits(o, sys, "            ");
	out_f(o, "            __compartment: %s::__comp_%s(),\n"
	         "            __next_compartment: " NONE ",\n"
	         "            __forward: " NONE ",\n"
	         "            __context_stack: [%sFrameContext::EMPTY; %d],\n"
	         "            __context_top: 0,\n"
	         "            __state_stack: [%s::__comp_%s(); %d],\n"
	         "            __state_stack_len: 0,\n"
	         "            __gen: 0,\n"
	         "            __stack_underflows: 0,\n            __stack_overflows: 0,\n"
	         "        }\n    }\n\n",
	      S, start, S, sys->ctx_depth, S, start, stack_cap(sys));
	out_f(o, "    /// Builds the system and enters the start state (runs its `$>`).\n"
	         "    pub fn __create() -> %s {\n"
	         "        let mut __s = %s::new();\n"
	         "        __s.__enter();\n"
	         "        __s.__drain();\n"
	         "        __s\n    }\n\n",
	      S, S);
}

static void interface(Out *o, System *sys)
{
	const char *S = sys->name;
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		bool ret = m->ret.e > m->ret.b;
		emit_iface_sig(o, m);
		out_f(o, "        let __e = %sFrameEvent::%s", S, m->name);
		if (m->params.n) {
			out_s(o, " {");
			for (int k = 0; k < m->params.n; k++)
				out_f(o, " %s: %s,", m->params.v[k].name, m->params.v[k].name);
			out_s(o, " }");
		}
		out_s(o, ";\n");
		out_f(o, "        let mut __c = %sFrameContext::EMPTY;\n", S);
		if (ret) {
			out_f(o, "        __c.r_%s = " SOME "(", m->name);
			emit_ret_default(o, m);
			out_s(o, ");\n");
		}
		out_s(o, "        self.__context_stack[self.__context_top] = __c;\n"
		         "        self.__context_top += 1;\n"
		         "        self.__route(&__e);\n"
		         "        self.__drain();\n"
		         "        self.__context_top -= 1;\n");
		if (ret)
			out_f(o, "        self.__context_stack[self.__context_top].r_%s.unwrap()\n", m->name);
		out_s(o, "    }\n\n");
	}
}

/* `$>` and `<$` go to the leaf state only, so they need no full route:
 * __enter()/__exit() match just the states that have such a handler, and
 * are empty (free after inlining) when none has.  Measured on
 * modal_editor: a transition's dispatch went from 168 to 111 instructions. */
static void lifecycle(Out *o, System *sys, const char *fn, const char *event, bool enter)
{
	const char *S = sys->name;
	out_f(o, "    fn __%s(&mut self) {\n        match self.__compartment.state {\n", fn);
	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		if (enter ? st->enter != NULL : st->exit != NULL)
			out_f(o, "            %sState::%s => self.__state_%s(&%sFrameEvent::%s),\n",
			      S, st->name, st->name, S, event);
	}
	out_s(o, "            _ => {}\n        }\n    }\n\n");
}

static void runtime(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "    fn __route(&mut self, __e: &%sFrameEvent) {\n        match self.__compartment.state {\n", S);
	for (int i = 0; i < sys->nstates; i++)
		out_f(o, "            %sState::%s => self.__state_%s(__e),\n", S, sys->states[i]->name,
		      sys->states[i]->name);
	out_s(o, "        }\n    }\n\n");

	lifecycle(o, sys, "enter", "__Enter", true);
	lifecycle(o, sys, "exit", "__Exit", false);
	out_f(o, "    fn __drain(&mut self) {\n"
	         "        while let " SOME "(__next) = self.__next_compartment.take() {\n"
	         "            self.__exit();\n"
	         "            self.__compartment = __next;\n"
	         "            self.__gen = self.__gen.wrapping_add(1);\n"
	         "            match self.__forward.take() {\n"
	         "                " NONE " | " SOME "(%sFrameEvent::__Enter) => self.__enter(),\n"
	         "                " SOME "(__f) => {\n"
	         "                    self.__enter();\n"
	         "                    self.__route(&__f);\n"
	         "                }\n"
	         "            }\n        }\n    }\n\n",
	      S);

	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "    fn __comp_%s(", st->name);
		for (int k = 0; k < st->params.n; k++) {
			out_f(o, "%s%s: ", k ? ", " : "", st->params.v[k].name);
			out_span(o, st->params.v[k].type);
		}
		out_f(o, ") -> %sCompartment {\n"
		         "        let mut __c = %sCompartment { state: %sState::%s, chain: [%sStateCtx::__None; %d] };\n",
		      S, S, S, st->name, S, sys->hsm_depth);
		for (State *a = st->parent; a; a = a->parent)
			out_f(o, "        __c.chain[%d] = %sStateCtx::%s(%s::__mk_%s());\n", a->depth, S, a->name, S, a->name);
		out_f(o, "        __c.chain[%d] = %sStateCtx::%s(%s::__mk_%s(", st->depth, S, st->name, S, st->name);
		for (int k = 0; k < st->params.n; k++)
			out_f(o, "%s%s", k ? ", " : "", st->params.v[k].name);
		out_s(o, "));\n        __c\n    }\n\n");

		out_f(o, "    fn __sv_%s(&mut self) -> &mut %s_%s_Ctx {\n"
		         "        match &mut self.__compartment.chain[%d] {\n"
		         "            %sStateCtx::%s(__v) => __v,\n"
		         "            _ => unreachable!(),\n"
		         "        }\n    }\n\n",
		      st->name, S, st->name, st->depth, S, st->name);
	}
	emit_mk_state_fns(o, sys, "    ");
	out_s(o, "\n");
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		if (m->ret.e <= m->ret.b)
			continue;
		out_f(o, "    fn __ret_%s(&mut self) -> &mut ", m->name);
		out_span(o, m->ret);
		out_f(o, " {\n        self.__context_stack[self.__context_top - 1].r_%s.as_mut().unwrap()\n    }\n\n",
		      m->name);
	}
	emit_state_routers(o, sys, xsprintf("&%sFrameEvent", S), "");
}

static void n_system(Out *o, System *sys)
{
	out_f(o, "// ---- system %s (%s:%d): no_alloc shape (RFC-0036) ----\n", sys->name, cur_src->path,
	      tok_line(sys->tok));
	types(o, sys);
	system_struct(o, sys);
	out_f(o, "impl %s {\n", sys->name);
	constructors(o, sys);
	interface(o, sys);
	runtime(o, sys);
	emit_handler_fns(o, &noalloc_emitter, sys, xsprintf("&%sFrameEvent", sys->name), false);
	emit_actions(o, sys, &noalloc_emitter);
	out_f(o, "}\n// ---- end of system %s ----\n", sys->name);
}

static void n_transition(Out *o, System *sys, Handler *h, Form *f)
{
	const char *S = sys->name;
	out_s(o, "{");
	emit_transition_args(o, &noalloc_emitter, sys, h, f);
	if (f->pop) {
		out_s(o, " if self.__state_stack_len > 0 { self.__state_stack_len -= 1; self.__forward = " NONE
		         "; self.__next_compartment = " SOME "(self.__state_stack[self.__state_stack_len]); }"
		         " else { self.__stack_underflows += 1; } return; }");
		return;
	}
	State *t = f->target_state;
	if (!t)
		die("transition at %d:%d reached the emitter unresolved", f->line, f->col);
	out_f(o, " let mut __c = %s::__comp_%s(", S, t->name);
	for (int i = 0; i < f->n_state; i++)
		out_f(o, "%s__sa%d", i ? ", " : "", i);
	out_s(o, ");");
	if (t->enter && f->n_enter) {
		out_f(o, " if let %sStateCtx::%s(ref mut __v) = __c.chain[%d] {", S, t->name, t->depth);
		for (int i = 0; i < f->n_enter; i++)
			out_f(o, " __v.e_%s = " SOME "(__ea%d);", t->enter->params.v[i].name, i);
		out_s(o, " }");
	}
	out_s(o, f->forward ? " self.__forward = " SOME "(*__e);" : " self.__forward = " NONE ";");
	out_s(o, " self.__next_compartment = " SOME "(__c); return; }");
}

static void n_push(Out *o, System *sys, Handler *h, Form *f)
{
	(void)h, (void)f;
	out_f(o, "{ if self.__state_stack_len < %d { self.__state_stack[self.__state_stack_len] = self.__compartment; "
	         "self.__state_stack_len += 1; } else { self.__stack_overflows += 1; } }",
	      stack_cap(sys));
}

const Emitter noalloc_emitter = {
	.name = "noalloc",
	.system = n_system,
	.transition = n_transition,
	.push = n_push,
};
