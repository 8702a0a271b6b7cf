"""Build C fixture libraries and prove the no_alloc C modules allocator-free.

The C counterpart of build.prepare + bundle.build + nostd.py, for fixtures
whose target is C (fixtures/c/NAME.frs, `frc compile -l c`, or
`--generated x.c`).  Per fixture the work directory holds, beside the
Rust layout (build.py):

  gen/{alloc,noalloc}/NAME.c          the compiler's output
  shim/NAME_{mode}.c                  the fixture's ABI translation unit (cshim.py)

and for all C fixtures BUILD/audit/bundles/c/:

  obj/NAME_MODE_oN.o                  one shim (with its module) compiled by gcc
                                      -ON -g -fPIC -fvisibility=hidden, then
                                      `objcopy --localize-hidden`: only the ABI
                                      functions (fx_IDENT__construct, ...) stay global
  lib/libfxc_MODE_HASH_oN.so          a bucket's objects linked into one library
                                      (buckets as bundle.buckets: ceil(n / 8) by name)
  proof/NAME.o                        the static proof's object (below)

gcc runs are cached by content (`.key` stamps: gcc's version, the flags,
the shim and module text); editing one fixture recompiles its objects and
relinks its bucket's libraries.  An object gcc rejects fails its fixture
alone; its bucket-mates are linked without it.

The static proof (rule `freestanding`, nostd's C counterpart): each no_alloc
module compiled on its own with `-ffreestanding -fno-builtin` at -O0 must
neither reference (`nm -u`) nor define an allocator function: the entry
points nostd.py forbids (glibc's heap family and aliases, mmap & co,
syscall, dlsym/dlopen, thread and process creation, C++ new/delete) and
the libc functions that may allocate (FORBIDDEN_C: strdup, asprintf,
getline, open_memstream, the printf and scanf families, stdio streams,
qsort, ...), their glibc `__NAME_chk` variants included; nor hold a
`syscall` instruction.  -fno-builtin keeps gcc from turning a call into
something else or nothing (a malloc+memset into calloc, a printf into
puts), so the symbol table holds every function the source calls.
"""

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import bundle, clocate, cshim, nostd, procs, tools
from .errors import ToolMissing, UsageError

GCC_TIMEOUT = 300
CFLAGS = ("-std=gnu11", "-g", "-fPIC", "-fvisibility=hidden", "-fno-strict-aliasing")
PROOF_FLAGS = ("-std=gnu11", "-O0", "-ffreestanding", "-fno-builtin", "-fno-stack-protector")
RULE = "freestanding"

# libc functions a no_alloc C module must not call: each may allocate
# inside libc (a stream's buffer on first use, a result string, a growing
# buffer, a sort's scratch space, locale and time-zone data).
FORBIDDEN_C = frozenset("""
    strdup strndup wcsdup __strdup __strndup asprintf vasprintf getline getdelim __getdelim
    open_memstream open_wmemstream fmemopen realpath canonicalize_file_name get_current_dir_name
    tempnam tmpnam tmpfile scandir scandirat glob wordexp backtrace_symbols
    printf fprintf dprintf sprintf snprintf vprintf vfprintf vdprintf vsprintf vsnprintf
    puts fputs putchar putc fputc fwrite fflush perror psignal
    scanf fscanf sscanf vscanf vfscanf vsscanf getc fgetc getchar fgets fread ungetc
    fopen fopen64 fdopen freopen fclose popen pclose setvbuf setbuf
    opendir fdopendir closedir readdir
    qsort qsort_r bsearch_alloc
    localtime localtime_r gmtime ctime asctime mktime strftime tzset getenv setenv putenv unsetenv
    setlocale newlocale duplocale strerror strsignal
    atexit on_exit at_quick_exit __cxa_atexit exit
    regcomp regexec iconv_open catopen getpwnam getpwuid getgrnam gethostbyname getaddrinfo
""".split())
_CHK = re.compile(r"^__(\w+?)_chk$")


def forbidden(name):
    """Whether a no_alloc C module may not reference or define `name`."""
    base = name.split("@", 1)[0]
    m = _CHK.match(base)
    if m:
        base = m.group(1)
    return nostd.is_allocator_symbol(base) or base in FORBIDDEN_C


def gcc():
    """The C compiler: $CC, else gcc (Debian package gcc)."""
    path = shutil.which(os.environ.get("CC", "gcc"))
    if not path:
        raise ToolMissing(os.environ.get("CC", "gcc"), "gcc")
    return path


def gcc_version(cc):
    r = procs.run([cc, "--version"], timeout=60)
    return (r.stdout.splitlines() or ["?"])[0]


def is_c(fixture):
    """A fixture (run.Fixture) whose generated code is C."""
    return getattr(fixture, "target", "rust") == "c"


@dataclass
class CMember(bundle.Member):
    """bundle.Member of a C fixture: `shim` is its translation unit."""
    mode: str = "alloc"


def prepare(c, outcome_cls):
    """Shims one compiled C module: (Outcome, CMember or None)."""
    from .build import crate_ident
    fx, mode, module = c.fixture, c.mode, c.module
    o = outcome_cls(fixture=fx.name, mode=mode, compile_s=c.compile_s)
    o.target = "c"
    if c.error:
        o.errors.append(c.error)
        return o, None
    o.module = module
    text = module.read_text(encoding="utf-8", errors="replace")
    try:
        api = cshim.read_api(text, fx.scenario.system, where=str(module))
        cshim.check_steps(api, fx.scenario, mode)
        cshim.check_runtime(text, fx.scenario.system, module)
    except UsageError as e:
        o.errors.append(str(e))
        return o, None
    ident = crate_ident(fx.name)
    o.prefix = bundle.prefix(ident)
    shim_c = c.work / "shim" / f"{fx.name}_{mode}.c"
    bundle.write_if_changed(shim_c, cshim.generate(fx.scenario, api, module.resolve(), mode, o.prefix))
    o.nostd = "n/a" if mode == "alloc" else "not run"
    return o, CMember(fixture=fx.name, ident=ident, shim=shim_c, module=module, text=text, mode=mode)


def _run_cached(cmd, out, key, log):
    """Runs cmd unless `out` was made from the same key; (ok, cached)."""
    stamp = out.with_name(out.name + ".key")
    if out.exists() and stamp.exists() and stamp.read_text() == key:
        return True, True
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    try:
        r = procs.run([str(x) for x in cmd], timeout=GCC_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.append(f"{Path(str(cmd[0])).name} did not finish within {GCC_TIMEOUT} s making {out}")
        return False, False
    if r.returncode != 0 or not out.exists():
        log.append(f"{Path(str(cmd[0])).name} failed making {out.name}:\n{r.stderr.strip()[-4000:]}")
        return False, False
    stamp.write_text(key)
    return True, False


def compile_object(cc, cc_ver, m, opt, cdir, log):
    """The member's shim compiled at -O`opt`, hidden symbols made local;
    (object or None, key, cached)."""
    obj = cdir / "obj" / f"{m.fixture}_{m.mode}_o{opt}.o"
    flags = [*CFLAGS, f"-O{opt}", "-I", str(tools.ROOT / "harness")]
    key = tools.digest(cc_ver, " ".join(flags), m.shim.read_text(encoding="utf-8"), m.text,
                       (tools.ROOT / "harness" / "fixture_abi.h").read_text())
    stamp = obj.with_name(obj.name + ".key")
    if obj.exists() and stamp.exists() and stamp.read_text() == key:
        return obj, key, True
    stamp.unlink(missing_ok=True)
    tmp = obj.with_name(obj.name + ".tmp.o")
    ok, _ = _run_cached([cc, *flags, "-c", m.shim, "-o", tmp], tmp, key, log)
    if not ok:
        return None, key, False
    objcopy = shutil.which("objcopy")
    if not objcopy:
        raise ToolMissing("objcopy", "binutils")
    r = procs.run([objcopy, "--localize-hidden", str(tmp), str(obj)], timeout=120)
    if r.returncode != 0:
        log.append(f"objcopy --localize-hidden failed on {tmp}: {r.stderr.strip()}")
        return None, key, False
    stamp.write_text(key)
    return obj, key, False


def build_bucket(cc, cc_ver, members, mode, opt, cdir):
    """One bucket at one opt-level: [bundle.Crate] (the library's, and one
    per member gcc rejected, with its errors)."""
    t0 = time.monotonic()
    objs, keys, out, cached = [], [], [], True
    for m in members:
        log = []
        obj, key, was = compile_object(cc, cc_ver, m, opt, cdir, log)
        if obj is None:
            out.append(bundle.Crate(members=[m], mode=mode, opt=opt, errors=log))
            continue
        objs.append((m, obj))
        keys.append(key)
        cached = cached and was
    if objs:
        kept = [m for m, _ in objs]
        name = bundle.crate_name("fxc", mode, kept, opt)
        lib = cdir / "lib" / f"lib{name}.so"
        log = []
        ok, was = _run_cached([cc, "-shared", "-g", "-o", lib, *[o for _, o in objs]], lib,
                              tools.digest(cc_ver, *keys), log)
        out.insert(0, bundle.Crate(members=kept, mode=mode, opt=opt, lib=lib if ok else None,
                                   cached=ok and was and cached, errors=log))
    for c in out:
        c.seconds = (time.monotonic() - t0) / len(out)
    return out


def prove(cc, m, cdir):
    """The static proof of one no_alloc C module: [problem] (empty: proven)."""
    pdir = cdir / "proof"
    pdir.mkdir(parents=True, exist_ok=True)
    obj = pdir / f"{m.fixture}.o"
    obj.unlink(missing_ok=True)
    r = procs.run([cc, *PROOF_FLAGS, "-c", "-x", "c", str(m.module.resolve()), "-o", str(obj)],
                  timeout=GCC_TIMEOUT)
    if r.returncode != 0 or not obj.exists():
        first = (r.stderr.strip().splitlines() or ["gcc failed"])
        return [f"{m.module}: does not compile with {' '.join(PROOF_FLAGS)}: "
                + next((ln for ln in first if "error" in ln), first[0])]
    names = nostd.symbols(obj)
    if not names:
        return [f"{m.module}: the static proof found no symbol in {obj}: it cannot vouch for the module"]
    refs, traps = nostd.disassembly(obj)
    problems, seen = [], set()
    for name, typ in names:
        if name in seen or not forbidden(name):
            continue
        seen.add(name)
        how = "references" if typ in "Uwv" else "defines"
        users = sorted(refs.get(name, ()))
        where = nostd._source_line([str(m.module.resolve())], name.split("@", 1)[0])
        frs = clocate.CModuleMap(m.module).frs_of(int(where.rsplit(":", 1)[1])) if where else ""
        where += f" (from {frs})" if frs else ""
        problems.append(f"{where or m.module}: the no_alloc C module's object code (-ffreestanding "
                        f"-fno-builtin) {how} `{name}`, which may allocate"
                        + (f" (in {', '.join(users[:3])})" if users else ""))
    for func, insn in traps:
        problems.append(f"{m.module}: a `{insn}` instruction in {func}: inline system calls are "
                        f"memory no counter sees")
    return problems


def build_libraries(compiled, results, outcome_cls, jobs=None, opts=(0, 3), tick=None):
    """The C part of the build stage: prepare, build every bucket of each
    shape at every opt-level, prove the no_alloc modules.  Fills `results`
    ({(name, mode): Outcome}); returns the bundle.Crates built."""
    if not compiled:
        return []
    from concurrent.futures import ThreadPoolExecutor
    cc = gcc()
    cc_ver = gcc_version(cc)
    members = {}
    for key, c in compiled.items():
        results[key], m = prepare(c, outcome_cls)
        if m:
            members.setdefault(c.mode, []).append(m)
    cdir = next(iter(compiled.values())).work.parent / "bundles" / "c"
    tasks = [(mode, b, opt) for mode, ms in members.items() for opt in opts for b in bundle.buckets(ms)]
    crates = []
    with ThreadPoolExecutor(max_workers=jobs or max(1, os.cpu_count() or 1)) as pool:
        for built in pool.map(lambda t: build_bucket(cc, cc_ver, t[1], t[0], t[2], cdir), tasks):
            crates += built
            if tick:
                tick(f"C library {built[0].mode} O{built[0].opt} ({len(built[0].members)} fixture(s))")
        noalloc = members.get("noalloc", [])
        for m, problems in zip(noalloc, pool.map(lambda m: prove(cc, m, cdir), noalloc)):
            o = results[(m.fixture, "noalloc")]
            o.nostd = "failed" if problems else "ok"
            o.nostd_problems = problems
            o.nostd_log = "\n".join(problems)
    for c in crates:
        for m in c.members:
            o = results[(m.fixture, c.mode)]
            o.rustc_s += c.seconds / len(c.members)
            if c.lib:
                o.libs[c.opt] = c.lib
                o.cached += c.cached
                o.built += not c.cached
            o.errors += [e for e in c.errors if e not in o.errors]
    return crates
