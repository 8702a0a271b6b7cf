"""The dispatch bench with C fixtures (faa/bench/dispatch.py, steps.py):
per-target geometric means next to each other, frc's C state-change line
recognised as a transition, bench.json still valid."""

import json
from pathlib import Path

import pytest

from faa.bench import dispatch, steps

ROOT = Path(__file__).resolve().parents[2]


def row(name, target, ns, ir, trans_ir):
    return {"fixture": name, "target": target, "opt": 3, "ns_ratio": ns, "ir_ratio": ir,
            "ir_ratio_transitions": trans_ir, "ir_ratio_transitions_net": trans_ir,
            "transition_step_ratios": {"0": trans_ir}}


def test_summary_has_each_target_beside_the_other():
    rows = [row("port_reset", "rust", 4.0, 40.0, 40.0), row("elevator", "rust", 9.0, 10.0, 90.0),
            row("port_reset.c", "c", 25.0, 160.0, 160.0)]
    s = dispatch._summary(rows)
    assert set(s["by_target"]) == {"rust", "c"}
    assert s["by_target"]["rust"]["geomean_ns_ratio"] == pytest.approx(6.0)
    assert s["by_target"]["rust"]["transition_steps"] == 2
    assert s["by_target"]["c"]["geomean_ir_ratio_transitions"] == pytest.approx(160.0)
    assert s["geomean_ir_ratio"] == pytest.approx((40.0 * 10.0 * 160.0) ** (1 / 3))
    assert "by_target" not in s["by_target"]["c"]


def test_the_c_state_change_line_marks_a_transition(tmp_path):
    gen = tmp_path / "port_reset.c" / "gen" / "noalloc"
    gen.mkdir(parents=True)
    c = gen / "port_reset.c"
    c.write_text("int x;\n    self->__compartment = self->__next_compartment;\n")
    rs = gen / "port_reset.rs"
    rs.write_text("\n\n        self.__compartment = __next;\n")
    assert steps._marks(str(c)) == {2}
    assert steps._marks(str(rs)) == {3}
    assert steps._marks(str(tmp_path / "elsewhere.c")) == set()


def test_bench_json_with_targets_validates():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "schemas" / "bench.schema.json").read_text())
    summary = schema["$defs"]["dispatch_summary"]
    rows = [row("port_reset", "rust", 4.0, 40.0, 40.0), row("port_reset.c", "c", 25.0, 160.0, 160.0)]
    s = dispatch._summary(rows)
    s["fixtures_below_goal"] = []
    resolver = {"$defs": schema["$defs"], **summary}
    jsonschema.validate(s, resolver)
    s["by_target"]["cobol"] = s["by_target"]["c"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(s, resolver)
