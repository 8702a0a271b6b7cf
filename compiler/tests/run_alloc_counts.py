#!/usr/bin/env python3
"""Exact heap-allocation counts of frc's allocating shape, per interface call.

An independent second count (beside the LD_PRELOAD interposer): each
tests/alloc/NAME.frs holds one isolation system and lines

    // alloc: [PREP;;] CALL => ALLOCS/FREES

The system is compiled by frc, wrapped in a Rust program whose
#[global_allocator] counts alloc/alloc_zeroed/realloc (as allocations) and
dealloc (as frees) with atomics, built with rustc at -C opt-level=0 and 3,
and run. PREP (argument construction) runs outside the measured window; the
window holds exactly CALL and the drop of its return value. `s` is the
system: a `Sys::__create()` line assigns it.

usage: run_alloc_counts.py FRC TESTS_DIR RUSTC   (RUSTC '' = skip, exit 77)
"""
import pathlib
import re
import subprocess
import sys
import tempfile

from rustc_args import frc_tests_rustc

LINE = re.compile(r"^//\s*alloc:\s*(?:(?P<prep>.*?);;)?\s*(?P<call>.+?)\s*=>\s*(?P<a>\d+)/(?P<f>\d+)\s*$")

COUNTER = r"""
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static FREES: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 { ALLOCS.fetch_add(1, Ordering::SeqCst); System.alloc(l) }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 { ALLOCS.fetch_add(1, Ordering::SeqCst); System.alloc_zeroed(l) }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 { ALLOCS.fetch_add(1, Ordering::SeqCst); System.realloc(p, l, n) }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) { FREES.fetch_add(1, Ordering::SeqCst); System.dealloc(p, l) }
}
#[global_allocator]
static GLOBAL: Counting = Counting;
fn snap() -> (usize, usize) { (ALLOCS.load(Ordering::SeqCst), FREES.load(Ordering::SeqCst)) }
"""


def driver(module: pathlib.Path, steps) -> str:
    out = [f'#[path = "{module}"]\nmod m;\nuse m::*;\n', COUNTER, "fn main() {\n    let mut log: Vec<(usize, usize)> = Vec::with_capacity(64);\n"]
    for i, (prep, call, _, _) in enumerate(steps):
        if call.startswith("s =") or "::__create()" in call and not call.startswith("s."):
            expr = call[4:] if call.startswith("s =") else call
            out.append(f"    let (a0, f0) = snap();\n    let mut s = {expr};\n    let (a1, f1) = snap();\n"
                       f"    log.push((a1 - a0, f1 - f0));\n")
        else:
            out.append(f"    {{ {(prep + ';') if prep else ''}\n      let (a0, f0) = snap();\n      {{ let _r = {call}; }}\n"
                       f"      let (a1, f1) = snap();\n      log.push((a1 - a0, f1 - f0)); }}\n")
    out.append('    for (a, f) in &log { println!("{} {}", a, f); }\n}\n')
    return "".join(out)


def main() -> int:
    frc, tests, rustc = frc_tests_rustc("allocation counts cannot be measured")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for frs in sorted((tests / "alloc").glob("*.frs")):
            steps = []
            for line in frs.read_text().splitlines():
                m = LINE.match(line)
                if m:
                    steps.append((m["prep"], m["call"], int(m["a"]), int(m["f"])))
            subprocess.run([frc, "compile", "-l", "rust", "-o", str(tmp), str(frs)], check=True)
            module = tmp / f"{frs.stem}.rs"
            src = tmp / f"drive_{frs.stem}.rs"
            src.write_text(driver(module, steps))
            builds = [(src, steps, "alloc")]
            # the same system under @@[no_alloc] (when the profile admits it): 0 everywhere,
            # except the frees of arguments the caller built outside the window
            ndir = tmp / "noalloc"
            ndir.mkdir(exist_ok=True)
            nfrs = ndir / frs.name
            nfrs.write_text(re.sub(r"^@@system", "@@[no_alloc(state_stack = 4)]\n@@system", frs.read_text(), flags=re.M))
            r = subprocess.run([frc, "compile", "-l", "rust", "-o", str(ndir), str(nfrs)], capture_output=True)
            if r.returncode == 0:
                nsrc = tmp / f"drive_{frs.stem}_n.rs"
                nsteps = [(p, c, 0, 0) for (p, c, a, f) in steps]
                nsrc.write_text(driver(ndir / f"{frs.stem}.rs", nsteps))
                builds.append((nsrc, nsteps, "no_alloc"))
            for (src, steps, shape), opt in [(b, o) for b in builds for o in ("0", "3")]:
                exe = tmp / f"{src.stem}_O{opt}"
                cmd = [rustc, "--edition", "2021", "-C", f"opt-level={opt}", "--crate-name",
                       f"{src.stem}_o{opt}", "-o", str(exe), str(src)]
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    print(f"FAIL {frs.name} {shape} O{opt}: rustc failed: {' '.join(cmd)}\n{r.stderr}")
                    failures += 1
                    continue
                got = [tuple(map(int, l.split())) for l in subprocess.run([str(exe)], check=True, capture_output=True,
                                                                            text=True).stdout.split("\n") if l]
                for (prep, call, a, f), (ga, gf) in zip(steps, got):
                    ok = (a, f) == (ga, gf)
                    failures += not ok
                    print(f"{'ok  ' if ok else 'FAIL'} {frs.name} {shape:<8} O{opt}: {call:<28} allocs {ga} (want {a}), frees {gf} (want {f})")
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
