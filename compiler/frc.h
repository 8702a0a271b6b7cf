/* frc.h — the one internal header of the Frame reference compiler.
 *
 * Pipeline: main.c (CLI) → lex.c (tokens, using scan.c's Rust lexical
 * skippers) → parse.c (AST) → check.c (semantics + no_alloc profile) →
 * emit.c (shared walk) → emit_alloc.c | emit_noalloc.c (the two shapes).
 * diag.c is the only module that prints user diagnostics. util.c (the
 * arena, the output buffer Out, die) is used by all and uses none of them.
 *
 * Memory: everything is allocated from an arena (xalloc) and released all
 * at once by frc_release() (the frc executable simply exits). Nothing is
 * freed earlier; no function frees what it is given.
 *
 * State: one compilation at a time. The few globals (cur_src, the token
 * list, the diagnostics, the self-call graph) are reset by frc_release(),
 * so a process may compile any number of buffers in sequence (fuzz/).
 */
#ifndef FRC_H
#define FRC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define FRC_VERSION "0.1.0"

/* Exit codes shared with framec. */
enum { EXIT_OK = 0, EXIT_USAGE = 64, EXIT_REJECTED = 65, EXIT_NOINPUT = 66 };

typedef struct Token Token;
typedef struct Body Body;
typedef struct Form Form;
typedef struct State State;
typedef struct Method Method;
typedef struct System System;

/* ---- util.c: arena, strings, die, the output buffer --------------------- */

void *xalloc(size_t n);                  /* zeroed; dies on exhaustion */
void arena_free_all(void);               /* frees every xalloc block */
char *xstrndup(const char *s, size_t n);
char *xsprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvsprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
#define VEC_PUSH(arr, n, cap, item)                                        \
	do {                                                                   \
		if ((n) == (cap)) {                                                \
			int nc__ = (cap) ? (cap) * 2 : 8;                              \
			void *p__ = xalloc(sizeof(*(arr)) * (size_t)nc__);             \
			if (n)                                                         \
				memcpy(p__, (arr), sizeof(*(arr)) * (size_t)(n));          \
			(arr) = p__;                                                   \
			(cap) = nc__;                                                  \
		}                                                                  \
		(arr)[(n)++] = (item);                                             \
	} while (0)

/* Internal compiler bug: prints "frc: internal error: ..." and aborts. */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable text buffer in the arena; buf is NUL-terminated (NULL while
 * empty). */
typedef struct Out {
	char *buf;
	size_t len, cap;
	/* Inside a handler or action body: the .frs line (and, when it starts
	 * mid-line, the column) the current output line starts on, written as
	 * its `// frs:N` / `// frs:N:C` line marker (emit_body); 0 elsewhere. */
	int frs_line, frs_col;
} Out;

void out_s(Out *o, const char *s);
void out_n(Out *o, const char *s, size_t n);
void out_f(Out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- diag.c ------------------------------------------------------------ */

/* The source being compiled: one file per run. */
typedef struct Source {
	const char *path;  /* as given on the command line */
	const char *text;  /* NUL-terminated */
	int len;
} Source;

extern Source *cur_src;
extern FILE *diag_out;   /* where diagnostics go; NULL means stderr */

/* Records `path:line:col: error[code]: message` plus the source line and a
 * caret under [col, col+width); flush_diagnostics() prints them sorted.
 * Errors beyond DIAG_LIMIT are dropped with one "too many errors" line. */
#define DIAG_LIMIT 20
void error_at(int line, int col, int width, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void error_tok(const Token *t, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prints the collected diagnostics in source order. */
void flush_diagnostics(void);
int error_count(void);
void diag_reset(void);
/* Length of the valid UTF-8 sequence at s[i], 0 when it is not UTF-8. */
int utf8_seq_len(const char *s, int len, int i);

/* ---- scan.c: Rust lexical structure ------------------------------------ */

/* Each returns the offset just past the construct starting at `i`, or -1
 * when it is unterminated. */
int scan_line_comment(const char *s, int len, int i);
int scan_block_comment(const char *s, int len, int i);   /* nests */
int scan_string(const char *s, int len, int i);          /* "..." (after b/c prefix) */
int scan_raw_string(const char *s, int len, int i);      /* r#"..."# at the 'r' */
/* At a quote: a char literal returns its end; a lifetime returns 0 via
 * *is_lifetime (and the end of the label). */
int scan_quote(const char *s, int len, int i, bool *is_lifetime);
bool is_ident_start(int c);
bool is_ident_char(int c);

/* ---- lex.c --------------------------------------------------------------- */

typedef enum { TK_IDENT, TK_LIFETIME, TK_NUM, TK_STR, TK_CHAR, TK_PUNCT, TK_EOF } TokKind;

struct Token {
	TokKind kind;
	int start, end;      /* byte offsets into cur_src->text */
	int line, col;       /* 1-based; col counts characters */
	bool space_before;   /* whitespace or a comment precedes it */
};

typedef struct TokList {
	Token *v;
	int n;  /* v[n-1] is TK_EOF */
} TokList;

/* Tokenizes the whole file into src_toks (and *out). Returns false after
 * reporting lexical errors. */
bool lex_file(TokList *out);
/* E008: the source must be UTF-8 text without NUL bytes (rustc reads the
 * output); reports the first offending byte. */
bool check_text(void);
extern TokList src_toks;
#define TOK(k) (&src_toks.v[(k)])
bool tok_is(const Token *t, const char *s);
char *tok_str(const Token *t);

/* ---- parse.c: the AST ------------------------------------------------------ */

/* A token range [b, e) of opaque Rust text (types, defaults, initialisers). */
typedef struct Span {
	int b, e;
} Span;

typedef struct Param {
	char *name;
	int tok;        /* the name token */
	Span type;      /* empty when omitted (handlers) */
} Param;

typedef struct Params {
	Param *v;
	int n, cap;
} Params;

/* Frame forms spliced into native handler/action bodies. */
typedef enum {
	F_TRANSITION,   /* (x) -> (a) $S(s), -> => $S, -> pop$ */
	F_PUSH,         /* push$ */
	F_PARENT,       /* => $^ */
	F_STATE_VAR,    /* $.x */
	F_RETURN_PLACE, /* @@:return  (followed by native `= e`) */
	F_RETURN_SET,   /* @@:(e) */
	F_RETURN_LEAVE, /* @@:return(e) */
	F_SELF_CALL,    /* @@:self.m(args): interface method or action */
	F_SELF_FIELD,   /* @@:self.field */
} FormKind;

struct Form {
	FormKind kind;
	int tb, te;          /* token span replaced by the emitter */
	int line, col;
	/* transition */
	Body **exit_args;  int n_exit;  bool has_exit;
	Body **enter_args; int n_enter; bool has_enter;
	Body **state_args; int n_state; bool has_state;
	bool forward, pop;
	char *target; int target_tok;
	State *target_state;       /* resolved by check.c */
	/* state var, self call, field */
	char *name; int name_tok;
	Body **args; int nargs;     /* self-call args */
	Body *expr;                  /* @@:(e), @@:return(e) */
	State *var_state;            /* resolved: the state declaring $.x */
	Method *callee;              /* resolved: interface method (else action) */
	bool is_action;
};

/* A native body: tokens [tb, te) with Frame forms at increasing spans. */
struct Body {
	int tb, te;
	Form **forms;
	int nforms, cap;
};

typedef enum { H_EVENT, H_ENTER, H_EXIT } HandlerKind;

typedef struct Handler {
	HandlerKind kind;
	char *name;       /* method name; "$>" / "<$" for lifecycle */
	int tok;
	Params params;
	Span ret;         /* optional declared return type */
	Body *body;
	State *state;
	Method *method;   /* resolved for H_EVENT */
	/* check.c, for handlers that transition: how many states can be the
	 * current (leaf) state while this handler runs (its own state and each
	 * descendant from which its event reaches it through `=> $^`; the exit
	 * args of a transition here go to the `<$` of the one being left), how
	 * many of them have a `<$` that takes parameters, the first of those
	 * (own state first) and the first whose parameter types differ from
	 * its; exit_helper: the transitions store their exit args through
	 * `__xa_<exit_first->exit_sig>()`, not straight into their own state. */
	int nleaves, n_exit_leaves;
	State *exit_first, *exit_other;
	bool leaves_done, exit_helper;
} Handler;

typedef struct StateVar {
	char *name;
	int tok;
	Span type, init;
} StateVar;

struct State {
	char *name;
	int tok;
	int index;
	Params params;
	char *parent_name;
	int parent_tok;
	State *parent;     /* resolved */
	State **children; int nchildren, capchildren;  /* resolved, in source order */
	/* check.c: when its `<$` takes parameters, the first state whose `<$`
	 * takes the same types (itself, or one declared before); the emitter
	 * writes `__xa_<that state>()` for each one a transition uses
	 * (exit_sig_used), storing the exit args in whichever of the states
	 * with those types is being left. NULL when its `<$` takes none. */
	State *exit_sig;
	bool exit_sig_used;
	int depth;         /* 0 for a root */
	StateVar *vars; int nvars, capvars;
	Handler **handlers; int nhandlers, caphandlers;
	Handler *enter, *exit;
	bool default_forward;
	int forward_tok;
};

struct Method {
	char *name;
	int tok;
	int index;
	Params params;
	Span ret;          /* empty: no return value */
	Span dflt;         /* empty: Default::default() */
	bool transitions;  /* some handler of it transitions (check.c) */
};

typedef struct Action {
	char *name;
	int tok;
	Params params;
	Span ret;
	Body *body;
} Action;

typedef struct Field {
	char *name;
	int tok;
	Span type, init;
} Field;

struct System {
	char *name;
	int tok;
	int src_begin, src_end;   /* bytes replaced in the output (attrs .. '}') */
	bool no_alloc;
	int no_alloc_tok;
	int state_stack;          /* -1: not declared */
	Method **methods; int nmethods, capmethods;
	State **states; int nstates, capstates;
	Action **actions; int nactions, capactions;
	Field *fields; int nfields, capfields;
	/* computed by check.c */
	int hsm_depth;            /* number of levels (>= 1) */
	int ctx_depth;            /* max nested interface calls (>= 1) */
	bool uses_push;
};

/* Byte ranges of the source replaced in the output, in file order: a system
 * (its attributes through its closing brace) or a standalone
 * `@@[target(..)]` (deleted). Everything between cuts is copied verbatim. */
typedef struct Cut {
	int begin, end;
	System *sys;   /* NULL: just delete the bytes */
} Cut;

typedef struct Program {
	TokList toks;
	Cut *cuts; int ncuts, capcuts;
} Program;

/* Parses the token list. Returns false if errors were reported. */
bool parse_program(Program *prog);

/* ---- check.c ------------------------------------------------------------- */

bool check_program(Program *prog);
void check_reset(void);
/* Copy judgement of an opaque Rust type. */
typedef enum { COPY_YES, COPY_NO, COPY_UNKNOWN } CopyKind;
CopyKind type_copy_kind(Span type);

/* ---- emit.c ------------------------------------------------------------- */

void out_span(Out *o, Span sp);          /* opaque Rust text verbatim */

/* One back end = one runtime shape, as QBE does it: a table of hooks filled
 * with designated initialisers and chosen by name (emitter_by_name). emit.c
 * writes the system skeleton (types, struct, constructors, interface
 * methods, router, per-state helpers, handlers, actions) and the walk of
 * bodies; the table holds only what differs between the shapes. Hooks write
 * Rust text to o; below, S is the system's name. */
typedef struct Emitter {
	const char *name;
	const char *title;        /* the shape, in the system's banner comment */
	const char *derive;       /* derives of the event and state-context types */
	const char *overflow_doc; /* doc comment of `__stack_overflows` */
	/* Every allocation is published through `self.__keep(&v)` (an `__escape`
	 * field) so that LLVM cannot delete it (allocating shape only). */
	bool escape;

	/* Events: the type handlers and routers take (arena string), and the
	 * prefix that turns `__e` into a `&SFrameEvent` to match on. */
	const char *(*event_type)(System *sys);
	const char *event_deref;

	/* Compartments and state representation. compartment_type: the types
	 * behind `SCompartment`. compartment_value: the body of
	 * `fn __comp_T(args) -> SCompartment` (a fresh compartment of T).
	 * find_compartment: code that finds the compartment holding st's
	 * context; returns the expression naming it. ctx_of: the place of st's
	 * context in compartment `comp`. */
	void (*compartment_type)(Out *o, System *sys);
	void (*compartment_value)(Out *o, System *sys, State *st);
	const char *(*find_compartment)(Out *o, State *st);
	void (*ctx_of)(Out *o, State *st, const char *comp);

	/* Router: `match <state_match> { <state_pattern(T)> => ... }`, with a
	 * `_ => {}` arm when route_wildcard. */
	const char *state_match;
	void (*state_pattern)(Out *o, System *sys, State *st);
	bool route_wildcard;
	/* __drain (runs pending transitions) and the helpers it needs. */
	void (*runtime)(Out *o, System *sys);

	/* The system struct: the fields between `__next_compartment` and
	 * `__gen` (context stack, state stack...) and their initialisers. */
	void (*stack_fields)(Out *o, System *sys);
	void (*stack_inits)(Out *o, System *sys);
	/* __create()'s body after `let mut __s = S::new();`: enters the start
	 * state. */
	void (*enter_start)(Out *o, System *sys);

	/* The context stack: SFrameContext (its `r_m` return slots come from
	 * emit_ret_fields/emit_ret_nones); interface method m's `let __e`
	 * (event) and `let mut __c` (context) lines, the push of __c, the pop
	 * and the return value; context_top: an expression for the innermost
	 * context. */
	void (*context_type)(Out *o, System *sys);
	void (*call_begin)(Out *o, System *sys, Method *m);
	void (*context_push)(Out *o);
	void (*context_pop)(Out *o, Method *m);
	const char *context_top;

	/* Frame forms inside a handler body (statement text, no newline).
	 * pop: `-> pop$`'s statement before ` return; }`. forward: records (or
	 * clears) the event to forward after a transition to compartment __c. */
	void (*pop)(Out *o);
	void (*forward)(Out *o, bool forward);
	void (*push)(Out *o, System *sys);

	/* The C target (emit_c.c): every Frame form is written by this hook
	 * instead of the Rust spellings above, and no `;` separator is added
	 * before a form (C bodies end their own statements). NULL for Rust. */
	void (*form)(Out *o, const struct Emitter *em, System *sys, Handler *h, Form *f);
} Emitter;

/* Each back end names its hook functions after the hooks they fill (its
 * static event_type() fills .event_type, and so on), so a table takes them
 * all with EMITTER_HOOKS and spells out only its data fields. */
#define EMITTER_HOOKS                                                          \
	.event_type = event_type, .compartment_type = compartment_type,        \
	.compartment_value = compartment_value,                                \
	.find_compartment = find_compartment, .ctx_of = ctx_of,                \
	.state_pattern = state_pattern, .runtime = runtime,                    \
	.stack_fields = stack_fields, .stack_inits = stack_inits,              \
	.enter_start = enter_start, .context_type = context_type,              \
	.call_begin = call_begin, .context_push = context_push,                \
	.context_pop = context_pop, .pop = pop, .forward = forward, .push = push

extern const Emitter alloc_emitter;
extern const Emitter noalloc_emitter;
const Emitter *emitter_by_name(const char *name);

/* Writes the whole module. Returns the text (arena memory). */
char *emit_program(Program *prog, Out *o);

/* Native text with Frame forms expanded. Inside a handler or action body
 * (o->frs_line set), every output line that ends outside a token carries a
 * trailing `// frs:N` marker: N is the .frs line on which that output line
 * starts (`// frs:N:C` when it starts at column C, not at the line's
 * start). Lines that end inside a multi-line token (a string) carry none;
 * they are the lines just above the next marker, one for one. A statement
 * form (transition, push$, => $^, @@:return(e), @@:(e)) that shares its
 * source line with other code gets an output line of its own, so that line
 * coverage sees whether it ran (coverage.py). */
void emit_body(Out *o, const Emitter *em, System *sys, Handler *h, Body *b);

/* Helpers for the back ends (emit.c). */
void emit_ret_fields(Out *o, System *sys);  /* `    r_m: Option<R>,` lines */
void emit_ret_nones(Out *o, System *sys);   /* ` r_m: None,` each */
void emit_event_value(Out *o, System *sys, Method *m, const char *arg_suffix);
void emit_mk_call(Out *o, System *sys, State *st); /* SStateCtx::T(S::__mk_T(args)) */
State *system_start(System *sys);

/* ---- emit_c.c, emit_c_alloc.c, emit_c_noalloc.c: the C target ----------- */

/* The target language, chosen on the command line (`-l rust` | `-l c`) and
 * kept across frc_release(): a setting, not compilation state. parse.c
 * accepts `@@[target("c")]` only for TARGET_C, check.c applies the C
 * no_alloc rules (E109, E110) instead of Rust's Copy rules, and
 * emit_program() hands a C compilation to emit_c_program(). */
enum { TARGET_RUST, TARGET_C };
extern int frc_target;

/* Writes the whole C file (one self-contained C11 translation unit; the
 * contract is /work/main/compiler/STATUS.md's C section). */
char *emit_c_program(Program *prog, Out *o);

/* One C runtime shape. emit_c.c writes what both share (per-state context
 * structs, handlers with their `#line` mapping, actions, the Frame forms
 * that only read or write); the shape writes its runtime, types and the
 * forms that change state. S below is the system's name. */
typedef struct CShape {
	const char *title;          /* the shape, in the system's banner */
	void (*prelude)(Out *o, System *sys);        /* includes, runtime objects */
	void (*types)(Out *o, System *sys);          /* event, compartment, context, struct S */
	void (*protos)(Out *o, System *sys);         /* prototypes of the shape's statics */
	void (*runtime)(Out *o, System *sys);        /* constructors, interface, router, drain */
	/* `S_St_Ctx *S__sv_St(S *self)`'s body: St's context in the current
	 * compartment (or the one of the ancestor St). */
	void (*sv_body)(Out *o, System *sys, State *st);
	/* the innermost call's return slot of method m (an lvalue) */
	void (*ret_place)(Out *o, System *sys, Method *m);
	/* the argument expression handing handler parameter k of method m
	 * from the event `__e` to the handler */
	void (*event_arg)(Out *o, System *sys, Method *m, int k);
	/* `-> $T` after its args are in locals __sa*, __ea*, __xa*: builds the
	 * next compartment, records it (and the forward) and returns */
	void (*transition)(Out *o, System *sys, Handler *h, Form *f);
	void (*push)(Out *o, System *sys);
	void (*pop)(Out *o, System *sys);
	/* a condition: st is the current (leaf) state */
	void (*state_is)(Out *o, System *sys, State *st);
} CShape;
extern const CShape c_alloc_shape, c_noalloc_shape;

/* emit_c.c's helpers for the shapes. */
void c_decl(Out *o, Span type, const char *name);    /* `T name` (arrays: `T name[N]`) */
void c_params(Out *o, Params *ps, Method *iface);    /* `, T a, U b` */
void c_ctx_types(Out *o, System *sys);               /* S_St_Ctx structs, union S_StateCtx */
void c_domain_init(Out *o, System *sys);             /* `self->f = init;` lines */
void c_ret_default(Out *o, Method *m);               /* ` = dflt` or ` = {0}` */
void c_shared_protos(Out *o, System *sys);
void c_shared_fns(Out *o, const CShape *sh, System *sys);
bool c_has_ret(Method *m);
void c_method_head(Out *o, System *sys, Method *m); /* mapping comment, `RET S_m(S *self, ...)` */

/* ---- pipeline.c: the whole pipeline on a buffer --------------------------- */

/* Compiles `len` bytes (`path` only names the file in diagnostics) through
 * lexer, parser, checker and emitter. Diagnostics, and on rejection the
 * "N errors; no output written" line, go to `diag` (NULL: stderr). Returns
 * EXIT_OK with the Rust module in *out / *out_len, or EXIT_REJECTED. Never
 * exits; an internal bug still aborts (die). *out is arena memory: valid
 * until frc_release(), which the caller must call before the next
 * compilation (it frees everything and resets all global state). */
int frc_compile_buffer(const char *path, const char *data, size_t len, FILE *diag, char **out, size_t *out_len);
void frc_release(void);

#endif
