"""The C shim generator: scenario + generated C module -> one translation
unit that exports the fixture ABI (harness/fixture_abi.h) for it.

The C counterpart of shim.py.  The shim #includes the generated module
(C_TARGET: one self-contained C11 file, everything but the public API
`static`), owns the system in static storage and exports one plain C
function per ABI entry under the fixture's prefix; cbuild.py compiles it
with -fvisibility=hidden and makes every hidden symbol local, so the
module's own public functions (`PortReset_create`, ...) cannot meet a
bucket-mate's of the same name in a bundle library.

The shim knows the system only through the public API the C target
emits, which read_api() reads from the module itself:

  allocating shape:  SYS *SYS_create(void);  void SYS_destroy(SYS *self);
  no_alloc shape:    void SYS_init(SYS *self);  void SYS_deinit(SYS *self);
  both:              RET SYS_METHOD(SYS *self, PARAMS);  struct SYS { ... };

Domain fields are the members of struct SYS whose names do not start with
`_` (the machinery's own) and whose type it can print, plus any member a
scenario step names.  observe writes the same text as the Rust shim
(`ret=<Debug>` then `\\x1f` `field=<Debug>` per field, Rust's Debug
formatting: integers in decimal, `true`/`false`, `()` for void, strings
quoted and escaped, floats as Rust prints them), so one scenario's
`returns` and `domain` serve both targets.

Scenario calls are written in Rust syntax; c_arg() turns the few Rust-only
spellings a scalar argument may have (`5u8`, `1_000`, `b'a'`,
`String::from("x")`) into C.  Arguments are built in volatile locals of the
parameter's type before the window opens; the window holds the call.
"""

import re
import string
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError

MODES = ("alloc", "noalloc")

_INTS = {
    "char": "s", "signed char": "s", "unsigned char": "u", "short": "s", "short int": "s",
    "unsigned short": "u", "unsigned short int": "u", "int": "s", "signed": "s",
    "signed int": "s", "unsigned": "u", "unsigned int": "u", "long": "s", "long int": "s",
    "unsigned long": "u", "unsigned long int": "u", "long long": "s", "long long int": "s",
    "unsigned long long": "u", "unsigned long long int": "u", "size_t": "u", "ssize_t": "s",
    "ptrdiff_t": "s", "intptr_t": "s", "uintptr_t": "u", "intmax_t": "s", "uintmax_t": "u",
}
for _w in (8, 16, 32, 64):
    _INTS[f"int{_w}_t"] = "s"
    _INTS[f"uint{_w}_t"] = "u"
    _INTS[f"int_least{_w}_t"] = _INTS[f"int_fast{_w}_t"] = "s"
    _INTS[f"uint_least{_w}_t"] = _INTS[f"uint_fast{_w}_t"] = "u"


@dataclass
class Member:
    name: str
    ctype: str            # the declared type, normalised ("uint32_t", "const char *")
    array: str = ""       # "[8]" for an array member, else ""


@dataclass
class Method:
    name: str             # the interface method (SYS_ stripped)
    ret: str              # return type
    params: list          # [(type, name)], self excluded


@dataclass
class CApi:
    system: str
    shape: str            # "alloc" (SYS_create) or "noalloc" (SYS_init)
    members: list         # [Member] of struct SYS, in order
    methods: dict         # name -> Method
    kinds: dict = field(default_factory=dict)   # typedef name -> printable kind
    ctor_params: list = field(default_factory=list)   # SYS_create's / SYS_init's (after self)
    ctor: str = ""        # the constructor's suffix: "create", "new" (framec's older C) or "init"

    @property
    def fields(self):
        """Domain field names (observe prints them)."""
        return [m.name for m in self.members if not m.name.startswith("_") and self.printable(m)]

    def printable(self, m):
        return kind_of(m.ctype, self.kinds) is not None

    def member(self, name):
        return next((m for m in self.members if m.name == name), None)


def blank(src):
    """The C text with comments, string and character literals and
    preprocessor lines blanked (spaces; newlines kept), so offsets and
    line numbers stay those of the source."""
    out, i, n = list(src), 0, len(src)

    def wipe(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "
    at_line_start = True
    while i < n:
        c = src[i]
        if at_line_start and c == "#":
            j = i
            while j < n and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            wipe(i, min(j, n))
            i = j
            continue
        if c in " \t":
            i += 1
            continue
        at_line_start = c == "\n"
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            wipe(i, j)
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            wipe(i, j)
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            wipe(i + 1, min(j, n))
            i = j + 1
        else:
            i += 1
    return "".join(out)


def _norm(t):
    """A type as one spaced string: `const char*` -> `const char *`."""
    t = re.sub(r"\s*\*\s*", " * ", t)
    return " ".join(t.split()).replace("* *", "**").strip()


def kind_of(ctype, kinds=None):
    """How observe prints a value of this type: unit, bool, s, u, f, d, str
    or None (it cannot)."""
    t = _norm(re.sub(r"\b(const|volatile|register|static)\b", "", ctype))
    if t == "void":
        return "unit"
    if t in ("bool", "_Bool"):
        return "bool"
    if t in _INTS:
        return _INTS[t]
    if t in ("float", "double"):
        return {"float": "f", "double": "d"}[t]
    if t == "char *":
        return "str"
    if t.startswith("enum "):
        return "s"
    return (kinds or {}).get(t)


def _block(code, open_at, where="generated C module"):
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return open_at + 1, j
    line = code.count("\n", 0, open_at) + 1
    raise UsageError(f"{where}:{line}: the `{{` here is never closed (unbalanced braces): "
                     f"the C shim cannot read the module")


def _declarators(decl):
    """`uint8_t a, *b, c[4]` -> [(type, name, array)]."""
    m = re.match(r"\s*((?:(?:const|volatile|unsigned|signed|struct|enum|union)\s+)*[A-Za-z_]\w*"
                 r"(?:\s+(?:int|long|char|short|double))*)(.*)", decl, re.S)
    if not m:
        return []
    base, rest = m.group(1), m.group(2)
    out = []
    for part in rest.split(","):
        pm = re.fullmatch(r"\s*((?:\*\s*(?:const\s*)?)*)([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)", part)
        if pm:
            out.append((_norm(base + " " + pm.group(1)), pm.group(2), pm.group(3).replace(" ", "")))
    return out


def _members(code, system, where):
    m = re.search(r"\bstruct\s+" + re.escape(system) + r"\s*\{", code)
    if not m:       # typedef struct { ... } SYS;
        m = next((t for t in re.finditer(r"\btypedef\s+struct\s*(?:\w+\s*)?\{", code)
                  if re.match(r"\s*" + re.escape(system) + r"\s*;", code[_block(code, t.end() - 1, where)[1] + 1:])),
                 None)
    if not m:
        raise UsageError(f"{where}: no `struct {system} {{ ... }}` (is `system` in the scenario right?)")
    a, b = _block(code, m.end() - 1, where)
    body, members, depth, start = code[a:b], [], 0, 0
    for j, ch in enumerate(body):
        depth += {"{": 1, "}": -1, "(": 1, ")": -1}.get(ch, 0)
        if ch == ";" and depth == 0:
            decl = body[start:j]
            start = j + 1
            if "{" in decl or "(" in decl or ":" in decl:
                continue          # nested struct/union, function pointer, bit-field
            members += [Member(name=n, ctype=t, array=arr) for t, n, arr in _declarators(decl)]
    return members


def _file_scope(code):
    """The blanked code with every brace body blanked too: file scope only."""
    depth, flat = 0, []
    for ch in code:
        if ch == "{":
            depth += 1
            flat.append("{" if depth == 1 else " ")
        elif ch == "}":
            flat.append("}" if depth == 1 else " ")
            depth -= 1
        else:
            flat.append(ch if depth == 0 or ch == "\n" else " ")
    return "".join(flat)


def _functions(code):
    """[(return type, name, params text)] of the non-static functions
    defined at file scope."""
    out, top = [], _file_scope(code)
    for m in re.finditer(r"([A-Za-z_][\w\s*]*?)\b([A-Za-z_]\w*)\s*\(([^()]*)\)\s*\{", top):
        head = m.group(1)
        words = head.replace("*", " * ").split()
        if "static" in words or "typedef" in words:
            continue
        ret = _norm(" ".join(w for w in words if w not in ("extern", "inline")))
        out.append((ret, m.group(2), m.group(3)))
    return out


def _params(text):
    """`PortReset *self, uint8_t floor` -> [(type, name)]."""
    text = text.strip()
    if text in ("", "void"):
        return []
    out = []
    for p in text.split(","):
        pm = re.fullmatch(r"\s*(.*?)([A-Za-z_]\w*)\s*((?:\[[^\]]*\])?)\s*", p, re.S)
        if not pm or not pm.group(1).strip():
            out.append((_norm(p), ""))
        else:
            out.append((_norm(pm.group(1) + (" *" if pm.group(3) else "")), pm.group(2)))
    return out


def _typedef_kinds(code):
    """typedef NAME -> printable kind, for `typedef <scalar> NAME;` and
    `typedef enum {...} NAME;`."""
    kinds = {}
    for m in re.finditer(r"\btypedef\s+enum\b[^;{]*\{[^}]*\}\s*([A-Za-z_]\w*)\s*;", code):
        kinds[m.group(1)] = "s"
    for m in re.finditer(r"\btypedef\s+([^;{}()]+?)\s*\b([A-Za-z_]\w*)\s*;", code):
        k = kind_of(m.group(1), kinds)
        if k and k != "unit":
            kinds[m.group(2)] = k
    for m in re.finditer(r"\benum\s+([A-Za-z_]\w*)\s*\{", code):
        kinds[f"enum {m.group(1)}"] = "s"
    return kinds


_CXX = re.compile(r"^[ \t]*(?:(?:class|namespace)\s+\w+\s*[{:]|template\s*<|using\s+namespace\b)"
                  r"|\bstd::\w|\bnullptr\b", re.M)


def not_c(module_src, where):
    """Why a module cannot be read as a C module, or "" (it may be)."""
    if "\0" in module_src:
        return f"{where}: not a C source text (it holds NUL bytes)"
    if not module_src.strip():
        return f"{where}: the module is empty"
    m = _CXX.search(blank(module_src))
    if m:
        line = module_src.count("\n", 0, m.start()) + 1
        return (f"{where}:{line}: this looks like C++ (`{module_src.splitlines()[line - 1].strip()[:60]}`), "
                f"not C: the C target audits C11 modules; audit a C++ module's own C API, or generate C")
    return ""


def _balance(code, where):
    """A UsageError at the first brace that is never closed, or closes nothing."""
    opened = []
    for i, ch in enumerate(code):
        if ch == "{":
            opened.append(i)
        elif ch == "}" and not opened:
            raise UsageError(f"{where}:{code.count(chr(10), 0, i) + 1}: this `}}` closes nothing "
                             f"(unbalanced braces): the C shim cannot read the module")
        elif ch == "}":
            opened.pop()
    if opened:
        _block(code, opened[-1], where)


def _lifecycle(funcs, system, where):
    """(shape, (constructor, destructor) suffixes) of the module's API:
    SYS_create (frc's and framec's allocating shape), else SYS_new
    returning SYS * (framec's older C output, which has no _create),
    else SYS_init (the no_alloc shape)."""
    if f"{system}_create" in funcs:
        return "alloc", ("create", "destroy")
    ret_new = funcs.get(f"{system}_new", ("", ""))[0]
    if re.fullmatch(r"(?:struct\s+)?" + re.escape(system) + r" \*", ret_new):
        return "alloc", ("new", "destroy")
    if f"{system}_init" in funcs:
        return "noalloc", ("init", "deinit")
    known = sorted(n for n in funcs if n.startswith(system + "_"))
    raise UsageError(f"{where}: `{system}` has neither `{system}_create()` / `{system}_new()` "
                     f"(allocating shape) nor `{system}_init()` (no_alloc shape)"
                     + (f"; its public functions: {', '.join(known[:8])}" if known else
                        f"; it defines no public function named {system}_*"))


def read_api(module_src, system, where="generated C module"):
    """Finds the system's public API in a generated C module."""
    problem = not_c(module_src, where)
    if problem:
        raise UsageError(problem)
    code = blank(module_src)
    _balance(code, where)
    members = _members(code, system, where)
    funcs = {name: (ret, params) for ret, name, params in _functions(code)}
    shape, life = _lifecycle(funcs, system, where)
    if f"{system}_{life[1]}" not in funcs:
        raise UsageError(f"{where}: `{system}` has `{system}_{life[0]}()` but no `{system}_{life[1]}()`")
    ctor = _params(funcs[f"{system}_{life[0]}"][1])
    methods = {}
    for name, (ret, ptext) in funcs.items():
        if not name.startswith(system + "_") or name[len(system) + 1:] in ("create", "new", "destroy", "init",
                                                                            "deinit"):
            continue
        params = _params(ptext)
        if not params or not re.fullmatch(r"(?:struct\s+)?" + re.escape(system) + r" \*", params[0][0]):
            continue
        mname = name[len(system) + 1:]
        methods[mname] = Method(name=mname, ret=ret, params=params[1:])
    return CApi(system=system, shape=shape, members=members, methods=methods, ctor=life[0],
                kinds=_typedef_kinds(code), ctor_params=ctor if shape == "alloc" else ctor[1:])


def check_steps(api, scen, mode=None):
    """Every step calls an interface method with the right arity, every
    domain field it names is a member, and the module has the mode's shape."""
    if mode and api.shape != mode:
        raise UsageError(f"{scen.path}: the module is the {api.shape} shape "
                         f"({api.system}_{'create' if api.shape == 'alloc' else 'init'}), "
                         f"the audit expected the {mode} shape")
    args = getattr(scen, "construct_args", [])
    if len(args) != len(api.ctor_params):
        life = api.ctor or ("create" if api.shape == "alloc" else "init")
        raise UsageError(f"{scen.where(getattr(scen, 'construct_line', 0))}: `{api.system}_{life}` takes "
                         f"{len(api.ctor_params)} constructor argument(s), [construct] passes {len(args)}")
    for s in scen.steps:
        where = f"{scen.path}:{s.line}" if s.line else str(scen.path)
        if s.method not in api.methods:
            known = ", ".join(sorted(api.methods)) or "none"
            raise UsageError(f"{where}: `{s.method}` is not an interface method of "
                             f"{api.system} (functions {api.system}_NAME(...): {known})")
        want = len(api.methods[s.method].params)
        if len(s.args) != want:
            raise UsageError(f"{where}: `{s.method}` takes {want} argument(s), the call passes {len(s.args)}")
        for f in s.domain:
            m = api.member(f)
            if m is None:
                raise UsageError(f"{where}: `{f}` is not a member of struct {api.system}")
            if not api.printable(m):
                raise UsageError(f"{where}: `{f}` has type `{m.ctype}`, which the C shim cannot print")


_SUFFIX = re.compile(r"\b((?:0x[0-9A-Fa-f_]+|0b[01_]+|0o[0-7_]+|\d[\d_]*(?:\.\d[\d_]*)?)(?:e[+-]?\d+)?)"
                     r"(?:_?(?:u8|u16|u32|u64|u128|usize|i8|i16|i32|i64|i128|isize|f32|f64))?\b")


def c_arg(text):
    """A scenario argument (Rust syntax) as a C expression."""
    t = text.strip()
    m = re.fullmatch(r'String::from\((".*")\)|(".*")\.(?:to_string|to_owned|into)\(\)', t, re.S)
    if m:
        return m.group(1) or m.group(2)
    t = re.sub(r"\bb'(\\?.)'", r"'\1'", t)

    def number(nm):
        lit = nm.group(1).replace("_", "")
        if lit.startswith("0o"):
            lit = "0" + lit[2:]
        elif lit.startswith("0b"):
            lit = str(int(lit[2:], 2))
        return lit
    return _SUFFIX.sub(number, t)


def c_string(text):
    """A C string literal of `text`."""
    out = []
    for ch in str(text):
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\{ord(ch):03o}")
        elif ch == "?":
            out.append("\\?")          # no trigraphs
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _put(kind, expr):
    """C statements appending the Debug text of `expr` to `o`."""
    return {
        "unit": 'fx__put(o, "()");',
        "bool": f'fx__put(o, "%s", ({expr}) ? "true" : "false");',
        "s": f'fx__put(o, "%lld", (long long)({expr}));',
        "u": f'fx__put(o, "%llu", (unsigned long long)({expr}));',
        "f": f"fx__put_float(o, (double)({expr}), 1);",
        "d": f"fx__put_float(o, (double)({expr}), 0);",
        "str": f"fx__put_str(o, ({expr}));",
    }[kind]


def _put_member(m, kinds):
    """The Debug text of member m of `s` (an array as `[a, b]`)."""
    kind = kind_of(m.ctype, kinds)
    if not m.array:
        return "\t" + _put(kind, f"s->{m.name}")
    return (f'\tfx__put(o, "[");\n'
            f"\tfor (size_t k = 0; k < sizeof s->{m.name} / sizeof s->{m.name}[0]; k++) {{\n"
            f'\t\tif (k) fx__put(o, ", ");\n'
            f"\t\t{_put(kind, f's->{m.name}[k]')}\n"
            f'\t}}\n\tfx__put(o, "]");')


def _arm(i, step, api, observe):
    """One `case` running step i in a window."""
    meth = api.methods[step.method]
    lines = [f"\tcase {i}: {{"]
    for k, ((ptype, _), arg) in enumerate(zip(meth.params, step.args)):
        lines.append(f"\t\t{ptype} volatile a{k} = ({c_arg(arg)});")
    call = f"{api.system}_{step.method}(s{''.join(f', a{k}' for k in range(len(step.args)))})"
    kind = kind_of(meth.ret, api.kinds)
    lines.append("\t\topen(ctx);")
    if kind == "unit":
        lines += [f"\t\t{call};", "\t\tclose(ctx);"]
        if observe:
            lines.append('\t\tfx__put(&o, "ret=()");')
    else:
        lines += [f"\t\t{meth.ret} volatile r = {call};", "\t\tclose(ctx);"]
        if observe:
            body = _put(kind, "r") if kind else 'fx__put(o, "?");'
            lines.append('\t\tfx__put(&o, "ret="); ' + body.replace("(o,", "(&o,"))
        else:
            lines.append("\t\t(void)r;")
    lines.append("\t\tbreak;\n\t}")
    return "\n".join(lines)


def _expects(scen):
    rows = [(-1, scen.construct_alloc, scen.construct_frees)]
    rows += [(i, s.alloc, s.frees) for i, s in enumerate(scen.steps)]
    return "\n".join(f"\tcase {i}: a = {-1 if x is None else x}; f = {-1 if y is None else y}; break;"
                     for i, x, y in rows)


def _life(api, scen):
    """(storage, construct body, destroy body) of the shape; constructor
    arguments (scenario [construct] args) in volatile locals before open()."""
    sysn = api.system
    lets = "".join(f"\t{t} volatile c{k} = ({c_arg(a)});\n" for k, ((t, _), a) in
                   enumerate(zip(api.ctor_params, getattr(scen, "construct_args", []))))
    args = ", ".join(f"c{k}" for k in range(len(api.ctor_params)))
    if api.shape == "alloc":
        return (f"static {sysn} *fx__sys;",
                f"{lets}\topen(ctx);\n\t{sysn} *volatile made = {sysn}_{api.ctor or 'create'}({args});\n\tfx__sys = made;\n\tclose(ctx);",
                f"\tif (fx__sys) {{\n\t\t{sysn}_destroy(fx__sys);\n\t\tfx__sys = NULL;\n\t}}")
    return (f"static {sysn} fx__storage;\nstatic {sysn} *fx__sys;",
            f"{lets}\topen(ctx);\n\t{sysn}_init(&fx__storage{', ' + args if args else ''});\n"
            f"\tfx__sys = &fx__storage;\n\tclose(ctx);",
            f"\tif (fx__sys) {{\n\t\t{sysn}_deinit(fx__sys);\n\t\tfx__sys = NULL;\n\t}}")


def domain_members(api, scen):
    """The members observe prints: the domain fields, and any `_` member a
    scenario step names."""
    named = {f for s in scen.steps for f in s.domain}
    return [m for m in api.members if api.printable(m) and (not m.name.startswith("_") or m.name in named)]


def _template():
    return (Path(__file__).parent / "templates" / "shim.c.tmpl").read_text(encoding="utf-8")


def generate(scen, api, module_path, mode, prefix="fx_"):
    """The shim source for one fixture and shape: templates/shim.c.tmpl
    filled in, its ABI functions named PREFIX + the fixture_abi.h name."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix):
        raise ValueError(f"symbol prefix {prefix!r} is not a C identifier")
    storage, construct, destroy = _life(api, scen)
    steps = scen.steps
    return string.Template(_template()).substitute(
        source=" ".join(str(scen.path.name).split()).replace("*/", "* /"), system=api.system,
        mode=mode, prefix=prefix, module_path=c_string(str(module_path))[1:-1],
        mode_str=c_string(mode), system_str=c_string(api.system), step_count=len(steps),
        labels="\n".join(f"\tcase {i}: return {c_string(s.call)};" for i, s in enumerate(steps)),
        steady_from=scen.steady_from, steady_to=scen.steady_to, steady_repeat=scen.steady_repeat,
        expects=_expects(scen), storage=storage, construct=construct, destroy=destroy,
        dispatch="\n".join(_arm(i, s, api, observe=False) for i, s in enumerate(steps)),
        observe="\n".join(_arm(i, s, api, observe=True) for i, s in enumerate(steps)),
        domain="\n".join(f'\tfx__put(o, "\\x1f" "{m.name}=");\n{_put_member(m, api.kinds)}'
                         for m in domain_members(api, scen)))


_QUOTED = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
_DEFINED = re.compile(r"\b([A-Za-z_]\w*)\s*\([^()]*\)\s*\{")
_DECLARED = re.compile(r"\b([A-Za-z_]\w*)\s*\([^()]*\)\s*;")


def check_runtime(module_src, system, module_path):
    """A module generated elsewhere must hold its runtime (framec's C output
    is one self-contained file): every `#include "X"` must be next to the
    module (gcc finds it there when the shim includes the module), and every
    function named SYS_* the module declares must be defined in it or in
    such a header.  Otherwise a usage error that says which is missing,
    before gcc's `No such file` or the loader's `undefined symbol`."""
    module_path = Path(module_path)
    texts, problems = [module_src], []
    for m in _QUOTED.finditer(module_src):
        line = module_src.count("\n", 0, m.start()) + 1
        header = module_path.parent / m.group(1)
        if header.is_file():
            texts.append(header.read_text(encoding="utf-8", errors="replace"))
        else:
            problems.append(f"{module_path}:{line}: `#include \"{m.group(1)}\"`: {m.group(1)} is not next to "
                            f"the module ({module_path.parent}); the audit builds the module as one translation "
                            f"unit: put the header (with the runtime's definitions) beside it")
    defined = {m.group(1) for t in texts for m in _DEFINED.finditer(_file_scope(blank(t)))}
    top = _file_scope(blank(module_src))
    missing = sorted({m.group(1) for m in _DECLARED.finditer(top)
                      if m.group(1).startswith(system + "_") and m.group(1) not in defined})
    if missing:
        problems.append(f"{module_path}: declares {', '.join(f'`{n}`' for n in missing[:6])}"
                        f"{' and more' if len(missing) > 6 else ''} but does not define "
                        f"{'it' if len(missing) == 1 else 'them'}: the runtime is not in the module; the audit needs it in the module or in a header "
                        f"next to it (a separate runtime .c is not linked)")
    if problems:
        raise UsageError("\n".join(problems))


def check_module(module_src, scen, module_path, mode=None):
    """What --generated checks before anything is written: the module can
    be read as C (read_api), the scenario fits its API (check_steps), its
    runtime is in it (check_runtime).  Every problem is a UsageError."""
    api = read_api(module_src, scen.system, where=str(module_path))
    check_steps(api, scen, mode)
    check_runtime(module_src, scen.system, module_path)
    return api
