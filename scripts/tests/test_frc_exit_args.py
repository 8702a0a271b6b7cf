"""frc: exit args of a transition written in a parent's (or a grandparent's)
handler go to the `<$` of the state being left (issue 14).

A system whose parent handlers transition while a child whose `<$` takes a
parameter is the current state is audited in both shapes: it must compile,
run without a panic ("exit args of $X were not passed" was the old run-time
failure) and the exit handlers must see the args (the scenario's `domain`
expectations).  Without the exit args frc rejects it with E014 naming the
state being left and the handler's line.
"""
import json
import subprocess

from conftest import ROOT

FRS = """\
// Exit args from a parent's and a grandparent's handler.
@@[target("rust")]
@@[no_alloc]
@@system Parents {
    interface:
        plug()
        unplug()
        send()
        reset()
    machine:
        $Empty {
            plug() { -> $Taper }
            send() { -> $Sending }
        }
        $Charging {
            unplug() { (7) -> $Empty }
        }
        $Taper => $Charging {
            <$(final_ma: u16) { @@:self.last_ma = final_ma; }
            => $^
        }
        $Link {
            reset() { (9) -> $Empty }
        }
        $Busy => $Link {
            => $^
        }
        $Sending => $Busy {
            <$(sent: u8) { @@:self.sent = sent; }
            reset() { @@:self.resets = @@:self.resets + 1; => $^ }
        }
    domain:
        last_ma: u16 = 0
        sent: u8 = 0
        resets: u8 = 0
}
"""

TOML = """\
system = "Parents"
description = "exit args passed in a parent's and a grandparent's handler"

[[step]]
call = "plug()"

[[step]]             # $Charging.unplug() leaves $Taper with 7
call = "unplug()"
domain = { last_ma = "7" }

[[step]]
call = "send()"

[[step]]             # $Sending -> => $^ -> $Busy (state-level) -> $Link.reset() leaves $Sending with 9
call = "reset()"
domain = { sent = "9", resets = "1" }

[[step]]             # $Charging itself has no `<$`: the args go nowhere
call = "plug()"
"""


def write_fixture(tmp_path, frs=FRS):
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "parents.frs").write_text(frs)
    (fixtures / "parents.toml").write_text(TOML)
    return fixtures


def test_exit_args_from_parent_handlers_run_in_both_shapes(build_dir, tmp_path):
    fixtures = write_fixture(tmp_path)
    work, out = tmp_path / "w", tmp_path / "r"
    r = subprocess.run([str(ROOT / "scripts" / "audit"), "--build-dir", str(build_dir),
                        "--fixtures-dir", str(fixtures), "run", "--valgrind", "off", "--no-rejects",
                        "--work-dir", str(work), "--report-dir", str(out)],
                       capture_output=True, text=True, timeout=900)
    text = r.stdout + r.stderr
    assert r.returncode == 0, text
    rep = json.loads((out / "report.json").read_text())
    assert rep["verdict"] == "pass", text
    assert not [f for f in rep["findings"] if f["failure"]], text
    runs = rep["fixtures"][0]["runs"]
    assert sorted((run["mode"], run["opt"]) for run in runs) == [
        ("alloc", 0), ("alloc", 3), ("noalloc", 0), ("noalloc", 3)], runs
    for run in runs:
        assert len(run["steps"]) == 5, run
        if run["mode"] == "noalloc":
            assert all(s["allocs"] == 0 for s in run["steps"]), run


def test_without_exit_args_frc_names_the_state_left_and_the_handler(build_dir, tmp_path):
    frs = FRS.replace("{ (7) -> $Empty }", "{ -> $Empty }").replace("{ (9) -> $Empty }", "{ -> $Empty }")
    fixtures = write_fixture(tmp_path, frs)
    r = subprocess.run([str(build_dir / "compiler" / "frc"), "compile", "-l", "rust", "-o", str(tmp_path / "o"),
                        "parents.frs"], cwd=fixtures, capture_output=True, text=True, timeout=60)
    assert r.returncode == 65, r.stderr
    assert ("parents.frs:16:24: error[E014]: transition in `$Charging.unplug` (line 16) can leave `$Taper`, "
            "whose `<$` takes 1 parameter") in r.stderr, r.stderr
    assert ("parents.frs:23:23: error[E014]: transition in `$Link.reset` (line 23) can leave `$Sending`, "
            "whose `<$` takes 1 parameter (`reset` reaches `$Link` from `$Sending` through `=> $^`)") in r.stderr
    assert "2 errors" in r.stderr
