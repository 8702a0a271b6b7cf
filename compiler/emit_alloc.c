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
 * through `__keep` (a volatile store of its address). emit.c writes the
 * skeleton; these hooks are where this shape differs from no_alloc. */
#include "frc.h"

#define RC "std::rc::Rc"

static const char *event_type(System *sys)
{
	return xsprintf("&" RC "<%sFrameEvent>", sys->name);
}

/* ---- compartments: the state by name, one Box per HSM level ---------------- */

static void compartment_type(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "#[derive(Clone)]\nstruct %sCompartment {\n"
	         "    state: String,\n"
	         "    ctx: %sStateCtx,\n"
	         "    forward_event: Option<" RC "<%sFrameEvent>>,\n"
	         "    parent_compartment: Option<Box<%sCompartment>>,\n}\n\n",
	      S, S, S, S);
}

static void compartment_value(Out *o, System *sys, State *st)
{
	out_f(o, "        %sCompartment {\n            state: String::from(\"%s\"),\n            ctx: ", sys->name,
	      st->name);
	emit_mk_call(o, sys, st);
	out_s(o, ",\n            forward_event: None,\n");
	if (st->parent)
		out_f(o, "            parent_compartment: Some(Box::new(%s::__comp_%s())),\n", sys->name, st->parent->name);
	else
		out_s(o, "            parent_compartment: None,\n");
	out_s(o, "        }\n");
}

/* An ancestor's context lives in a parent compartment: walk up by name. */
static const char *find_compartment(Out *o, State *st)
{
	out_f(o, "        let mut __c = &mut self.__compartment;\n"
	         "        while __c.state != \"%s\" {\n"
	         "            __c = __c.parent_compartment.as_mut().unwrap();\n"
	         "        }\n",
	      st->name);
	return "__c";
}

static void ctx_of(Out *o, State *st, const char *comp)
{
	(void)st;
	out_f(o, "%s.ctx", comp);
}

static void state_pattern(Out *o, System *sys, State *st)
{
	(void)sys;
	out_f(o, "\"%s\"", st->name);
}

static void runtime(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "    fn __drain(&mut self) {\n"
	         "        while let Some(__next) = self.__next_compartment.take() {\n"
	         "            let __x = " RC "::new(%sFrameEvent::__Exit);\n"
	         "            self.__keep(&*__x);\n"
	         "            self.__route(&__x);\n"
	         "            self.__compartment = __next;\n"
	         "            self.__gen = self.__gen.wrapping_add(1);\n"
	         "            match self.__compartment.forward_event.take() {\n"
	         "                Some(__f) => {\n"
	         "                    if let %sFrameEvent::__Enter = *__f {\n"
	         "                        self.__route(&__f);\n"
	         "                    } else {\n"
	         "                        let __n = " RC "::new(%sFrameEvent::__Enter);\n"
	         "                        self.__keep(&*__n);\n"
	         "                        self.__route(&__n);\n"
	         "                        self.__route(&__f);\n"
	         "                    }\n"
	         "                }\n"
	         "                None => {\n"
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
}

/* ---- the system struct: Vec stacks ------------------------------------------ */

static void stack_fields(Out *o, System *sys)
{
	out_f(o, "    __context_stack: Vec<%sFrameContext>,\n    __state_stack: Vec<%sCompartment>,\n", sys->name,
	      sys->name);
}

static void stack_inits(Out *o, System *sys)
{
	(void)sys;
	out_s(o, "            __context_stack: Vec::new(),\n            __state_stack: Vec::new(),\n");
}

static void enter_start(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "        let __e = " RC "::new(%sFrameEvent::__Enter);\n"
	         "        __s.__context_stack.push(%sFrameContext::__new(__e.clone()));\n"
	         "        // framec re-enters a fresh start compartment here\n"
	         "        __s.__compartment = %s::__comp_%s();\n"
	         "        __s.__route(&__e);\n"
	         "        __s.__drain();\n"
	         "        __s.__context_stack.pop();\n",
	      S, S, S, system_start(sys)->name);
}

/* ---- the context stack: each context holds its Rc event ---------------------- */

static void context_type(Out *o, System *sys)
{
	const char *S = sys->name;
	out_f(o, "struct %sFrameContext {\n    event: " RC "<%sFrameEvent>,\n", S, S);
	emit_ret_fields(o, sys);
	out_s(o, "}\n\n");
	out_f(o, "impl %sFrameContext {\n    fn __new(event: " RC "<%sFrameEvent>) -> %sFrameContext {\n"
	         "        %sFrameContext { event: event,",
	      S, S, S, S);
	emit_ret_nones(o, sys);
	out_s(o, " }\n    }\n}\n\n");
}

static void call_begin(Out *o, System *sys, Method *m)
{
	out_s(o, "        let __e = " RC "::new(");
	emit_event_value(o, sys, m, ".clone()");
	out_f(o, ");\n        let mut __c = %sFrameContext::__new(__e.clone());\n", sys->name);
}

static void context_push(Out *o)
{
	out_s(o, "        self.__context_stack.push(__c);\n");
}

static void context_pop(Out *o, Method *m)
{
	if (m->ret.e > m->ret.b)
		out_f(o, "        let __c = self.__context_stack.pop().unwrap();\n        __c.r_%s.unwrap()\n", m->name);
	else
		out_s(o, "        self.__context_stack.pop();\n");
}

/* ---- Frame statements --------------------------------------------------------- */

static void pop(Out *o)
{
	out_s(o, " match self.__state_stack.pop() { Some(__c) => { self.__next_compartment = Some(__c); }"
	         " None => { self.__stack_underflows += 1; } }");
}

/* The forwarded event is a fresh Rc copy kept in the new compartment. */
static void forward(Out *o, bool fwd)
{
	if (fwd)
		out_s(o, " __c.forward_event = Some(" RC "::new((**__e).clone()));");
}

static void push(Out *o, System *sys)
{
	(void)sys;
	out_s(o, "{ let __c = self.__compartment.clone(); self.__state_stack.push(__c); }");
}

const Emitter alloc_emitter = {
	/* the shape (banner, derives, overflow doc); the router's and context
	 * stack's expressions; the hooks, by name (EMITTER_HOOKS) */
	.name = "alloc", .title = "allocating shape (framec 4.x RFC-0020 runtime)", .derive = "Clone",
	.overflow_doc = "`push$` on a full state stack (never in this shape: the Vec grows).", .escape = true,
	.event_deref = "&**", .state_match = "self.__compartment.state.as_str()", .route_wildcard = true,
	.context_top = "self.__context_stack.last_mut().unwrap()", EMITTER_HOOKS,
};
