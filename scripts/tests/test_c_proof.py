"""The static proof for C (rule `freestanding`, faa/cbuild.py): a no_alloc C
module compiled with -ffreestanding -fno-builtin must neither reference nor
define an allocator or a libc function that may allocate, nor hold a
syscall instruction; the gate fails a no_alloc C module that calls malloc
even where no scenario step runs it."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from faa import bundle, cbuild

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "c"
GOOD = (DATA / "port_reset_noalloc.c").read_text()
HANDLER = "                self->resets = self->resets + 1;\n"

pytestmark = pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("nm")),
                                reason="gcc and binutils needed")


def prove(tmp_path, text, name="m"):
    mod = tmp_path / f"{name}.c"
    mod.write_text(text)
    m = cbuild.CMember(fixture=name, ident=name, shim=mod, module=mod, text=text, mode="noalloc")
    return cbuild.prove(cbuild.gcc(), m, tmp_path)


def in_handler(code, includes="#include <stdlib.h>\n"):
    assert HANDLER in GOOD
    return includes + GOOD.replace(HANDLER, HANDLER.rstrip("\n") + " " + code + "\n")


def test_the_hand_written_no_alloc_module_is_proven(tmp_path):
    assert prove(tmp_path, GOOD) == []


@pytest.mark.parametrize("code,symbol", [
    ("free(malloc(4));", "malloc"),
    ("{ void *p = calloc(1, 4); free(p); }", "calloc"),
    ("{ char *s = strdup(\"x\"); (void)s; }", "strdup"),
    ("printf(\"%d\", 1);", "printf"),
    ("{ FILE *f = fopen(\"x\", \"r\"); (void)f; }", "fopen"),
    ("{ char *s; (void)asprintf(&s, \"x\"); }", "asprintf"),
])
def test_a_call_that_may_allocate_fails_the_proof_naming_symbol_and_line(tmp_path, code, symbol):
    text = in_handler(code, "#define _GNU_SOURCE\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n")
    problems = prove(tmp_path, text)
    assert any(f"`{symbol}`" in p and "references" in p for p in problems), problems
    assert any("PortReset__s_Idle_connect" in p for p in problems), problems
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if symbol + "(" in ln)
    # the generated line, and the .frs line its #line directive names
    assert any(f"m.c:{line} (from fixtures/c/port_reset.frs:13):" in p for p in problems), problems


def test_a_module_that_defines_an_allocator_of_its_own_fails(tmp_path):
    text = GOOD + "\nstatic char arena[64];\nvoid *malloc(unsigned long n) { (void)n; return arena; }\n"
    problems = prove(tmp_path, text)
    assert any("defines `malloc`" in p for p in problems), problems


def test_a_syscall_instruction_fails(tmp_path):
    problems = prove(tmp_path, in_handler('__asm__ volatile ("syscall" ::: "rcx", "r11", "memory");', ""))
    assert any("`syscall` instruction in PortReset__s_Idle_connect" in p for p in problems), problems


def test_a_module_that_does_not_compile_freestanding_fails(tmp_path):
    problems = prove(tmp_path, GOOD.replace("self->resets = 0;", "self->resets = ;"))
    assert len(problems) == 1 and "does not compile with -std=gnu11 -O0 -ffreestanding" in problems[0]


def test_forbidden_names():
    for name in ("malloc", "free", "__libc_malloc", "strdup", "__strdup", "__printf_chk",
                 "__asprintf_chk", "getline", "open_memstream", "pthread_create", "dlsym",
                 "_Znwm", "qsort", "malloc@GLIBC_2.2.5"):
        assert cbuild.forbidden(name), name
    for name in ("memcpy", "memset", "strlen", "strcmp", "abs", "PortReset_init"):
        assert not cbuild.forbidden(name), name


def test_the_gate_rejects_a_no_alloc_c_module_that_calls_malloc_where_no_step_reaches(build_dir, tmp_path):
    """malloc in a function no scenario step runs: the zero rule cannot see
    it, the static proof must (rule `freestanding`, exit 1)."""
    mod = tmp_path / "port_reset.c"
    mod.write_text("#include <stdlib.h>\n" + GOOD + "\n__attribute__((used)) static void *PortReset__spare(void)\n"
                   "{\n    return malloc(16);\n}\n")
    r = subprocess.run([str(ROOT / "scripts" / "audit"), "--build-dir", str(build_dir),
                        "run", "--generated", str(mod), "--scenario", str(DATA / "port_reset.toml"),
                        "--mode", "noalloc", "--valgrind", "off", "--opt", "0",
                        "--work-dir", str(tmp_path / "w"), "--report-dir", str(tmp_path / "r")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL [freestanding]" in r.stdout and "`malloc`" in r.stdout
    assert f"{mod}:{len(mod.read_text().splitlines()) - 1}" in r.stdout     # the `return malloc` line
    assert "FAIL [zero]" not in r.stdout                     # the dynamic count never saw it
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    assert rep["fixtures"][0]["nostd"] == "failed" and rep["fixtures"][0]["target"] == "c"
    assert {f["rule"] for f in rep["findings"]} == {"freestanding"}
