"""The shim generator: scenario + generated module -> a fixture cdylib crate.

The shim is the Rust side of the fixture ABI (harness/fixture_abi.h).  It
includes the generated module unchanged (`#[path] mod`), owns the system in
static storage and exports one plain C function per ABI entry.  It knows
the system only through the public API every framec-compatible compiler
emits (`Sys::__create()`, one `pub fn` per interface method, `pub` domain
fields), which it reads from the generated module itself, so the same shim
serves frc, framec, or code generated elsewhere (`audit --generated`).

Window discipline: each argument is evaluated and passed through `opaque`
(a volatile read the optimiser cannot see through) before the window
opens; the window holds the call and the drop of its (opaque) return
value, nothing else.
"""

import re
from dataclasses import dataclass

from . import rustlex
from .errors import UsageError


@dataclass
class ModuleApi:
    system: str
    fields: list          # pub domain field names, in declaration order
    methods: dict         # method name -> number of parameters (self excluded)


def _strip_comments_and_strings(src):
    """Kept for attribute.py: rustlex.blank, tolerant of unterminated text."""
    return rustlex.blank(src, tolerant=True)


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


def _opt(v):
    return -1 if v is None else v


def generate(scen, api, module_path, mode):
    """Returns the shim crate source (lib.rs) for one fixture and mode."""
    sysname = api.system
    n = len(scen.steps)
    labels = "\n".join(f"        {i} => {_rust_bytes(s.call)}," for i, s in enumerate(scen.steps))
    expects = [f"        -1 => ({_opt(scen.construct_alloc)}, {_opt(scen.construct_frees)}),"]
    expects += [f"        {i} => ({_opt(s.alloc)}, {_opt(s.frees)}),"
                for i, s in enumerate(scen.steps)]
    dispatch, observe = [], []
    for i, s in enumerate(scen.steps):
        lets = "".join(f"let a{k} = opaque({a}); " for k, a in enumerate(s.args))
        call = f"s.{s.method}({', '.join(f'a{k}' for k in range(len(s.args)))})"
        dispatch.append(f"        {i} => {{ {lets}open(ctx); let r = opaque({call}); "
                        f"drop(r); close(ctx); }}")
        observe.append(f"        {i} => {{ {lets}open(ctx); let r = opaque({call}); close(ctx); "
                       f"format!(\"ret={{:?}}\", r) }}")
    fields = "".join(f'    let _ = write!(t, "\\x1f{f}={{:?}}", s.{f});\n' for f in api.fields)
    return f"""\
// generated by frame-alloc-audit's shim generator from {scen.path.name} — do not edit
// Fixture ABI v2 (harness/fixture_abi.h) for system {sysname}, {mode} shape.
#![allow(warnings)]

#[path = "{module_path}"]
mod fx_module;
#[allow(unused_imports)]
use fx_module::*;

use std::cell::UnsafeCell;
use std::fmt::Write as _;
use std::os::raw::{{c_char, c_void}};

type Hook = extern "C" fn(*mut c_void);

struct Slot(UnsafeCell<Option<{sysname}>>);
// The harness drives a library from one thread only (fixture_abi.h).
unsafe impl Sync for Slot {{}}
static SYSTEM: Slot = Slot(UnsafeCell::new(None));

/// Moves a value through a volatile read: the optimiser can neither
/// evaluate it inside the window nor delete its allocation as unused.
#[inline(never)]
fn opaque<T>(x: T) -> T {{
    unsafe {{
        let r = std::ptr::read_volatile(&x);
        std::mem::forget(x);
        r
    }}
}}

fn system() -> Option<&'static mut {sysname}> {{
    unsafe {{ (*SYSTEM.0.get()).as_mut() }}
}}

#[no_mangle]
pub extern "C" fn fx_abi_version() -> u32 {{ 2 }}

#[no_mangle]
pub extern "C" fn fx_mode() -> *const c_char {{ {_rust_bytes(mode)}.as_ptr() as *const c_char }}

#[no_mangle]
pub extern "C" fn fx_system_name() -> *const c_char {{ {_rust_bytes(sysname)}.as_ptr() as *const c_char }}

#[no_mangle]
pub extern "C" fn fx_step_count() -> u32 {{ {n} }}

#[no_mangle]
pub extern "C" fn fx_step_label(i: u32) -> *const c_char {{
    let s: &[u8] = match i {{
{labels}
        _ => b"?\\0",
    }};
    s.as_ptr() as *const c_char
}}

#[no_mangle]
pub extern "C" fn fx_steady_from() -> u32 {{ {scen.steady_from} }}

#[no_mangle]
pub extern "C" fn fx_steady_to() -> u32 {{ {scen.steady_to} }}

#[no_mangle]
pub extern "C" fn fx_steady_repeat() -> u32 {{ {scen.steady_repeat} }}

#[no_mangle]
pub extern "C" fn fx_expect(i: i32, allocs: *mut i64, frees: *mut i64) {{
    let (a, f): (i64, i64) = match i {{
{chr(10).join(expects)}
        _ => (-1, -1),
    }};
    unsafe {{
        *allocs = a;
        *frees = f;
    }}
}}

#[no_mangle]
pub extern "C" fn fx_size_of() -> usize {{ std::mem::size_of::<{sysname}>() }}

#[no_mangle]
pub extern "C" fn fx_destroy() {{
    unsafe {{ *SYSTEM.0.get() = None; }}
}}

/// Returns 0, or -2 when __create() panicked (window left open).
#[no_mangle]
pub extern "C" fn fx_construct(open: Hook, close: Hook, ctx: *mut c_void) -> i32 {{
    fx_destroy();
    let run = std::panic::AssertUnwindSafe(move || {{
        open(ctx);
        let s = opaque({sysname}::__create());
        unsafe {{ *SYSTEM.0.get() = Some(s); }}
        close(ctx);
    }});
    match std::panic::catch_unwind(run) {{
        Ok(()) => 0,
        Err(_) => -2,
    }}
}}

/// Returns 0, -1 (bad index or no system) or -2: the call panicked, and
/// the window was left open (the harness closes it and reports the panic).
#[no_mangle]
pub extern "C" fn fx_dispatch(i: u32, open: Hook, close: Hook, ctx: *mut c_void) -> i32 {{
    let s = match system() {{ Some(s) => s, None => return -1 }};
    let run = std::panic::AssertUnwindSafe(move || {{
        match i {{
{chr(10).join("    " + d for d in dispatch)}
            _ => return -1,
        }}
        0
    }});
    match std::panic::catch_unwind(run) {{
        Ok(r) => r,
        Err(_) => -2,
    }}
}}

fn domain(s: &{sysname}, t: &mut String) {{
{fields}}}

/// Runs step i in a window (the call only: formatting comes after close)
/// and writes its return value and the domain fields into buf.  Returns the
/// text's length, -1 (bad index or no system) or -2 (panicked; window open).
#[no_mangle]
pub extern "C" fn fx_observe(i: u32, buf: *mut c_char, len: usize, open: Hook, close: Hook,
                             ctx: *mut c_void) -> i64 {{
    let s = match system() {{ Some(s) => s, None => return -1 }};
    let run = std::panic::AssertUnwindSafe(move || -> Option<String> {{
        Some(match i {{
{chr(10).join("    " + o for o in observe)}
            _ => return None,
        }})
    }});
    let mut t: String = match std::panic::catch_unwind(run) {{
        Ok(Some(t)) => t,
        Ok(None) => return -1,
        Err(_) => return -2,
    }};
    let s = match system() {{ Some(s) => s, None => return -1 }};
    domain(s, &mut t);
    let bytes = t.as_bytes();
    if len > 0 && !buf.is_null() {{
        let k = bytes.len().min(len - 1);
        unsafe {{
            std::ptr::copy_nonoverlapping(bytes.as_ptr() as *const c_char, buf, k);
            *buf.add(k) = 0;
        }}
    }}
    bytes.len() as i64
}}
"""


def nostd_wrapper(module_path):
    """A crate that includes the module under #![no_std] without `alloc`
    (nostd.py builds it against a sysroot holding only core).  The module
    is `pub` so that its public API, and all it calls, is code generated
    into the object the proof reads."""
    return f"""\
// generated by frame-alloc-audit: the static proof that {module_path}
// needs neither std nor alloc — do not edit
#![no_std]
#![allow(warnings)]

#[path = "{module_path}"]
pub mod fx_module;
"""
