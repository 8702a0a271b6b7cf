"""Non-blocking windows (issue 15): with --non-blocking every no_alloc
window must make no call that can block or take a lock.  A handler that
takes a pthread mutex (extern "C"), one that waits on a std Mutex another
thread holds (a futex wait through libc's syscall()) and one that sleeps
each fail rule nonblocking at their own .frs line; without the flag the
same run has no such finding."""
import json
import subprocess
from types import SimpleNamespace

import pytest

from conftest import ROOT

from faa import gate
from faa.model import Measurement, Window

FRS = """\
// Handlers that block: one takes a pthread mutex (extern "C"), one waits
// on a std Mutex another thread holds (a futex wait), one sleeps.
static LOCK: std::sync::Mutex<u32> = std::sync::Mutex::new(0);
static GO: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
@@[target("rust")]
@@[no_alloc]
@@system Locker {
    interface:
        lock()
        arm()
        contend()
        nap()
    machine:
        $Idle {
            lock() {
                unsafe { extern "C" { fn pthread_mutex_lock(m: *mut u64) -> i32; fn pthread_mutex_unlock(m: *mut u64) -> i32; } static mut M: [u64; 8] = [0; 8]; pthread_mutex_lock(core::ptr::addr_of_mut!(M) as *mut u64); pthread_mutex_unlock(core::ptr::addr_of_mut!(M) as *mut u64); } // PTHREAD
                @@:self.n = @@:self.n + 1;
            }
            arm() {
                static HELD: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                std::thread::spawn(|| { let _g = LOCK.lock().unwrap(); HELD.store(1, std::sync::atomic::Ordering::SeqCst); while GO.load(std::sync::atomic::Ordering::SeqCst) == 0 { std::hint::spin_loop(); } let t = std::time::Instant::now(); while t.elapsed().as_millis() < 30 { std::hint::spin_loop(); } });
                while HELD.load(std::sync::atomic::Ordering::SeqCst) == 0 { std::hint::spin_loop(); }
                @@:self.n = @@:self.n + 1;
            }
            contend() {
                GO.store(1, std::sync::atomic::Ordering::SeqCst);
                let g = LOCK.lock().unwrap(); // CONTENDED
                @@:self.n = @@:self.n + *g;
            }
            nap() {
                std::thread::sleep(std::time::Duration::from_micros(1)); // SLEEP
                @@:self.n = @@:self.n + 1;
            }
        }
    domain:
        n: u32 = 0
}
"""

TOML = """\
system = "Locker"
description = "handlers that block"

[[step]]
call = "lock()"

[[step]]             # a thread takes LOCK and holds it until contend()
call = "arm()"

[[step]]
call = "contend()"

[[step]]
call = "nap()"
"""


def line_of(needle):
    return next(i for i, t in enumerate(FRS.splitlines(), 1) if needle in t)


def run_audit(build_dir, fixtures, work, reports, *extra):
    """An audit of the one fixture in `fixtures` (Valgrind off, no rejects)."""
    r = subprocess.run([str(ROOT / "scripts" / "audit"), "--build-dir", str(build_dir),
                        "--fixtures-dir", str(fixtures), "run", "--valgrind", "off",
                        "--no-rejects", "--work-dir", str(work),
                        "--report-dir", str(reports), *extra],
                       capture_output=True, text=True, timeout=900)
    return r, json.loads((reports / "report.json").read_text())


@pytest.fixture(scope="module")
def audits(build_dir, tmp_path_factory):
    """The no_alloc shape audited with and without --non-blocking, and
    ("scenario") without the flag but with `non_blocking = true` in the
    scenario.  The three share the fixtures dir (the scenario rewritten for
    the last) and the work dir, so the later two take the libraries from
    the first's cache (the .frs is the same; the harness measures each run
    again); each writes its own reports."""
    tmp = tmp_path_factory.mktemp("nonblocking")
    fixtures = tmp / "fixtures"
    fixtures.mkdir()
    (fixtures / "locker.frs").write_text(FRS)
    out = {}
    for key, head, flags in (("--non-blocking", "", ["--non-blocking"]), (None, "", []),
                             ("scenario", "non_blocking = true\n", [])):
        (fixtures / "locker.toml").write_text(head + TOML)
        reports = tmp / f"r-{key or 'none'}"
        out[key] = run_audit(build_dir, fixtures, tmp / "w", reports, *flags) + (reports,)
    return out


def nonblocking(rep, step_text):
    return [f for f in rep["findings"] if f["rule"] == "nonblocking" and f["failure"]
            and f" {step_text}:" in f["message"] and "observation" not in f["message"]]


@pytest.mark.parametrize("step, kind, needle", [
    ("step 1 lock()", "pthread_mutex_lock", "// PTHREAD"),
    ("step 3 contend()", "futex", "// CONTENDED"),
    ("step 4 nap()", "nanosleep", "// SLEEP"),
])
def test_each_blocking_handler_fails_at_its_line(audits, step, kind, needle):
    r, rep, _ = audits["--non-blocking"]
    assert r.returncode == 1, r.stdout + r.stderr
    found = nonblocking(rep, step)
    assert {f["opt"] for f in found} == {0, 3}, rep["findings"]
    frs = f"fixtures/locker.frs:{line_of(needle)}"
    for f in found:
        msg = f["message"]
        assert "expected 0 (non-blocking)" in msg, msg
        # Rust's sleep is nanosleep or clock_nanosleep, by version
        hit = [p for p in msg.split("every call site: ")[1].split(", ")
               if frs in p and kind in p]
        assert hit, msg


def test_the_pthread_lock_is_the_first_site_and_the_findings_line(audits):
    _, rep, _ = audits["--non-blocking"]
    for f in nonblocking(rep, "step 1 lock()"):
        assert f["frs"] == f"fixtures/locker.frs:{line_of('// PTHREAD')}", f
        assert "[pthread_mutex_lock 1]" in f["message"]
        assert "called pthread_mutex_lock at" in f["message"]


def test_without_the_flag_blocking_is_only_recorded(audits):
    r, rep, _ = audits[None]
    assert not [f for f in rep["findings"] if f["rule"] == "nonblocking"], rep["findings"]


def test_a_scenario_asks_it_of_its_own_fixture_only():
    fixtures = [SimpleNamespace(name="a", scenario=SimpleNamespace(non_blocking=True)),
                SimpleNamespace(name="b", scenario=SimpleNamespace())]
    ms = [Measurement(fixture=n, mode="noalloc", opt=0) for n in ("a", "b")]
    assert [m.fixture for m in gate.non_blocking(fixtures, ms)] == ["a"]
    assert [m.fixture for m in gate.non_blocking(fixtures, ms, everywhere=True)] == ["a", "b"]


def test_the_rule_reads_blocking_counts_of_no_alloc_windows_only():
    def m(mode):
        w = Window(phase="step", step=0, label="go()", blocking=2, calls={"read": 1, "futex": 1},
                   sites=[{"calls": 1, "kind": "read", "stack": ["?+0x1"]},
                          {"calls": 1, "kind": "futex", "stack": ["?+0x2"]}], sites_lost=0)
        return Measurement(fixture="x", mode=mode, opt=3, steps=[w])
    found = []
    gate.check_nonblocking([m("alloc"), m("noalloc")], found)
    (f,) = found
    assert f.rule == "nonblocking" and f.opt == 3
    assert "x no_alloc O3 step 1 go(): 2 blocking call(s) [futex 1, read 1], expected 0" in f.message
    assert "every call site: 1 × ?+0x1 (no generated-source line) (read), " \
           "1 × ?+0x2 (no generated-source line) (futex)" in f.message


def test_the_failing_report_validates_against_its_schema(audits):
    """report.json carries the new rule and the windows' blocking counts
    and sites (and the calibration's blocking kinds)."""
    import jsonschema
    _, rep, _ = audits["--non-blocking"]
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(rep)]
    assert not errors, errors[:3]
    run = next(r for fx in rep["fixtures"] for r in fx["runs"] if r["mode"] == "noalloc")
    lock = next(s for s in run["steps"] if s["call"] == "lock()")
    assert lock["blocking"] == 1 and lock["sites"][0]["kind"] == "pthread_mutex_lock"


def test_non_blocking_true_in_the_scenario_asks_it_without_the_flag(audits):
    r, rep, reports = audits["scenario"]
    assert r.returncode == 1, r.stdout + r.stderr
    assert nonblocking(rep, "step 1 lock()"), rep["findings"]
    # the verdict per fixture: in report.json, report.md and report.html
    nb = rep["fixtures"][0]["non_blocking"]
    assert nb["libraries"] == 2 and nb["blocking_windows"] >= 3, nb
    md = (reports / "report.md").read_text()
    assert (f"**Non-blocking** (no lock, wait, sleep or blocking I/O call in any no\\_alloc window): "
            f"0 of 1 fixture(s) held; not: `locker` NO ({nb['blocking_windows']} windows).") in md, md
    page = (reports / "report.html").read_text()
    assert "<th>non-blocking</th>" in page and f"NO ({nb['blocking_windows']} windows)</td>" in page


def test_a_fixture_not_asked_has_no_non_blocking_verdict(audits):
    """Without --non-blocking and without the scenario key the rule did not
    judge the fixture: report.json says null, report.md and report.html
    say nothing of it."""
    _, rep, _ = audits[None]
    assert rep["fixtures"][0]["non_blocking"] is None
    from faa import report
    from faa.model import Report
    assert "Non-blocking" not in report.markdown(Report.from_json(rep))


def test_non_blocking_result_counts_the_blocking_windows_of_no_alloc_libraries():
    from faa import report
    ms = [SimpleNamespace(fixture="a", mode="noalloc", windows=[Window("step", 0, blocking=2), Window("step", 1)]),
          SimpleNamespace(fixture="a", mode="noalloc", windows=[Window("step", 0, blocking=1)]),
          SimpleNamespace(fixture="a", mode="alloc", windows=[Window("step", 0, blocking=5)]),
          SimpleNamespace(fixture="b", mode="noalloc", windows=[Window("step", 0)])]
    assert report.non_blocking_result("a", ms) == {"blocking_windows": 2, "libraries": 2}
    assert report.non_blocking_text(report.non_blocking_result("b", ms)) == "yes"
    assert report.non_blocking_text(report.non_blocking_result("c", ms)) == "not measured"
    assert report.non_blocking_text({"blocking_windows": 1, "libraries": 1}) == "NO (1 window)"
    assert report.non_blocking_text(None) == ""
