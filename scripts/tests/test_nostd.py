"""The static proof (gate rule nostd, scripts/faa/nostd.py): the no_alloc
module may link neither alloc nor std, install no allocator, and its object
code may call no allocator entry point.  Each way of bringing the heap back
goes red here, with every rustc the machine has (rustup's and Debian's
1.63), and the unmodified generated modules stay green."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from faa import nostd, shim, tools

PORT_RESET = ROOT / "generated" / "port_reset" / "noalloc.rs"


def _rustcs():
    found = []
    try:
        found.append(tools.rustc())
    except Exception:      # noqa: BLE001 - no Rust at all: the tests skip
        pass
    for cand in (str(Path.home() / ".cargo/bin/rustc"), "/usr/bin/rustc"):
        if os.access(cand, os.X_OK) and all(os.path.realpath(cand) != os.path.realpath(f)
                                            for f in found):
            found.append(cand)
    return found


RUSTCS = _rustcs()


@pytest.fixture(params=RUSTCS or [None], ids=lambda r: r or "no-rustc")
def rustc(request):
    if request.param is None:
        pytest.skip("no rustc: apt-get install -y rustc")
    if not shutil.which("nm") or not shutil.which("objdump"):
        pytest.skip("binutils missing: apt-get install -y binutils")
    return request.param


def prove(rustc, tmp_path, text, name="m"):
    mod = tmp_path / f"{name}.rs"
    mod.write_text(text)
    wrapper = tmp_path / f"{name}_nostd.rs"
    wrapper.write_text(shim.nostd_wrapper(mod.resolve()))
    ver = subprocess.run([rustc, "--version"], capture_output=True, text=True).stdout
    return nostd.prove(rustc, ver, wrapper, mod, text, tmp_path, f"nostd_{name}",
                       sysroot_cache=tmp_path / "sysroot")


def inject(body, extra=""):
    """The port_reset module with `body` at the top of $Idle.connect's handler."""
    src = PORT_RESET.read_text()
    m = re.search(r"fn _s_Idle_connect\(&mut self, __e: &PortResetFrameEvent\) \{", src)
    return src[:m.end()] + "\n" + body + "\n" + src[m.end():] + "\n" + extra + "\n"


@pytest.mark.parametrize("fixture", ["port_reset", "debounce_button", "elevator", "lexer"])
def test_generated_no_alloc_modules_pass_the_proof(rustc, tmp_path, fixture):
    text = (ROOT / "generated" / fixture / "noalloc.rs").read_text()
    assert prove(rustc, tmp_path, text) == []


def test_extern_crate_alloc_fails_even_with_a_global_allocator_of_its_own(rustc, tmp_path):
    arena = """
extern crate alloc;
use core::alloc::{GlobalAlloc, Layout};
struct Arena;
static mut HEAP: [u8; 4096] = [0; 4096];
static mut TOP: usize = 0;
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 { let p = core::ptr::addr_of_mut!(HEAP) as *mut u8; TOP += l.size(); p.add(TOP - l.size()) }
    unsafe fn dealloc(&self, _p: *mut u8, _l: Layout) {}
}
#[global_allocator]
static ARENA: Arena = Arena;
"""
    problems = prove(rustc, tmp_path, inject("let b = alloc::boxed::Box::new(3u8); let _ = *b;", arena))
    text = "\n".join(problems)
    assert "declares #[global_allocator]" in text
    assert re.search(r"m\.rs:\d+: the no_alloc module brings in `alloc`", text), text


def test_extern_crate_std_fails(rustc, tmp_path):
    problems = prove(rustc, tmp_path, inject("", "extern crate std;\npub fn f() -> usize { std::process::id() as usize }"))
    assert any("brings in `std`" in p for p in problems), problems


def test_std_paths_without_extern_crate_fail(rustc, tmp_path):
    problems = prove(rustc, tmp_path, inject("let v: std::vec::Vec<u8> = std::vec::Vec::new(); let _ = v;"))
    assert any("does not build as #![no_std] against core alone" in p for p in problems), problems


def test_a_mention_in_a_comment_or_string_is_not_an_allocator(rustc, tmp_path):
    extra = '// #[global_allocator] is not allowed here\npub const S: &str = "#[global_allocator] extern crate alloc;";'
    assert prove(rustc, tmp_path, inject("", extra)) == []


@pytest.mark.parametrize("symbol,decl", [
    ("__libc_malloc", "fn __libc_malloc(n: usize) -> *mut u8;"),
    ("calloc", "fn calloc(n: usize, s: usize) -> *mut u8;"),
    ("mmap", "fn mmap(a: *mut u8, l: usize, p: i32, f: i32, fd: i32, o: i64) -> *mut u8;"),
    ("syscall", "fn syscall(n: i64, ...) -> i64;"),
    ("dlsym", "fn dlsym(h: *mut u8, s: *const u8) -> *mut u8;"),
])
def test_object_code_calling_an_allocator_entry_point_fails_naming_it(rustc, tmp_path, symbol, decl):
    args = {"__libc_malloc": "24", "calloc": "1, 8", "dlsym": "core::ptr::null_mut(), b\"malloc\\0\".as_ptr()",
            "syscall": "9, 0, 4096, 3, 34, -1, 0",
            "mmap": "core::ptr::null_mut(), 4096, 3, 34, -1, 0"}[symbol]
    body = f"let _p = unsafe {{ {symbol}({args}) }};"
    problems = prove(rustc, tmp_path, inject(body, f'extern "C" {{ {decl} }}'))
    hit = [p for p in problems if f"entry point `{symbol}`" in p]
    assert hit, problems
    assert "_s_Idle_connect" in hit[0] and re.search(r"m\.rs:\d+:", hit[0])


def test_starting_a_thread_fails_naming_pthread_create(rustc, tmp_path):
    # glibc maps the new thread's stack with an internal mmap no hook sees.
    decl = ('fn pthread_create(t: *mut u64, a: *const u8, f: extern "C" fn(*mut u8) -> *mut u8, '
            'arg: *mut u8) -> i32;')
    extra = (f'extern "C" {{ {decl} }}\n'
             'extern "C" fn __bg(_a: *mut u8) -> *mut u8 { core::ptr::null_mut() }')
    body = "let mut _t = 0u64; let _r = unsafe { pthread_create(&mut _t, core::ptr::null(), __bg, core::ptr::null_mut()) };"
    problems = prove(rustc, tmp_path, inject(body, extra))
    hit = [p for p in problems if "thread/process creation function `pthread_create`" in p]
    assert hit and "_s_Idle_connect" in hit[0], problems


def test_a_dead_helper_that_calls_malloc_fails_too(rustc, tmp_path):
    extra = 'extern "C" { fn malloc(n: usize) -> *mut u8; }\nfn never_called() -> usize { unsafe { malloc(8) as usize } }'
    problems = prove(rustc, tmp_path, inject("", extra))
    assert any("entry point `malloc`" in p and "never_called" in p for p in problems), problems


def test_defining_an_allocator_symbol_fails(rustc, tmp_path):
    extra = '#[no_mangle]\npub extern "C" fn malloc(_n: usize) -> *mut u8 { core::ptr::null_mut() }'
    problems = prove(rustc, tmp_path, inject("", extra))
    assert any("defines the allocator entry point `malloc`" in p for p in problems), problems


def test_an_inline_syscall_instruction_fails(rustc, tmp_path):
    body = ('let _r: usize; unsafe { core::arch::asm!("syscall", inlateout("rax") 39usize => _r, '
            'out("rcx") _, out("r11") _); }')
    problems = prove(rustc, tmp_path, inject(body))
    assert any("`syscall` instruction" in p for p in problems), problems


def test_an_included_file_is_proven_and_its_edit_invalidates_the_cache(rustc, tmp_path):
    inc = tmp_path / "extra.rs"
    inc.write_text("pub fn helper() -> u32 { 1 }\n")
    text = inject("", f'include!("{inc}");')
    assert prove(rustc, tmp_path, text) == []
    inc.write_text('extern crate alloc;\npub fn helper() -> usize { alloc::vec::Vec::<u8>::new().len() }\n')
    problems = prove(rustc, tmp_path, text)          # same module text: the dep-info hash notices
    assert any("brings in `alloc`" in p for p in problems), problems


def test_the_proof_is_cached_by_content(rustc, tmp_path):
    text = PORT_RESET.read_text()
    assert prove(rustc, tmp_path, text) == []
    obj = tmp_path / "libnostd_m.o"
    stamp = obj.stat().st_mtime_ns
    assert prove(rustc, tmp_path, text) == []
    assert obj.stat().st_mtime_ns == stamp           # not rebuilt
    assert prove(rustc, tmp_path, text + "\n// edited\n") == []
    assert obj.stat().st_mtime_ns != stamp


def test_allocator_symbol_table():
    for name in ("malloc", "__libc_calloc", "mmap64", "__sbrk", "dlvsym", "__rust_alloc",
                 "_RNvCs1_7___rustc12___rust_alloc", "__rg_alloc", "_Znwm", "_ZdlPv", "malloc@GLIBC_2.2.5"):
        assert nostd.is_allocator_symbol(name), name
    for name in ("strdup", "memcpy", "memset", "_ZN4core9panicking5panic17h0E", "rust_eh_personality",
                 "malloc_trim_helper"):
        assert not nostd.is_allocator_symbol(name), name


def test_two_proofs_of_the_same_crate_at_once_both_see_the_allocator(rustc, tmp_path, monkeypatch):
    # The self-test audits mutants of one fixture in parallel from one working
    # directory: rustc's intermediate object must not be shared between them
    # (it was: one proof failed, the other passed an empty object).
    import concurrent.futures
    monkeypatch.chdir(tmp_path)
    body = 'let _p = unsafe { malloc(24) };'
    text = inject(body, 'extern "C" { fn malloc(n: usize) -> *mut u8; }')
    dirs = [tmp_path / f"run{i}" for i in range(4)]
    for d in dirs:
        d.mkdir()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda d: prove(rustc, d, text), dirs))
    for problems in results:
        assert any("entry point `malloc`" in p for p in problems), results


def test_an_empty_object_is_never_a_proof(rustc, tmp_path):
    assert prove(rustc, tmp_path, PORT_RESET.read_text()) == []
    obj = tmp_path / "libnostd_m.o"
    obj.write_bytes(b"")                  # as a lost race left it, with a valid stamp
    problems = prove(rustc, tmp_path, PORT_RESET.read_text())
    assert problems == [] and obj.stat().st_size > 0, problems   # rebuilt, not trusted
    assert nostd.symbols(obj)
