"""The command line shared by the tests that build frc's output with rustc.

    SCRIPT FRC TESTS_DIR RUSTC

meson passes RUSTC as '' when it found no rustc: the test is then skipped
(exit status 77, meson's "skipped").
"""
import pathlib
import sys

SKIP = 77


def frc_tests_rustc(skip_reason: str):
    """(frc, tests directory, rustc) from sys.argv; with no rustc, prints
    `SKIP: rustc not found; <skip_reason>` and exits as skipped."""
    frc, tests, rustc = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    if not rustc:
        print(f"SKIP: rustc not found; {skip_reason}")
        sys.exit(SKIP)
    return frc, tests, rustc
