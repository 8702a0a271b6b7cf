/* emit_alloc.c — the allocating shape: framec 4.x's RFC-0020 runtime.
 *
 * This is the baseline the audit measures no_alloc against, so it must
 * allocate exactly as framec 4.5 does, per interface call:
 *   the event            Rc::new(event)                      1
 *   a transition         + state-name String, Rc exit event,
 *                          Rc enter event                     +3
 *   forward (-> =>)      + Rc copy of the event kept in the
 *                          new compartment                    +1
 *   push$                + deep clone of the compartment
 *                          (its String; the Vec grows once)   +1
 *   each String param    cloned into the event, and again
 *                          when routed to the handler         +2
 *   HSM level            + String and Box per extra level
 *   __create()           start String (new), context Vec,
 *                          Rc enter event, fresh start
 *                          compartment; frees 2
 * LLVM may delete a malloc/free pair whose pointer never escapes
 * (-C opt-level=3 after inlining), which would make counts depend on the
 * optimiser. Every allocation is therefore stored in `self` or published
 * through `__keep` (a volatile store of its address). */
#include "frc.h"

#define RC "std::rc::Rc"
#define SOME "Some"
#define NONE "None"

static void types(Out *o, System *sys)
{
	const char *S = sys->name;
	emit_event_enum(o, sys, "Clone");
	emit_state_ctx_types(o, sys, "Clone");
	out_f(o, "#[derive(Clone)]\nstruct %sCompartment {\n"
	         "    state: String,\n"
	         "    ctx: %sStateCtx,\n"
	         "    forward_event: Option<" RC "<%sFrameEvent>>,\n"
	         "    parent_compartment: Option<Box<%sCompartment>>,\n}\n\n",
	      S, S, S, S);
	out_f(o, "struct %sFrameContext {\n    event: " RC "<%sFrameEvent>,\n", S, S);
	for (int i = 0; i < sys->nmethods; i++)
		if (sys->methods[i]->ret.e > sys->methods[i]->ret.b) {
			out_f(o, "    r_%s: Option<", sys->methods[i]->name);
			out_span(o, sys->methods[i]->ret);
			out_s(o, ">,\n");
		}
	out_s(o, "}\n\n");
	out_f(o, "impl %sFrameContext {\n    fn __new(event: " RC "<%sFrameEvent>) -> %sFrameContext {\n"
	         "        %sFrameContext { event: event,",
	      S, S, S, S);
	for (int i = 0; i < sys->nmethods; i++)
		if (sys->methods[i]->ret.e > sys->methods[i]->ret.b)
			out_f(o, " r_%s: " NONE ",", sys->methods[i]->name);
	out_s(o, " }\n    }\n}\n\n");
}

static void system_struct(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "pub struct %s {\n", S);
	emit_domain_decls(o, sys);
	out_f(o, "    __compartment: %sCompartment,\n"
	         "    __next_compartment: Option<%sCompartment>,\n"
	         "    __context_stack: Vec<%sFrameContext>,\n"
	         "    __state_stack: Vec<%sCompartment>,\n"
	         "    __gen: u32,\n"
	         "    __escape: usize,\n"
	         "    /// `-> pop$` on an empty state stack: counted here; no transition happens.\n"
	         "    pub __stack_underflows: u32,\n"
	         "    /// `push$` on a full state stack (never in this shape: the Vec grows).\n"
	         "    pub __stack_overflows: u32,\n}\n\n",
	      S, S, S, S);
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
	         "            __context_stack: Vec::new(),\n"
	         "            __state_stack: Vec::new(),\n"
	         "            __gen: 0,\n            __escape: 0,\n"
	         "            __stack_underflows: 0,\n            __stack_overflows: 0,\n"
	         "        }\n    }\n\n",
	      S, start);
	out_f(o, "    /// Builds the system and enters the start state (runs its `$>`).\n"
	         "    pub fn __create() -> %s {\n"
	         "        let mut __s = %s::new();\n"
	         "        let __e = " RC "::new(%sFrameEvent::__Enter);\n"
	         "        __s.__context_stack.push(%sFrameContext::__new(__e.clone()));\n"
	         "        // framec re-enters a fresh start compartment here\n"
	         "        __s.__compartment = %s::__comp_%s();\n"
	         "        __s.__route(&__e);\n"
	         "        __s.__drain();\n"
	         "        __s.__context_stack.pop();\n"
	         "        __s\n    }\n\n",
	      S, S, S, S, S, start);
}

static void interface(Out *o, System *sys)
{
	const char *S = sys->name;
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		bool ret = m->ret.e > m->ret.b;
		emit_iface_sig(o, m);
		out_f(o, "        let __e = " RC "::new(%sFrameEvent::%s", S, m->name);
		if (m->params.n) {
			out_s(o, " {");
			for (int k = 0; k < m->params.n; k++)
				out_f(o, " %s: %s.clone(),", m->params.v[k].name, m->params.v[k].name);
			out_s(o, " }");
		}
		out_s(o, ");\n");
		out_f(o, "        let mut __c = %sFrameContext::__new(__e.clone());\n", S);
		if (ret) {
			out_f(o, "        __c.r_%s = " SOME "(", m->name);
			emit_ret_default(o, m);
			out_s(o, ");\n");
		}
		out_s(o, "        self.__context_stack.push(__c);\n"
		         "        self.__route(&__e);\n"
		         "        self.__drain();\n");
		if (ret)
			out_f(o, "        let __c = self.__context_stack.pop().unwrap();\n"
			         "        __c.r_%s.unwrap()\n",
			      m->name);
		else
			out_s(o, "        self.__context_stack.pop();\n");
		out_s(o, "    }\n\n");
	}
}

static void runtime(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "    fn __route(&mut self, __e: &" RC "<%sFrameEvent>) {\n"
	         "        match self.__compartment.state.as_str() {\n",
	      S);
	for (int i = 0; i < sys->nstates; i++)
		out_f(o, "            \"%s\" => self.__state_%s(__e),\n", sys->states[i]->name, sys->states[i]->name);
	out_s(o, "            _ => {}\n        }\n    }\n\n");

	out_f(o, "    fn __drain(&mut self) {\n"
	         "        while let " SOME "(__next) = self.__next_compartment.take() {\n"
	         "            let __x = " RC "::new(%sFrameEvent::__Exit);\n"
	         "            self.__keep(&*__x);\n"
	         "            self.__route(&__x);\n"
	         "            self.__compartment = __next;\n"
	         "            self.__gen = self.__gen.wrapping_add(1);\n"
	         "            match self.__compartment.forward_event.take() {\n"
	         "                " SOME "(__f) => {\n"
	         "                    if let %sFrameEvent::__Enter = *__f {\n"
	         "                        self.__route(&__f);\n"
	         "                    } else {\n"
	         "                        let __n = " RC "::new(%sFrameEvent::__Enter);\n"
	         "                        self.__keep(&*__n);\n"
	         "                        self.__route(&__n);\n"
	         "                        self.__route(&__f);\n"
	         "                    }\n"
	         "                }\n"
	         "                " NONE " => {\n"
	         "                    let __n = " RC "::new(%sFrameEvent::__Enter);\n"
	         "                    self.__keep(&*__n);\n"
	         "                    self.__route(&__n);\n"
	         "                }\n"
	         "            }\n        }\n    }\n\n",
	      S, S, S, S);

	out_s(o, "    /// Publishes an address so that LLVM cannot prove the allocation behind it\n"
	         "    /// unused and delete it: counts must not depend on the opt-level.\n"
	         "    #[inline(always)]\n"
	         "    fn __keep<T: ?Sized>(&mut self, v: &T) {\n"
	         "        unsafe { std::ptr::write_volatile(&mut self.__escape, v as *const T as *const u8 as usize) }\n"
	         "    }\n\n");

	for (int i = 0; i < sys->nstates; i++) {
		State *st = sys->states[i];
		out_f(o, "    fn __comp_%s(", st->name);
		for (int k = 0; k < st->params.n; k++) {
			out_f(o, "%s%s: ", k ? ", " : "", st->params.v[k].name);
			out_span(o, st->params.v[k].type);
		}
		out_f(o, ") -> %sCompartment {\n        %sCompartment {\n"
		         "            state: String::from(\"%s\"),\n"
		         "            ctx: %sStateCtx::%s(%s::__mk_%s(",
		      S, S, st->name, S, st->name, S, st->name);
		for (int k = 0; k < st->params.n; k++)
			out_f(o, "%s%s", k ? ", " : "", st->params.v[k].name);
		out_s(o, ")),\n            forward_event: " NONE ",\n");
		if (st->parent)
			out_f(o, "            parent_compartment: " SOME "(Box::new(%s::__comp_%s())),\n", S,
			      st->parent->name);
		else
			out_s(o, "            parent_compartment: " NONE ",\n");
		out_s(o, "        }\n    }\n\n");

		out_f(o, "    fn __sv_%s(&mut self) -> &mut %s_%s_Ctx {\n"
		         "        let mut __c = &mut self.__compartment;\n"
		         "        while __c.state != \"%s\" {\n"
		         "            __c = __c.parent_compartment.as_mut().unwrap();\n"
		         "        }\n"
		         "        match &mut __c.ctx {\n"
		         "            %sStateCtx::%s(__v) => __v,\n"
		         "            _ => unreachable!(),\n"
		         "        }\n    }\n\n",
		      st->name, S, st->name, st->name, S, st->name);
	}
	emit_mk_state_fns(o, sys, "    ");
	out_s(o, "\n");
	for (int i = 0; i < sys->nmethods; i++) {
		Method *m = sys->methods[i];
		if (m->ret.e <= m->ret.b)
			continue;
		out_f(o, "    fn __ret_%s(&mut self) -> &mut ", m->name);
		out_span(o, m->ret);
		out_f(o, " {\n        self.__context_stack.last_mut().unwrap().r_%s.as_mut().unwrap()\n    }\n\n", m->name);
	}
	emit_state_routers(o, sys, xsprintf("&" RC "<%sFrameEvent>", S), "&**");
}

static void a_system(Out *o, System *sys)
{
	out_f(o, "// ---- system %s (%s:%d): allocating shape (framec 4.x RFC-0020 runtime) ----\n", sys->name,
	      cur_src->path, tok_line(sys->tok));
	types(o, sys);
	system_struct(o, sys);
	out_f(o, "impl %s {\n", sys->name);
	constructors(o, sys);
	interface(o, sys);
	runtime(o, sys);
	emit_handler_fns(o, &alloc_emitter, sys, xsprintf("&" RC "<%sFrameEvent>", sys->name), true);
	emit_actions(o, sys, &alloc_emitter);
	out_f(o, "}\n// ---- end of system %s ----\n", sys->name);
}

static void a_transition(Out *o, System *sys, Handler *h, Form *f)
{
	const char *S = sys->name;
	out_s(o, "{");
	emit_transition_args(o, &alloc_emitter, sys, h, f);
	if (f->pop) {
		out_s(o, " match self.__state_stack.pop() { " SOME "(__c) => { self.__next_compartment = " SOME
		         "(__c); } " NONE " => { self.__stack_underflows += 1; } } return; }");
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
		out_f(o, " if let %sStateCtx::%s(ref mut __v) = __c.ctx {", S, t->name);
		for (int i = 0; i < f->n_enter; i++)
			out_f(o, " __v.e_%s = " SOME "(__ea%d);", t->enter->params.v[i].name, i);
		out_s(o, " }");
	}
	if (f->forward)
		out_s(o, " __c.forward_event = " SOME "(" RC "::new((**__e).clone()));");
	out_s(o, " self.__next_compartment = " SOME "(__c); return; }");
}

static void a_push(Out *o, System *sys, Handler *h, Form *f)
{
	(void)sys, (void)h, (void)f;
	out_s(o, "{ let __c = self.__compartment.clone(); self.__state_stack.push(__c); }");
}

const Emitter alloc_emitter = {
	.name = "alloc",
	.system = a_system,
	.transition = a_transition,
	.push = a_push,
};
