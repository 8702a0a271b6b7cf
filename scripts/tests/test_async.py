"""Async interface methods (issue 14): the shim drives `pub async fn`
methods with its own single-threaded executor (templates/executor.rs.tmpl:
a no-op RawWaker, no crates, no heap), one window per call as for sync
methods; a method whose future cannot finish is reported as exactly that.
Modules: scripts/tests/data/generated/async_*.rs, hand-written in the
shape framec's Rust back end gives async interfaces.  Needs `make build`
and rustc."""
import json
import os
import subprocess
import time

import pytest

from conftest import SCRIPTS
from faa import scenario, shim

AUDIT = str(SCRIPTS / "audit")
DATA = SCRIPTS / "tests" / "data" / "generated"


def audit(build_dir, tmp_path, module, toml, mode="alloc", *extra):
    cmd = [AUDIT, "--build-dir", str(build_dir), "run", "--generated", str(DATA / module),
           "--scenario", str(DATA / toml), "--mode", mode, "--valgrind", "off",
           "--work-dir", str(tmp_path / "w"), "--report-dir", str(tmp_path / "r"), *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=os.environ)
    return r.returncode, r.stdout + r.stderr


def test_an_async_method_taking_a_string_is_audited_per_call(build_dir, tmp_path):
    status, out = audit(build_dir, tmp_path, "async_fetcher.rs", "async_fetcher.toml")
    assert status == 0, out
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    (fx,) = rep["fixtures"]
    for run in fx["runs"]:
        steps = run["steps"]
        assert [s["call"] for s in steps] == ['fetch(String::from("https://a.example/x"))', "idle()",
                                              'fetch(String::from("b"))']
        # one window per call, holding what the handler does while the
        # executor polls it (the copy of the url) and the drops; the
        # executor adds nothing (idle() awaits and is polled twice: 0/0/0)
        got = [(st["allocs"], st["frees"], st["bytes"]) for st in steps]
        assert got == [(1, 1, 19), (0, 0, 0), (1, 2, 1)]


def test_the_executor_allocates_nothing_in_the_no_alloc_shape(build_dir, tmp_path):
    # a core-only async system in the no_alloc shape, with an async
    # __create(5) and a method returning `impl Future`: every window
    # (construction, each poll loop, observation, drop) must read 0 on
    # every thread, the returns must be right (the futures ran to the
    # end), and the static proof passes with the executor in the shim
    status, out = audit(build_dir, tmp_path, "async_pinger.rs", "async_pinger.toml", "noalloc")
    assert status == 0, out
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    for run in rep["fixtures"][0]["runs"]:
        assert [s["call"] for s in run["steps"]] == ["ping(2)", "ping(3)", "later(2)"]
        assert all(s["allocs"] == s["frees"] == 0 for s in run["steps"])


@pytest.mark.parametrize("toml,needle", [
    ("async_stuck_wait.toml", "async `wait()` cannot be driven: its future returned Pending (poll 1) "
                              "without waking its waker"),
    ("async_stuck_spin.toml", "async `spin()` cannot be driven: its future was still Pending after "
                              "1000000 polls"),
])
def test_an_async_method_that_cannot_finish_is_reported_as_that(build_dir, tmp_path, toml, needle):
    t0 = time.monotonic()
    status, out = audit(build_dir, tmp_path, "async_stuck.rs", toml, "alloc", "--opt", "0")
    assert status == 1, out
    assert "FAIL [panic]" in out and needle in out, out
    assert time.monotonic() - t0 < 300                  # reported, not a hang


def test_an_async_arm_makes_its_waker_before_the_window(tmp_path):
    scen = scenario.load(DATA / "async_fetcher.toml")
    mod = DATA / "async_fetcher.rs"
    api = shim.check_module(mod.read_text(), scen, str(mod))
    assert api.methods["fetch"].is_async and api.methods["fetch"].params == [("url", "String")]
    src = shim.generate(scen, api, mod, "alloc")
    arm = next(l for l in src.splitlines() if "s.fetch(a0)" in l and "drop(r)" in l)
    order = [arm.index(t) for t in ("opaque(String::from(", "fx_waker()", "Context::from_waker",
                                    "open(ctx)", "fx_drive(s.fetch(a0)", "drop(r)", "close(ctx)")]
    assert order == sorted(order)
    assert "static FX_WAKER_VTABLE" in src and "extern crate" not in src


def test_an_async_constructor_and_a_future_returning_method_are_driven():
    scen = scenario.load(DATA / "async_pinger.toml")
    mod = DATA / "async_pinger.rs"
    api = shim.check_module(mod.read_text(), scen, str(mod))
    assert api.ctors["__create"].is_async and api.methods["later"].is_async
    src = shim.generate(scen, api, mod, "noalloc")
    body = src[src.index("fn fx_construct("):]
    order = [body.index(t) for t in ("let c0 = opaque(5);", "fx_waker()", "open(ctx);",
                                     'fx_drive(Pinger::__create(c0), &mut cx, "__create(5)")', "close(ctx);")]
    assert order == sorted(order)
    assert "fx_drive(s.later(a0), &mut cx" in src
