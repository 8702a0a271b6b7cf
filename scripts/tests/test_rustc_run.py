"""rustc_run.py (meson's rustc-VER tests): the rustc the plain tests already
use is skipped, any other runs the given tests with RUSTC set to it."""
import os
import subprocess
import sys

from conftest import SCRIPTS

RUNNER = SCRIPTS / "tests" / "rustc_run.py"


def _fake_rustc(path, version):
    path.write_text(f"#!/bin/sh\necho 'rustc {version}'\n")
    path.chmod(0o755)
    return path


def _run(tmp_path, rustc, default):
    test = tmp_path / "test_probe.py"
    test.write_text("import os\n\ndef test_rustc_is_set():\n"
                    f"    assert os.environ['RUSTC'] == {str(rustc)!r}\n")
    env = dict(os.environ, RUSTC=str(default))
    return subprocess.run([sys.executable, str(RUNNER), str(rustc), "-q", "-p", "no:cacheprovider", str(test)],
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_default_rustc_is_skipped_naming_it(tmp_path):
    default = _fake_rustc(tmp_path / "default-rustc", "1.95.0 (fake)")
    same = _fake_rustc(tmp_path / "same-rustc", "1.95.0 (fake)")
    r = _run(tmp_path, same, default)
    assert r.returncode == 77, r.stdout + r.stderr
    assert "the rustc the plain tests already build with" in r.stdout and str(default) in r.stdout


def test_another_rustc_runs_the_tests_with_rustc_set_to_it(tmp_path):
    default = _fake_rustc(tmp_path / "default-rustc", "1.95.0 (fake)")
    other = _fake_rustc(tmp_path / "other-rustc", "1.63.0")
    r = _run(tmp_path, other, default)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "running the rustc-sensitive tests with" in r.stdout and "1 passed" in r.stdout


def test_a_failing_test_fails_the_run(tmp_path):
    default = _fake_rustc(tmp_path / "default-rustc", "1.95.0 (fake)")
    other = _fake_rustc(tmp_path / "other-rustc", "1.63.0")
    (tmp_path / "test_probe.py").write_text("def test_no():\n    assert False\n")
    env = dict(os.environ, RUSTC=str(default))
    r = subprocess.run([sys.executable, str(RUNNER), str(other), "-q", "-p", "no:cacheprovider",
                        str(tmp_path / "test_probe.py")], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr


def test_usage_and_a_broken_rustc(tmp_path):
    assert subprocess.run([sys.executable, str(RUNNER)], capture_output=True).returncode == 2
    broken = tmp_path / "broken-rustc"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    r = subprocess.run([sys.executable, str(RUNNER), str(broken), "x.py"], capture_output=True, text=True)
    assert r.returncode == 1 and "--version failed" in r.stderr
