#!/usr/bin/env python3
"""frc -l c: both C shapes compile, behave alike, and allocate as framec's C.

Each tests/c/NAME.frs is a C system marked @@[no_alloc...] with lines

    // c: CALL => ALLOCS        a measured call (`create` / `destroy`: the
                                shape's constructor / destructor)
    // assert: C-EXPR           checked between calls, in both shapes

`s` is the system (a pointer). For each file and shape (no_alloc as
written; the allocating shape with the attribute line blanked) this
script compiles frc's output with gcc -std=c11 -Wall -Wextra -Werror; the
no_alloc one also with -ffreestanding -fno-builtin -O2, and `nm -u` of that
object must name no allocator. Then a driver (#include of the generated
file) runs every CALL in its own interposer window (interposer/audit.h,
this thread) under LD_PRELOAD=libaudit.so, after a calibration window that
must read exactly 1 (no false zero), and every ALLOCS must match in the
allocating shape (allocator calls other than free) and be 0 - allocations
and frees - in the no_alloc shape, at -O0, -O2 and -O3.

usage: run_c_tests.py FRC TESTS_DIR LIBAUDIT INTERPOSER_SRC [CC]
"""
import pathlib
import re
import subprocess
import sys
import tempfile

CALL = re.compile(r"^//\s*c:\s*(?P<call>.+?)\s*=>\s*(?P<n>\d+)\s*$")
ASSERT = re.compile(r"^//\s*assert:\s*(?P<expr>.+?)\s*$")
ATTR = re.compile(r"^@@\[no_alloc[^\]]*\]\s*$", re.M)
SYSTEM = re.compile(r"@@system\s+(\w+)")
ALLOCATORS = {"malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign", "aligned_alloc",
              "memalign", "valloc", "pvalloc", "strdup", "strndup", "asprintf", "vasprintf", "brk", "sbrk",
              "mmap"}
WARN = ["-std=c11", "-Wall", "-Wextra", "-Werror"]


def steps_of(text):
    steps = []
    for line in text.splitlines():
        m = CALL.match(line)
        if m:
            steps.append(("call", m["call"], int(m["n"])))
        m = ASSERT.match(line)
        if m:
            steps.append(("assert", m["expr"], 0))
    return steps


def driver(gen, sys_name, steps, no_alloc):
    out = ["#define _GNU_SOURCE\n#define AUDIT_WANT_RESOLVE\n#include <stdio.h>\n#include <stdlib.h>\n",
           '#include "audit.h"\n', f'#include "{gen}"\n',
           "static void *(*volatile cal_malloc)(size_t) = malloc;\n",
           "static void (*volatile cal_free)(void *) = free;\n",
           "int main(void)\n{\n    struct audit_api api;\n    struct audit_counts c;\n",
           '    if (audit_api_resolve(&api) != 0) { puts("interposer not loaded"); return 2; }\n',
           "    api.open(AUDIT_THIS_THREAD); cal_free(cal_malloc(16)); api.close(&c);\n",
           '    if (c.allocs != 1 || c.frees != 1) { puts("calibration failed"); return 2; }\n']
    out.append(f"    static {sys_name} storage; {sys_name} *s = &storage;\n" if no_alloc else f"    {sys_name} *s = NULL;\n")
    for i, (kind, text, _) in enumerate(steps):
        if kind == "assert":
            out.append(f'    if (!({text})) {{ printf("assert failed: %s\\n", "{text}"); return 1; }}\n')
            continue
        if text == "create":
            text = f"{sys_name}_init(s)" if no_alloc else f"s = {sys_name}_create()"
        elif text == "destroy":
            text = f"{sys_name}_deinit(s)" if no_alloc else f"{sys_name}_destroy(s)"
        out.append(f"    api.open(AUDIT_THIS_THREAD); {text}; api.close(&c);\n"
                   f'    printf("%d %llu %llu\\n", {i}, (unsigned long long)c.allocs, (unsigned long long)c.frees);\n')
    out.append("    return 0;\n}\n")
    return "".join(out)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def compile_shape(frc, cc, src, work, shape, no_alloc):
    """frc -l c and the gcc checks; returns (generated file, errors)."""
    rel = pathlib.Path("fixtures/c") / src.name
    (work / shape / rel).parent.mkdir(parents=True, exist_ok=True)
    text = src.read_text()
    (work / shape / rel).write_text(text if no_alloc else ATTR.sub("", text))
    r = run([frc, "compile", "-l", "c", "-o", str(work / shape / "gen"), str(rel)], cwd=work / shape)
    if r.returncode != 0:
        return None, [f"{src.name} {shape}: frc exit {r.returncode}: {r.stderr}"]
    gen = work / shape / "gen" / (src.stem + ".c")
    errs = []
    for opt in (["-O0"], ["-O2", "-ffreestanding", "-fno-builtin"] if no_alloc else ["-O2"]):
        obj = work / shape / f"{src.stem}{opt[0]}.o"
        r = run([cc, *WARN, *opt, "-c", str(gen), "-o", str(obj)])
        if r.returncode != 0:
            errs.append(f"{src.name} {shape} {' '.join(opt)}: gcc failed:\n{r.stderr}")
        elif no_alloc and "-ffreestanding" in opt:
            undef = set(run(["nm", "-u", str(obj)]).stdout.split()) & ALLOCATORS
            if undef:
                errs.append(f"{src.name} {shape}: the freestanding object calls {sorted(undef)}")
    return gen, errs


def measure(cc, libaudit, inc, gen, src, work, shape, no_alloc):
    text = src.read_text()
    sys_name = SYSTEM.search(text)[1]
    steps = steps_of(text)
    drv = work / shape / f"drive_{src.stem}.c"
    drv.write_text(driver(gen.name, sys_name, steps, no_alloc))
    errs = []
    for opt in ("-O0", "-O2", "-O3"):
        exe = work / shape / f"drive_{src.stem}{opt}"
        r = run([cc, "-std=c11", "-Wall", opt, f"-I{inc}", f"-I{gen.parent}", str(drv), "-o", str(exe), "-ldl"])
        if r.returncode != 0:
            return [f"{src.name} {shape}: driver does not build:\n{r.stderr}"]
        r = run([str(exe)], env={"LD_PRELOAD": libaudit, "PATH": "/usr/bin:/bin"})
        if r.returncode != 0:
            return [f"{src.name} {shape} {opt}: driver exit {r.returncode}: {r.stdout}{r.stderr}"]
        for line in r.stdout.splitlines():
            i, allocs, frees = (int(x) for x in line.split())
            kind, call, want = steps[i]
            got = (allocs, frees) if no_alloc else allocs
            exp = (0, 0) if no_alloc else want
            status = "ok" if got == exp else "MISMATCH"
            print(f"{src.name} {shape:7} {opt} {call:28} allocs {allocs:3} frees {frees:3}  want {exp}  {status}")
            if got != exp:
                errs.append(f"{src.name} {shape} {opt}: `{call}` made {got}, want {exp}")
    return errs


def main() -> int:
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    frc, tests = str(pathlib.Path(sys.argv[1]).resolve()), pathlib.Path(sys.argv[2])
    libaudit, inc = str(pathlib.Path(sys.argv[3]).resolve()), str(pathlib.Path(sys.argv[4]).resolve())
    cc = sys.argv[5] if len(sys.argv) > 5 else "gcc"
    errors = []
    with tempfile.TemporaryDirectory() as d:
        work = pathlib.Path(d)
        for src in sorted((tests / "c").glob("*.frs")):
            for shape, no_alloc in (("alloc", False), ("noalloc", True)):
                gen, errs = compile_shape(frc, cc, src, work / src.stem, shape, no_alloc)
                errors += errs
                if gen and not errs:
                    errors += measure(cc, libaudit, inc, gen, src, work / src.stem, shape, no_alloc)
    for e in errors:
        print("FAIL:", e)
    print("FAIL" if errors else "PASS", f"({len(errors)} problems)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
