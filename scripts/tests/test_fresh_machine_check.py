"""scripts/fresh-machine-check: its options and the guard on --root.

Nothing here debootstraps, mounts or chroots: every run either stops at the
guard (exit 2) or uses --plan, which checks the options, prints the plan and
touches nothing -- so a broken guard makes these tests fail, never lets the
script loose on the host."""
import os
import subprocess

from conftest import ROOT

SCRIPT = ROOT / "scripts/fresh-machine-check"


def run(*args):
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_help_names_the_options_and_the_prerequisites():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    for word in ("--repo", "--rev", "--out", "--root", "--keep", "--only", "--plan", "git make"):
        assert word in text


def test_a_root_inside_the_out_dir_is_accepted_by_the_plan(tmp_path):
    root = tmp_path / "out/root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/apt-get").touch()
    r = run("--out", str(tmp_path / "out"), "--root", str(root), "--plan")
    assert r.returncode == 0, r.stderr
    assert f"root: {root} (reused)" in r.stdout
    assert "prerequisites: git make" in r.stdout


def test_the_default_root_is_inside_the_out_dir(tmp_path):
    r = run("--out", str(tmp_path / "out"), "--plan")
    assert r.returncode == 0, r.stderr
    assert f"root: {tmp_path / 'out/root'} (debootstrap)" in r.stdout


def refused(r):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "never /" in r.stderr or "must not be /" in r.stderr
    assert "root:" not in r.stdout


def test_root_slash_is_refused(tmp_path):
    refused(run("--out", str(tmp_path / "out"), "--root", "/", "--plan"))


def test_a_root_outside_the_out_dir_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    refused(run("--out", str(tmp_path / "out"), "--root", str(tmp_path / "elsewhere"), "--plan"))


def test_the_out_dir_itself_is_refused_as_root(tmp_path):
    (tmp_path / "out").mkdir()
    refused(run("--out", str(tmp_path / "out"), "--root", str(tmp_path / "out"), "--plan"))


def test_a_symlink_in_the_out_dir_to_slash_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    os.symlink("/", tmp_path / "out/root")
    refused(run("--out", str(tmp_path / "out"), "--root", str(tmp_path / "out/root"), "--plan"))
    refused(run("--out", str(tmp_path / "out"), "--plan"))


def test_out_slash_is_refused():
    refused(run("--out", "/", "--plan"))
