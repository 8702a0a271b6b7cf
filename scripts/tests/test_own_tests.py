"""The counter in users' own tests (README, "Use it in your own tests"):
`meson install` into a scratch prefix under the build dir, then the C
example (examples/own-tests/c, built with the installed pkg-config file)
and the Rust binding's and example's `cargo test` against that installed
copy, under the preload and without it.  Everything lives in
BUILD/own-tests/ (the install tree, CARGO_HOME, one cargo target dir per
toolchain)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

C_EXAMPLE = ROOT / "examples/own-tests/c"
RUST_EXAMPLE = ROOT / "examples/own-tests/rust"
CRATE = ROOT / "bindings/rust"


def run(cmd, env=None, cwd=None, timeout=600):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                       env=env, cwd=cwd, timeout=timeout)
    r.text = r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def build_dir():
    """The Meson build dir (FAA_BUILD_DIR, else ROOT/build); only the
    interposer need be built."""
    d = Path(os.environ.get("FAA_BUILD_DIR", ROOT / "build")).resolve()
    if not (d / "interposer/libaudit.so").exists():
        pytest.skip(f"not built: {d}/interposer/libaudit.so (run `make build`)")
    return d


@pytest.fixture(scope="module")
def own(build_dir):
    """The build's install tree in BUILD/own-tests/inst (a --destdir copy:
    the pkg-config file is relocatable) and an environment whose
    pkg-config finds it."""
    top = build_dir / "own-tests"
    inst = top / "inst"
    shutil.rmtree(inst, ignore_errors=True)
    r = run(["meson", "install", "-C", build_dir, "--no-rebuild", "--destdir", inst])
    assert r.returncode == 0, r.text
    pcs = sorted(inst.rglob("pkgconfig/frame-alloc-audit.pc"))
    assert len(pcs) == 1, pcs
    env = dict(os.environ, PKG_CONFIG_PATH=str(pcs[0].parent))
    env.pop("LD_PRELOAD", None)
    return {"top": top, "inst": inst, "env": env, "pc": pcs[0]}


def pkg_config(own, *args):
    r = run(["pkg-config", *args, "frame-alloc-audit"], env=own["env"])
    assert r.returncode == 0, r.text
    return r.stdout.strip()


def test_install_puts_the_library_headers_pkg_config_file_and_crate_only(own, build_dir):
    prefix = next(own["inst"].rglob("include/frame-alloc-audit/audit.h")).parents[2]
    got = sorted(str(p.relative_to(prefix)) for p in own["inst"].rglob("*") if p.is_file())
    libdir = str(own["pc"].parent.parent.relative_to(prefix))
    crate = sorted(f"share/frame-alloc-audit/rust/{p.relative_to(CRATE)}"
                   for p in CRATE.rglob("*")
                   if p.is_file() and "target" not in p.relative_to(CRATE).parts
                   and p.name not in ("Cargo.lock", ".gitignore"))
    want = sorted([f"{libdir}/frame-alloc-audit/libaudit.so",
                   f"{libdir}/pkgconfig/frame-alloc-audit.pc",
                   "include/frame-alloc-audit/audit.h",
                   "include/frame-alloc-audit/audit_criterion.h"] + crate)
    assert got == want


def test_pkg_config_gives_the_header_no_libaudit_link_and_the_preload(own, build_dir):
    cflags = pkg_config(own, "--cflags")
    assert cflags.startswith("-I") and (Path(cflags[2:]) / "audit_criterion.h").is_file(), cflags
    assert pkg_config(own, "--libs") == "-ldl"  # never -laudit: audit.h says why
    preload = Path(pkg_config(own, "--variable=preload"))
    assert preload.read_bytes() == (build_dir / "interposer/libaudit.so").read_bytes()
    assert (Path(pkg_config(own, "--variable=rust_crate")) / "Cargo.toml").is_file()


@pytest.fixture(scope="module")
def c_example(own):
    out = own["top"] / "c"
    shutil.rmtree(out, ignore_errors=True)  # its Makefile does not track the installed headers
    r = run(["make", "-C", C_EXAMPLE, f"O={out}"], env=own["env"])
    assert r.returncode == 0, r.text
    return out


def test_c_example_passes_under_the_preload(own, c_example):
    env = dict(own["env"], LD_PRELOAD=pkg_config(own, "--variable=preload"))
    r = run([c_example / "test-ring"], env=env)
    assert r.returncode == 0 and "Tested: 2 | Passing: 2 | Failing: 0" in r.text, r.text


def test_c_failure_names_the_counts_the_kind_and_the_function(own, c_example):
    env = dict(own["env"], LD_PRELOAD=pkg_config(own, "--variable=preload"))
    r = run([c_example / "test-ring-fails"], env=env)
    assert r.returncode != 0, r.text
    src = (C_EXAMPLE / "test_ring_fails.c").read_text().splitlines()
    line = 1 + next(i for i, l in enumerate(src) if "cr_assert_no_heap(s = ring_snapshot" in l)
    assert (f"test_ring_fails.c:{line}: Assertion Failed" in r.text and
            "`s = ring_snapshot(&r)` made heap calls, expected none: 2 allocation(s), "
            "0 free(s), 0 OS call(s), 20 byte(s) [malloc 2]; first call: malloc (tid " in r.text and
            f"(ring_snapshot+0x" in r.text and f"in {c_example / 'test-ring-fails'})" in r.text), r.text
    snap = next(l for l in r.text.splitlines() if "`s = ring_snapshot(&r)`" in l)
    assert "; call sites: malloc 1 at 0x" in snap and ", malloc 1 at 0x" in snap, snap
    assert snap.count("(ring_snapshot+0x") == 3, snap  # the first call and both sites
    assert ("`usleep(1)` made heap or blocking calls, expected none: 0 allocation(s), 0 free(s), "
            "0 OS call(s), 1 blocking call(s), 0 byte(s) [usleep 1]; first call: usleep (tid ") in r.text, r.text
    assert "Tested: 2 | Passing: 0 | Failing: 2" in r.text, r.text


def test_c_example_fails_loudly_without_the_preload(own, c_example):
    r = run([c_example / "test-ring"], env=own["env"])
    assert r.returncode != 0 and "Passing: 0" in r.text, r.text
    assert "ring_push(&r, i): interposer not loaded (or not API version" in r.text, r.text


def toolchains():
    """(name, cargo, rustc) per Rust version here: rustup's and Debian's."""
    found, seen = [], set()
    for d in (Path.home() / ".cargo/bin", Path("/usr/bin")):
        cargo, rustc = d / "cargo", d / "rustc"
        if not (cargo.exists() and rustc.exists()):
            continue
        v = subprocess.run([rustc, "--version"], capture_output=True, text=True).stdout.split()
        if len(v) >= 2 and v[1] not in seen:
            seen.add(v[1])
            found.append(pytest.param(cargo, rustc, id=f"rustc-{v[1]}"))
    return found or [pytest.param(None, None, id="no-cargo")]


def cargo_test(own, cargo, rustc, src, name, preload=True, args=()):
    """`cargo test --offline` of a copy of `src` (its path dependency
    pointed at the installed crate), the test binaries run under the
    preload through cargo's target runner."""
    if cargo is None:
        pytest.skip("no cargo found (~/.cargo/bin/cargo or /usr/bin/cargo: apt-get install cargo)")
    ver = run([rustc, "--version"]).stdout.split()[1]
    host = [l.split()[1] for l in run([rustc, "-vV"]).stdout.splitlines() if l.startswith("host:")][0]
    work = own["top"] / f"rust-{ver}"
    copy = work / name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("target", "Cargo.lock"))
    toml = copy / "Cargo.toml"
    toml.write_text(toml.read_text().replace('path = "../../../bindings/rust"',
                                             f'path = "{pkg_config(own, "--variable=rust_crate")}"'))
    env = dict(own["env"], RUSTC=str(rustc), RUSTDOC=str(Path(rustc).parent / "rustdoc"),
               CARGO_HOME=str(own["top"] / "cargo-home"), CARGO_TARGET_DIR=str(work / "target"))
    if preload:
        env[f"CARGO_TARGET_{host.upper().replace('-', '_')}_RUNNER"] = \
            "env LD_PRELOAD=" + pkg_config(own, "--variable=preload")
    return run([cargo, "test", "--offline", *args], env=env, cwd=copy, timeout=900)


@pytest.mark.parametrize("cargo,rustc", toolchains())
def test_rust_binding_own_tests_pass_layout_included(own, cargo, rustc):
    r = cargo_test(own, cargo, rustc, pkg_config(own, "--variable=rust_crate"), "binding")
    assert r.returncode == 0, r.text
    for t in ("raw_counts_has_the_layout_of_the_c_header",
              "a_failure_carries_the_counts_the_kind_and_the_line",
              "a_capture_window_lists_every_call_site_with_its_line",
              "a_sleep_is_a_blocking_call_and_an_uncontended_mutex_is_none",
              "the_interposer_is_live_and_calibrated"):
        assert f"test {t} ... ok" in r.text, r.text


@pytest.mark.parametrize("cargo,rustc", toolchains())
def test_rust_example_passes_under_the_preload_and_prints_its_failure(own, cargo, rustc):
    r = cargo_test(own, cargo, rustc, RUST_EXAMPLE, "example", args=["--", "--nocapture"])
    assert r.returncode == 0 and "4 passed; 0 failed" in r.text, r.text
    assert ("assert_no_alloc!(ring.snapshot()): expected no heap call, counted 2 allocation(s), "
            "0 free(s), 0 OS call(s), 28 byte(s) [malloc 2]\n  first call: malloc (tid ") in r.text, r.text
    assert "/example/src/lib.rs:29 in own_tests::Ring::snapshot\n" in r.text, r.text


@pytest.mark.parametrize("cargo,rustc", toolchains())
def test_rust_example_fails_loudly_without_the_preload(own, cargo, rustc):
    r = cargo_test(own, cargo, rustc, RUST_EXAMPLE, "example", preload=False)
    assert r.returncode != 0, r.text
    assert "test the_interposer_is_live ... FAILED" in r.text, r.text
    assert ("frame-alloc-audit: interposer not loaded or not counting: audit_loaded() not found; "
            "run the tests with LD_PRELOAD=$(pkg-config --variable=preload frame-alloc-audit)") in r.text, r.text


def test_make_install_runs_meson_install_of_the_build_dir_under_destdir(tmp_path):
    r = run(["make", "-n", "-C", ROOT, "install", "BUILD=some-build", f"DESTDIR={tmp_path}"])
    assert r.returncode == 0, r.text
    assert f"meson install -C some-build --destdir {tmp_path}\n" in r.stdout, r.stdout
    r = run(["make", "-n", "-C", ROOT, "install", "BUILD=some-build"])
    assert "meson install -C some-build \n" in r.stdout or "meson install -C some-build\n" in r.stdout, r.stdout
