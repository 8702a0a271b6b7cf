"""Mutation self-test of the gate: inject allocations into generated
no_alloc code and prove that every one fails the gate through the dynamic
count (the zero rule), attributed to the injected generated line and to the
right `.frs` line.

What runs (`scripts/audit mutate [FIXTURE]`):
  1. the control: the unmutated module, audited exactly like the mutants,
     must pass (exit 0, no failure);
  2. the catalogue (CATALOGUE_SIZE mutants, fixed here: a site that stops
     matching fails the run instead of shrinking it); each must fail with
     a zero-rule finding at every opt-level it was built at, naming the
     injected line and the expected `.frs` line;
  3. with --broken-interposers: for each counted kind, the mutants that
     reach the interposer only through that kind, audited under
     BUILD/interposer/broken/libaudit-broken-KIND.so (counting disabled for
     that kind): the self-test must go red for every kind.

How: the mutants that need the same run (opt-levels, Valgrind, interposer:
Needs) are audited together, RUN_SIZE to an `audit run --generated
NAME=MODULE ... --scenario TOML --mode noalloc`, each mutant its own
fixture NAME, `jobs` runs at a time; each is judged from its own fixture's
findings (and the run-wide ones) as if it had been audited alone
(fixture_view).  A mutant that changes its whole library (Spec.alone) gets
a run of its own.

Sites (found in frc's no_alloc output by the functions it emits):
  handler     the first statement of an exercised event handler
  router      the first statement of `fn __route` (every dispatch)
  enter       the first statement of an enter handler (`fn _s_State_enter`)
  construct   the first statement of `pub fn new()` (under __create())
  create      the first statement of `pub fn __create()`
  end         the end of the module (helper items a site calls)
Expected `.frs` line: the mapping comment right above the site's `fn`; a
function without one (router, new, __create) belongs to the system, whose
line is in frc's `// ---- system NAME (path.frs:N)` banner.

Every injected part is one line.  The line that makes the allocator call
ends with `// frame-alloc-audit mutant NAME`; that is the generated line
the gate must name.  Values are read back through ptr::read_volatile so
that O3 keeps every call (and, unlike std::hint::black_box, this builds
with Debian's rustc 1.63).  The extern "C" mutants use only `core`, so
they build as #![no_std]; the static proof still flags the allocator entry
points their object code references, so every zero-rule mutant must also
trip the static proof (rule nostd): the self-test then goes red when either
check is broken.  strdup is the exception that must pass the static proof:
a C function that is no allocator by name, so only the dynamic count can
catch it.
"""

import fnmatch
import json
import math
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import procs
from .errors import EXIT_GATE, EXIT_OK, AuditError

# The 15 kinds the interposer counts (interposer/audit.h, audit_kind_name).
COUNTED_KINDS = ("malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign",
                 "aligned_alloc", "memalign", "valloc", "pvalloc",
                 "mmap", "mremap", "munmap", "brk", "sbrk")

SITES = ("handler", "router", "enter", "construct", "create")
STD_SITES = ("handler", "router", "enter", "construct")

_SITE_RE = {
    "handler": r"\n[ \t]*fn (_s_\w+?_(?!enter\b|exit\b)\w+)\(&mut self[^{]*\{",
    "router": r"\n[ \t]*fn (__route)\(&mut self[^{]*\{",
    "enter": r"\n[ \t]*fn (_s_\w+_enter)\(&mut self[^{]*\{",
    "construct": r"\n[ \t]*pub fn (new)\(\)[^{]*\{",
    "create": r"\n[ \t]*pub fn (__create)\(\)[^{]*\{",
}
_MAPPING = re.compile(r"^\s*//\s*(\S+\.frs):(\d+)\b")
_SYSTEM = re.compile(r"//\s*-+\s*system\s+\w+\s*\((\S+\.frs):(\d+)\)")
MARK = "// frame-alloc-audit mutant"
ALLOC = "/*ALLOC*/"          # in a part of several lines: the line that allocates

# ---- Rust building blocks -------------------------------------------------

# A null pointer the optimiser cannot see: free(NULL) and realloc(NULL, n)
# would otherwise be folded away or turned into malloc.
_VNULL = "::core::ptr::read_volatile(&::core::ptr::null_mut::<u8>())"
_SEQ = "::core::sync::atomic::Ordering::SeqCst"


def _one_line(rust):
    """Joins a snippet written over several lines into one line."""
    if "//" in rust:
        raise ValueError("a snippet must not hold a // comment: it is joined into one line")
    return " ".join(s.strip() for s in rust.strip().splitlines() if s.strip())


def _call(decls, call, pre=""):
    """An unsafe block that declares `decls`, makes `call`, keeps its result."""
    return _one_line(f"""
        unsafe {{ extern "C" {{ {decls} }} {pre}
        let __r = {call}; ::core::ptr::read_volatile(&__r); }}""")


def _at_load(body, name="__mutant_load"):
    """Two lines of items that run `body` once when the library is loaded
    (before any window: the harness dlopens the library outside them)."""
    return (f'extern "C" fn {name}() {{ unsafe {{ {body} }} }}\n'
            f'#[used] #[link_section = ".init_array"] static {name.upper()}: extern "C" fn() = {name};')


_MALLOC = 'extern "C" { fn malloc(n: usize) -> *mut u8; }'
_MALLOC_KEEP = f"unsafe {{ {_MALLOC} let __r = malloc(16); ::core::ptr::read_volatile(&__r); }}"

_HEAP = {
    # name: (counted kind, declaration, call)
    "malloc": ("malloc", "fn malloc(n: usize) -> *mut u8;", "malloc(16)"),
    "calloc": ("calloc", "fn calloc(n: usize, size: usize) -> *mut u8;", "calloc(2, 8)"),
    "realloc": ("realloc", "fn realloc(p: *mut u8, n: usize) -> *mut u8;",
                f"realloc({_VNULL}, 16)"),
    "reallocarray": ("reallocarray", "fn reallocarray(p: *mut u8, n: usize, size: usize) -> *mut u8;",
                     f"reallocarray({_VNULL}, 2, 8)"),
    "free": ("free", "fn free(p: *mut u8);", f"free({_VNULL})"),
    "posix_memalign": ("posix_memalign",
                       "fn posix_memalign(p: *mut *mut u8, align: usize, n: usize) -> i32;",
                       "{ let mut __q = ::core::ptr::null_mut::<u8>(); "
                       "posix_memalign(&mut __q, 64, 64); __q }"),
    "aligned_alloc": ("aligned_alloc", "fn aligned_alloc(align: usize, n: usize) -> *mut u8;",
                      "aligned_alloc(64, 64)"),
    "memalign": ("memalign", "fn memalign(align: usize, n: usize) -> *mut u8;", "memalign(64, 64)"),
    "valloc": ("valloc", "fn valloc(n: usize) -> *mut u8;", "valloc(64)"),
    "pvalloc": ("pvalloc", "fn pvalloc(n: usize) -> *mut u8;", "pvalloc(64)"),
    # glibc's exported aliases, counted under the public function's kind
    "__libc_malloc": ("malloc", "fn __libc_malloc(n: usize) -> *mut u8;", "__libc_malloc(16)"),
    "__libc_calloc": ("calloc", "fn __libc_calloc(n: usize, size: usize) -> *mut u8;",
                      "__libc_calloc(2, 8)"),
    "__libc_realloc": ("realloc", "fn __libc_realloc(p: *mut u8, n: usize) -> *mut u8;",
                       f"__libc_realloc({_VNULL}, 16)"),
    "__libc_free": ("free", "fn __libc_free(p: *mut u8);", f"__libc_free({_VNULL})"),
    "__libc_memalign": ("memalign", "fn __libc_memalign(align: usize, n: usize) -> *mut u8;",
                        "__libc_memalign(64, 64)"),
    "__libc_valloc": ("valloc", "fn __libc_valloc(n: usize) -> *mut u8;", "__libc_valloc(64)"),
    "__libc_pvalloc": ("pvalloc", "fn __libc_pvalloc(n: usize) -> *mut u8;", "__libc_pvalloc(64)"),
}

# Memory from the OS.  The page the OS mutants work on is mapped at load,
# outside every window, so the window holds only the one call under test
# and nothing leaks per dispatch: mmap re-maps that page in place
# (MAP_FIXED), mremap "resizes" it to its own size.  munmap takes pages of
# a reservation made at load, one per call, never the same page twice (a
# freed page may be reused by anyone); once they run out it asks for an
# invalid length, still one munmap call.  brk(NULL) and sbrk(0) query the
# break without moving it: a call the interposer must count all the same.
_OS_DECLS = ('extern "C" { fn mmap(a: *mut u8, n: usize, prot: i32, flags: i32, fd: i32, '
             'off: i64) -> *mut u8; }')
_MAP_ANON = "0x22"              # MAP_PRIVATE | MAP_ANONYMOUS
_MAP_FIXED_ANON = "0x32"        # ... | MAP_FIXED
_POOL = 4096                    # pages the munmap mutant may take


def _os(decl, call, load_len="4096", load_prot="3", load_flags=_MAP_ANON, pre=""):
    load = _at_load(f"let __p = mmap(::core::ptr::null_mut(), {load_len}, {load_prot}, {load_flags}, -1, 0); "
                    f"if __p as isize != -1 {{ __PAGE.store(__p, {_SEQ}); }}")
    return "\n".join([
        f"{{ {_OS_DECLS}",
        "static __PAGE: ::core::sync::atomic::AtomicPtr<u8> = "
        "::core::sync::atomic::AtomicPtr::new(::core::ptr::null_mut());",
        load,
        f"let __page = __PAGE.load({_SEQ}); {pre} "
        f"if !__page.is_null() {{ {_call(decl, call)} }} }} {ALLOC}"])


_OS = {
    "mmap": ("mmap", _os("", f"mmap(__page, 4096, 3, {_MAP_FIXED_ANON}, -1, 0)")),
    "mmap64": ("mmap", _os("fn mmap64(a: *mut u8, n: usize, prot: i32, flags: i32, fd: i32, "
                           "off: i64) -> *mut u8;",
                           f"mmap64(__page, 4096, 3, {_MAP_FIXED_ANON}, -1, 0)")),
    "syscall_mmap": ("mmap", _os("fn syscall(n: i64, ...) -> i64;",
                                 f"syscall(9, __page, 4096usize, 3i32, {_MAP_FIXED_ANON}i32, "
                                 "-1i32, 0i64)")),
    "mremap": ("mremap", _os("fn mremap(a: *mut u8, old: usize, new: usize, flags: i32, ...) "
                             "-> *mut u8;", "mremap(__page, 4096, 4096, 0)")),
    "munmap": ("munmap", _os("fn munmap(a: *mut u8, n: usize) -> i32;",
                             f"if __i < {_POOL} {{ munmap(__page.add(__i * 4096), 4096) }} "
                             "else { munmap(__page, 0) }",
                             load_len=f"{_POOL} * 4096", load_prot="0",
                             load_flags="0x4022",       # ... | MAP_NORESERVE
                             pre="static __NEXT: ::core::sync::atomic::AtomicUsize = "
                                 "::core::sync::atomic::AtomicUsize::new(0); "
                                 f"let __i = __NEXT.fetch_add(1, {_SEQ});")),
    "brk": ("brk", _call("fn brk(a: *mut u8) -> i32;", f"brk({_VNULL})")),
    "sbrk": ("sbrk", _call("fn sbrk(inc: isize) -> *mut u8;", "sbrk(0)")),
}

# A block allocated at load and freed on the first call: a window that
# only frees.
_FREE_OUTSIDE = "\n".join([
    "{ static __BLOCK: ::core::sync::atomic::AtomicPtr<u8> = "
    "::core::sync::atomic::AtomicPtr::new(::core::ptr::null_mut());",
    _at_load(f"{_MALLOC} __BLOCK.store(malloc(32), {_SEQ});"),
    f"let __b = __BLOCK.swap(::core::ptr::null_mut(), {_SEQ}); "
    'if !__b.is_null() { unsafe { extern "C" { fn free(p: *mut u8); } free(__b); } } } ' + ALLOC])

# A thread started at load, parked on a futex; each handler call wakes it
# and waits until it has allocated, so the allocation falls inside the
# handler's window but happens only on the other thread.  The thread's
# code sits at the module end, outside every handler: its .frs line is the
# system's.  If the thread could not be started the handler does nothing
# (and the mutant is missed, visibly).  futex(2) through libc's syscall():
# FUTEX_WAIT_PRIVATE 128, FUTEX_WAKE_PRIVATE 129, SYS_futex 202 (x86-64).
_THREAD_WAIT = _one_line(f"""
    if __MUTANT_UP.load({_SEQ}) == 1 {{
        let __want = __MUTANT_REQ.fetch_add(1, {_SEQ}).wrapping_add(1);
        unsafe {{ __mutant_syscall(202, &__MUTANT_REQ as *const _, 129i32, 1i32); }}
        loop {{
            let __d = __MUTANT_DONE.load({_SEQ});
            if __d == __want {{ break; }}
            unsafe {{ __mutant_syscall(202, &__MUTANT_DONE as *const _, 128i32, __d, 0usize); }} }} }}""")
_THREAD = "\n".join([
    'extern "C" {',
    "    fn pthread_create(t: *mut u64, attr: *const u8, f: extern \"C\" fn(*mut u8) -> *mut u8, "
    "arg: *mut u8) -> i32;",
    "    #[link_name = \"syscall\"] fn __mutant_syscall(n: i64, ...) -> i64;",
    "}",
    "static __MUTANT_REQ: ::core::sync::atomic::AtomicU32 = ::core::sync::atomic::AtomicU32::new(0);",
    "static __MUTANT_DONE: ::core::sync::atomic::AtomicU32 = ::core::sync::atomic::AtomicU32::new(0);",
    "static __MUTANT_UP: ::core::sync::atomic::AtomicU32 = ::core::sync::atomic::AtomicU32::new(0);",
    'extern "C" fn __mutant_worker(_a: *mut u8) -> *mut u8 {',
    "    let mut __seen = 0u32;",
    "    loop {",
    f"        let __r = __MUTANT_REQ.load({_SEQ});",
    "        if __r == __seen {",
    "            unsafe { __mutant_syscall(202, &__MUTANT_REQ as *const _, 128i32, __seen, 0usize); }",
    "            continue;",
    "        }",
    "        __seen = __r;",
    f"        {_MALLOC_KEEP} {ALLOC}",
    f"        __MUTANT_DONE.store(__seen, {_SEQ});",
    "        unsafe { __mutant_syscall(202, &__MUTANT_DONE as *const _, 129i32, 1i32); }",
    "    }",
    "}",
    _at_load("let mut __t = 0u64; if pthread_create(&mut __t, ::core::ptr::null(), __mutant_worker, "
             f"::core::ptr::null_mut()) == 0 {{ __MUTANT_UP.store(1, {_SEQ}); }}", "__mutant_start"),
])

# Beyond the dynamic count.  These reach memory without a call the
# interposer hooks, so only the static proof (and, for dlsym, Valgrind's
# second count) can catch them: the table records the zero rule as "n".
#   global_alloc  `extern crate alloc` + a #[global_allocator] over a static
#                 arena: Box never reaches malloc
#   raw_syscall   mmap/munmap of a page by `syscall` instructions
#   dlsym_next    malloc looked up with dlsym(RTLD_NEXT) at load: from a
#                 dlopened library that is libc's, behind the interposer
_ARENA = 1 << 24
_GLOBAL_ALLOC = "\n".join([
    "extern crate alloc; " + ALLOC,
    "static __ARENA_NEXT: ::core::sync::atomic::AtomicUsize = ::core::sync::atomic::AtomicUsize::new(0);",
    f"static mut __ARENA: [u8; {_ARENA}] = [0; {_ARENA}];",
    "struct __MutantArena;",
    _one_line(f"""
        unsafe impl ::core::alloc::GlobalAlloc for __MutantArena {{
            unsafe fn alloc(&self, l: ::core::alloc::Layout) -> *mut u8 {{
                let __n = l.size() + l.align();
                let __off = __ARENA_NEXT.fetch_add(__n, {_SEQ});
                if __off + __n > {_ARENA} {{ return ::core::ptr::null_mut(); }}
                let __at = ::core::ptr::addr_of_mut!(__ARENA) as usize + __off;
                ((__at + l.align() - 1) & !(l.align() - 1)) as *mut u8 }}
            unsafe fn dealloc(&self, _p: *mut u8, _l: ::core::alloc::Layout) {{}} }}"""),
    "#[global_allocator] static __MUTANT_GA: __MutantArena = __MutantArena;"])

_RAW_SYSCALL = _one_line("""
    unsafe { let __p: usize;
    ::core::arch::asm!("syscall", inlateout("rax") 9usize => __p, in("rdi") 0usize,
        in("rsi") 4096usize, in("rdx") 3usize, in("r10") 0x22usize, in("r8") usize::MAX,
        in("r9") 0usize, lateout("rcx") _, lateout("r11") _, options(nostack));
    let __r: usize;
    ::core::arch::asm!("syscall", inlateout("rax") 11usize => __r, in("rdi") __p,
        in("rsi") 4096usize, lateout("rcx") _, lateout("r11") _, options(nostack));
    ::core::ptr::read_volatile(&__r); }""")

_DLSYM_LOAD = _at_load('extern "C" { fn dlsym(h: *mut u8, name: *const u8) -> *mut u8; } '
                       'let __f = dlsym(usize::MAX as *mut u8, b"malloc\\0".as_ptr()); '
                       f'__NEXT_MALLOC.store(__f as usize, {_SEQ});')
_DLSYM_NEXT = "\n".join([
    "{ static __NEXT_MALLOC: ::core::sync::atomic::AtomicUsize = ::core::sync::atomic::AtomicUsize::new(0);",
    _DLSYM_LOAD,
    _one_line(f"""
        let __f = __NEXT_MALLOC.load({_SEQ});
        if __f != 0 {{ unsafe {{
            let __m: extern "C" fn(usize) -> *mut u8 = ::core::mem::transmute(__f);
            let __r = __m(16); ::core::ptr::read_volatile(&__r); }} }} }}""") + " " + ALLOC])

_STD = {
    "box": "::std::boxed::Box::new(0x5eed_u64)",
    "vec_push": "{ let mut __v: ::std::vec::Vec<u32> = ::std::vec::Vec::new(); __v.push(1); __v }",
    "string_from": '::std::string::String::from("mutant")',
    "format": '::std::format!("{}", 42)',
    "rc_new": "::std::rc::Rc::new(7_u32)",
    "to_string": "::std::string::ToString::to_string(&7_u32)",
}
KINDS = tuple(_STD)          # the std kinds (kept for the CLI's help text)


def _std(kind):
    # The bitwise copy read_volatile returns is forgotten, so only
    # __mutant is dropped.
    return (f"let __mutant = {_STD[kind]}; "
            f"::std::mem::forget(unsafe {{ ::std::ptr::read_volatile(&__mutant) }});")


# ---- the catalogue -----------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """One mutant.  `parts` are (anchor, rust, allocates): anchor a site or
    "end"; exactly one part allocates and carries the marker."""
    name: str
    cls: str                 # the class of issue 10 it covers
    site: str                # whose .frs line the gate must name
    parts: tuple
    counts: tuple = ()       # the only kinds its windows should count (broken-interposer proof)
    opts: tuple = (0,)
    nostd_clean: bool = False    # must pass the static proof: only the dynamic count can catch it
    phase: str = ""          # a word the zero finding must contain ("batch")
    proof: bool = False      # runs under libaudit-broken-KIND.so for its one counted kind
    rule: str = "zero"       # the rule that must catch it at the marked line
    also: tuple = ()         # further rules that must fire
    valgrind: bool = False   # needs Valgrind (the second counter)
    frs: str = ""            # "system": the .frs line the gate must name is the system's
    # rustc before 1.73 gives a Drop inlined at O3 no line in its caller:
    # the finding then names the site function's `fn` line (attribute.locate)
    old_rustc_fn_line: bool = False
    # It changes the whole library it is built into, so it is audited in a
    # run of its own, never bundled with another mutant: a #[global_allocator]
    # serves every module's Rust allocations, a thread started at load runs
    # (and waits on a futex) in every measuring process of the library.
    alone: bool = False


# The number of mutants the self-test runs: a change to the catalogue
# must change this number too (and the run fails when they differ).
CATALOGUE_SIZE = 59


def late_call(scenario):
    """The first router call after the windowed passes: the construction
    makes none, each step one (frc's router runs once per dispatch when no
    event is forwarded), then the steady replay reps x cycle-length; the
    harness times batches next.  Returns the 1-based call number."""
    if not scenario.steady_repeat:
        raise AuditError(f"{scenario.path}: the late-call mutant needs a [steady] cycle "
                         "(the timing batches follow it)", status=EXIT_GATE)
    k = scenario.steady_to - scenario.steady_from + 1
    return scenario.steady_to + 1 + scenario.steady_repeat * k + 1


def catalogue(late_at):
    """Every mutant, in run order."""
    out = []
    for kind in _STD:
        for site in STD_SITES:
            out.append(Spec(f"{kind}@{site}", "std " + kind, site,
                            ((site, _std(kind), True),), opts=(0, 3)))
    for name, (kind, decl, call) in _HEAP.items():
        cls = ("alias " if name.startswith("__libc_") else "kind ") + kind
        if kind == "free":
            cls += " (free-only window)"
        out.append(Spec(name, cls, "handler", (("handler", _call(decl, call), True),),
                        counts=(kind,), proof=True))
    out.append(Spec("free_outside", "kind free (free-only window, block from load)", "handler",
                    (("handler", _FREE_OUTSIDE, True),), counts=("free",), proof=True))
    for name, (kind, rust) in _OS.items():
        out.append(Spec(name, "os " + kind, "handler", (("handler", rust, True),),
                        counts=(kind,), proof=True))
    out += [
        Spec("thread", "another thread (started at load, code at the module end)", "handler",
             (("handler", _THREAD_WAIT, False), ("end", _THREAD, True)),
             counts=("malloc",), opts=(0, 3), frs="system", alone=True),
        Spec("late", f"late call (router call {late_at}, in the timing batches)", "router",
             (("router", _one_line("""
                { static __N: ::core::sync::atomic::AtomicU64 = ::core::sync::atomic::AtomicU64::new(0);
                if __N.fetch_add(1, SEQ).wrapping_add(1) == LATE { MALLOC } }"""
                .replace("SEQ", _SEQ).replace("LATE", str(late_at)).replace("MALLOC", _MALLOC_KEEP)),
               True),),
             counts=("malloc",), opts=(0, 3), phase="batch"),
        Spec("lazy", "lazy first use (first call only)", "handler",
             (("handler", _one_line(f"""
                {{ static __ONCE: ::core::sync::atomic::AtomicU32 = ::core::sync::atomic::AtomicU32::new(0);
                if __ONCE.swap(1, {_SEQ}) == 0 {{ {_MALLOC_KEEP} }} }}"""), True),),
             counts=("malloc",), opts=(0, 3)),
        Spec("drop", "Drop of a local (impl at the module end)", "handler",
             (("handler", "let __mutant_guard = __MutantDrop;", False),
              ("end", f"struct __MutantDrop; impl Drop for __MutantDrop {{ fn drop(&mut self) "
                      f"{{ {_MALLOC_KEEP} }} }}", True)),
             counts=("malloc",), opts=(0, 3), old_rustc_fn_line=True),
        Spec("helper", "helper fn at the module end", "handler",
             (("handler", "__mutant_helper();", False),
              ("end", f"fn __mutant_helper() {{ {_MALLOC_KEEP} }}", True)),
             counts=("malloc",), opts=(0, 3)),
        Spec("create", "allocation in __create", "create",
             (("create", _MALLOC_KEEP, True),), counts=("malloc",), opts=(0, 3)),
        Spec("strdup", "no_std-clean, not an allocator by name (strdup)", "handler",
             (("handler", _call("fn strdup(s: *const u8) -> *mut u8;", "strdup(__s)",
                                pre='let __s = ::core::ptr::read_volatile(&b"mutant\\0".as_ptr());'),
               True),),
             counts=("malloc",), opts=(0, 3), nostd_clean=True, proof=True),
        Spec("global_alloc", "alloc brought back: #[global_allocator] over a static arena", "handler",
             (("handler", "let __mutant = alloc::boxed::Box::new(0x5eed_u64); "
                          "::core::mem::forget(unsafe { ::core::ptr::read_volatile(&__mutant) });", False),
              ("end", _GLOBAL_ALLOC, True)), rule="nostd", alone=True),
        Spec("raw_syscall", "memory by syscall instruction (uncountable)", "handler",
             (("handler", _RAW_SYSCALL, True),), rule="nostd"),
        Spec("dlsym_next", "malloc from dlsym(RTLD_NEXT), behind the interposer", "handler",
             (("handler", _DLSYM_NEXT, True),), rule="valgrind-count", also=("nostd",),
             valgrind=True),
    ]
    return out


def check_catalogue(specs):
    """The catalogue is what CATALOGUE_SIZE says and covers every counted kind."""
    problems = []
    if len(specs) != CATALOGUE_SIZE:
        problems.append(f"the catalogue has {len(specs)} mutants, CATALOGUE_SIZE says {CATALOGUE_SIZE}")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        problems.append("mutant names are not unique")
    uncovered = [k for k in COUNTED_KINDS if not any(s.proof and s.counts == (k,) for s in specs)]
    if uncovered:
        problems.append(f"no mutant for counted kind(s) {', '.join(uncovered)}")
    for s in specs:
        if sum(a for _, _, a in s.parts) != 1:
            problems.append(f"{s.name}: exactly one part must allocate")
        for _, rust, allocates in s.parts:
            n = rust.count(ALLOC)
            if (n > 1 or (n and not allocates)
                    or (allocates and "\n" in rust and n != 1)):
                problems.append(f"{s.name}: the allocating line of a part of several lines, "
                                f"and only it, carries {ALLOC}")
    return problems


# ---- sites and mutated modules -----------------------------------------------

@dataclass
class Site:
    name: str
    fn: str
    offset: int           # just after the opening brace
    frs: str              # "path.frs:N" the gate must name for code run here


def _frs_for(text, fn_start):
    """The mapping comment right above the fn at `fn_start` (after any
    attributes or doc comments), else the enclosing system's banner line."""
    lines = text[:fn_start].split("\n")
    for line in reversed(lines):
        s = line.strip()
        if s.startswith("#[") or s.startswith("///"):
            continue
        m = _MAPPING.match(line)
        if m:
            return f"{m.group(1)}:{m.group(2)}"
        break
    banners = _SYSTEM.findall(text[:fn_start])
    return f"{banners[-1][0]}:{banners[-1][1]}" if banners else ""


def find_sites(module_text, exercised=None):
    """{site: Site}; `exercised(fn)` filters event handlers."""
    out = {}
    for site, pat in _SITE_RE.items():
        for m in re.finditer(pat, module_text):
            fn = m.group(1)
            if site == "handler" and exercised and not exercised(fn):
                continue
            out[site] = Site(site, fn, m.end(), _frs_for(module_text, m.start()))
            break
    return out


@dataclass
class Mutant:
    spec: Spec
    source: str
    line: int             # 1-based generated line of the allocating call
    frs: str              # "path.frs:N" expected
    fn: str = ""          # the function the allocating line sits in, when it is a site's
    site_fn_line: int = 0  # 1-based generated line of the `fn` the site's part sits in

    @property
    def name(self):
        return self.spec.name


def make(module_text, spec, sites):
    """The mutated module; KeyError names a missing site."""
    inserts = []
    for anchor, rust, allocates in spec.parts:
        tag = f"{MARK} {spec.name}"
        if not allocates:
            rust = f"{rust} {tag} (part)"
        elif ALLOC in rust:
            rust = rust.replace(ALLOC, tag)
        else:
            rust = f"{rust} {tag}"
        at = len(module_text) if anchor == "end" else sites[anchor].offset
        inserts.append((at, f"\n{rust}\n"))
    src = module_text
    for at, text in sorted(inserts, key=lambda x: -x[0]):
        src = src[:at] + text + src[at:]
    want = f"{MARK} {spec.name}"
    line = next(i for i, ln in enumerate(src.split("\n"), 1) if ln.endswith(want))
    frs = system_frs(module_text) if spec.frs == "system" else sites[spec.site].frs
    fn = sites[spec.site].fn if any(a == spec.site and al for a, _, al in spec.parts) else ""
    lines = src.split("\n")
    part = next((i for i, ln in enumerate(lines, 1) if ln.endswith(f"{want} (part)")), 0)
    fn_line = next((i for i in range(part, 0, -1) if re.match(r"\s*(pub\s+)?fn\s", lines[i - 1])), 0)
    return Mutant(spec=spec, source=src, line=line, frs=frs, fn=fn, site_fn_line=fn_line)


def system_frs(module_text):
    """"path.frs:N" of the (first) system banner of the module."""
    m = _SYSTEM.search(module_text)
    return f"{m.group(1)}:{m.group(2)}" if m else ""


# ---- one audit run and its verdict -------------------------------------------

@dataclass
class Outcome:
    name: str
    exit: int
    rules: list = field(default_factory=list)     # failure rules that fired
    dynamic: bool = False     # zero-rule finding at every opt-level built
    gen_lines: list = field(default_factory=list)
    frs_lines: list = field(default_factory=list)
    gen_ok: bool = False
    frs_ok: bool = False
    extra_ok: bool = True     # no_std-clean passed the static proof; phase word present
    gen_by_fn: bool = False   # named by its function only (no line in the finding)
    detail: str = ""
    seconds: float = 0.0

    rule: str = "zero"

    @property
    def caught(self):
        return (self.exit == 1 and (self.dynamic or self.rule != "zero") and self.gen_ok
                and self.frs_ok and self.extra_ok)


def audit(audit_cmd, modules, scenario, report_dir, work_dir, opts, interposer=None, valgrind=False,
          jobs=1, timeout=None, env=None):
    """One `audit run --generated NAME=MODULE ...` of `modules` ({fixture
    name: module}), each its own fixture under the one scenario (`env`:
    more environment); returns (exit, report or None, the tail of its
    output)."""
    cmd = audit_cmd + ["run"]
    for name, path in modules.items():
        cmd += ["--generated", f"{name}={path}"]
    cmd += ["--scenario", str(scenario), "--mode", "noalloc",
            "--valgrind", "on" if valgrind else "off", "--jobs", str(jobs),
            "--opt", ",".join(map(str, opts)), "--report-dir", str(report_dir),
            "--work-dir", str(work_dir)]
    if interposer:
        cmd += ["--interposer", str(interposer)]
    timeout = timeout or 600 + 60 * len(modules)
    env = {**os.environ, **env} if env else None
    try:
        r = procs.run(cmd, timeout=timeout, env=env)
        code, err = r.returncode, r.stdout[-1500:] + r.stderr[-1500:]
    except subprocess.TimeoutExpired:
        return 124, None, f"timed out after {timeout} s: {' '.join(cmd)}"
    rep = Path(report_dir) / "report.json"
    report = json.loads(rep.read_text()) if rep.exists() else None
    return code, report, err


def fixture_view(code, report, name):
    """(exit, report) of fixture `name` of a run of several, as an audit of
    it alone would have said: the findings about it and the run-wide ones
    (fixture "*", e.g. a failed calibration); exit 1 when one of them is a
    failure, else 0.  A run that wrote no report (a usage error, a missing
    tool, a timeout) gives each of its fixtures its exit status; a fixture
    the report does not hold has no report."""
    if report is None:
        return code, None
    if not any(fx.get("name") == name for fx in report.get("fixtures", [])):
        return code, None
    mine = [f for f in report.get("findings", []) if f.get("fixture") in (name, "*")]
    if code in (EXIT_OK, EXIT_GATE):
        code = EXIT_GATE if any(f.get("failure", True) for f in mine) else EXIT_OK
    return code, dict(report, findings=mine)


def fixture_name(name):
    """A mutant's fixture (and folder) name."""
    return re.sub(r"[^\w.-]", "_", name)


@dataclass(frozen=True)
class Needs:
    """What a mutant's audit needs: the mutants that need the same are
    audited together, in one run, each its own fixture."""
    opts: tuple
    valgrind: bool = False
    interposer: str = ""          # a broken interposer; "" the build's own
    alone: str = ""               # the one mutant of its run (Spec.alone)

    @classmethod
    def of(cls, spec, interposer=""):
        """A mutant's needs: its opt-levels and Valgrind; under a broken
        interposer, O0 without Valgrind."""
        if interposer:
            return cls((0,), False, interposer, spec.name if spec.alone else "")
        return cls(spec.opts, spec.valgrind, "", spec.name if spec.alone else "")

    @property
    def label(self):
        return (f"O{','.join(map(str, self.opts))}" + (", Valgrind" if self.valgrind else "")
                + (f", {Path(self.interposer).stem}" if self.interposer else "")
                + (f", {self.alone} alone" if self.alone else ""))


# Mutants per audit run: a bundle's worth (bundle.DEFAULT_BUCKET_SIZE), so
# a run builds one crate per opt-level.  A need with more mutants is split
# into runs of about this many, which go side by side: the gate judges a
# run's windows one after the other, and `jobs` runs keep the cores busy.
RUN_SIZE = 8


class Runner:
    """The self-test's audit runs, `jobs` at a time, each with one job:
    each module under workdir/NAME/, each run's work dir and reports
    under workdir/work/TAG and workdir/reports/TAG (TAG: the need and the
    run's number in it, so a second self-test finds its crates built).
    The runs bundle their modules as every audit does (bundle.py: a bundle
    rustc rejects is rebuilt module by module, so a mutant that does not
    build fails alone)."""

    def __init__(self, audit_cmd, module_name, scenario, workdir, jobs=2):
        self.audit_cmd, self.module_name, self.scenario = audit_cmd, module_name, scenario
        self.workdir, self.jobs, self.runs = Path(workdir), jobs, 0

    def run(self, needs, sources, tag):
        """Audits `sources` ({fixture name: module text}) in one run;
        returns ({name: (exit, report or None, output)}, seconds)."""
        modules = {}
        for name, source in sources.items():
            d = self.workdir / name
            d.mkdir(parents=True, exist_ok=True)
            mod = modules[name] = d / self.module_name
            if not mod.exists() or mod.read_text() != source:
                mod.write_text(source)
        tag = re.sub(r"[^\w.-]+", "_", tag)
        t0 = time.monotonic()
        code, rep, err = audit(self.audit_cmd, modules, self.scenario.path, self.workdir / "reports" / tag,
                               self.workdir / "work" / tag, needs.opts, needs.interposer or None,
                               valgrind=needs.valgrind, jobs=1)
        return {n: (*fixture_view(code, rep, n), err) for n in modules}, time.monotonic() - t0


def runs_of(mutants, needs_of):
    """[(Needs, [Mutant], tag)]: one run per need, split into runs of about
    RUN_SIZE in catalogue order (so the costly ones, the std kinds at the
    router that allocate in every window, are spread over the runs); the
    longest first."""
    groups = {}
    for m in mutants:
        groups.setdefault(needs_of(m), []).append(m)
    out = []
    for needs, ms in groups.items():
        n = math.ceil(len(ms) / RUN_SIZE)
        cut = [len(ms) * i // n for i in range(n + 1)]
        out += [(needs, ms[cut[i]:cut[i + 1]], f"{needs.label} {i + 1}") for i in range(n)]
    return sorted(out, key=lambda r: -len(r[0].opts) * len(r[1]))


def audit_mutants(runner, mutants, needs_of, progress):
    """Audits `mutants`, those of one need (`needs_of(mutant)`, a Needs)
    together (runs_of); returns {mutant name: (exit, report or None,
    output, seconds of its run)}."""
    runs = runs_of(mutants, needs_of)
    out = {}
    with ThreadPoolExecutor(max_workers=runner.jobs) as pool:
        futs = [(needs, ms, pool.submit(runner.run, needs, {fixture_name(m.name): m.source for m in ms}, tag))
                for needs, ms, tag in runs]
        for needs, ms, fut in futs:
            res, secs = fut.result()
            runner.runs += 1
            failed = sum(code != EXIT_GATE for code, _, _ in res.values())
            progress(f"mutate: one audit run of {len(ms)} mutant(s) ({needs.label}): {secs:.1f} s"
                     + (f"; {failed} not failed" if failed else ""))
            for m in ms:
                out[m.name] = (*res[fixture_name(m.name)], secs)
    return out


# A zero-rule finding's opt-level, generated line and .frs line: from its
# structured fields (`opt`, `gen`, `frs`) when the gate wrote them, else
# from the message's wording.

def _opts(f):
    if f.get("opt") is not None:
        return {int(f["opt"])}
    return {int(x) for x in re.findall(r"no_alloc O(\d)", f["message"])}


def _gen_lines(f, module_name):
    if f.get("gen"):
        path, _, ln = f["gen"].rpartition(":")
        return {int(ln)} if Path(path).name == module_name and ln.isdigit() else set()
    return {int(x) for x in re.findall(rf"(?<![\w.]){re.escape(module_name)}:(\d+)", f["message"])}


def _frs_lines(f, frs_name):
    text = f["frs"] if f.get("frs") else f["message"]
    return {int(ln) for p, ln in re.findall(r"([\w./-]+\.frs):(\d+)", text)
            if Path(p).name == frs_name}


def _rustc_version(report):
    """(major, minor) of the rustc that built the report's libraries, or None."""
    m = re.search(r"rustc (\d+)\.(\d+)", str((report.get("provenance") or {}).get("rustc", "")))
    return (int(m.group(1)), int(m.group(2))) if m else None


def _old_rustc_fn_line(mutant, report, zero, module_name):
    """The one allowance of the exact-line check: a spec marked
    old_rustc_fn_line, built by a rustc before 1.73, whose O3 findings name
    the site function's `fn` line (the inlined Drop has line 0 there) and
    whose O0 findings name the injected line."""
    ver = _rustc_version(report)
    if not (mutant.spec.old_rustc_fn_line and ver and ver < (1, 73) and mutant.site_fn_line):
        return False
    for f in zero:
        lines = _gen_lines(f, module_name)
        want = {mutant.site_fn_line} if _opts(f) == {3} else {mutant.line}
        if lines != want and lines != {mutant.line}:
            return False
    return True


def judge(mutant, code, report, err, module_name):
    """Did the gate catch `mutant` through the zero rule, at the right lines?"""
    spec = mutant.spec
    o = Outcome(name=spec.name, exit=code, rule=spec.rule)
    if report is None:
        o.detail = f"no report (exit {code}): {err.strip()[-300:]}"
        return o
    fails = [f for f in report.get("findings", []) if f.get("failure", True)]
    o.rules = sorted({f["rule"] for f in fails})
    zero = [f for f in fails if f["rule"] == "zero"]
    opts = set().union(*[_opts(f) for f in zero]) if zero else set()
    o.dynamic = bool(zero) and opts >= set(spec.opts)
    target = [f for f in fails if f["rule"] == spec.rule]
    want_frs = mutant.frs.rpartition(":")
    gens = set().union(*[_gen_lines(f, module_name) for f in target]) if target else set()
    frss = set().union(*[_frs_lines(f, Path(want_frs[0]).name) for f in target]) if target else set()
    o.gen_lines, o.frs_lines = sorted(gens), sorted(frss)
    notes = []
    if spec.rule == "zero":
        # Every zero finding must name both lines (one missing its attribution fails).
        o.gen_ok = bool(zero) and all(_gen_lines(f, module_name) == {mutant.line} for f in zero)
        o.frs_ok = bool(zero) and all(_frs_lines(f, Path(want_frs[0]).name) == {int(want_frs[2])}
                                      for f in zero)
        if not o.gen_ok and zero and _old_rustc_fn_line(mutant, report, zero, module_name):
            o.gen_ok = True
            notes.append(f"O3 named by the site's fn line {mutant.site_fn_line} "
                         f"(rustc {_rustc_version(report)} gives an inlined Drop no line)")
    else:
        # The static proof names generated lines only (no .frs line); what
        # must hold is that the rule fired and points at the injected line.
        # An instruction it found in the object code may come with its
        # function and no line: that function must be the site's.
        o.gen_ok = mutant.line in gens
        if not gens and mutant.fn and any(re.search(rf"::{mutant.fn}\b", f["message"]) for f in target):
            o.gen_ok, o.gen_by_fn = True, True
        o.frs_ok = not frss or frss == {int(want_frs[2])}
        if not target:
            notes.append(f"no {spec.rule} finding")
    # Every mutant but the no_std-clean one names std or an allocator entry
    # point, so the static proof must fire for it too: a self-test that
    # only watched the zero rule let a broken proof (an empty object read
    # as clean) pass unnoticed.
    also = spec.also + (("nostd",) if spec.rule == "zero" and not spec.nostd_clean
                        and "nostd" not in spec.also else ())
    missing_also = [r for r in also if r not in o.rules]
    if missing_also:
        o.extra_ok = False
        notes.append(f"{', '.join(missing_also)} did not fire")
    if spec.nostd_clean and "nostd" in o.rules:
        o.extra_ok = False
        notes.append("the static proof flagged a mutant that should pass it")
    if spec.phase and not all(spec.phase in f["message"].lower() for f in zero):
        o.extra_ok = False
        notes.append(f"no zero finding says '{spec.phase}'")
    if spec.rule != "zero":
        pass
    elif not zero:
        notes.append("no zero-rule finding" + (f" (rules: {', '.join(o.rules)})" if o.rules else ""))
    elif not o.dynamic:
        notes.append(f"zero rule at O{','.join(map(str, sorted(opts))) or '?'} only, "
                     f"built at O{','.join(map(str, spec.opts))}")
    if target and not (o.gen_ok and o.frs_ok):
        notes.append(f"named {target[0]['message'].split('; ')[-1][:200]}")
    if code != 1:
        notes.append(f"exit {code}")
    o.detail = "; ".join(notes)
    return o


def _yn(b):
    return "y" if b else "n"


def table(mutants, outcomes):
    """The mutant table: class, rules fired, dynamic count, lines, verdict."""
    rows = [("mutant", "class", "site", "opt", "rule(s) fired", "dyn", "gen line", "frs line", "result")]
    for m, o in zip(mutants, outcomes):
        gen = f"{m.line} " + ("fn " + m.fn if o.gen_by_fn else "ok" if o.gen_ok
                               else "got " + (",".join(map(str, o.gen_lines)) or "-"))
        frs = f"{m.frs.rpartition(':')[2]} {'ok' if o.frs_ok else 'got ' + (','.join(map(str, o.frs_lines)) or '-')}"
        rows.append((m.name, m.spec.cls, m.spec.site, "O" + ",".join(map(str, m.spec.opts)),
                     ",".join(o.rules) or "-", _yn(o.dynamic), gen, frs,
                     "caught" if o.caught else "MISSED"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def broken_table(rows):
    head = ("kind", "mutants", "calibration failed", "zero rule caught", "self-test")
    out = [head] + [(r["kind"], ",".join(r["mutants"]), r["calibration"], r["zero"],
                     "red" if r["red"] else "GREEN") for r in rows]
    widths = [max(len(x[i]) for x in out) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(x, widths)).rstrip() for x in out]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


# ---- the self-test -----------------------------------------------------------

def select(specs, patterns):
    """Mutants whose name or class matches one of the fnmatch `patterns`."""
    if not patterns:
        return specs
    return [s for s in specs
            if any(fnmatch.fnmatchcase(s.name, p) or fnmatch.fnmatchcase(s.cls, p) for p in patterns)]


def self_test(audit_cmd, module_text, module_name, scenario, workdir, exercised=None,
              jobs=2, progress=print, only=None, broken_dir=None, control=True, out=print):
    """Runs the control, the mutants and (broken_dir given) the
    broken-interposer proof; prints the tables; returns the exit status."""
    t_start = time.monotonic()
    sites = find_sites(module_text, exercised)
    specs = catalogue(late_call(scenario))
    ok = True
    for p in check_catalogue(specs):
        out(f"mutate: FAIL catalogue: {p}")
        ok = False
    missing = [s for s in SITES if s not in sites]
    if missing:
        out(f"mutate: FAIL no site found for: {', '.join(missing)} (the mutants placed there "
            f"are not run; the self-test fails rather than shrink)")
        ok = False
    chosen = select(specs, only)
    if only and not chosen:
        raise AuditError(f"no mutant matches {' '.join(only)}")
    mutants = [make(module_text, s, sites) for s in chosen
               if all(a == "end" or a in sites for a, _, _ in s.parts)]
    skipped = len(chosen) - len(mutants)
    runner = Runner(audit_cmd, module_name, scenario, workdir, jobs)
    if control:
        ok &= run_control(runner, module_text, out)

    t_mut, runs = time.monotonic(), runner.runs
    res = audit_mutants(runner, mutants, lambda m: Needs.of(m.spec), progress)
    outcomes = []
    for n, m in enumerate(mutants, 1):
        code, rep, err, secs = res[m.name]
        o = judge(m, code, rep, err, module_name)
        o.seconds = secs
        outcomes.append(o)
        progress(f"[{n}/{len(mutants)}] {m.name:<22} {'caught' if o.caught else 'MISSED'}"
                 f"{' — ' + o.detail if o.detail else ''}")
    out(table(mutants, outcomes))
    caught = sum(o.caught for o in outcomes)
    full = not only
    want = CATALOGUE_SIZE if full else len(chosen)
    out(f"mutate: caught {caught}/{want}" + ("" if full else f" (a subset: {want} of {CATALOGUE_SIZE})")
        + f"; dynamic count caught {sum(o.dynamic for o in outcomes)}/{len(outcomes)}, "
        f"generated line right {sum(o.gen_ok for o in outcomes)}/{len(outcomes)}, "
        f".frs line right {sum(o.frs_ok for o in outcomes)}/{len(outcomes)}"
        + (f"; {skipped} mutant(s) could not be placed" if skipped else "")
        + f"; {time.monotonic() - t_mut:.0f} s in {runner.runs - runs} audit run(s) "
        f"with {jobs} job(s)")
    ok &= caught == want == len(outcomes) + skipped and not skipped

    if broken_dir is not None:
        ok &= broken_proof(runner, module_text, sites, chosen, Path(broken_dir), module_name,
                           progress, out, full)
    out(f"mutate: {'PASS' if ok else 'FAIL'} — {time.monotonic() - t_start:.0f} s in all, "
        f"{runner.runs} audit run(s)")
    return EXIT_OK if ok else EXIT_GATE


def run_control(runner, module_text, out):
    """Audits the unmutated module; True when it passes.  With Valgrind (as
    dlsym_next needs): memcheck, the second counter and line coverage must
    pass on the unmutated module too."""
    res, secs = runner.run(Needs((0, 3), valgrind=True), {"control": module_text}, "control")
    runner.runs += 1
    code, rep, err = res["control"]
    fails = [f for f in (rep or {}).get("findings", []) if f.get("failure", True)]
    ctl_ok = code == 0 and rep is not None and not fails
    out(f"mutate: control (unmutated module, O0,O3, Valgrind on): exit {code}, "
        f"{len(fails)} failure(s) in {secs:.1f} s — {'pass' if ctl_ok else 'FAIL'}")
    for f in fails[:5]:
        out(f"  control FAIL [{f['rule']}] {f['message'][:300]}")
    if rep is None:
        out(f"  {err.strip()[-500:]}")
    return ctl_ok


def broken_proof(runner, module_text, sites, specs, broken_dir, module_name, progress, out,
                 full=True):
    """For each counted kind: the mutants that reach the interposer only
    through it, under libaudit-broken-KIND.so (one run per kind).  The
    self-test must go red (a mutant not caught: calibration failed or the
    zero rule missed it)."""
    t0, runs = time.monotonic(), runner.runs
    kinds = [k for k in COUNTED_KINDS if any(s.proof and s.counts == (k,) for s in specs)]
    rows = {k: {"kind": k, "mutants": [], "calibration": "-", "zero": "-", "red": False,
                "caught": 0, "dynamic": 0, "calib": 0, "n": 0} for k in kinds}
    jobs_list, lib_of = [], {}
    for k in kinds:
        lib = broken_dir / f"libaudit-broken-{k}.so"
        if not lib.exists():
            rows[k]["calibration"] = f"not built: {lib}"
            continue
        for s in specs:
            if s.proof and s.counts == (k,):
                jobs_list.append((k, make(module_text, s, sites)))
                lib_of[s.name] = str(lib)
    res = audit_mutants(runner, [m for _, m in jobs_list], lambda m: Needs.of(m.spec, lib_of[m.name]),
                        progress)
    for k, m in jobs_list:
        code, rep, err, secs = res[m.name]
        o = judge(m, code, rep, err, module_name)
        r = rows[k]
        r["mutants"].append(m.name)
        r["n"] += 1
        r["caught"] += o.caught
        r["dynamic"] += o.dynamic
        r["calib"] += "calibration" in o.rules
        progress(f"broken {k:<14} {m.name:<22} {'caught' if o.caught else 'missed'} "
                 f"(rules: {','.join(o.rules) or '-'})")
    for r in rows.values():
        if r["n"]:
            r["calibration"] = f"{r['calib']}/{r['n']}"
            r["zero"] = f"{r['dynamic']}/{r['n']}"
            r["red"] = r["caught"] < r["n"]
    out(broken_table(list(rows.values())))
    red = sum(r["red"] for r in rows.values())
    want = len(COUNTED_KINDS) if full else len(kinds)
    out(f"mutate: self-test red for every broken kind: {red}/{want} "
        f"({time.monotonic() - t0:.0f} s in {runner.runs - runs} audit run(s))")
    return red == want


def command(args, progress=print):
    """`audit mutate`: compile the fixture's no_alloc variant with the
    bundled compiler and run the self-test on it."""
    from . import build, run, tools

    tree = tools.BuildTree(args.build_dir)
    frc = build.identify(tree.frc, bundled=True)
    (fx,) = run.discover(Path(args.fixtures_dir), [args.fixture])
    work = tree.work / "mutants" / fx.name
    module, err = build.compile_variant(frc, fx.frs, "noalloc", work)
    if err:
        raise AuditError(err, status=EXIT_GATE)
    methods = {s.method for s in fx.scenario.steps}
    exercised = lambda fn: any(fn.endswith("_" + m) for m in methods)  # noqa: E731
    audit_cmd = [str(tools.ROOT / "scripts" / "audit"), "--build-dir", str(tree.dir)]
    if args.list:
        for s in catalogue(late_call(fx.scenario)):
            print(f"{s.name:<22} {s.site:<10} O{','.join(map(str, s.opts)):<4} {s.cls}")
        return EXIT_OK
    broken = None
    if args.broken_interposers:
        broken = Path(args.broken_dir) if args.broken_dir else tree.dir / "interposer" / "broken"
    progress(f"mutate: injecting allocations into {module} ({fx.name}, no_alloc shape)")
    return self_test(audit_cmd, module.read_text(), module.name, fx.scenario, work / "runs",
                     exercised=exercised, jobs=args.jobs or 2, progress=progress,
                     only=args.only, broken_dir=broken, control=not args.no_control)
