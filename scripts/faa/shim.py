"""The shim generator: scenario + generated module -> the fixture's module of
a bundle crate (bundle.py builds many of them into one cdylib).

The shim is the Rust side of the fixture ABI (harness/fixture_abi.h).  It
includes the generated module unchanged (`#[path] mod`), owns the system in
static storage and exports one plain C function per ABI entry.  It knows
the system only through the public API every framec-compatible compiler
emits (`Sys::__create()`, one `pub fn` per interface method, `pub` domain
fields), which it reads from the generated module itself, so the same shim
serves frc, framec, or code generated elsewhere (`audit --generated`).
The Rust text is templates/shim.rs.tmpl (string.Template: `${name}` is
filled in by generate(); no other `$` may appear in it).

Window discipline: each argument is evaluated and passed through `opaque`
(a volatile read the optimiser cannot see through) before the window
opens; the window holds the call and the drop of its (opaque) return
value, nothing else.
"""

import re
import string
from dataclasses import dataclass
from pathlib import Path

from . import rustlex
from .errors import UsageError


@dataclass
class ModuleApi:
    system: str
    fields: list          # pub domain field names, in declaration order
    methods: dict         # method name -> number of parameters (self excluded)


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
    raise UsageError("generated module: unbalanced braces")


def _top_level_commas(text):
    depth, count, nonblank = 0, 0, False
    for ch in text:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == "," and depth == 0:
            count += 1
        if not ch.isspace():
            nonblank = True
    stripped = text.strip()
    if not nonblank:
        return 0
    return count + (0 if stripped.endswith(",") else 1)


def read_api(module_src, system, where="generated module"):
    """Finds the system's public API in generated Rust source."""
    try:
        src = rustlex.blank(module_src)
    except rustlex.LexError as e:
        raise UsageError(f"{where}: {e}") from e
    m = re.search(r"\bpub\s+struct\s+" + re.escape(system) + r"\b[^{;]*\{", src)
    if not m:
        raise UsageError(f"{where}: no `pub struct {system}` (is `system` in the scenario right?)")
    body = _block(src, m.end() - 1)
    fields, depth, start = [], 0, 0
    for j, ch in enumerate(body + ","):
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == "," and depth == 0:
            fm = re.match(r"\s*(?:#\[[^\]]*\]\s*)*pub\s+([A-Za-z_][A-Za-z0-9_]*)\s*:", body[start:j])
            if fm:
                fields.append(fm.group(1))
            start = j + 1
    methods = {}
    for im in re.finditer(r"\bimpl\s+" + re.escape(system) + r"\s*\{", src):
        impl = _block(src, im.end() - 1)
        for fm in re.finditer(r"\bpub\s+fn\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:<[^>]*>)?\s*\(", impl):
            depth, j = 1, fm.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(impl[j], 0)
                j += 1
            params = impl[fm.end():j - 1]
            if not re.match(r"\s*&\s*mut\s+self\b", params):
                continue
            rest = re.sub(r"^\s*&\s*mut\s+self\s*,?", "", params)
            methods[fm.group(1)] = _top_level_commas(rest)
    if "__create" not in re.findall(r"\bfn\s+(__create)\b", src):
        raise UsageError(f"{where}: `{system}` has no `__create()` constructor")
    return ModuleApi(system=system, fields=fields, methods=methods)


def check_steps(api, scen):
    """Every step must call an interface method with the right arity."""
    for s in scen.steps:
        where = f"{scen.path}:{s.line}" if s.line else str(scen.path)
        if s.method not in api.methods:
            known = ", ".join(sorted(api.methods)) or "none"
            raise UsageError(f"{where}: `{s.method}` is not an interface method of "
                             f"{api.system} (methods: {known})")
        if len(s.args) != api.methods[s.method]:
            raise UsageError(f"{where}: `{s.method}` takes {api.methods[s.method]} "
                             f"argument(s), the call passes {len(s.args)}")
        for f in s.domain:
            if f not in api.fields:
                raise UsageError(f"{where}: `{f}` is not a pub domain field of {api.system}")


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


def _arm(i, step, observe):
    """One `match` arm running step i in a window: each argument goes
    through `opaque` before open(); the window holds the call and the
    drop of its result (fx_dispatch), or the call alone (fx_observe,
    which formats the result after close)."""
    lets = "".join(f"let a{k} = opaque({a}); " for k, a in enumerate(step.args))
    call = f"s.{step.method}({', '.join(f'a{k}' for k in range(len(step.args)))})"
    head = f"            {i} => {{ {lets}open(ctx); let r = opaque({call}); "
    if observe:
        return head + 'close(ctx); format!("ret={:?}", r) }'
    return head + "drop(r); close(ctx); }"


def _expect_arms(scen):
    """fx_expect's arms: -1 is the constructor, then one per step."""
    rows = [(-1, scen.construct_alloc, scen.construct_frees)]
    rows += [(i, s.alloc, s.frees) for i, s in enumerate(scen.steps)]
    return [f"        {i} => ({_opt(a)}, {_opt(f)})," for i, a, f in rows]


def _template():
    return (Path(__file__).parent / "templates" / "shim.rs.tmpl").read_text(encoding="utf-8")


def generate(scen, api, module_path, mode, prefix="fx_"):
    """Returns the shim source for one fixture and mode, templates/shim.rs.tmpl
    filled in: a module of a bundle crate (bundle.py) whose ABI functions
    are exported as PREFIX + the fixture_abi.h name (`fx_port_reset__construct`)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix):
        raise ValueError(f"symbol prefix {prefix!r} is not a Rust identifier")
    steps = scen.steps
    return string.Template(_template()).substitute(
        source=_comment(scen.path.name), system=api.system, mode=mode, prefix=prefix,
        module_path=_rust_path(module_path),
        mode_bytes=_rust_bytes(mode), system_bytes=_rust_bytes(api.system),
        step_count=len(steps),
        labels="\n".join(f"        {i} => {_rust_bytes(s.call)}," for i, s in enumerate(steps)),
        steady_from=scen.steady_from, steady_to=scen.steady_to,
        steady_repeat=scen.steady_repeat,
        expects="\n".join(_expect_arms(scen)),
        dispatch="\n".join(_arm(i, s, observe=False) for i, s in enumerate(steps)),
        observe="\n".join(_arm(i, s, observe=True) for i, s in enumerate(steps)),
        domain="".join(f'    let _ = write!(t, "\\x1f{f}={{:?}}", s.{f});\n' for f in api.fields))


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
