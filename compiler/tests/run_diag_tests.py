#!/usr/bin/env python3
"""Golden diagnostics: every tests/diag/NAME.frs must be rejected by frc with
exit 65 and exactly the stderr in NAME.stderr. The first line of each .frs
is `// expect: Ennn` naming the code under test; that code must appear.

usage: run_diag_tests.py FRC DIAG_DIR [--update] [--coverage COMPILER_DIR]

With --coverage, also requires that the codes used in COMPILER_DIR/*.c, the
codes documented in COMPILER_DIR/ERRORS.md and the codes tested here are
the same set: every error code is documented and has a golden test.
frc runs inside DIAG_DIR with the bare file name, so paths in the goldens
do not depend on where the tree is checked out.
"""
import pathlib
import re
import subprocess
import sys
import tempfile


def main() -> int:
    frc, ddir = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2])
    update = "--update" in sys.argv[3:]
    failures = 0
    tested = set()
    cases = sorted(ddir.glob("*.frs"))
    if not cases:
        print(f"no cases in {ddir}")
        return 1
    with tempfile.TemporaryDirectory() as out:
        for frs in cases:
            first = frs.read_bytes().decode("utf-8", "replace").splitlines()[0]
            m = re.match(r"//\s*expect:\s*(E\d{3})", first)
            if not m:
                print(f"FAIL {frs.name}: first line must be `// expect: Ennn`")
                failures += 1
                continue
            tested.add(m[1])
            # a C case (frc compile -l c) says so with its target attribute
            lang = "c" if '@@[target("c")]' in frs.read_text(errors="replace") else "rust"
            r = subprocess.run([str(frc), "compile", "-l", lang, "-o", out, frs.name], cwd=ddir,
                               capture_output=True, text=True)
            golden = frs.with_suffix(".stderr")
            if update:
                golden.write_text(r.stderr)
            want = golden.read_text() if golden.exists() else None
            problems = []
            if r.returncode != 65:
                problems.append(f"exit {r.returncode}, want 65")
            if f"error[{m[1]}]" not in r.stderr:
                problems.append(f"no error[{m[1]}] in stderr")
            if want is None:
                problems.append(f"missing golden {golden.name} (run with --update and review it)")
            elif r.stderr != want:
                problems.append(f"stderr differs from {golden.name}:\n--- want\n{want}--- got\n{r.stderr}")
            failures += bool(problems)
            print(("FAIL " if problems else "ok   ") + frs.name + "".join("\n    " + p for p in problems))
    if "--coverage" in sys.argv:
        cdir = pathlib.Path(sys.argv[sys.argv.index("--coverage") + 1])
        used = set()
        for c in cdir.glob("*.c"):
            used |= set(re.findall(r'"(E\d{3})"', c.read_text()))
        documented = set(re.findall(r"^\| (E\d{3}) \|", (cdir / "ERRORS.md").read_text(), flags=re.M))
        for label, missing in (("used in the compiler but not documented in ERRORS.md", used - documented),
                               ("documented but never emitted", documented - used),
                               ("emitted but without a golden test", used - tested)):
            if missing:
                failures += 1
                print(f"FAIL codes {label}: {', '.join(sorted(missing))}")
            else:
                print(f"ok   no code {label}")
    print(f"{len(cases)} case(s), {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
