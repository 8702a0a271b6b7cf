"""fuzz/run.sh builds the libFuzzer target from compiler/*.c less the frc
executable's own files; that set must be frc_core's (compiler/meson.build),
which the fuzz replay test links.  A new file of the executable's alone
(check_native.c once broke the CI's smoke fuzz with undefined references)
or a new file of the library must be told to both."""
import re
import subprocess

from conftest import ROOT


def core_sources():
    text = (ROOT / "compiler" / "meson.build").read_text()
    block = re.search(r"frc_core = static_library\('frc_core',(.*?)install:", text, re.S)[1]
    return set(re.findall(r"'([\w.]+\.c)'", block))


def fuzz_sources():
    line = next(ln for ln in (ROOT / "fuzz" / "run.sh").read_text().splitlines() if ln.startswith("srcs="))
    r = subprocess.run(["sh", "-c", line.split("#")[0] + '\nprintf "%s\\n" $srcs'], cwd=ROOT,
                       capture_output=True, text=True, check=True)
    return {p.rsplit("/", 1)[-1] for p in r.stdout.split()}


def test_the_fuzz_target_is_built_from_exactly_frc_core():
    core = core_sources()
    assert "pipeline.c" in core and "main.c" not in core
    assert fuzz_sources() == core
