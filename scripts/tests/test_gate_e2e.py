"""End to end: hand-mutated copies of generated/port_reset/noalloc.rs
audited with `scripts/audit run --generated ... --mode noalloc`.  Each test
shows one way the zero could be false going red, with the message a
reader needs (phase, thread, line).  Needs `make build` and rustc; the
Valgrind tests need valgrind."""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, SCRIPTS

AUDIT = str(SCRIPTS / "audit")
BASE = (ROOT / "generated" / "port_reset" / "noalloc.rs").read_text()
SCENARIO = ROOT / "fixtures" / "port_reset.toml"
HANDLER = re.compile(r"fn _s_Idle_connect\(&mut self, __e: &PortResetFrameEvent\) \{")


def mutant(body, extra="", handler=HANDLER):
    """port_reset's no_alloc module with `body` first in $Idle.connect (called by
    steps 1, 4 and every steady replay of step 1; or in `handler`) and `extra`
    at the end."""
    m = handler.search(BASE)
    return BASE[:m.end()] + "\n" + body + "\n" + BASE[m.end():] + "\n" + extra + "\n"


def line_of(text, needle):
    return next(i for i, l in enumerate(text.splitlines(), 1) if needle in l)


def audit(build_dir, tmp_path, module_text, *args, env=None, work=None):
    """Audits `module_text` as port_reset.rs in `work` (default: tmp_path;
    the module and the work dir there), reports in tmp_path/rep."""
    work = work or tmp_path
    mod = work / "port_reset.rs"
    if not mod.exists() or mod.read_text() != module_text:
        mod.write_text(module_text)
    cmd = [AUDIT, "--build-dir", str(build_dir), "run", "--generated", str(mod), "--scenario",
           str(SCENARIO), "--mode", "noalloc", "--work-dir", str(work / "work"),
           "--report-dir", str(tmp_path / "rep"), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                       env={**os.environ, **(env or {})})
    rep = tmp_path / "rep" / "report.json"
    return r.returncode, r.stdout + r.stderr, json.loads(rep.read_text()) if rep.exists() else None


def fails(rep, rule):
    return [f for f in rep["findings"] if f["rule"] == rule and f["failure"]]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """One place for the unmutated module and its work dir, shared by the
    tests that audit it as it is with different options (--strict,
    --allow-unchecked, --interposer): the first builds its two libraries,
    the others measure them from the work dir's content-keyed cache -- what
    those tests judge (the verdict, the strict rule, calibration) happens
    after the build, in the harness and the gate, every time."""
    return tmp_path_factory.mktemp("base")


# A counter in static storage: the mutation fires on one call only.
COUNT = "static mut __FAA_N: u32 = 0;"
ALLOC = "{ let b = std::boxed::Box::new(7u64); unsafe { std::ptr::read_volatile(&*b); } }"


def test_the_unmutated_module_passes(build_dir, tmp_path, base):
    status, text, rep = audit(build_dir, tmp_path, BASE, "--valgrind", "off", work=base)
    assert status == 0, text
    assert "audit: PASS (unchecked: coverage, second counter, memcheck)" in text
    assert rep["unchecked"] == ["coverage", "second counter", "memcheck"]


def test_strict_turns_an_unchecked_pass_into_a_failure(build_dir, tmp_path, base):
    status, text, rep = audit(build_dir, tmp_path, BASE, "--valgrind", "off", "--strict", work=base)
    assert status == 1, text
    (f,) = fails(rep, "strict")
    assert "not checked in this run: coverage (--valgrind off); second counter" in f["message"]
    assert "audit: FAIL" in text and rep["strict"] is True


def test_allow_unchecked_keeps_named_checks_out_of_strict_but_still_names_them(build_dir, tmp_path, base):
    # Only what is named is let through: memcheck is still a strict failure.
    status, text, rep = audit(build_dir, tmp_path, BASE, "--valgrind", "off", "--strict",
                              "--allow-unchecked", "coverage", "--allow-unchecked", "second counter",
                              work=base)
    assert status == 1, text
    (f,) = fails(rep, "strict")
    assert "memcheck (--valgrind off)" in f["message"] and "coverage" not in f["message"]
    status, text, rep = audit(build_dir, tmp_path, BASE, "--valgrind", "off", "--strict",
                              "--allow-unchecked", "coverage", "--allow-unchecked", "second counter",
                              "--allow-unchecked", "memcheck", work=base)
    assert status == 0, text
    assert "audit: PASS (unchecked: coverage, second counter, memcheck)" in text
    assert rep["unchecked"] == ["coverage", "second counter", "memcheck"]


def test_a_rare_steady_allocation_names_step_and_repeat_and_is_not_0_00(build_dir, tmp_path):
    # Idle.connect call 1 is step 1; calls 2..2001 are the steady replay's repeats 1..2000.
    body = f"unsafe {{ __FAA_N += 1; if __FAA_N == 1500 {ALLOC} }} // MUTANT"
    src = mutant(body, COUNT)
    status, text, rep = audit(build_dir, tmp_path, src, "--valgrind", "off")
    assert status == 1, text
    zero = fails(rep, "zero")
    assert zero and all("steady-state replay of step 1 connect(), repeat 1499" in f["message"]
                        for f in zero), zero
    assert all(f["gen"].endswith(f"port_reset.rs:{line_of(src, 'MUTANT')}") for f in zero)
    assert all(f["frs"] == "fixtures/port_reset.frs:12" for f in zero)
    row = next(l for l in text.splitlines() if "steady mean" in l)
    assert "1/4000" in row, row


def test_a_late_call_in_the_timing_batches_fails(build_dir, tmp_path):
    # Call 2002 is the first dispatch after the windowed replay: the warm-up batch.
    body = f"unsafe {{ __FAA_N += 1; if __FAA_N == 2002 {ALLOC} }} // MUTANT"
    status, text, rep = audit(build_dir, tmp_path, mutant(body, COUNT), "--valgrind", "off")
    assert status == 1, text
    zero = fails(rep, "zero")
    assert zero and all(re.search(r"timing warm-up batch \(0\): steps 1\.\.2 x \d+ cycles", f["message"])
                        for f in zero), zero
    assert all("handler $Idle.connect" in f["message"] for f in zero)


def test_a_window_that_only_frees_says_freed_at(build_dir, tmp_path):
    # Step 1 allocates and keeps the block; step 4 frees it.
    body = ("unsafe { __FAA_N += 1; "
            "if __FAA_N == 1 { __FAA_P = std::boxed::Box::into_raw(std::boxed::Box::new(7u64)); } "
            "else if __FAA_N == 2 { drop(std::boxed::Box::from_raw(__FAA_P)); } } // MUTANT")
    extra = COUNT + "\nstatic mut __FAA_P: *mut u64 = core::ptr::null_mut();"
    status, text, rep = audit(build_dir, tmp_path, mutant(body, extra), "--valgrind", "off")
    assert status == 1, text
    msgs = [f["message"] for f in fails(rep, "zero")]
    freed = [m for m in msgs if "steady-state replay of step 1 connect(), repeat 1" in m]
    assert freed and all("0 allocation(s), 1 free(s) [free 1]" in m and "; freed at " in m
                         for m in freed), msgs
    assert any("step 1 connect(): 1 allocation(s), 0 free(s)" in m and "; allocated at " in m for m in msgs)


def test_memory_from_the_os_fails_and_names_the_call(build_dir, tmp_path):
    body = ("unsafe { let p = mmap(core::ptr::null_mut(), 4096, 3, 0x22, -1, 0); "
            "core::ptr::write_volatile(p, 1u8); munmap(p, 4096); } // MUTANT")
    extra = ('extern "C" { fn mmap(a: *mut u8, l: usize, p: i32, f: i32, fd: i32, o: i64) -> *mut u8; '
             'fn munmap(a: *mut u8, l: usize) -> i32; }')
    status, text, rep = audit(build_dir, tmp_path, mutant(body, extra), "--valgrind", "off")
    assert status == 1, text
    zero = fails(rep, "zero")
    assert any(re.search(r"step 1 connect\(\): 0 allocation\(s\), 0 free\(s\), 2 OS memory call\(s\) "
                         r"\[mmap 1, munmap 1\], expected 0; called mmap at \S+port_reset\.rs:\d+", f["message"])
               for f in zero), zero
    assert any("entry point `mmap`" in f["message"] for f in fails(rep, "nostd"))


# $Resetting.reset_done runs once, at step 5: long after the library's
# thread (started by the first connect()) has set itself up.
RESET_DONE = re.compile(r"fn _s_Resetting_reset_done\(&mut self, __e: &PortResetFrameEvent\) \{")
THREAD = """
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
// 0 none, 1 ready (the thread has set itself up), 2 asked, 3 done.
static __FAA_GO: AtomicU32 = AtomicU32::new(0);
fn __faa_start() {
    // On the first connect(): starts the library's thread and waits until it
    // runs, so its own set-up stays in step 1's window, not in step 5's.
    if __FAA_GO.load(SeqCst) != 0 { return; }
    std::thread::spawn(|| {
        __FAA_GO.store(1, SeqCst);
        loop {
            if __FAA_GO.load(SeqCst) == 2 {
                { let b = std::boxed::Box::new(9u64); unsafe { std::ptr::read_volatile(&*b); } } // THREAD-ALLOC
                __FAA_GO.store(3, SeqCst);
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
    while __FAA_GO.load(SeqCst) == 0 { std::thread::yield_now(); }
}
"""
# The handler asks the thread to allocate and waits for it (once).
WAIT_FOR_THREAD = ("if __FAA_GO.load(SeqCst) == 1 { __FAA_GO.store(2, SeqCst); "
                   "while __FAA_GO.load(SeqCst) != 3 { std::thread::yield_now(); } }")


def thread_mutant():
    return mutant(WAIT_FOR_THREAD, THREAD, RESET_DONE).replace(
        HANDLER.search(BASE).group(0), HANDLER.search(BASE).group(0) + " __faa_start();")


@pytest.fixture(scope="module")
def threaded(tmp_path_factory):
    """One place for thread_mutant() and its work dir, shared by the two
    tests that audit it (the interposer's count, then Valgrind's at O3): the
    second measures the O3 library the first built."""
    return tmp_path_factory.mktemp("thread")


def test_another_thread_allocating_while_the_handler_waits_fails(build_dir, tmp_path, threaded):
    src = thread_mutant()
    status, text, rep = audit(build_dir, tmp_path, src, "--valgrind", "off", work=threaded)
    assert status == 1, text
    zero = fails(rep, "zero")
    hit = [f for f in zero if "step 5 reset_done()" in f["message"]]
    assert len(hit) == 2, zero                            # O0 and O3
    for f in hit:
        assert re.search(r"step 5 reset_done\(\): 1 allocation\(s\), 1 free\(s\) \[free 1, malloc 1\] "
                         r"on another thread \(tid \d+\), expected 0; allocated at \S+port_reset\.rs:"
                         + str(line_of(src, "THREAD-ALLOC")), f["message"]), f["message"]


def test_a_broken_interposer_fails_calibration_naming_the_entry_point(build_dir, tmp_path, base):
    broken = build_dir / "interposer" / "broken" / "libaudit-broken-calloc.so"
    if not broken.exists():
        pytest.skip(f"{broken} not built")
    status, text, rep = audit(build_dir, tmp_path, BASE, "--valgrind", "off", "--interposer", str(broken),
                              work=base)
    assert status == 1, text
    cal = fails(rep, "calibration")
    assert cal and any("calloc read 0 call(s) of kind calloc, expected 1" in f["message"] for f in cal), cal
    assert not fails(rep, "harness")          # the calibration finding explains the missing records


def test_interposer_flag_wants_an_existing_library(build_dir, tmp_path, base):
    status, text, _ = audit(build_dir, tmp_path, BASE, "--valgrind", "off", "--interposer", "/nonexistent.so",
                            work=base)
    assert status == 2 and "--interposer /nonexistent.so: no such library" in text


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind not installed: apt-get install -y valgrind")
def test_valgrind_names_the_line_of_a_call_the_interposer_never_saw(build_dir, tmp_path):
    # malloc looked up with dlsym(RTLD_NEXT) from the fixture library is glibc's own:
    # the preloaded interposer is never asked; Valgrind replaces glibc's malloc itself.
    body = ("unsafe { let f: extern \"C\" fn(usize) -> *mut u8 = core::mem::transmute("
            "dlsym(-1isize as *mut u8, b\"malloc\\0\".as_ptr())); let g: extern \"C\" fn(*mut u8) = "
            "core::mem::transmute(dlsym(-1isize as *mut u8, b\"free\\0\".as_ptr())); "
            "let p = f(24); core::ptr::write_volatile(p, 1); g(p); } // MUTANT")
    extra = 'extern "C" { fn dlsym(h: *mut u8, s: *const u8) -> *mut u8; }'
    src = mutant(body, extra)
    status, text, rep = audit(build_dir, tmp_path, src, "--valgrind", "on", "--opt", "3")
    assert status == 1, text
    assert any("entry point `dlsym`" in f["message"] for f in fails(rep, "nostd"))
    vc = fails(rep, "valgrind-count")
    hit = [f for f in vc if "step 1 connect()" in f["message"]]
    assert hit, rep["findings"]
    assert re.search(r"Valgrind counted 1 allocation\(s\), 1 free\(s\), the interposer 0/0; Valgrind: "
                     r"allocated at \S+port_reset\.rs:" + str(line_of(src, "MUTANT"))
                     + r" in \S*_s_Idle_connect \(from fixtures/port_reset\.frs:12, handler \$Idle\.connect\)",
                     hit[0]["message"]), hit[0]["message"]


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind not installed: apt-get install -y valgrind")
def test_valgrind_counts_the_other_thread_too(build_dir, tmp_path, threaded):
    """Valgrind's count of step 5's window includes the library's own
    thread: it agrees with the interposer's 1/1 (a count of the calling
    thread only would read 0/0 and disagree)."""
    src = thread_mutant()
    status, text, rep = audit(build_dir, tmp_path, src, "--valgrind", "on", "--opt", "3", work=threaded)
    assert status == 1, text
    assert any("step 5 reset_done()" in f["message"] and "on another thread" in f["message"]
               for f in fails(rep, "zero")), rep["findings"]
    assert not [f for f in fails(rep, "valgrind-count") if "step 5 " in f["message"]], rep["findings"]
    assert rep["fixtures"][0]["runs"][0]["memcheck"]["windows"] > 7


def run_fixtures(build_dir, tmp_path, fixtures_dir, *args):
    cmd = [AUDIT, "--build-dir", str(build_dir), "--fixtures-dir", str(fixtures_dir), "run",
           "--work-dir", str(tmp_path / "work"), "--report-dir", str(tmp_path / "rep"), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    rep = tmp_path / "rep" / "report.json"
    return r.returncode, r.stdout + r.stderr, json.loads(rep.read_text()) if rep.exists() else None


def test_a_fixture_without_scenario_fails_unless_skip_toml_gives_the_reason(build_dir, tmp_path):
    """The survey's rule: a .frs without a scenario fails unless SKIP.toml
    gives the reason.  port_reset is there so that the runs audit
    something; how it is built does not matter, so O0 alone (--opt 0)."""
    fx = tmp_path / "fixtures"
    fx.mkdir()
    for f in ("port_reset.frs", "port_reset.toml"):
        shutil.copy(ROOT / "fixtures" / f, fx / f)
    shutil.copy(ROOT / "fixtures" / "debounce_button.frs", fx / "forgotten.frs")
    status, text, rep = run_fixtures(build_dir, tmp_path, fx, "--valgrind", "off", "--opt", "0")
    assert status == 1, text
    (f,) = fails(rep, "scenario")
    assert "fixtures/forgotten.frs has no scenario" in f["message"] and f["fixture"] == "forgotten"
    (fx / "SKIP.toml").write_text('[skip]\nforgotten = "a copy of debounce_button, kept for the docs"\n')
    status, text, rep = run_fixtures(build_dir, tmp_path, fx, "--valgrind", "off", "--opt", "0")
    assert status == 0, text
    assert rep["skipped"] == [{"fixture": "forgotten", "reason": "a copy of debounce_button, kept for the docs"}]
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "`forgotten`: a copy of debounce_button" in md
    assert 'name="scenario" classname="forgotten"' in (tmp_path / "rep" / "junit.xml").read_text()
    assert "forgotten" in (tmp_path / "rep" / "report.html").read_text()


@pytest.mark.skipif(not os.access("/usr/bin/rustc", os.X_OK), reason="Debian's rustc not installed")
def test_debian_rustc_1_63_proves_and_attributes_too(build_dir, tmp_path):
    """RUSTC=/usr/bin/rustc (1.63): the core-only sysroot proof still works,
    and an allocation in __create names the system and its start state."""
    src = BASE.replace("let mut __s = PortReset::new();",
                       "let mut __s = PortReset::new(); { let b = std::boxed::Box::new(5u8); "
                       "unsafe { std::ptr::read_volatile(&*b); } } // MUTANT")
    assert src != BASE
    status, text, rep = audit(build_dir, tmp_path, src, "--valgrind", "off", "--opt", "0",
                              env={"RUSTC": "/usr/bin/rustc"})
    assert status == 1, text
    (z,) = fails(rep, "zero")
    assert z["message"].startswith("port_reset no_alloc O0 construction (__create()): 1 allocation(s)")
    assert z["gen"].endswith(f"port_reset.rs:{line_of(src, 'MUTANT')}")
    assert "(from fixtures/port_reset.frs:6, system PortReset, start state $Idle)" in z["message"]
    assert any("does not build as #![no_std] against core alone" in f["message"] for f in fails(rep, "nostd"))
    status, text, _ = audit(build_dir, tmp_path, BASE, "--valgrind", "off", "--opt", "0",
                            env={"RUSTC": "/usr/bin/rustc"})
    assert status == 0, text
