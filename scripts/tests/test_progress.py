"""Live progress (progress.py): done/total, elapsed, an estimate, one line
per finished job on stderr; -q silences it; colour only where asked for."""
import subprocess
import sys

from faa import progress

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_a_phase_prints_done_over_total_elapsed_and_what_is_left(capsys):
    progress.configure(quiet=False, color="never")
    p = progress.Phase("build", 4, "crate")
    p.tick("crate alloc O3 (5 fixtures): built")
    p.tick(n=2)
    p.tick("last")
    p.end("4 built")
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("audit: build [1/4] ") and ", ~" in err[0] and " left — crate alloc O3" in err[0]
    assert err[1].startswith("audit: build [3/4] ")
    assert err[2].startswith("audit: build [4/4] ") and "left" not in err[2]
    assert err[3].startswith("audit: build done: 4 crate(s) in ") and err[3].endswith("; 4 built")


def test_quiet_prints_nothing(capsys):
    progress.configure(quiet=True)
    try:
        progress.Phase("x", 2).tick("y")
        progress.say("audit: something")
        assert capsys.readouterr().err == ""
    finally:
        progress.configure()


def test_colour_is_asked_for_or_off(monkeypatch):
    progress.configure(color="never")
    assert progress.paint("FAIL", "fail") == "FAIL"
    progress.configure(color="always")
    assert progress.paint("FAIL", "fail") == "\033[31;1mFAIL\033[0m"
    assert progress.paint("PASS", "pass").startswith("\033[32;1m")
    progress.configure(color="auto")
    monkeypatch.setenv("NO_COLOR", "1")

    class Tty:
        def isatty(self):
            return True
    assert progress.paint("FAIL", "fail", Tty()) == "FAIL"
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "xterm")
    assert progress.paint("FAIL", "fail", Tty()) != "FAIL"
    assert progress.paint("FAIL", "fail", sys.stderr if not sys.stderr.isatty() else None) is not None
    progress.configure()


def test_a_watch_ticks_what_its_count_says(capsys):
    progress.configure(quiet=False, color="never")
    p = progress.Phase("harness", 3)
    seen = iter([1, 3, 3, 3, 3, 3])
    import time
    with progress.Watch(p, lambda: next(seen), interval=0.01):
        time.sleep(0.2)
    err = capsys.readouterr().err.splitlines()
    assert [e.split()[2] for e in err] == ["[1/3]", "[3/3]"]


def test_run_quiet_and_colour_options_are_offered():
    out = subprocess.run([str(ROOT / "scripts" / "audit"), "run", "--help"], capture_output=True, text=True)
    assert "-q, --quiet" in out.stdout and "--color {auto,always,never}" in out.stdout
