"""Gate rule 4, the static proof: the no_alloc module links no allocator.

A `#![no_std]` wrapper crate includes the generated module (shim.py) and
is compiled in three steps, each of which can fail the rule:

1. **Against a sysroot that holds only core.**  A throw-away sysroot
   (`lib/rustlib/<host>/lib/` with symlinks to the toolchain's core,
   compiler_builtins and, where it exists, the rustc_std_workspace_core
   facade that compiler_builtins needs) replaces the real one, so
   `extern crate alloc;` or `extern crate std;` — in the module or in
   anything it declares (`mod`, `#[path]`, `include!`) — cannot resolve:
   what the built crate depends on, not what its text says.
2. **No allocator of its own.**  `#[global_allocator]` and
   `#[alloc_error_handler]` in code (not comments or strings) of any
   source file rustc read for the crate are rejected: with them, a module
   could serve Box/Vec from a static arena without ever calling malloc.
3. **What the object code calls.**  The crate is emitted as one object
   (`--emit obj`, opt-level 0, one codegen unit, no LTO, `-C
   link-dead-code` so every function it declares is there) and its
   symbol table is read with nm: any reference to, or definition of, an
   allocator entry point fails — glibc's heap family and its `__libc_*`
   aliases, the memory calls to the kernel (mmap, mremap, munmap, brk,
   sbrk and libc's `syscall`), the dynamic loader's lookups (dlsym,
   dlvsym, dlopen, which can fetch malloc behind the interposer's back),
   C++'s operator new/delete, Rust's allocator shims (`__rust_alloc`,
   `__rg_alloc`, ...), and thread/process creation (pthread_create,
   clone, fork, posix_spawn, ...: their stacks and address spaces are
   mapped inside libc, where no hook sees them).  A `syscall`/`sysenter`/`int $0x80` instruction in
   the object code (inline asm) fails too: no counter sees it.

Calls to any other C function (strdup, getline, fopen, ...) are NOT
judged here: their allocations happen inside libc, through the hooked
entry points, and the dynamic count (interposer and Valgrind) catches
them in the window they happen in.

The rustc step is cached by content: its key is this proof's version, the
rustc version and flags, the wrapper and the module; the stamp also holds
the hash of every source file rustc read (its dep-info), so an edited
`include!`d file rebuilds.  nm and objdump always run (milliseconds).
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

from . import procs, rustlex, tools
from .errors import ToolMissing

PROOF_VERSION = "4"
RUSTC_TIMEOUT = 600

# The allocator entry points a no_alloc object may neither call nor define.
ALLOCATOR_SYMBOLS = frozenset("""
    malloc calloc realloc reallocarray free cfree posix_memalign aligned_alloc memalign
    valloc pvalloc malloc_usable_size
    __libc_malloc __libc_calloc __libc_realloc __libc_reallocarray __libc_free
    __libc_memalign __libc_valloc __libc_pvalloc __posix_memalign
    mmap mmap64 __mmap __mmap64 mremap __mremap munmap __munmap brk __brk sbrk __sbrk
    syscall __syscall
    dlsym dlvsym dlopen dlmopen __libc_dlsym __libc_dlopen_mode _dl_sym
""".split())
# Thread and process creation: the kernel maps a new stack or address
# space for them from inside libc (glibc's pthread_create maps its stack
# with an internal mmap no hook sees), so a module that starts a thread or
# a process gets memory the dynamic count cannot vouch for.
SPAWN_SYMBOLS = frozenset("""
    pthread_create thrd_create clone clone3 __clone __clone2 fork vfork _Fork __fork
    posix_spawn posix_spawnp shmat
""".split())
# Rust's allocator shims (v0-mangled in newer toolchains, so a substring).
_RUST_ALLOC = re.compile(r"__rust_(?:alloc|dealloc|realloc|alloc_zeroed|alloc_error_handler"
                         r"|no_alloc_shim_is_unstable)|__rg_(?:alloc|dealloc|realloc|alloc_zeroed|oom)"
                         r"|__rdl_(?:alloc|dealloc|realloc|alloc_zeroed|oom)")
# C++ operator new / new[] / delete / delete[] (every overload).
_CXX_NEW = re.compile(r"^_Z(?:nw|na|dl|da)[mjPSR]")
_ATTRS = re.compile(r"#\s*!?\s*\[[^\]]*\b(global_allocator|alloc_error_handler)\b")
_SYSCALL_INSN = re.compile(r"^\s*[0-9a-f]+:\s+(syscall|sysenter|int\s+\$0x80)\b")
_SYSROOT_LIBS = ("libcore-", "libcompiler_builtins-", "librustc_std_workspace_core-")

_lock = threading.Lock()


def is_allocator_symbol(name):
    base = name.split("@", 1)[0]
    return (base in ALLOCATOR_SYMBOLS or base in SPAWN_SYMBOLS
            or bool(_RUST_ALLOC.search(base) or _CXX_NEW.match(base)))


def _tool(name):
    path = shutil.which(name)
    if not path:
        raise ToolMissing(name, "binutils")
    return path


def core_only_sysroot(rustc, cache_dir):
    """A sysroot with nothing but core (and what core-only crates need):
    built once per toolchain under cache_dir, reused afterwards."""
    out = procs.run([rustc, "-vV"], timeout=60)
    host = next((ln.split(":", 1)[1].strip() for ln in out.stdout.splitlines()
                 if ln.startswith("host:")), None)
    real = procs.run([rustc, "--print", "sysroot"], timeout=60).stdout.strip()
    if not host or not real:
        raise RuntimeError(f"`{rustc} -vV` / `--print sysroot` did not say the host or sysroot")
    src = Path(real) / "lib" / "rustlib" / host / "lib"
    libs = sorted(p for p in src.glob("lib*") if p.name.startswith(_SYSROOT_LIBS)
                  and p.suffix in (".rlib", ".rmeta"))
    if not any(p.name.startswith("libcore-") for p in libs):
        raise RuntimeError(f"{src} has no libcore rlib: is the Rust standard library for "
                           f"{host} installed?")
    root = Path(cache_dir) / tools.digest(str(rustc), real, host, *[p.name for p in libs])[:16]
    with _lock:
        if not root.exists():
            tmp = root.with_name(root.name + f".tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            lib = tmp / "lib" / "rustlib" / host / "lib"
            lib.mkdir(parents=True)
            for p in libs:
                (lib / p.name).symlink_to(p)
            os.replace(tmp, root)
    return root


def _deps(depfile):
    """Source files of a rustc dep-info file (the first rule's prerequisites)."""
    try:
        text = Path(depfile).read_text(errors="replace")
    except OSError:
        return []
    text = text.replace("\\\n", " ")
    first = next((ln for ln in text.splitlines() if ":" in ln and not ln.startswith("#")), "")
    rest = first.split(": ", 1)[1] if ": " in first else ""
    files = re.split(r"(?<!\\) ", rest.strip())
    return [f.replace("\\ ", " ") for f in files if f]


def _file_hash(path):
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "missing"


def _compile(rustc, rustc_ver, wrapper, module_text, ndir, crate, sysroot):
    """rustc --emit obj against the core-only sysroot, cached by content.
    Returns (ok, object path, rustc's stderr, [source files])."""
    ndir = Path(ndir).resolve()
    obj = ndir / f"lib{crate}.o"
    dep = ndir / f"lib{crate}.d"
    stamp = ndir / f"lib{crate}.o.key"
    args = ["--edition", "2021", "--crate-type", "rlib", "--crate-name", crate,
            "-C", "opt-level=0", "-C", "codegen-units=1", "-C", "lto=off",
            "-C", "link-dead-code", "-C", "debuginfo=0", "-A", "warnings"]
    key = tools.digest(PROOF_VERSION, rustc_ver, " ".join(args), wrapper.read_text(), module_text)
    try:
        saved = json.loads(stamp.read_text())
        if (saved["key"] == key and obj.exists() and obj.stat().st_size > 0
                and all(_file_hash(f) == h for f, h in saved["deps"].items())):
            return True, obj, "", list(saved["deps"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    stamp.unlink(missing_ok=True)
    obj.unlink(missing_ok=True)
    cmd = [rustc, *args, "--sysroot", str(sysroot), "--emit", f"obj={obj},dep-info={dep}",
           str(Path(wrapper).resolve())]
    try:
        # In the proof's own directory: with --emit obj=PATH rustc writes its
        # intermediate `CRATE.CRATE.HASH-cgu.0.rcgu.o` to the working
        # directory, and two audits of the same fixture at once (the
        # self-test runs mutants in parallel) then overwrite each other's:
        # one failed, the other "proved" an empty object.
        r = procs.run(cmd, timeout=RUSTC_TIMEOUT, cwd=ndir)
    except subprocess.TimeoutExpired:
        return False, obj, f"rustc did not finish within {RUSTC_TIMEOUT} s", []
    deps = [f for f in _deps(dep) if Path(f).resolve() != wrapper.resolve()]
    if r.returncode != 0 or not obj.exists():
        return False, obj, r.stderr.strip(), deps
    if obj.stat().st_size == 0:
        return False, obj, f"rustc exited 0 but wrote an empty object {obj}", deps
    stamp.write_text(json.dumps({"key": key, "deps": {f: _file_hash(f) for f in deps}}))
    return True, obj, "", deps


def _crate_errors(stderr):
    """[(crate, "file:line")] for each `can't find crate for X` rustc reported."""
    out = []
    for m in re.finditer(r"can't find crate for `(\w+)`[^\n]*\n\s*-->\s*(\S+?):(\d+):\d+", stderr):
        out.append((m.group(1), f"{m.group(2)}:{m.group(3)}"))
    for m in re.finditer(r"can't find crate for `(\w+)`", stderr):
        if not any(c == m.group(1) for c, _ in out):
            out.append((m.group(1), ""))
    return out


def _attr_sites(files):
    """[(attribute, "file:line")] of #[global_allocator]/#[alloc_error_handler] in code."""
    out = []
    for f in files:
        try:
            code = rustlex.blank(Path(f).read_text(errors="replace"), tolerant=True)
        except OSError:
            continue
        for m in _ATTRS.finditer(code):
            out.append((m.group(1), f"{f}:{code.count(chr(10), 0, m.start()) + 1}"))
    return out


def symbols(obj):
    """[(name, nm type letter)] of an object file (nm -P, portable format)."""
    r = procs.run([_tool("nm"), "-P", str(obj)], timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"nm failed on {obj} (exit {r.returncode}): {r.stderr.strip()[:300]}")
    out = []
    for ln in r.stdout.splitlines():
        parts = ln.split()
        if len(parts) >= 2:
            out.append((parts[0], parts[1]))
    return out


def disassembly(obj):
    """{function: set of referenced symbols} and [(function, insn)] of syscall
    instructions, from objdump -dr (relocations name what each function calls)."""
    r = procs.run([_tool("objdump"), "-dr", "-C", "--no-show-raw-insn", str(obj)], timeout=120)
    refs, traps, cur = {}, [], "?"
    for ln in r.stdout.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", ln)
        if m:
            cur = m.group(1)
            continue
        m = re.match(r"^\s+[0-9a-f]+:\s+R_\w+\s+(\S+?)(?:[-+]0x[0-9a-f]+)?$", ln)
        if m:
            refs.setdefault(m.group(1), set()).add(cur)
            continue
        m = _SYSCALL_INSN.match(ln)
        if m:
            traps.append((cur, " ".join(m.group(1).split())))
    return refs, traps


def _source_line(files, name):
    """file:line of the first mention of `name` in the sources, else ''."""
    pat = re.compile(r"\b" + re.escape(name) + r"\b")
    for f in files:
        try:
            lines = Path(f).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for i, text in enumerate(lines, 1):
            if pat.search(text) and not text.lstrip().startswith("//"):
                return f"{f}:{i}"
    return ""


def prove(rustc, rustc_ver, wrapper, module, module_text, ndir, crate, sysroot_cache):
    """Runs the proof; returns the problems found (an empty list: proven)."""
    try:
        sysroot = core_only_sysroot(rustc, sysroot_cache)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        return [f"{module}: the no_std proof could not run: {e}"]
    ok, obj, stderr, deps = _compile(rustc, rustc_ver, wrapper, module_text, ndir, crate, sysroot)
    files = deps or [str(Path(module).resolve())]
    problems = [f"{where or module} declares #[{attr}]: a no_alloc module must not install an "
                f"allocator of its own (it could serve Box/Vec without ever calling malloc)"
                for attr, where in _attr_sites(files)]
    if not ok:
        crates = _crate_errors(stderr)
        for crate_name, where in crates:
            problems.append(f"{where or module}: the no_alloc module brings in `{crate_name}`: it "
                            f"must build against a sysroot that holds only core (#![no_std] "
                            f"without alloc)")
        if not crates:
            log = ndir / f"lib{crate}.stderr"
            log.write_text(stderr)
            first = re.search(r"^(error(?:\[E\d+\])?: [^\n]*)\n\s*-->\s*(\S+?):(\d+):\d+", stderr, re.M)
            where, what = (f"{first.group(2)}:{first.group(3)}", first.group(1)) if first else (
                str(module), (stderr.strip().splitlines() or ["rustc failed"])[0])
            n = len(re.findall(r"^error(?:\[E\d+\])?: (?!aborting)", stderr, re.M))
            problems.append(f"{where}: does not build as #![no_std] against core alone (no alloc, "
                            f"no std): {what}" + (f" ({n} error(s) in all; rustc's output: {log})"
                                                 if n > 1 else f" (rustc's output: {log})"))
        return problems
    try:
        names = symbols(obj)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        return [f"{module}: the no_std proof could not read the module's object code: {e}"]
    if not names:
        # An object with no symbol at all proves nothing (a module always
        # defines functions): never report it as clean.
        return [f"{module}: the no_std proof found no symbol in {obj}: it cannot vouch for "
                f"the module's object code"]
    refs, traps = disassembly(obj)
    seen = set()
    for name, typ in names:
        if not is_allocator_symbol(name) or name in seen:
            continue
        seen.add(name)
        how = "references" if typ in "Uwv" else "defines"
        users = sorted(refs.get(name, ()))
        where = _source_line(files, name.split("@", 1)[0])
        what = ("thread/process creation function" if name.split("@", 1)[0] in SPAWN_SYMBOLS
                else "allocator entry point")
        problems.append(f"{where or module}: the no_alloc module's object code {how} the {what} "
                        f"`{name}`" + (f" (in {', '.join(users[:3])})" if users else ""))
    for func, insn in traps:
        problems.append(f"{module}: a `{insn}` instruction in {func}: inline system calls are "
                        f"memory no counter sees; a no_alloc module must not make them")
    return problems
