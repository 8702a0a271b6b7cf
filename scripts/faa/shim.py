"""The Rust shim generator (the C one is cshim.py): scenario + generated
Rust module -> the fixture's module of a bundle crate (bundle.py builds
many of them into one cdylib).

The shim is the Rust side of the fixture ABI (harness/fixture_abi.h).  It
includes the generated module unchanged (`#[path] mod`), owns the system in
static storage and exports one plain C function per ABI entry.  It knows
the system only through the public API every framec-compatible compiler
emits (`Sys::__create(..)` or `Sys::new(..)`, one `pub fn` or `pub async
fn` per interface method, `pub` domain fields), which it reads from the
generated module itself (read_api), so the same shim serves frc, framec,
or code generated elsewhere (`audit --generated`).  The Rust text is
templates/shim.rs.tmpl (string.Template: `${name}` is filled in by
generate(); no other `$` may appear in it), plus templates/executor.rs.tmpl
when a step or the constructor is async.

Before anything is built, check_module holds the scenario against that
API: system, constructor, methods, argument count and types (from their
text where it says them, else by rustc over a small crate:
rust_typecheck), domain fields -- a usage error (exit 2) at the
scenario's lines.

Window discipline: each argument, the constructor's too, is evaluated and
passed through `opaque` (a volatile read the optimiser cannot see
through) before the window opens; the window holds the call and the drop
of its (opaque) return value, nothing else.  An async call's waker and
context are made before the window; its future's creation, every poll
(fx_drive) and its drop are inside."""

import json
import re
import string
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import procs, rustlex, scenario
from .errors import UsageError


@dataclass
class RustMethod:
    """One public function of the system's inherent impl, as written."""
    name: str
    params: list          # [(name, type text)], self excluded
    ret: str | None       # the return type's text; None: `()`
    is_async: bool = False
    generics: list = field(default_factory=list)   # its own type/const parameter names

    @property
    def arity(self):
        return len(self.params)

    def signature(self):
        ps = ", ".join(f"{n}: {t}" for n, t in self.params)
        return (f"{'async ' if self.is_async else ''}fn {self.name}({ps})"
                + (f" -> {self.ret}" if self.ret else ""))


@dataclass
class ModuleApi:
    """What the shim may use of a generated Rust module (read_api)."""
    system: str
    fields: list          # pub domain field names, in declaration order
    methods: dict         # interface method name -> RustMethod (`&mut self`)
    ctors: dict = field(default_factory=dict)     # "__create"/"new" -> RustMethod
    sys_type: str = ""    # the type in static storage: `Sys`, or `Sys<'static>`
    consts: dict = field(default_factory=dict)    # const/static name -> type text
    enums: dict = field(default_factory=dict)     # enum name -> [variant names]
    aliases: dict = field(default_factory=dict)   # `type` alias -> type text

    def __post_init__(self):
        self.sys_type = self.sys_type or self.system

    @property
    def is_async(self):
        return any(m.is_async for m in self.methods.values())


class ModuleProblem(UsageError):
    """The generated module itself cannot be shimmed (an unterminated
    literal, no constructor, a system with type parameters): the
    compiler's fault in a compiler run (a build failure of that fixture),
    a usage error for `audit --generated`."""


class NoSystem(UsageError):
    """The module has no `pub struct` of the scenario's system; .systems
    lists the ones it has (a pub struct with a constructor)."""

    def __init__(self, message, systems):
        super().__init__(message)
        self.systems = systems


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def _block(src, open_at):
    """Text between the brace at src[open_at] and its match."""
    depth = 0
    for j in range(open_at, len(src)):
        if src[j] == "{":
            depth += 1
        elif src[j] == "}":
            depth -= 1
            if depth == 0:
                return src[open_at + 1:j]
    raise ModuleProblem("generated module: unbalanced braces")


def _split_top(text):
    """Pieces of `text` between top-level commas (brackets and generics
    nest; `->` is no bracket); blank pieces dropped."""
    code = text.replace("->", "  ")
    pieces, depth, start = [], 0, 0
    for j, ch in enumerate(code + ","):
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == "," and depth == 0:
            pieces.append(text[start:j])
            start = j + 1
    return [p.strip() for p in pieces if p.strip()]


def _params(text):
    """[(name, type)] of a parameter list without its self."""
    out = []
    for piece in _split_top(text):
        m = re.fullmatch(r"(?:mut\s+)?(" + _NAME + r")\s*:(?!:)\s*(.+)", piece, re.S)
        out.append((m.group(1), " ".join(m.group(2).split())) if m else ("_", " ".join(piece.split())))
    return out


def _functions(impl):
    """Every `pub [async] fn` of an impl body: (RustMethod, self text)."""
    for fm in re.finditer(r"\bpub\s+(async\s+)?fn\s+(" + _NAME + r")\s*(<[^>]*>)?\s*\(", impl):
        depth, j = 1, fm.end()
        while depth and j < len(impl):
            depth += {"(": 1, ")": -1}.get(impl[j], 0)
            j += 1
        params = impl[fm.end():j - 1]
        rm = re.match(r"\s*->\s*([^{]*?)\s*(?:\bwhere\b[^{]*)?\{", impl[j:])
        ret = " ".join(rm.group(1).split()) if rm else None
        sm = re.match(r"\s*((?:&\s*(?:'\w+\s+)?)?(?:mut\s+)?self)\b\s*,?", params)
        rest = params[sm.end():] if sm else params
        # a method returning a future (`-> impl Future<..>`, `Pin<Box<dyn Future..>>`)
        # is driven as an async one
        drives = bool(fm.group(1)) or bool(ret and re.search(r"\b(?:impl|dyn)\s+(?:\w+::)*Future\b", ret))
        generics = [re.sub(r"^const\s+", "", g).split(":")[0].strip()
                    for g in _split_top((fm.group(3) or "<>")[1:-1]) if not g.startswith("'")]
        yield (RustMethod(fm.group(2), _params(rest), ret if ret not in ("()", "") else None,
                          drives, generics), " ".join(sm.group(1).split()) if sm else "")


def _impls(src, system):
    """The bodies of `impl[<..>] SYSTEM[<..>] {` blocks (not trait impls)."""
    pat = (r"\bimpl\s*(?:<[^{]*?>)?\s*" + re.escape(system) +
           r"\s*(?:<[^{]*?>)?\s*(?:\bwhere\b[^{]*)?\{")
    return [_block(src, m.end() - 1) for m in re.finditer(pat, src)]


def _systems(src):
    """Names of the pub structs that have a constructor in their own impl."""
    names = re.findall(r"\bpub\s+struct\s+(" + _NAME + ")", src)
    return [n for n in dict.fromkeys(names)
            if any(re.search(r"\bpub\s+fn\s+(?:__create|new)\b", b) for b in _impls(src, n))]


def _sys_type(system, generics, where):
    """The system's type in static storage: lifetimes become 'static."""
    params = _split_top(generics[1:-1]) if generics else []
    if any(not p.startswith("'") for p in params):
        raise ModuleProblem(f"{where}: `{system}{generics}` takes type parameters: the shim can "
                         f"only hold a system whose generics are lifetimes")
    return f"{system}<{', '.join(chr(39) + 'static' for _ in params)}>" if params else system


def _fields(body):
    fields = []
    for piece in _split_top(body):
        fm = re.match(r"(?:#\[[^\]]*\]\s*)*pub\s+(" + _NAME + r")\s*:", piece)
        if fm:
            fields.append(fm.group(1))
    return fields


def _items(src):
    """(consts, enums, aliases) declared anywhere in the module."""
    consts = {m.group(1): " ".join(m.group(2).split()) for m in re.finditer(
        r"\b(?:const|static)\s+(?!mut\b)(" + _NAME + r")\s*:\s*([^=;]+)=", src)}
    enums = {}
    for m in re.finditer(r"\benum\s+(" + _NAME + r")\s*(?:<[^{]*?>)?\s*\{", src):
        body = re.sub(r"#\[[^\]]*\]", " ", _block(src, m.end() - 1))
        enums[m.group(1)] = [re.match(_NAME, v).group(0) for v in _split_top(body)
                             if re.match(_NAME, v)]
    aliases = {m.group(1): " ".join(m.group(2).split()) for m in re.finditer(
        r"\btype\s+(" + _NAME + r")\s*=\s*([^;]+);", src)}
    return consts, enums, aliases


def read_api(module_src, system, where="generated module"):
    """Finds the system's public API in generated Rust source: its pub
    fields, its `&mut self` methods (sync and async) with parameter and
    return types, its constructors (__create, new), and the consts,
    enums and type aliases scenario arguments may name."""
    try:
        src = rustlex.blank(module_src)
    except rustlex.LexError as e:
        raise ModuleProblem(f"{where}: {e}") from e
    m = re.search(r"\bpub\s+struct\s+" + re.escape(system) + r"\b\s*(<[^{;]*?>)?[^{;]*\{", src)
    if not m:
        have = _systems(src)
        raise NoSystem(f"{where}: no `pub struct {system}` (is `system` in the scenario right? "
                       f"the module has: {', '.join(have) or 'no system'})", have)
    sys_type = _sys_type(system, m.group(1), where)
    methods, ctors = {}, {}
    for impl in _impls(src, system):
        for fn, self_kind in _functions(impl):
            if re.fullmatch(r"&\s*(?:'\w+\s*)?mut\s+self", self_kind):
                methods[fn.name] = fn
            elif not self_kind and fn.name in scenario.CONSTRUCTORS:
                ctors[fn.name] = fn
    if not ctors:
        raise ModuleProblem(f"{where}: `{system}` has no `pub fn __create(...)` or `pub fn new(...)` "
                         f"constructor")
    consts, enums, aliases = _items(src)
    return ModuleApi(system=system, fields=_fields(_block(src, m.end() - 1)), methods=methods,
                     ctors=ctors, sys_type=sys_type, consts=consts, enums=enums, aliases=aliases)


def check_module(module_src, scen, where="generated module", module_path=None, rustc=None):
    """read_api + check_steps, every problem against the scenario's line,
    and with `rustc` and the module's path rust_typecheck for what
    check_steps cannot judge: the module's API for generate()."""
    try:
        api = read_api(module_src, scen.system, where)
    except NoSystem as e:
        raise UsageError(f"{scen.where(scen.system_line)}: there is no system `{scen.system}` in "
                         f"{where}; it has: {', '.join(e.systems) or 'no pub struct with a constructor'}"
                         ) from e
    check_steps(api, scen)
    if rustc and module_path:
        rust_typecheck(api, scen, Path(module_path).resolve(), rustc)
    return api


_INT_RANGES = {f"{s}{b}": ((-(1 << (b - 1)), (1 << (b - 1)) - 1) if s == "i" else (0, (1 << b) - 1))
               for s in "iu" for b in (8, 16, 32, 64, 128)}
_INT_RANGES.update(isize=_INT_RANGES["i64"], usize=_INT_RANGES["u64"])
_STRING = ("String", "std::string::String", "alloc::string::String")


def rust_type_kind(ty, api):
    """What a parameter type is, as far as arguments are checked here:
    ("int", T), ("float", T), ("bool",), ("char",), ("str",) for &str,
    ("String",), ("bytes",) for &[u8] and &[u8; N], ("enum", NAME); None
    for anything else (not judged)."""
    t = " ".join((ty or "").split())
    for _ in range(8):                       # type aliases, a few levels deep
        if t in api.aliases:
            t = api.aliases[t]
    t = re.sub(r"^&\s*'" + _NAME + r"\s+", "&", t).replace(" ", "")
    t = re.sub(r"^(?:std|core)::primitive::", "", t)
    if t in _INT_RANGES:
        return ("int", t)
    if t in ("f32", "f64"):
        return ("float", t)
    if t in ("bool", "char"):
        return (t,)
    if t == "&str":
        return ("str",)
    if t in _STRING:
        return ("String",)
    if re.fullmatch(r"&\[u8(?:;[0-9_]+)?\]", t):
        return ("bytes",)
    if t in api.enums:
        return ("enum", t)
    return None


def rust_arg_type(expr, api):
    """The type of a scenario argument where its text alone says it (a
    literal, a String built from one, a module enum's variant, a const);
    None when it does not.  A `(kind, ...)` tuple as rust_type_kind's,
    or ("int-literal", value, suffix) / ("float-literal", suffix)."""
    e = expr.strip()
    lit = rustlex.literal(e)
    if lit:
        renamed = {"int": "int-literal", "float": "float-literal"}
        return ("int", "u8") if lit[0] == "byte" else (renamed.get(lit[0], lit[0]),) + lit[1:]
    if re.fullmatch(r"String::(?:from|new)\s*\(.*\)|format!\s*[(\[{].*", e, re.S) or \
            (re.fullmatch(r"(.+)\.(?:to_string|to_owned)\(\)", e, re.S) and
             rustlex.literal(e[:e.rindex(".")]) == ("str",)):
        return ("String",)
    m = re.fullmatch(r"(" + _NAME + r")::(" + _NAME + r")\s*(?:\(.*\)|\{.*\})?", e, re.S)
    if m and m.group(1) in api.enums:
        return ("enum", m.group(1), m.group(2))
    if re.fullmatch(_NAME, e) and e in api.consts:
        return rust_type_kind(api.consts[e], api)
    return None


def _arg_problem(expr, ty, api):
    """Why `expr` cannot be passed as a `ty` (None: it can, or it cannot
    be told here)."""
    want, have = rust_type_kind(ty, api), rust_arg_type(expr, api)
    if want is None or have is None:
        return None
    if have[0] == "enum" and want == ("enum", have[1]):
        if len(have) > 2 and have[2] not in api.enums[have[1]]:
            return f"`{have[1]}` has no variant `{have[2]}` (it has {', '.join(api.enums[have[1]])})"
        return None
    if have[0] == "int-literal" and want[0] == "int":
        lo, hi = _INT_RANGES[want[1]]
        if have[2] and have[2] != want[1]:
            return f"the literal is a {have[2]}"
        return None if lo <= have[1] <= hi else f"{have[1]} is out of range for {want[1]} ({lo}..={hi})"
    if have[0] == "float-literal" and want[0] == "float":
        return None if not have[1] or have[1] == want[1] else f"the literal is an {have[1]}"
    if have[:2] == want[:2]:
        return None
    hint = {("str", "String"): f"; pass String::from({expr.strip()})",
            ("String", "str"): "; pass a string literal (\"...\")"}.get((have[0], want[0]), "")
    return f"it is {_kind_text(have)}{hint}"


def _kind_text(kind):
    if kind[0] in ("int", "float", "enum"):
        return f"a `{kind[1]}`"
    return {"int-literal": "an integer literal", "float-literal": "a floating-point literal",
            "str": "a &str (string literal)", "String": "a String", "bytes": "a byte string",
            "bool": "a bool", "char": "a char"}[kind[0]]


def _check_call(fn, args, what, where, api):
    """Arity and argument types of one call; problems as text."""
    if len(args) != fn.arity:
        return [f"{where}: `{what}` takes {fn.arity} argument(s), the call passes {len(args)} "
                f"({fn.signature()})"]
    out = []
    for k, (arg, (pname, ptype)) in enumerate(zip(args, fn.params), 1):
        why = _arg_problem(arg, ptype, api)
        if why:
            out.append(f"{where}: argument {k} of `{what}`, `{arg}`, cannot be passed as "
                       f"`{pname}: {ptype}`: {why}")
    return out


def constructor(api, scen):
    """The constructor the shim calls: the scenario's `call`, else
    __create, else new (a module without __create builds in new)."""
    if scen.construct_method:
        if scen.construct_method not in api.ctors:
            raise UsageError(f"{scen.where(scen.construct_line)}: `{api.system}` has no "
                             f"`pub fn {scen.construct_method}(...)`; it has: "
                             f"{'; '.join(f.signature() for f in api.ctors.values())}")
        return api.ctors[scen.construct_method]
    return api.ctors.get("__create") or api.ctors["new"]


def check_steps(api, scen):
    """The scenario against the module's API, before anything is built:
    the constructor's and every step's method, arity and argument types,
    and the domain fields; a UsageError lists every problem with its
    scenario line and what the module has."""
    ctor = constructor(api, scen)
    problems = _check_call(ctor, scen.construct_args, ctor.name, scen.where(scen.construct_line), api)
    known = "; ".join(m.signature() for m in api.methods.values()) or "none"
    for s in scen.steps:
        where = scen.where(s.line)
        fn = api.methods.get(s.method)
        if fn is None:
            problems.append(f"{where}: `{s.method}` is not an interface method of {api.system} "
                            f"(methods: {known})")
        else:
            problems += _check_call(fn, s.args, s.method, where, api)
        for f in s.domain:
            if f not in api.fields:
                problems.append(f"{scen.where(s.domain_line or s.line)}: `{f}` is not a pub "
                                f"domain field of {api.system} (fields: {', '.join(api.fields) or 'none'})")
    if problems:
        raise UsageError("\n".join(problems))


def _fn_pointer_type(ty, fn, api):
    """A parameter type as a fn-pointer parameter outside the impl: named
    lifetimes elided ('_), Self the system; None when it names the
    method's own generic parameters or is an `impl Trait`."""
    if re.search(r"\bimpl\b", ty) or any(re.search(r"\b" + re.escape(g) + r"\b", ty)
                                         for g in fn.generics):
        return None
    ty = re.sub(r"'(?!static\b)" + _NAME, "'_", ty)
    return re.sub(r"\bSelf\b", api.sys_type, ty)


def _unjudged(api, scen):
    """(where, callee, k, arg, name, type, fn-pointer type) of each argument
    whose type check_steps could not tell from its text."""
    calls = [(scen.where(scen.construct_line), constructor(api, scen), scen.construct_args)]
    calls += [(scen.where(s.line), api.methods[s.method], s.args)
              for s in scen.steps if s.method in api.methods]
    for where, fn, args in calls:
        if len(args) != fn.arity:
            continue
        for k, (arg, (pname, ptype)) in enumerate(zip(args, fn.params), 1):
            if rust_type_kind(ptype, api) and rust_arg_type(arg, api):
                continue
            ty = _fn_pointer_type(ptype, fn, api)
            if ty:
                yield where, fn.name, k, arg, pname, ptype, ty


def _argcheck_crate(module_path, checks):
    """A crate that passes each argument as the shim does (through
    `opaque` into a `let`, then to a function of the parameter's type):
    (its text, [(first line, last line, check)])."""
    lines = ["#![allow(warnings)]", f'#[path = "{_rust_path(module_path)}"]', "mod fx_module;",
             "#[allow(unused_imports)]", "use fx_module::*;", "fn opaque<T>(x: T) -> T { x }"]
    spans = []
    for n, c in enumerate(checks):
        text = f"fn __faa_arg_{n}(f: fn({c[6]})) {{ let a = opaque({c[3]}); f(a); }}"
        spans.append((len(lines) + 1, len(lines) + text.count("\n") + 1, c))
        lines.append(text)
    return "\n".join(lines) + "\n", spans


def rust_typecheck(api, scen, module_path, rustc):
    """The arguments check_steps could not judge from their text
    (`some_fn(3)`, `u8::MAX`, `&x`), judged by rustc against the module
    before any build: a crate that passes each one as the shim does,
    type-checked only (--emit=metadata, in a temporary directory).  Its
    errors are usage errors at the scenario's lines."""
    checks = list(_unjudged(api, scen))
    if not checks:
        return
    src, spans = _argcheck_crate(module_path, checks)
    with tempfile.TemporaryDirectory(prefix="faa-argcheck-") as d:
        (Path(d) / "faa_argcheck.rs").write_text(src, encoding="utf-8")
        r = procs.run([rustc, "--edition", "2021", "--crate-type", "lib", "--crate-name", "faa_argcheck",
                       "--emit=metadata", "--error-format=json", "-o", "faa_argcheck.rmeta",
                       "faa_argcheck.rs"], cwd=d, timeout=300)
    problems = []
    for msg, line in _rustc_errors(r.stderr, "faa_argcheck.rs"):
        for lo, hi, (where, name, k, arg, pname, ptype, _ty) in spans:
            if lo <= line <= hi:
                problems.append(f"{where}: argument {k} of `{name}`, `{arg}`, cannot be passed as "
                                f"`{pname}: {ptype}`: rustc: {msg}")
    if problems:
        raise UsageError("\n".join(dict.fromkeys(problems)))


def _rustc_errors(stderr, file_name):
    """(message, line) of each error rustc's JSON diagnostics place in
    `file_name`: the message with its primary span's label."""
    for text in stderr.splitlines():
        try:
            d = json.loads(text)
        except ValueError:
            continue
        if not isinstance(d, dict) or d.get("level") != "error":
            continue
        for sp in d.get("spans", []):
            if sp.get("is_primary") and Path(sp.get("file_name", "")).name == file_name:
                label = f" ({sp['label']})" if sp.get("label") else ""
                yield d.get("message", "") + label, sp.get("line_start", 0)


def _rust_bytes(text):
    """A NUL-terminated Rust byte-string literal."""
    esc = text.replace("\\", "\\\\").replace('"', '\\"')
    return 'b"' + esc + '\\0"'


def _rust_path(path):
    """A path as the inside of a Rust string literal (`#[path = "..."]`):
    a fixture's folder or file name may hold `"` or `\\`."""
    return str(path).replace("\\", "\\\\").replace('"', '\\"')


def _comment(text):
    """Text for a `//` comment: on one line."""
    return " ".join(str(text).split())


def _opt(v):
    return -1 if v is None else v


def _rust_str(text):
    """A Rust string literal."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _arm(i, step, observe, is_async=False):
    """One `match` arm running step i in a window: each argument goes
    through `opaque` before open(); the window holds the call and the
    drop of its result (fx_dispatch), or the call alone (fx_observe,
    which formats the result after close).  An async method's waker and
    context are made before open(); the window holds the future's
    creation, every poll (fx_drive) and its drop."""
    lets = "".join(f"let a{k} = opaque({a}); " for k, a in enumerate(step.args))
    call = f"s.{step.method}({', '.join(f'a{k}' for k in range(len(step.args)))})"
    if is_async:
        lets += "let w = fx_waker(); let mut cx = std::task::Context::from_waker(&w); "
        call = f"fx_drive({call}, &mut cx, {_rust_str(step.call)})"
    head = f"            {i} => {{ {lets}open(ctx); let r = opaque({call}); "
    if observe:
        return head + 'close(ctx); let mut o = String::from("ret="); (&FxShow(&r)).fx_show(&mut o); o }'
    return head + "drop(r); close(ctx); }"


def _ctor_lets(scen, ctor):
    """fx_construct's lines before open(): the arguments through `opaque`
    (and an async constructor's waker and context)."""
    lines = [f"        let c{k} = opaque({a});\n" for k, a in enumerate(scen.construct_args)]
    if ctor.is_async:
        lines.append("        let w = fx_waker(); let mut cx = std::task::Context::from_waker(&w);\n")
    return "".join(lines)


def _ctor_call(api, scen, ctor):
    """The constructor call inside fx_construct's window."""
    call = f"{api.system}::{ctor.name}({', '.join(f'c{k}' for k in range(len(scen.construct_args)))})"
    if ctor.is_async:
        label = f"{ctor.name}({', '.join(scen.construct_args)})"
        call = f"fx_drive({call}, &mut cx, {_rust_str(label)})"
    return call


def _expect_arms(scen):
    """fx_expect's arms: -1 is the constructor, then one per step."""
    rows = [(-1, scen.construct_alloc, scen.construct_frees)]
    rows += [(i, s.alloc, s.frees) for i, s in enumerate(scen.steps)]
    return [f"        {i} => ({_opt(a)}, {_opt(f)})," for i, a, f in rows]


def _template(name="shim.rs.tmpl"):
    return (Path(__file__).parent / "templates" / name).read_text(encoding="utf-8")


def generate(scen, api, module_path, mode, prefix="fx_"):
    """Returns the shim source for one fixture and mode, templates/shim.rs.tmpl
    filled in: a module of a bundle crate (bundle.py) whose ABI functions
    are exported as PREFIX + the fixture_abi.h name (`fx_port_reset__construct`)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix):
        raise ValueError(f"symbol prefix {prefix!r} is not a Rust identifier")
    steps = scen.steps
    is_async = [getattr(api.methods.get(s.method), "is_async", False) for s in steps]
    ctor = constructor(api, scen) if api.ctors else RustMethod("__create", [], None)
    return string.Template(_template()).substitute(
        source=_comment(scen.path.name), system=api.system, sys_type=api.sys_type, mode=mode,
        prefix=prefix, ctor=ctor.name,
        ctor_lets=_ctor_lets(scen, ctor), ctor_call=_ctor_call(api, scen, ctor),
        executor=_template("executor.rs.tmpl") if any(is_async) or ctor.is_async else "",
        module_path=_rust_path(module_path),
        mode_bytes=_rust_bytes(mode), system_bytes=_rust_bytes(api.system),
        step_count=len(steps),
        labels="\n".join(f"        {i} => {_rust_bytes(s.call)}," for i, s in enumerate(steps)),
        steady_from=scen.steady_from, steady_to=scen.steady_to,
        steady_repeat=scen.steady_repeat,
        expects="\n".join(_expect_arms(scen)),
        dispatch="\n".join(_arm(i, s, False, a) for i, (s, a) in enumerate(zip(steps, is_async))),
        observe="\n".join(_arm(i, s, True, a) for i, (s, a) in enumerate(zip(steps, is_async))),
        domain="".join(f'    t.push_str("\\x1f{f}="); (&FxShow(&s.{f})).fx_show(t);\n' for f in api.fields))


def nostd_wrapper(module_path):
    """A crate that includes the module under #![no_std] without `alloc`
    (nostd.py builds it against a sysroot holding only core).  The module
    is `pub` so that its public API, and all it calls, is code generated
    into the object the proof reads."""
    return f"""\
// generated by frame-alloc-audit: the static proof that {_comment(module_path)}
// needs neither std nor alloc — do not edit
#![no_std]
#![allow(warnings)]

#[path = "{_rust_path(module_path)}"]
pub mod fx_module;
"""
