"""junit.xml (scripts/faa/junit.py): valid against the strict JUnit schema
in data/junit/junit.xsd, the same cases in a passing and a failing run,
<error> vs <failure>, the allocating lines in the failure text."""
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import SCRIPTS
from faa import junit
from faa.model import Finding, FixtureResult, Report, RunResult, Window

XSD = SCRIPTS / "tests/data/junit/junit.xsd"
CALLS = ["connect()", "timeout()"]
GEN = "port_reset/gen/noalloc/port_reset.rs:244"
FRS = "fixtures/port_reset.frs:12"


def _run(mode, opt, allocs=(0, 0), site=None):
    steps = [Window(phase="step", step=i, allocs=a, frees=a, bytes=24 * a, live_peak=24 * a)
             for i, a in enumerate(allocs)]
    if site:
        steps[0].site, steps[0].stack = site, ["lib.so+0x10"]
        steps[0].first_kind, steps[0].thread, steps[0].tid = "malloc", "own", 7
    return RunResult(mode=mode, opt=opt, construct=Window(phase="construct", step=-1), steps=steps,
                     calls=list(CALLS), timing={"kind": "timing", "dispatches": 1000, "median_ns": 50.0},
                     memcheck={"ok": True, "errors": 0, "definitely_lost": 0, "indirectly_lost": 0,
                               "windows": 4, "log": "x.log"})


def _fixture(name, zero_at=None, modes=("alloc", "noalloc")):
    runs = []
    for mode in modes:
        for opt in (0, 3):
            bad = mode == "noalloc" and opt == zero_at
            runs.append(_run(mode, opt, allocs=(4, 1) if mode == "alloc" else ((1, 0) if bad else (0, 0)),
                             site=f"{GEN} in _s_Idle_connect (from {FRS}, handler $Idle.connect)" if bad else None))
    cells = {"Idle.connect": {m: True for m in modes}, "Resetting.timeout": {m: True for m in modes}}
    return FixtureResult(name=name, system="PortReset", source=f"fixtures/{name}.frs", nostd="ok",
                         size_of={m: 40 for m in modes}, runs=runs,
                         coverage={"states": ["Idle", "Resetting"], "events": ["connect", "timeout"],
                                   "cells": cells, "lines": {}})


def passing():
    return Report(compiler={"name": "frc", "version": "0.1.0", "path": "frc", "bundled": True},
                  exit_status=0, fixtures=[_fixture("port_reset"), _fixture("lexer")],
                  rejects=[{"fixture": "string_payload", "expected": "E101", "got": ["E101"], "exit": 65,
                            "ok": True, "message": ""}],
                  findings=[Finding("golden", "lexer", "generated/lexer/alloc.rs is stale", failure=False)],
                  provenance={"date": "2026-03-01T10:00:00Z", "host": {"system": "Linux"}})


ZERO_MSG = (f"port_reset no_alloc O0 step 1 connect(): 1 allocation(s), 0 free(s) [malloc 1], expected 0; "
            f"allocated at {GEN} in fxb_noalloc_o0::fx_port_reset::fx_module::PortReset::_s_Idle_connect "
            f"(from {FRS}, handler $Idle.connect)")
BUILD_MSG = ("rustc failed on bundles/src/fxs_noalloc_74b6_o3.rs:\nerror[E0308]: mismatched types\n"
             "  --> lexer/gen/noalloc/lexer.rs:356:97\n   |  let x: u8 = \"Vec<u8>\"; \x1b[0m")


def failing():
    """port_reset's no_alloc module allocates at O0 only; lexer's no_alloc
    module does not build; a coverage failure; a memcheck tool error."""
    rep = passing()
    rep.exit_status = 1
    rep.fixtures = [_fixture("port_reset", zero_at=0), _fixture("lexer", modes=("alloc",))]
    rep.findings += [
        Finding("zero", "port_reset", ZERO_MSG, opt=0, gen=GEN, frs=FRS),
        Finding("build", "lexer", BUILD_MSG),
        Finding("coverage", "port_reset", f"{FRS} ($Idle.connect) never ran in part in the no_alloc shape"),
        Finding("memcheck", "port_reset", "port_reset alloc O3: faa-run exited 1 under memcheck: boom"),
    ]
    return rep


def xmllint():
    tool = shutil.which("xmllint")
    if not tool:
        pytest.skip("xmllint not installed (apt-get install -y libxml2-utils)")
    return tool


def validate(text, tmp_path, name="junit.xml"):
    (tmp_path / name).write_text(text, encoding="utf-8")
    r = subprocess.run([xmllint(), "--noout", "--schema", str(XSD), str(tmp_path / name)],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stderr


def cases(root):
    return {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}


@pytest.mark.parametrize("make", [passing, failing])
def test_junit_validates_against_the_strict_schema(make, tmp_path):
    status, err = validate(junit.render(make()), tmp_path)
    assert status == 0, err


def test_the_schema_rejects_what_the_issue_found(tmp_path):
    """The schema is strict enough to fail the old junit.xml: no `errors`."""
    text = junit.render(failing()).replace(' errors="', ' errs="')
    status, err = validate(text, tmp_path)
    assert status != 0 and "errors" in err


def test_a_passing_and_a_failing_run_have_the_same_cases():
    good, bad = cases(junit.build(passing())), cases(junit.build(failing()))
    assert set(good) == set(bad)
    assert ("port_reset", "noalloc.O0") in good and ("port_reset", "checks") in good
    assert ("lexer", "noalloc.O3") in bad and ("audit", "run") in good and ("reject", "string_payload") in good
    assert not any(c.find("failure") is not None or c.find("error") is not None for c in good.values())


def test_errors_and_failures():
    root = junit.build(failing())
    got = cases(root)
    zero = got[("port_reset", "noalloc.O0")].find("failure")
    assert zero is not None and zero.get("type") == "zero"
    assert got[("port_reset", "noalloc.O3")].find("failure") is None
    assert got[("port_reset", "checks")].find("failure").get("type") == "coverage"
    # a shape that did not build: an error on its cases and on checks (rule build)
    for name in ("noalloc.O0", "noalloc.O3", "checks"):
        err = got[("lexer", name)].find("error")
        assert err is not None, name
    assert got[("lexer", "checks")].find("error").get("type") == "build"
    assert "was not measured" in got[("lexer", "noalloc.O0")].find("error").text
    # memcheck: the tool failed (error) rather than finding leaks (failure)
    assert got[("port_reset", "alloc.O3")].find("error").get("type") == "memcheck"
    suite = {s.get("name"): s for s in root.iter("testsuite")}
    assert suite["port_reset"].get("failures") == "2" and suite["port_reset"].get("errors") == "1"
    assert suite["lexer"].get("errors") == "3" and root.get("errors") == "4" and root.get("failures") == "2"


def test_the_failure_names_the_allocating_lines():
    zero = cases(junit.build(failing()))[("port_reset", "noalloc.O0")].find("failure")
    assert zero.get("message").startswith(f"{FRS} (port_reset.rs:244): port_reset no_alloc O0 step 1")
    assert zero.text.startswith(f"[zero] at {FRS} · generated {GEN}\n{ZERO_MSG}")


def test_messages_are_cut_between_words():
    long = "port_reset: " + " ".join(f"identifier_number_{i}" for i in range(40))
    cut = junit.short(long, 100)
    assert len(cut) <= 102 and cut.endswith(" …")
    word = cut[:-2].split()[-1]
    assert word in long.split(), f"cut inside {word!r}"
    msg = cases(junit.build(failing()))[("port_reset", "noalloc.O0")].find("failure").get("message")
    assert msg.endswith(" …") and msg[:-2].split()[-1] in (FRS + ": " + ZERO_MSG).split()


def test_control_characters_never_reach_the_xml(tmp_path):
    text = junit.render(failing())
    assert "\x1b" not in text and "\\x1b" in text
    assert "Vec&lt;u8&gt;" in text
    ET.fromstring(text.split("\n", 1)[1])


def test_time_timestamp_hostname():
    root = junit.build(failing())
    s = next(root.iter("testsuite"))
    assert s.get("timestamp") == "2026-03-01T10:00:00" and s.get("hostname")
    assert s.get("package") == "frame-alloc-audit" and s.get("id") == "0"
    assert cases(root)[("port_reset", "alloc.O0")].get("time") == "0.00005"


def test_unchecked_checks_are_skipped_cases():
    rep = passing()
    rep.unchecked_why = {"coverage": "--valgrind off", "memcheck": "--valgrind off"}
    got = cases(junit.build(rep))
    assert got[("audit", "coverage")].find("skipped").get("message") == "not checked: --valgrind off"
    assert got[("audit", "baseline")].find("skipped") is None
    assert set(got) == set(cases(junit.build(passing())))


def test_gitlab_flavour_adds_file_and_line_which_the_strict_schema_refuses(tmp_path):
    text = junit.render(failing(), flavour="gitlab")
    case = cases(ET.fromstring(text.split("\n", 1)[1]))[("port_reset", "noalloc.O0")]
    assert case.get("file") == "fixtures/port_reset.frs" and case.get("line") == "12"
    status, err = validate(text, tmp_path)
    assert status != 0 and "file" in err
    with pytest.raises(ValueError):
        junit.render(failing(), flavour="surefire")


def test_github_annotations():
    lines = junit.annotations(failing())
    zero = next(a for a in lines if "zero" in a)
    assert zero.startswith("::error file=fixtures/port_reset.frs,line=12,title=frame-alloc-audit zero%3A port_reset::")
    assert f"%0Agenerated: {GEN}" in zero
    build = next(a for a in lines if "build" in a)
    assert "file=lexer/gen/noalloc/lexer.rs,line=356" in build and "\n" not in build
    assert not junit.annotations(passing())      # the golden note names no line
