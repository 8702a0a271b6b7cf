"""The audit command's contract: reports, exit statuses, bad inputs,
external compilers.  Needs `make build` and rustc.

Audits run scripts/audit as a process.  compare, publish and the
malformed scenarios, which end before any audit work, call the command's
own entry point, faa.cli.main (what scripts/audit runs as `python -m faa`;
its return value is the exit status), in this process: a process each
spent nearly all its time importing the audit."""
import io
import json
import os
import shutil
import signal
import stat
import subprocess
from contextlib import redirect_stderr, redirect_stdout

import pytest

from conftest import ROOT, SCRIPTS
from faa import cli, procs

AUDIT = str(SCRIPTS / "audit")


def audit(build_dir, *args, env=None, fixtures_dir=None):
    cmd = [AUDIT, "--build-dir", str(build_dir)]
    if fixtures_dir:
        cmd += ["--fixtures-dir", str(fixtures_dir)]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=900,
                       env={**os.environ, **(env or {})})
    return r.returncode, r.stdout + r.stderr


def audit_main(build_dir, *args, fixtures_dir=None):
    """What audit() returns, from cli.main in this process; the signal
    dispositions main sets are pytest's again afterwards."""
    argv = ["--build-dir", str(build_dir)] + (["--fixtures-dir", str(fixtures_dir)] if fixtures_dir else [])
    out, err = io.StringIO(), io.StringIO()
    saved = {s: signal.getsignal(s) for s in procs.STOP_SIGNALS}
    try:
        with redirect_stdout(out), redirect_stderr(err):
            status = cli.main(argv + list(args))
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    return status, out.getvalue() + err.getvalue()


@pytest.fixture(scope="module")
def run_dir(build_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    status, text = audit(build_dir, "run", "port_reset", "--report-dir", str(out))
    assert status == 0, text
    return out


def test_a_run_leaves_all_report_files(run_dir):
    for f in ("report.json", "report.md", "report.html", "junit.xml", "allocs_per_dispatch.svg"):
        assert (run_dir / f).stat().st_size > 0, f
    md = (run_dir / "report.md").read_text()
    assert "| port_reset | noalloc | O3 | 0.00 | 0 |" in md
    html = (run_dir / "report.html").read_text()
    assert "PortReset" in html and "allocs_per_dispatch.svg" in html and '<figure class="chart"' in html
    assert '<testcase name="alloc.O0" classname="port_reset"' in (run_dir / "junit.xml").read_text()


def test_valgrind_agrees_with_the_interposer_and_memcheck_is_clean(run_dir):
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed: apt-get install -y valgrind")
    rep = json.loads((run_dir / "report.json").read_text())
    assert not [f for f in rep["findings"] if f["rule"] in ("valgrind-count", "memcheck")]
    fx = rep["fixtures"][0]
    for r in fx["runs"]:
        assert r["memcheck"]["ok"] and r["memcheck"]["errors"] == 0
        assert r["memcheck"]["windows"] > 7     # construction + steps + steady replays
    massif = {m["mode"]: m for m in rep["massif"]}
    assert massif["alloc"]["peak_bytes"] > 0 and massif["noalloc"]["series"]
    assert massif["alloc"]["fixtures"] == ["port_reset"] and massif["alloc"]["opt"] == 3
    assert fx["coverage"]["cells"]["Resetting.reset_done"] == {"alloc": True, "noalloc": True}


def test_compare_and_publish(run_dir, build_dir, tmp_path):
    rep = json.loads((run_dir / "report.json").read_text())
    report = str(run_dir / "report.json")
    status, text = audit_main(build_dir, "compare", report, report)
    assert status == 0 and "0 regression(s)" in text
    worse = json.loads(json.dumps(rep))
    worse["fixtures"][0]["runs"][0]["steps"][0]["allocs"] += 1
    (tmp_path / "worse.json").write_text(json.dumps(worse))
    status, text = audit_main(build_dir, "compare", report, str(tmp_path / "worse.json"))
    assert status == 1 and "REGRESSION" in text
    pub = tmp_path / "pub"
    status, text = audit_main(build_dir, "publish", "--report-dir", str(run_dir), "--into", str(pub))
    assert status == 0, text
    (dest,) = [p for p in (tmp_path / "pub").iterdir() if p.is_dir()]
    assert dest.name.startswith("frc-") and (dest / "report.html").exists()
    assert (dest / "report.json.gz").exists() and not (dest / "report.json").exists()
    assert (tmp_path / "pub" / "index.md").exists()
    status, text = audit_main(build_dir, "publish", "--report-dir", str(run_dir), "--into", str(pub))
    assert status == 2 and "--force" in text


def test_unexercised_handler_fails_coverage(build_dir, tmp_path):
    """A scenario that never calls reset_done: the coverage rule fails the
    gate naming the handler, in both shapes.  Coverage is measured on the O0
    libraries alone (Callgrind over each O0 library), so the run builds and
    measures O0 only: O3 would add two builds and their Valgrind runs and
    nothing this test reads."""
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed")
    shutil.copy(ROOT / "fixtures/port_reset.frs", tmp_path)
    toml = (ROOT / "fixtures/port_reset.toml").read_text()
    cut = toml.index("[[step]]             # $Resetting -> $Enabled")
    toml = toml[:cut] + toml[toml.index("[[step]]", cut + 5):]
    (tmp_path / "port_reset.toml").write_text(toml)
    status, text = audit(build_dir, "run", "--no-rejects", "--opt", "0", "--report-dir", str(tmp_path / "r"),
                         fixtures_dir=tmp_path)
    assert status == 1
    assert ("FAIL [coverage] port_reset: handler $Resetting.reset_done never ran in the "
            "allocating and no_alloc shapes") in text, text[-3000:]


@pytest.mark.parametrize("toml,needle", [
    ('system = "PortReset"\n[[step]]\ncall = "connect("\n', "port_reset.toml:3: bad call"),
    ('system = "PortReset"\n[[step]]\ncall = "nope()"\n', "port_reset.toml:3: `nope` is not an interface method"),
    ('system = "PortReset"\n[[step]]\ncall = "connect(1)"\n', "port_reset.toml:3: `connect` takes 0 argument(s)"),
    ('system = "PortReset"\n[[step]\n', "invalid TOML"),
])
def test_malformed_scenario_exits_2_or_fails_naming_file_and_line(build_dir, tmp_path, toml, needle):
    shutil.copy(ROOT / "fixtures/port_reset.frs", tmp_path)
    (tmp_path / "port_reset.toml").write_text(toml)
    status, text = audit_main(build_dir, "run", "--no-rejects", "--valgrind", "off",
                              "--report-dir", str(tmp_path / "r"), fixtures_dir=tmp_path)
    assert needle in text
    # Every scenario mistake is a usage error: the text's before the compile,
    # an API mismatch right after it, before any build (issue 14).
    assert status == 2


def test_missing_rustc_exits_3_naming_the_package(build_dir):
    status, text = audit(build_dir, "run", "port_reset", env={"RUSTC": "/nonexistent/rustc"})
    assert status == 3 and "apt-get install -y rustc" in text


def test_valgrind_required_but_missing_exits_3(build_dir, tmp_path):
    status, text = audit(build_dir, "run", "port_reset", "--valgrind", "on",
                         "--report-dir", str(tmp_path), env={"VALGRIND": "/nonexistent/valgrind"})
    assert status == 3 and "apt-get install -y valgrind" in text


def fake_compiler(tmp_path, body):
    p = tmp_path / "fakec"
    p.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo fakec 9.9; exit 0; fi\n" + body)
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return p


FRC = None


@pytest.mark.parametrize("name,body,needle", [
    ("crash", "kill -SEGV $$\n", "fakec 9.9 crashed (signal 11)"),
    ("hang", "sleep 60\n", "fakec 9.9 did not finish within 1 s"),
    ("nothing", "exit 0\n", "fakec 9.9 exited 0 but wrote nothing"),
    ("no_noalloc", 'if grep -q "@@\\[no_alloc" "$6"; then echo "error: unknown attribute" >&2; exit 65; fi\n'
                   'exec "$FRC" "$@"\n', "no_alloc not supported by fakec 9.9"),
])
def test_broken_external_compiler_fails_per_fixture_and_the_audit_goes_on(build_dir, tmp_path, name, body, needle):
    """A compiler that crashes, hangs, writes nothing or refuses no_alloc:
    a finding per fixture, and the audit finishes with a verdict and its
    reports.  Only what the compiler did is judged, and the one library
    looked at is the allocating O0 one, so O0 alone is built (--opt 0).
    The hanging one gets a 1 s timeout: each of its four compiles waits it
    out."""
    fc = fake_compiler(tmp_path, body)
    status, text = audit(build_dir, "run", "port_reset", "debounce_button", "--compiler", str(fc),
                         "--no-rejects", "--valgrind", "off", "--opt", "0", "--report-dir", str(tmp_path / "r"),
                         env={"FAA_COMPILE_TIMEOUT": "1" if name == "hang" else "2",
                              "FRC": str(build_dir / "compiler/frc")})
    assert status == 1, text
    assert needle in text
    assert "audit: FAIL" in text           # finished, with a verdict and reports
    assert (tmp_path / "r" / "report.json").exists()
    if name == "no_noalloc":
        # the allocating shape was still audited with the external compiler
        assert '<testcase name="alloc.O0" classname="port_reset"' in (tmp_path / "r" / "junit.xml").read_text()


def test_unwritable_report_dir_is_a_clear_error(build_dir, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "report.json").mkdir()          # even root cannot write a file over a directory
    status, text = audit(build_dir, "run", "port_reset", "--valgrind", "off", "--report-dir", str(ro))
    assert status == 2 and "report.json" in text


def _failing_page(run_dir, out):
    """The passing run's report made to fail as a mutant that allocates only
    at O0 does: port_reset's no_alloc O0 library allocates in step 1, a
    zero-rule finding names the generated and the .frs line."""
    from faa import html
    from faa.model import Finding, Report
    rep = Report.load(run_dir / "report.json")
    fx = rep.fixtures[0]
    w = next(r for r in fx.runs if r.mode == "noalloc" and r.opt == 0).steps[0]
    gen, frs = "port_reset/gen/noalloc/port_reset.rs:244", "fixtures/port_reset.frs:12"
    w.allocs, w.bytes, w.live_peak, w.calls = 1, 16, 16, {"malloc": 1}
    w.stack, w.first_kind, w.thread, w.tid = ["libfxb.so+0x1f0"], "malloc", "own", 1
    w.site = f"{gen} in _s_Idle_connect (from {frs}, handler $Idle.connect)"
    rep.exit_status = 1
    rep.findings.append(Finding("zero", fx.name, f"port_reset no_alloc O0 step 1 connect(): 1 allocation(s), "
                                f"0 free(s) [malloc 1], expected 0; allocated at {w.site}", opt=0, gen=gen, frs=frs))
    return html.write(rep, out)


@pytest.mark.parametrize("verdict", ["pass", "fail"])
def test_report_html_renders_in_a_browser(run_dir, build_dir, tmp_path, verdict):
    """The page a person reads, passing and failing: rendered by headless
    Chromium, not blank, with the chart's bars, findings readable (not red
    on red), the page short.  Screenshots: BUILD/screenshots/report-*.png."""
    from test_html import browser, check_readable, chromium, computed_styles
    if not browser():
        pytest.skip("chromium not installed (apt-get install -y chromium) — see README for the manual command")
    np = pytest.importorskip("numpy")
    image = pytest.importorskip("matplotlib.image")
    page = run_dir / "report.html" if verdict == "pass" else _failing_page(run_dir, tmp_path / "fail")
    shot = build_dir / "screenshots" / f"report-{verdict}.png"
    shot.parent.mkdir(exist_ok=True)
    shot.unlink(missing_ok=True)
    r = chromium([f"--screenshot={shot}", "--window-size=1300,1600", "--hide-scrollbars", page.as_uri()],
                 tmp_path)
    assert shot.exists(), r.stderr[-1000:]
    px = image.imread(str(shot))
    assert px.shape[0] == 1600 and px.shape[1] == 1300
    # A rendered report has text, a chart and coloured table cells: many
    # distinct colours, and the chart's red bars or the red badge somewhere.
    flat = (px[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    # the distinct colours counted as one 24-bit number each: the count
    # np.unique(flat, axis=0) gives, without its row sort (about 1 CPU s)
    rgb = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    assert len(np.unique(rgb)) > 200
    red = ((flat[:, 0] > 150) & (flat[:, 1] < 110) & (flat[:, 2] < 110)).sum()
    assert red > 500, "nothing red: no badge, no allocating-shape bars"
    styles = computed_styles(page, tmp_path)
    check_readable(styles, verdict)
    assert styles["height"] < 8000, f"the page is {styles['height']} px tall"
    if verdict == "fail":
        assert {i["cls"] for i in styles["items"]} == {"failure"}
        text = page.read_text()
        assert "fixtures/port_reset.frs:12</code>" in text and "port_reset.rs:244</code>" in text


def _children(pid):
    """The pids of the running (not zombie) child processes of `pid`."""
    out = []
    for n in os.listdir("/proc"):
        try:
            stat = open(f"/proc/{n}/stat", "rb").read() if n.isdigit() else b""
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split() if stat else []
        if fields and int(fields[1]) == pid and fields[0] != b"Z":
            out.append(int(n))
    return out


def _is_audit(pid):
    """Whether `pid` runs the audit itself (scripts/audit execs `python -m faa`)."""
    try:
        return b"\0faa\0" in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False


def test_interrupted_audit_leaves_no_report(build_dir, tmp_path):
    """Ctrl-C mid-run: exit 130, the previous report kept as it was, no
    half-written one."""
    import signal
    import time
    out = tmp_path / "r"
    out.mkdir()
    (out / "report.json").write_text('{"verdict": "pass"}')    # a previous run's
    p = subprocess.Popen([AUDIT, "--build-dir", str(build_dir), "run", "--report-dir", str(out),
                          "--work-dir", str(tmp_path / "w")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Mid-run: once the audit (past its shell wrapper's interpreter probe,
    # running as `python -m faa`) has a child process running (the compiler,
    # rustc...), rather than a fixed second after its work dir appeared.
    deadline, busy = time.time() + 60, False
    while time.time() < deadline and not busy:
        busy = _is_audit(p.pid) and bool(_children(p.pid))
        time.sleep(0.02)
    assert busy, "the audit ran no child within 60 s"
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err[-500:]
    assert "interrupted" in err
    assert (out / "report.json").read_text() == '{"verdict": "pass"}'   # kept, untouched
    assert not list(out.glob(".*.tmp"))


@pytest.fixture(scope="module")
def panicking(tmp_path_factory):
    """port_reset's no_alloc module with a panic first in connect(), and a
    work dir, shared by both RUST_BACKTRACE cases: the variable is read
    when the panic happens, not when rustc builds the library, so the
    second case measures the libraries the first built (the same module at
    the same path: the panic's location is compiled into them) instead of
    building them again.  (mod, line, work dir)"""
    d = tmp_path_factory.mktemp("panic")
    src = (ROOT / "generated/port_reset/noalloc.rs").read_text()
    sig = "pub fn connect(&mut self) {\n"
    assert sig in src
    mod = d / "port_reset.rs"
    mod.write_text(src.replace(sig, sig + '        panic!("connect refused on purpose");\n', 1))
    line = mod.read_text().splitlines().index('        panic!("connect refused on purpose");') + 1
    return mod, line, d / "w"


@pytest.mark.parametrize("backtrace", ["0", "1"])
def test_a_fixture_that_panics_is_reported_as_a_panic_with_its_location(build_dir, tmp_path, panicking,
                                                                         backtrace):
    """A --generated module whose interface method panics: the audit goes
    on, fails the gate and names the panic, its file:line:col and message,
    in the same words whichever rustc built it (before 1.73 Rust printed
    `panicked at 'MSG', FILE:LINE:COL`, since then `FILE:LINE:COL:` and the
    message below it), without Rust's note or backtrace that follow it."""
    mod, line, work = panicking
    status, text = audit(build_dir, "run", "--generated", str(mod), "--scenario",
                         str(ROOT / "fixtures/port_reset.toml"), "--mode", "noalloc", "--valgrind", "off",
                         "--report-dir", str(tmp_path / "r"), "--work-dir", str(work),
                         "-v", env={"RUST_BACKTRACE": backtrace})
    assert status == 1, text[-2000:]
    fails = [ln for ln in text.splitlines() if ln.startswith("FAIL [panic]")]
    assert len(fails) == 2, text[-2000:]            # O0 and O3
    # The shim's panic hook prints each panic whole, with one write, in one
    # layout whichever rustc built it (the default hook writes it in pieces,
    # which the harness's parallel workers interleaved mid-line), no backtrace.
    whole = f"thread '<unnamed>' panicked at {mod}:{line}:9:\nconnect refused on purpose\n"
    assert text.count(whole) >= 2, text[-3000:]
    assert "panicked at 'connect" not in text and "stack backtrace:" not in text
    for f in fails:
        assert f.endswith(f"connect() panicked: panicked at {mod}:{line}:9: connect refused on purpose"), f
