"""Constructor arguments (issue 14): a scenario's [construct] `args` (or
`call = "__create(...)"`) reach a system whose `__create` takes two i32s
-- scripts/tests/data/generated/counter_args.rs, a hand-written module in
framec 4.5's shape (no `new()`) -- audited end to end with
`audit run --generated`.  Its scenario also covers a `&str` parameter and
`String`/`&str` returns.  Needs `make build` and rustc."""
import json
import os
import subprocess

import pytest

from conftest import SCRIPTS
from faa import scenario, shim

AUDIT = str(SCRIPTS / "audit")
DATA = SCRIPTS / "tests" / "data" / "generated"
MODULE = DATA / "counter_args.rs"


def audit(build_dir, tmp_path, toml, *extra):
    cmd = [AUDIT, "--build-dir", str(build_dir), "run", "--generated", str(MODULE),
           "--scenario", str(toml), "--mode", "alloc", "--valgrind", "off",
           "--work-dir", str(tmp_path / "w"), "--report-dir", str(tmp_path / "r"), *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=os.environ)
    return r.returncode, r.stdout + r.stderr


def test_a_system_whose_create_takes_two_i32s_is_audited(build_dir, tmp_path):
    status, out = audit(build_dir, tmp_path, DATA / "counter_args.toml")
    assert status == 0, out
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    (fx,) = rep["fixtures"]
    assert [(r["mode"], r["opt"]) for r in fx["runs"]] == [("alloc", 0), ("alloc", 3)]
    for run in fx["runs"]:
        assert (run["construct"]["allocs"], run["construct"]["frees"]) == (3, 1)
        assert [s["call"] for s in run["steps"]] == [
            "tick()", "bump(4)", 'greet("ann")', "tick()", "state_name()", "tick()"]
        assert (run["steps"][4]["allocs"], run["steps"][4]["frees"]) == (0, 0)   # &str return


def test_the_arguments_are_the_ones_the_scenario_gives(build_dir, tmp_path):
    # __create(2, 10) where the scenario's domain expects step 3 after
    # step 1: the observation pass must disagree (the arguments really
    # reach the system), at the scenario's step
    text = (DATA / "counter_args.toml").read_text().replace(
        'args = ["3", "10"]', 'call = "__create(2, 10)"')
    toml = tmp_path / "counter_args.toml"
    toml.write_text(text)
    status, out = audit(build_dir, tmp_path, toml, "--opt", "0")
    assert status == 1, out
    assert (f"FAIL [expect] counter_args alloc O0 step 1 tick(): domain field step is 2, "
            f"the scenario expects 3 ({toml}:10)") in out, out


def test_the_shim_evaluates_constructor_arguments_before_the_window(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('system = "Counter"\n[construct]\ncall = "__create(3, 10)"\n[[step]]\ncall = "tick()"\n')
    scen = scenario.load(p)
    api = shim.check_module(MODULE.read_text(), scen, str(MODULE))
    src = shim.generate(scen, api, MODULE, "alloc")
    body = src[src.index("fn fx_construct("):]
    body = body[:body.index("catch_unwind")]
    order = [body.index(t) for t in ("let c0 = opaque(3);", "let c1 = opaque(10);", "open(ctx);",
                                     "Counter::__create(c0, c1)", "close(ctx);")]
    assert order == sorted(order)
    assert "fx_drive" not in src and "fx_waker" not in src       # no executor in a sync shim
