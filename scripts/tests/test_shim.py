import re

import pytest

from faa import scenario, shim
from faa.errors import UsageError

MODULE = r'''
// pub struct Decoy { pub nope: u8 }
pub struct Sys {
    pub total: i32,
    _state: State,
    pub map: Wrapper<u8, u16>,
    pub(crate) hidden: u8,
}
impl Sys {
    pub fn new() -> Sys { todo!() }
    pub fn __create() -> Sys { todo!() }
    pub fn connect(&mut self) { let s = "pub fn fake(&mut self, a: u8)"; }
    pub fn load(&mut self, n: u8, s: String) -> i32 { 0 }
    pub fn pair(&mut self, p: Pair<u8, u16>,) {}
    fn private(&mut self, x: u8) {}
}
'''


def test_read_api_finds_pub_fields_and_method_arities():
    api = shim.read_api(MODULE, "Sys")
    assert api.fields == ["total", "map"]
    assert {n: m.arity for n, m in api.methods.items()} == {"connect": 0, "load": 2, "pair": 1}
    assert api.methods["load"].params == [("n", "u8"), ("s", "String")]
    assert api.methods["load"].ret == "i32" and api.methods["connect"].ret is None
    assert api.methods["pair"].params == [("p", "Pair<u8, u16>")]
    assert sorted(api.ctors) == ["__create", "new"] and api.sys_type == "Sys"


# framec's shapes: the system in a module re-exported with `pub use`, an
# impl with attributes and lifetimes, `-> Self`, async methods, &str.
FRAMEC_LIKE = r'''
mod _sys_framec {
    pub enum Mode { Slow, Fast(u8) }
    pub const LIMIT: u16 = 10;
    pub type Count = u32;
    #[allow(dead_code)]
    pub struct Sys<'a> {
        __compartment: Compartment,
        pub name: &'a str,
        pub count: Count,
    }
    #[allow(non_snake_case)]
    impl<'a> Sys<'a> {
        pub fn __create(step: i32, limit: i32) -> Self { todo!() }
        pub async fn fetch(&mut self, url: String) -> Result<usize, String> { todo!() }
        pub fn label(&'a mut self, s: &'a str) -> &'a str { s }
        pub fn set(&mut self, m: Mode, n: Count, l: u16) {}
        fn __kernel(&mut self) {}
    }
    impl Drop for Sys<'_> { fn drop(&mut self) {} }
}
pub use _sys_framec::*;
'''


def test_read_api_reads_framec_shaped_modules():
    api = shim.read_api(FRAMEC_LIKE, "Sys")
    assert api.sys_type == "Sys<'static>"
    assert list(api.ctors) == ["__create"]
    assert api.ctors["__create"].params == [("step", "i32"), ("limit", "i32")]
    assert api.ctors["__create"].ret == "Self"
    assert api.methods["fetch"].is_async and api.methods["fetch"].params == [("url", "String")]
    assert api.methods["fetch"].ret == "Result<usize, String>"
    assert api.methods["label"].params == [("s", "&'a str")] and not api.methods["label"].is_async
    assert api.fields == ["name", "count"]
    assert api.enums == {"Mode": ["Slow", "Fast"]} and api.consts == {"LIMIT": "u16"}
    assert api.aliases == {"Count": "u32"} and api.is_async


def test_read_api_refuses_a_system_with_type_parameters():
    with pytest.raises(UsageError, match="takes type parameters"):
        shim.read_api("pub struct Sys<T> { pub x: T }\nimpl<T> Sys<T> { pub fn __create() -> Self { todo!() } }",
                      "Sys")


def test_read_api_requires_the_struct_and_create():
    with pytest.raises(UsageError, match="no `pub struct Nope`"):
        shim.read_api(MODULE, "Nope")
    with pytest.raises(UsageError, match=r"no `pub fn __create\(...\)` or `pub fn new\(...\)`"):
        shim.read_api(MODULE.replace("__create", "make").replace("fn new", "fn make2"), "Sys")
    # without __create, new() is the constructor (older framec)
    assert list(shim.read_api(MODULE.replace("__create", "make"), "Sys").ctors) == ["new"]


def scen(tmp_path, steps):
    p = tmp_path / "x.toml"
    p.write_text('system = "Sys"\n' + "".join(f"[[step]]\ncall = '{c}'\n" for c in steps))
    return scenario.load(p)


@pytest.mark.parametrize("call,needle", [
    ("nope()", "not an interface method"),
    ("load(1)", "takes 2 argument(s), the call passes 1"),
    ("connect(1)", "takes 0 argument(s)"),
    ("load(300, String::from(\"a\"))", "argument 1 of `load`, `300`, cannot be passed as `n: u8`: "
                                         "300 is out of range for u8 (0..=255)"),
    ('load(3, "a")', 'argument 2 of `load`, `"a"`, cannot be passed as `s: String`: it is a &str '
                     '(string literal); pass String::from("a")'),
])
def test_check_steps_names_file_and_line_of_a_bad_call(tmp_path, call, needle):
    api = shim.read_api(MODULE, "Sys")
    with pytest.raises(UsageError) as e:
        shim.check_steps(api, scen(tmp_path, ["connect()", call]))
    assert "x.toml:5" in str(e.value) and needle in str(e.value)


def test_generated_shim_builds_arguments_before_the_window_opens(tmp_path):
    api = shim.read_api(MODULE, "Sys")
    src = shim.generate(scen(tmp_path, ['load(3, String::from("a"))']), api, "/m.rs", "alloc")
    line = next(l for l in src.splitlines() if "s.load(" in l and "open(ctx)" in l)
    assert line.index("String::from") < line.index("open(ctx)") < line.index("s.load(") < line.index("close(ctx)")
    assert "drop(r); close(ctx)" in line


def test_read_api_names_where_an_unterminated_literal_opened():
    with pytest.raises(UsageError, match=r"^gen/m\.rs: unterminated string \(opened on line 3\)$"):
        shim.read_api('pub struct Sys {}\nimpl Sys {\n  fn f() { "open }\n}\n', "Sys", where="gen/m.rs")


def golden_scenario(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text('system = "Sys"\n[construct]\nalloc = 2\nfrees = 1\n'
                 '[[step]]\ncall = "connect()"\nalloc = 1\nfrees = 0\n'
                 '[[step]]\ncall = \'load(3, String::from("a\\"b"))\'\n'
                 '[steady]\nfrom = 1\nto = 2\nrepeat = 5\n')
    return scenario.load(p)


def test_generated_shim_is_the_template_filled_in_byte_for_byte(tmp_path):
    # SHIM_GOLDEN is what generate() produced when the shim was one
    # f-string (its header since bundles say which prefix; since issue 14
    # values are shown through FxShow, so a type without Debug shows as
    # `<not Debug>`; since then a panic hook prints a panic with one
    # write); the template must reproduce it exactly.
    api = shim.ModuleApi(system="Sys", fields=["total", "map"], methods={"connect": 0, "load": 2})
    assert shim.generate(golden_scenario(tmp_path), api, "/m.rs", "alloc") == SHIM_GOLDEN


def test_a_bundle_member_exports_every_abi_function_under_its_prefix(tmp_path):
    api = shim.ModuleApi(system="Sys", fields=["total", "map"], methods={"connect": 0, "load": 2})
    src = shim.generate(golden_scenario(tmp_path), api, "/m.rs", "alloc", prefix="fx_port_reset__")
    exported = re.findall(r'pub extern "C" fn (\w+)\(', src)
    assert exported and all(n.startswith("fx_port_reset__") for n in exported)
    assert exported == [n.replace("fx_", "fx_port_reset__", 1)
                        for n in re.findall(r'pub extern "C" fn (\w+)\(', SHIM_GOLDEN)]
    assert "fx_port_reset__destroy();" in src
    with pytest.raises(ValueError):
        shim.generate(golden_scenario(tmp_path), api, "/m.rs", "alloc", prefix="fx-bad")


SHIM_GOLDEN = r'''// generated by frame-alloc-audit's shim generator from x.toml — do not edit
// Fixture ABI v2 (harness/fixture_abi.h) for system Sys, alloc shape, exported
// under the prefix fx_ (fx_construct, ...): a module of a bundle crate
// (scripts/faa/bundle.py), which may hold many fixtures.
#![allow(warnings)]

#[path = "/m.rs"]
mod fx_module;
#[allow(unused_imports)]
use fx_module::*;

use std::cell::UnsafeCell;
use std::fmt::Write as _;
use std::os::raw::{c_char, c_void};

type Hook = extern "C" fn(*mut c_void);

struct Slot(UnsafeCell<Option<Sys>>);
// The harness drives a library from one thread only (fixture_abi.h).
unsafe impl Sync for Slot {}
static SYSTEM: Slot = Slot(UnsafeCell::new(None));

/// Moves a value through a volatile read: the optimiser can neither
/// evaluate it inside the window nor delete its allocation as unused.
#[inline(never)]
fn opaque<T>(x: T) -> T {
    unsafe {
        let r = std::ptr::read_volatile(&x);
        std::mem::forget(x);
        r
    }
}

/// A panic printed with one write(2), in Rust >= 1.73's layout whatever
/// rustc built this (scripts/faa/panic.py reads both): the harness's
/// workers share one stderr, and the default hook writes a message in
/// pieces that two panicking workers can interleave mid-line.  Installed
/// once, outside every window; a message past 4000 bytes is cut.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            struct Buf([u8; 4000], usize);
            impl std::fmt::Write for Buf {
                fn write_str(&mut self, s: &str) -> std::fmt::Result {
                    let k = s.len().min(self.0.len() - self.1);
                    self.0[self.1..self.1 + k].copy_from_slice(&s.as_bytes()[..k]);
                    self.1 += k;
                    Ok(())
                }
            }
            extern "C" {
                fn write(fd: i32, buf: *const u8, n: usize) -> isize;
            }
            let p = info.payload();
            let msg = p.downcast_ref::<&str>().copied()
                .or_else(|| p.downcast_ref::<String>().map(|s| s.as_str()))
                .unwrap_or("Box<dyn Any>");
            let mut b = Buf([0; 4000], 0);
            let _ = match info.location() {
                Some(l) => write!(b, "\nthread '<unnamed>' panicked at {}:{}:{}:\n{}\n",
                                  l.file(), l.line(), l.column(), msg),
                None => write!(b, "\nthread '<unnamed>' panicked at <unknown>:0:0:\n{}\n", msg),
            };
            unsafe { write(2, b.0.as_ptr(), b.1); }
        }));
    });
}

fn system() -> Option<&'static mut Sys> {
    unsafe { (*SYSTEM.0.get()).as_mut() }
}

#[no_mangle]
pub extern "C" fn fx_abi_version() -> u32 { 2 }

#[no_mangle]
pub extern "C" fn fx_mode() -> *const c_char { b"alloc\0".as_ptr() as *const c_char }

#[no_mangle]
pub extern "C" fn fx_system_name() -> *const c_char { b"Sys\0".as_ptr() as *const c_char }

#[no_mangle]
pub extern "C" fn fx_step_count() -> u32 { 2 }

#[no_mangle]
pub extern "C" fn fx_step_label(i: u32) -> *const c_char {
    let s: &[u8] = match i {
        0 => b"connect()\0",
        1 => b"load(3, String::from(\"a\\\"b\"))\0",
        _ => b"?\0",
    };
    s.as_ptr() as *const c_char
}

#[no_mangle]
pub extern "C" fn fx_steady_from() -> u32 { 0 }

#[no_mangle]
pub extern "C" fn fx_steady_to() -> u32 { 1 }

#[no_mangle]
pub extern "C" fn fx_steady_repeat() -> u32 { 5 }

#[no_mangle]
pub extern "C" fn fx_expect(i: i32, allocs: *mut i64, frees: *mut i64) {
    let (a, f): (i64, i64) = match i {
        -1 => (2, 1),
        0 => (1, 0),
        1 => (-1, -1),
        _ => (-1, -1),
    };
    unsafe {
        *allocs = a;
        *frees = f;
    }
}

#[no_mangle]
pub extern "C" fn fx_size_of() -> usize { std::mem::size_of::<Sys>() }

#[no_mangle]
pub extern "C" fn fx_destroy() {
    unsafe { *SYSTEM.0.get() = None; }
}

/// Returns 0, or -2 when __create() panicked (window left open).
#[no_mangle]
pub extern "C" fn fx_construct(open: Hook, close: Hook, ctx: *mut c_void) -> i32 {
    install_panic_hook();
    fx_destroy();
    let run = std::panic::AssertUnwindSafe(move || {
        open(ctx);
        let s = opaque(Sys::__create());
        unsafe { *SYSTEM.0.get() = Some(s); }
        close(ctx);
    });
    match std::panic::catch_unwind(run) {
        Ok(()) => 0,
        Err(_) => -2,
    }
}

/// Returns 0, -1 (bad index or no system) or -2: the call panicked, and
/// the window was left open (the harness closes it and reports the panic).
#[no_mangle]
pub extern "C" fn fx_dispatch(i: u32, open: Hook, close: Hook, ctx: *mut c_void) -> i32 {
    let s = match system() { Some(s) => s, None => return -1 };
    let run = std::panic::AssertUnwindSafe(move || {
        match i {
            0 => { open(ctx); let r = opaque(s.connect()); drop(r); close(ctx); }
            1 => { let a0 = opaque(3); let a1 = opaque(String::from("a\"b")); open(ctx); let r = opaque(s.load(a0, a1)); drop(r); close(ctx); }
            _ => return -1,
        }
        0
    });
    match std::panic::catch_unwind(run) {
        Ok(r) => r,
        Err(_) => -2,
    }
}

/// Appends a value's Debug text, or `<not Debug>` for a type without
/// Debug (a domain field or return value of a type the generated code
/// did not derive it for), so that the shim builds for any public API:
/// method resolution picks FxDebugShow (on FxShow itself) when T: Debug,
/// else FxOpaqueShow (on &FxShow, one autoref further).
struct FxShow<'a, T>(&'a T);
trait FxDebugShow { fn fx_show(&self, t: &mut String); }
impl<'a, T: std::fmt::Debug> FxDebugShow for FxShow<'a, T> {
    fn fx_show(&self, t: &mut String) { let _ = write!(t, "{:?}", self.0); }
}
trait FxOpaqueShow { fn fx_show(&self, t: &mut String); }
impl<'a, T> FxOpaqueShow for &FxShow<'a, T> {
    fn fx_show(&self, t: &mut String) { t.push_str("<not Debug>"); }
}

fn domain(s: &Sys, t: &mut String) {
    t.push_str("\x1ftotal="); (&FxShow(&s.total)).fx_show(t);
    t.push_str("\x1fmap="); (&FxShow(&s.map)).fx_show(t);
}

/// Runs step i in a window (the call only: formatting comes after close)
/// and writes its return value and the domain fields into buf.  Returns the
/// text's length, -1 (bad index or no system) or -2 (panicked; window open).
#[no_mangle]
pub extern "C" fn fx_observe(i: u32, buf: *mut c_char, len: usize, open: Hook, close: Hook,
                             ctx: *mut c_void) -> i64 {
    let s = match system() { Some(s) => s, None => return -1 };
    let run = std::panic::AssertUnwindSafe(move || -> Option<String> {
        Some(match i {
            0 => { open(ctx); let r = opaque(s.connect()); close(ctx); let mut o = String::from("ret="); (&FxShow(&r)).fx_show(&mut o); o }
            1 => { let a0 = opaque(3); let a1 = opaque(String::from("a\"b")); open(ctx); let r = opaque(s.load(a0, a1)); close(ctx); let mut o = String::from("ret="); (&FxShow(&r)).fx_show(&mut o); o }
            _ => return None,
        })
    });
    let mut t: String = match std::panic::catch_unwind(run) {
        Ok(Some(t)) => t,
        Ok(None) => return -1,
        Err(_) => return -2,
    };
    let s = match system() { Some(s) => s, None => return -1 };
    domain(s, &mut t);
    let bytes = t.as_bytes();
    if len > 0 && !buf.is_null() {
        let k = bytes.len().min(len - 1);
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr() as *const c_char, buf, k);
            *buf.add(k) = 0;
        }
    }
    bytes.len() as i64
}
'''
