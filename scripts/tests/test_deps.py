"""scripts/deps.sh: what it asks for, without installing anything.

A fake `dpkg-query` on PATH decides which packages are "installed"; `id` is
faked (non-root) or FAA_DEPS_DRY_RUN=1 is set, so the tests behave the same
when run as root (CI) and never call apt-get (a fake apt-get on PATH fails
the test if it is reached)."""
import os
import subprocess

import pytest

from conftest import ROOT

DEPS = ROOT / "scripts/deps.sh"
REQUIRED = "gcc make meson ninja-build pkg-config libcriterion-dev python3 python3-pytest python3-jsonschema libunwind-dev libdw-dev binutils".split()
OPTIONAL = "valgrind python3-jinja2 clang libclang-rt-14-dev".split()


def fake_bin(tmp_path, missing, uid):
    b = tmp_path / "bin"
    b.mkdir()
    (b / "dpkg-query").write_text(
        "#!/bin/sh\n"
        "for a; do pkg=\"$a\"; done\n"
        f"for m in {' '.join(missing)}; do [ \"$m\" = \"$pkg\" ] && exit 1; done\n"
        "printf 'install ok installed'\n")
    (b / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (b / "apt-get").write_text("#!/bin/sh\necho 'apt-get MUST NOT RUN' >&2\nexit 99\n")
    for f in b.iterdir():
        f.chmod(0o755)
    return b


def run(tmp_path, missing, uid=1000, **env):
    b = fake_bin(tmp_path, missing, uid)
    e = dict(os.environ, PATH=f"{b}:{os.environ['PATH']}", **env)
    return subprocess.run(["sh", str(DEPS)], capture_output=True, text=True, env=e, timeout=30)


def test_dpkg_query_is_called_the_way_the_fake_expects(tmp_path):
    assert "dpkg-query -W -f='${Status}' \"$1\"" in DEPS.read_text()


def test_non_root_prints_the_exact_apt_get_line_and_exits_3(tmp_path):
    r = run(tmp_path, ["libcriterion-dev", "valgrind"])
    assert r.returncode == 3, r.stderr
    assert "    apt-get update && apt-get install -y --no-install-recommends libcriterion-dev valgrind\n" in r.stderr
    assert "MUST NOT RUN" not in r.stderr


def test_dry_run_as_root_never_installs(tmp_path):
    r = run(tmp_path, ["meson", "clang", "libclang-rt-14-dev"], uid=0, FAA_DEPS_DRY_RUN="1")
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "apt-get install -y --no-install-recommends meson clang libclang-rt-14-dev\n" in r.stderr
    assert "MUST NOT RUN" not in r.stderr


def test_optional_packages_can_be_left_out(tmp_path):
    r = run(tmp_path, ["valgrind", "clang", "libclang-rt-14-dev"], FAA_DEPS_OPTIONAL="0")
    assert r.returncode == 0 and "all packages present" in r.stdout, (r.stdout, r.stderr)


@pytest.mark.parametrize("pkg", ["clang", "libclang-rt-14-dev"])
def test_libfuzzer_packages_are_optional_dependencies(tmp_path, pkg):
    r = run(tmp_path, [pkg])
    assert r.returncode == 3 and f"apt-get install -y --no-install-recommends {pkg}\n" in r.stderr


def test_nothing_missing_exits_0(tmp_path):
    r = run(tmp_path, [], uid=0, FAA_DEPS_DRY_RUN="1")
    assert r.returncode == 0 and "all packages present" in r.stdout


def test_jsonschema_is_required_for_the_schema_tests(tmp_path):
    """scripts/tests/test_schemas.py validates every report file against schemas/."""
    r = run(tmp_path, ["python3-jsonschema"], FAA_DEPS_OPTIONAL="0")
    assert r.returncode == 3 and "apt-get install -y --no-install-recommends python3-jsonschema\n" in r.stderr, (r.stdout, r.stderr)
