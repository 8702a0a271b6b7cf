"""Coverage of code from another compiler (coverage.recognise): framec
4.x names its handler methods `_s_STATE_hdl_user_EVENT`,
`_s_STATE_hdl_frame_enter` / `_frame_exit` and calls them from one
dispatcher `_state_STATE` per state, and writes no .frs mapping comment.
data/framec/turnstile.rs is a module of that shape written for these
tests; its scenario never repairs the broken turnstile."""
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import SCRIPTS
from faa import coverage, gate, scenario

DATA = Path(__file__).resolve().parent / "data" / "framec"
MODULE, TOML = DATA / "turnstile.rs", DATA / "turnstile.toml"
HANDLERS = {
    "_s_Locked_hdl_user_coin": ("Locked", "coin"),
    "_s_Locked_hdl_user_fail": ("Locked", "fail"),
    "_s_Unlocked_hdl_frame_enter": ("Unlocked", "$>"),
    "_s_Unlocked_hdl_user_push": ("Unlocked", "push"),
    "_s_Broken_hdl_frame_enter": ("Broken", "$>"),
    "_s_Broken_hdl_frame_exit": ("Broken", "<$"),
    "_s_Broken_hdl_user_repair": ("Broken", "repair"),
}
# what the scenario runs (Callgrind's names, as a bundle crate has them)
RAN = {f"fxb::fx_turnstile::_turnstile_framec::Turnstile::{fn}" for fn in HANDLERS
       if fn not in ("_s_Broken_hdl_frame_exit", "_s_Broken_hdl_user_repair")}


def renamed(text=None):
    """The turnstile with handler methods framec would never name so."""
    return (text or MODULE.read_text()).replace("_hdl_user_", "_on_").replace("_hdl_frame_", "_on_")


def test_framec_handlers_are_recognised_by_name_in_the_module_order():
    rec = coverage.recognise(MODULE.read_text())
    assert (rec.kind, rec.fns, rec.why) == ("framec", HANDLERS, "")


@pytest.mark.parametrize("state,fn,expected", [
    ("Idle_2", "_s_Idle_2_hdl_user_go_on", ("Idle_2", "go_on")),
    ("Idle", "_s_Idle_hdl_user_frame_enter", ("Idle", "frame_enter")),   # an event so named
    ("Idle", "_s_Idle_hdl_frame_enter", ("Idle", "$>")),
    ("Idle", "_s_Idle_hdl_frame_exit", ("Idle", "<$")),
    ("Idle", "_s_Idle_hdl_user_", None),
    ("Idle", "_s_Idle_go", None),                       # framec before 4: not this naming
    ("Idle", "_s_Busy_hdl_user_go", None),              # no such state
])
def test_framec_name(state, fn, expected):
    assert coverage.framec_name(fn, {state: 0, "Idle_2_x": 0}) == expected


def test_a_module_whose_dispatchers_call_other_names_is_not_recognised():
    rec = coverage.recognise(renamed())
    assert (rec.kind, rec.fns) == ("", {})
    assert rec.why.startswith("none of its functions is a handler the audit recognises")
    assert rec.why.endswith("`_state_Locked` calls `_s_Locked_on_coin`, which is no framec handler method")
    # one unknown call is enough: nothing is recognised rather than part of the handlers
    text = MODULE.read_text().replace("self._s_Broken_hdl_user_repair(__e)", "self._s_Broken_fix(__e)")
    assert coverage.recognise(text).fns == {}
    # a call in a comment or a string is no call
    text = MODULE.read_text().replace("_ => {}\n", "_ => { /* self._s_x(__e) */ let _ = \"self.y()\"; }\n", 1)
    assert coverage.recognise(text).fns == HANDLERS
    assert coverage.recognise("pub fn f() {}\n").why == coverage.UNRECOGNISED


HSM = """
impl Lamp {
    async fn _state_Powered(&mut self, __e: &LampFrameEvent) {
        match __e {
            LampFrameEvent::Off { .. } => { self._s_Powered_hdl_user_off(__e).await; }
            _ => {}
        }
    }
    async fn _state_Lit(&mut self, __e: &LampFrameEvent) {
        match __e {
            LampFrameEvent::FrameExit { .. } => { self._s_Lit_hdl_frame_exit(__e).await; }
            LampFrameEvent::Dim { level, .. } => {
                let level: u8 = level.clone();
                self._s_Lit_hdl_user_dim(__e, level).await;
            }
            _ => { self._state_Powered(__e).await; }
        }
    }
    async fn _s_Powered_hdl_user_off(&mut self, __e: &LampFrameEvent) { }
    async fn _s_Lit_hdl_frame_exit(&mut self, __e: &LampFrameEvent) { self.on = false; }
    async fn _s_Lit_hdl_user_dim(&mut self, __e: &LampFrameEvent, level: u8) { self.level = level; }
}
"""


def test_a_child_state_passing_events_to_its_parent_and_async_methods_are_recognised():
    assert coverage.recognise(HSM).fns == {
        "_s_Powered_hdl_user_off": ("Powered", "off"),
        "_s_Lit_hdl_frame_exit": ("Lit", "<$"),
        "_s_Lit_hdl_user_dim": ("Lit", "dim")}
    # a handler method a dispatcher calls but the module does not define
    assert coverage.recognise(HSM.replace("async fn _s_Powered_hdl_user_off", "async fn off")).fns == {}


def fixture(tmp_path, extra=""):
    toml = tmp_path / "turnstile.toml"
    toml.write_text(TOML.read_text() + extra)
    return SimpleNamespace(name="turnstile", frs=None, toml=toml, scenario=scenario.load(toml))


def coverage_of(tmp_path, fx, ran=RAN):
    rec = coverage.recognise(MODULE.read_text())
    found = []
    mx = coverage._fixture_coverage(fx, {"alloc": (rec, coverage.Run(MODULE, set(ran), set(), set()))},
                                    tmp_path, found)
    return mx, found


def test_a_handler_the_scenario_never_reaches_is_named(tmp_path):
    mx, found = coverage_of(tmp_path, fixture(tmp_path))
    assert [m for _, m, fail in found if fail] == [
        f"turnstile: handler {h} never ran in the allocating shape; extend turnstile.toml, or list it "
        f"under [uncovered] with the reason" for h in ("$Broken.<$", "$Broken.repair")]
    assert mx["cells"]["Broken.repair"] == {"alloc": False} and mx["cells"]["Locked.coin"] == {"alloc": True}
    assert mx["states"] == ["Locked", "Unlocked", "Broken"]
    notes = [m for _, m, fail in found if not fail]
    assert notes == ["turnstile: coverage by handler only in the allocating shape: the handlers were "
                     "recognised by framec's method names and the module maps no line to the .frs, so "
                     "lines inside a handler were not checked (calls out of the library were)"]
    # everything ran: no failure
    _, found = coverage_of(tmp_path, fixture(tmp_path), RAN | {f"m::Turnstile::{fn}" for fn in HANDLERS})
    assert [m for _, m, fail in found if fail] == []


def test_uncovered_entries_excuse_framec_handlers_and_go_stale(tmp_path):
    fx = fixture(tmp_path, '\n[uncovered]\n"$Broken.repair" = "no repair in this test"\n'
                           '"$Broken.<$" = "never left"\n"$Locked.coin" = "stale"\n')
    _, found = coverage_of(tmp_path, fx)
    assert [m for _, m, fail in found if fail] == [
        f'turnstile.toml: [uncovered] "$Locked.coin" is stale: the handler ran in '
        f'every shape; remove it']


def test_a_call_site_in_a_framec_handler_is_named_by_the_handler_and_excused_by_it(tmp_path):
    named = coverage.recognise(MODULE.read_text())
    fn = "fxb::fx_turnstile::_turnstile_framec::Turnstile::_s_Broken_hdl_user_repair"
    assert coverage._handler_named(fn, named) == "$Broken.repair"
    assert coverage._handler_named("fxb::fx_turnstile::_turnstile_framec::Turnstile::__kernel", named) == ""
    site = {"ran": False, "fn": "Turnstile::_s_Locked_hdl_user_coin", "gen": 130, "target": "strdup",
            "via": "", "kind": "call"}
    run = coverage.Run(MODULE, set(RAN), set(), set(), [site], {})
    fx = fixture(tmp_path)
    src = coverage.Source(fx, [], tmp_path)
    msgs, _, report = coverage.call_findings(fx, "alloc", run, src, "t.toml", {})
    assert msgs == [f"turnstile allocating: the call to strdup at {MODULE}:130 (in $Locked.coin, no .frs "
                    f"line) never ran: the count cannot vouch for a call that never ran; make a step "
                    f"reach it, or list \"$Locked.coin\" under [uncovered] in t.toml with the reason"]
    fx = fixture(tmp_path, '\n[uncovered]\n"$Locked.coin" = "strdup only on a bad coin"\n')
    msgs, _, report = coverage.call_findings(fx, "alloc", run, src, "t.toml", {})
    assert msgs == [] and report["never_ran"][0]["excused"] == "strdup only on a bad coin"
    # the entry excuses a call that never ran: it is not stale though the handler ran
    found = []
    coverage._fixture_coverage(fx, {"alloc": (named, run)}, tmp_path, found)
    assert [m for _, m, fail in found if fail] == [
        f"turnstile: handler {h} never ran in the allocating shape; extend turnstile.toml, or list it "
        f"under [uncovered] with the reason" for h in ("$Broken.<$", "$Broken.repair")]


def test_an_unrecognised_module_is_coverage_not_checked_and_fails_under_strict(tmp_path):
    module = tmp_path / "turnstile.rs"
    module.write_text(renamed())
    fx = fixture(tmp_path)
    key = ("turnstile", "alloc")
    out, found = coverage.audit([fx], {key: module}, {key: ("lib.so", "fx_turnstile__")}, "valgrind",
                                "faa-run", tmp_path, tmp_path, str, progress=lambda *_: None)
    assert out == {}
    assert [(f, fail) for f, _, fail in found] == [("turnstile", False)]
    assert found[0][1].startswith(f"turnstile allocating: coverage not checked: {module}: none of its "
                                  f"functions is a handler the audit recognises")
    m = SimpleNamespace(fixture="turnstile", mode="alloc", opt=0, verdict=True)
    why = gate.unchecked([m], {("turnstile", "alloc", 0, "memcheck"): None}, out)
    assert list(why) == ["coverage"] and "no coverage for turnstile" in why["coverage"]
    findings = []
    gate.check_strict(why, (), findings)
    assert [f.rule for f in findings] == ["strict"]


# ---- end to end ----------------------------------------------------------------

def audit(build_dir, module, toml, report_dir, *extra):
    """A test's runs share one work dir (report_dir's parent's `w`): the
    second run of each test below changes only an [uncovered] entry or
    --strict, no library, and judges the first one's cached measurements
    and Callgrind profile anew, as a user's rerun does."""
    r = subprocess.run([str(SCRIPTS / "audit"), "--build-dir", str(build_dir), "run", "--generated",
                        str(module), "--scenario", str(toml), "--mode", "alloc", "--opt", "0",
                        "--work-dir", str(report_dir.parent / "w"), "--report-dir", str(report_dir), *extra],
                       capture_output=True, text=True, timeout=900)
    return r.returncode, r.stdout + r.stderr


def test_a_framec_module_audit_names_the_handlers_it_never_reached(build_dir, tmp_path):
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed: apt-get install -y valgrind")
    toml = tmp_path / "turnstile.toml"
    toml.write_text(TOML.read_text())
    status, text = audit(build_dir, MODULE, toml, tmp_path / "r1")
    assert status == 1, text
    fails = [line for line in text.splitlines() if line.startswith("FAIL [")]
    assert fails == [f"FAIL [coverage] turnstile: handler {h} never ran in the allocating shape; extend "
                     f"{toml}, or list it under [uncovered] with the reason"
                     for h in ("$Broken.<$", "$Broken.repair")], text
    cov = json.loads((tmp_path / "r1" / "report.json").read_text())["fixtures"][0]["coverage"]
    assert cov["cells"]["Broken.repair"] == {"alloc": False}
    assert all(v == {"alloc": True} for k, v in cov["cells"].items() if k not in ("Broken.repair", "Broken.<$"))

    toml.write_text(TOML.read_text() + '\n[uncovered]\n"$Broken.repair" = "never repaired here"\n'
                                       '"$Broken.<$" = "never leaves $Broken"\n')
    status, text = audit(build_dir, MODULE, toml, tmp_path / "r2", "--strict")
    assert status == 0, text
    assert "audit: PASS —" in text and "unchecked" not in text.splitlines()[-1], text


def test_an_unrecognised_module_audit_says_coverage_was_not_checked(build_dir, tmp_path):
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed: apt-get install -y valgrind")
    module = tmp_path / "turnstile.rs"
    module.write_text(renamed())
    status, text = audit(build_dir, module, TOML, tmp_path / "r1")
    assert status == 0, text
    assert (f"note [coverage] turnstile allocating: coverage not checked: {module}: none of its "
            f"functions is a handler the audit recognises") in text, text
    assert "audit: PASS (unchecked: coverage)" in text, text
    assert json.loads((tmp_path / "r1" / "report.json").read_text())["fixtures"][0]["coverage"] is None
    status, text = audit(build_dir, module, TOML, tmp_path / "r2", "--strict")
    assert status == 1, text
    assert "FAIL [strict] --strict: not checked in this run: coverage (no coverage for turnstile" in text, text
