#!/usr/bin/env python3
"""Builds frc's output with rustc and runs it in both shapes.

For every tests/systems/NAME.frs:
  1. frc compiles it without its @@[no_alloc..] lines -> the allocating shape
  2. frc compiles it as written if it has the attribute, else with
     `@@[no_alloc(state_stack = 8)]` inserted before each `@@system` line
                                                     -> the no_alloc shape
  3. the no_alloc module must build inside a `#![no_std]` crate that does
     not link `alloc` (-C panic=abort, rlib): the static proof that no
     dispatch path can allocate; its frc-generated lines may not name
     std::, alloc::, String, Vec, Box, Rc, format! or vec!
  4. both modules also type-check in a 2015-edition crate
  5. NAME.drive.rs defines `macro_rules! drive { ($m:ident) => {{ .. }} }`
     returning a Vec<String> trace (it may assert on its own, and may test
     `stringify!($m) == "n"` for no_alloc-only checks); a program runs the
     macro against both modules (`a`, `n`) and requires equal traces.

usage: run_rust_tests.py FRC TESTS_DIR RUSTC   (RUSTC '' = skip, exit 77)
"""
import pathlib
import re
import subprocess
import sys
import tempfile

from rustc_args import frc_tests_rustc

FORBIDDEN = re.compile(r"\b(std::|alloc::|String|Vec|Box|Rc|format!|vec!)")


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stdout}{r.stderr}")
    return r.stdout


def generated_lines(text: str, source: str):
    """Lines frc generated (between the system banners), not native pass-through."""
    inside = False
    for line in text.splitlines():
        if line.startswith("// ---- system "):
            inside = True
        elif line.startswith("// ---- end of system"):
            inside = False
        elif inside:
            yield line


def main() -> int:
    frc, tests, rustc = frc_tests_rustc("generated Rust cannot be built")
    failures = 0
    systems = sorted((tests / "systems").glob("*.frs"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for frs in systems:
            name = frs.stem
            try:
                src = frs.read_text()
                (tmp / "a").mkdir(exist_ok=True)
                (tmp / "n").mkdir(exist_ok=True)
                a_in = tmp / "a" / f"{name}.frs"
                n_in = tmp / "n" / f"{name}.frs"
                a_in.write_text(re.sub(r"^\s*@@\[no_alloc.*\n", "", src, flags=re.M))
                if "@@[no_alloc" in src:
                    n_in.write_text(src)
                else:
                    n_in.write_text(re.sub(r"^(\s*)@@system", r"\1@@[no_alloc(state_stack = 8)]\n\1@@system", src,
                                           flags=re.M))
                sh([frc, "compile", "-l", "rust", "-o", str(tmp / "a" / "out"), str(a_in)])
                sh([frc, "compile", "-l", "rust", "-o", str(tmp / "n" / "out"), str(n_in)])
                a_rs, n_rs = tmp / "a" / "out" / f"{name}.rs", tmp / "n" / "out" / f"{name}.rs"
                bad = [l for l in generated_lines(n_rs.read_text(), src) if FORBIDDEN.search(l.split("//")[0])]
                if bad:
                    raise RuntimeError("no_alloc output names heap/std items:\n" + "\n".join(bad[:5]))
                crate = tmp / f"nostd_{name}.rs"
                crate.write_text(f'#![no_std]\n#[path = "{n_rs}"]\npub mod m;\n')
                sh([rustc, "--edition", "2021", "--crate-type", "rlib", "-C", "panic=abort", "--crate-name",
                    f"nostd_{name}", "--out-dir", str(tmp), str(crate)])
                # the harness may build in any edition: 2015 resolves `::core`/`core::` differently
                for mod, tag in ((n_rs, "n"), (a_rs, "a")):
                    c15 = tmp / f"e2015_{tag}_{name}.rs"
                    c15.write_text(("#![no_std]\n" if tag == "n" else "") + f'#[path = "{mod}"]\npub mod m;\n')
                    sh([rustc, "--edition", "2015", "--crate-type", "rlib", "--emit", "metadata", "-C", "panic=abort",
                        "--crate-name", c15.stem, "--out-dir", str(tmp), str(c15)])
                drive = frs.with_name(f"{name}.drive.rs")
                if drive.exists():
                    main_rs = tmp / f"both_{name}.rs"
                    main_rs.write_text(
                        f'#[path = "{a_rs}"]\nmod a;\n#[path = "{n_rs}"]\nmod n;\n'
                        f'include!("{drive.resolve()}");\n'
                        "fn main() {\n    let ta: Vec<String> = drive!(a);\n    let tn: Vec<String> = drive!(n);\n"
                        "    for l in &ta { println!(\"{}\", l); }\n"
                        "    assert_eq!(ta, tn, \"the two shapes disagree\");\n}\n")
                    exe = tmp / f"both_{name}"
                    sh([rustc, "--edition", "2021", "-o", str(exe), str(main_rs)])
                    sh([str(exe)])
                print(f"ok   {name}: both shapes build, no_alloc is #![no_std] without alloc"
                      + (", traces agree" if drive.exists() else ""))
            except RuntimeError as e:
                failures += 1
                print(f"FAIL {name}: {e}")
    print(f"{len(systems)} system(s), {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
