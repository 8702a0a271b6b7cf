"""report.md, the sticky pull-request comment (report.markdown), and the
provenance every report carries (provenance.py, report.json `provenance`).

The reports are model.Report objects built here: no build, no audit.  When
cmark-gfm (GitHub's own Markdown renderer, Debian package cmark-gfm) is
installed, report.md is also rendered and the rendered text checked."""
import copy
import json
import re
import shutil
import subprocess

import pytest

from conftest import ROOT
from faa import compare, provenance, report
from faa.model import CREATE, Finding, FixtureResult, Report, RunResult, Window

CALLS = ["connect()", "fault()", "reset_done()", "connect()"]
# port_reset's allocating counts: (allocs, frees) of the construction and each step
ALLOC = [(2, 0), (4, 4), (2, 2), (3, 3), (4, 4)]
NOALLOC = [(0, 0)] * 5
GEN = "build/audit/port_reset/gen/noalloc/port_reset.rs:244"
FRS = "fixtures/port_reset.frs:12"
RUSTC_ERROR = ("error[E0308]: mismatched types\n"
               " --> port_reset.rs:88:20\n"
               "  |\n"
               "88 |     let v: Vec<u8> = x | y;\n"
               "  |            ^^^^^^^ expected `Vec<u8>`, found `*const u8`\n")


def run(mode, opt, counts):
    steps = [Window(phase="step", step=i, allocs=a, frees=f, bytes=16 * a)
             for i, (a, f) in enumerate(counts[1:])]
    a, f = counts[0]
    return RunResult(mode=mode, opt=opt, construct=Window(phase="construct", step=-1, allocs=a, frees=f),
                     steps=steps, calls=list(CALLS))


PROV = {"date": "2026-12-02T10:11:12Z",
        "audit": {"commit": "a" * 40, "dirty": False},
        "compiler": {"name": "frc", "path": "build/compiler/frc", "version": "0.1.0",
                     "commit": "a" * 40, "dirty": False},
        "rustc": "rustc 1.95.0 (59807616e 2026-04-14)", "valgrind": "valgrind-3.19.0",
        "host": {"system": "Linux", "release": "6.1.0", "machine": "x86_64", "cpus": 2}}


def passing():
    runs = [run("alloc", 0, ALLOC), run("alloc", 3, ALLOC), run("noalloc", 0, NOALLOC),
            run("noalloc", 3, NOALLOC)]
    fx = FixtureResult(name="port_reset", system="PortReset", source="fixtures/port_reset.frs",
                       nostd="ok", size_of={"alloc": 168, "noalloc": 40}, runs=runs)
    other = FixtureResult(name="debounce_button", system="DebouncedButton", source=None, nostd="ok",
                          size_of={"alloc": 176, "noalloc": 56},
                          runs=[run("alloc", 3, [(1, 0), (2, 2)]), run("noalloc", 3, [(0, 0), (0, 0)])])
    return Report(compiler={"name": "frc", "version": "0.1.0", "path": "build/compiler/frc",
                            "bundled": True},
                  exit_status=0, fixtures=[fx, other], provenance=copy.deepcopy(PROV))


def failing():
    """noalloc O0 step 1 allocates (O3 stays at zero); a rustc error with
    `Vec<u8>` and `|` in it; the allocating O3 step 2 allocates once more."""
    rep = passing()
    rep.exit_status = 1
    fx = rep.fixtures[0]
    fx.runs[2].steps[0] = Window(phase="step", step=0, allocs=1, frees=1, bytes=8, stack=["lib.so+0x1"])
    fx.runs[1].steps[1] = Window(phase="step", step=1, allocs=3, frees=2, bytes=48)
    rep.findings = [
        Finding("zero", "port_reset", "port_reset no_alloc O0 step 1 connect(): 1 allocation(s), "
                "1 free(s) [malloc 1, free 1], expected 0; allocated at " + GEN + " in "
                "PortReset::_s_Idle_connect (from " + FRS + ", handler $Idle.connect)",
                opt=0, gen=GEN, frs=FRS),
        Finding("build", "debounce_button", "debounce_button alloc O3: rustc failed:\n" + RUSTC_ERROR),
        Finding("golden", "port_reset", "a note, not a failure", failure=False),
    ]
    return rep


# port_reset's alloc_sites as an audit writes them (sites.py: Valgrind's heap
# tree of the allocating O0 library; 6 steps + 20 x 2 steady replays = 46 dispatches)
_SITE = ("phase", "line", "function", "frs", "what", "calls", "bytes", "per_call", "steps")
PORT_RESET_SITES = {
    "source": "Valgrind memcheck's heap tree (--xtree-memory=full) of faa-run over the allocating "
              "O0 library: the construction, every step, the steady cycle replayed, the drop",
    "mode": "alloc", "opt": 0, "module": "port_reset.rs", "constructions": 1, "dispatches": 46,
    "destroys": 1, "step_dispatches": [21, 21, 1, 1, 1, 1],
    "sites": [dict(zip(_SITE, row)) for row in [
        ("construct", 175, "PortReset::__comp_Idle", "fixtures/port_reset.frs:6",
         "system PortReset, start state $Idle", 2, 8, 2.0, {}),
        ("construct", 90, "PortReset::__create", "fixtures/port_reset.frs:6",
         "system PortReset, start state $Idle", 1, 24, 1.0, {}),
        ("construct", 91, "PortReset::__create", "fixtures/port_reset.frs:6",
         "system PortReset, start state $Idle", 1, 32, 1.0, {}),
        ("dispatch", 141, "PortReset::__drain", "fixtures/port_reset.frs:6", "system PortReset",
         44, 1056, 0.9565, {"1": 21, "2": 21, "4": 1, "5": 1}),
        ("dispatch", 158, "PortReset::__drain", "fixtures/port_reset.frs:6", "system PortReset",
         44, 1056, 0.9565, {"1": 21, "2": 21, "4": 1, "5": 1}),
        ("dispatch", 102, "PortReset::connect", "fixtures/port_reset.frs:8", "interface connect",
         23, 552, 0.5, {"1": 21, "4": 1, "6": 1}),
        ("dispatch", 122, "PortReset::timeout", "fixtures/port_reset.frs:10", "interface timeout",
         22, 528, 0.4783, {"2": 21, "3": 1}),
        ("dispatch", 195, "PortReset::__comp_Resetting", "fixtures/port_reset.frs:12",
         "handler $Idle.connect", 22, 198, 0.4783, {"1": 21, "4": 1}),
        ("dispatch", 175, "PortReset::__comp_Idle", "fixtures/port_reset.frs:15",
         "handler $Resetting.timeout", 21, 84, 0.4565, {"2": 21}),
        ("dispatch", 112, "PortReset::reset_done", "fixtures/port_reset.frs:9",
         "interface reset_done", 1, 24, 0.0217, {"5": 1}),
        ("dispatch", 215, "PortReset::__comp_Enabled", "fixtures/port_reset.frs:14",
         "handler $Resetting.reset_done", 1, 7, 0.0217, {"5": 1}),
    ]]}


def with_sites():
    """passing() with port_reset's 11 allocation sites (debounce_button's
    stay null: Valgrind did not run it)."""
    rep = passing()
    rep.fixtures[0].alloc_sites = copy.deepcopy(PORT_RESET_SITES)
    return rep


def previous_of(rep, **kw):
    """A Previous holding the windows of `rep` (a report.json of the last run)."""
    return report.Previous("build/reports-main/report.json", compare.of_report(rep), "frc 0.1.0", **kw)


def body(md):
    """report.md up to the <details> block (what a reader sees unfolded)."""
    return md.split("<details>")[0]


def cmark(md):
    exe = shutil.which("cmark-gfm")
    if not exe:
        pytest.skip("cmark-gfm not installed (apt-get install -y cmark-gfm)")
    return subprocess.run([exe, "--unsafe", "-e", "table"], input=md, capture_output=True,
                          text=True, check=True).stdout


# ---- a passing run ------------------------------------------------------------

def test_passing_report_is_the_verdict_a_delta_line_and_the_table_folded():
    rep = passing()
    prev = passing()
    prev.fixtures[0].runs[1].steps[2] = Window(phase="step", step=2, allocs=5, frees=5, bytes=80)
    md = report.markdown(rep, previous_of(prev))
    lines = md.splitlines()
    assert lines[0] == report.MD_MARKER
    assert lines[1] == "### ✅ frame-alloc-audit: **PASS** — frc 0.1.0"
    assert ("Against `build/reports-main/report.json` (frc 0.1.0): 1 window changed, 0 regressions, "
            "1 improvement (allocations/frees/bytes per window).") in md
    # only the changed row, marked ✅ (fewer allocations is no failure)
    rows = [ln for ln in body(md).splitlines() if ln.startswith("| ")]
    assert rows[1:] == ["| ✅ | port_reset | alloc | O3 | step 3 reset_done() | improvement | 5/5/80 | "
                        "3/3/48 |"], rows
    # short: a few lines before the folded table
    assert len(body(md).strip().splitlines()) <= 10, body(md)
    assert "**Failures**" not in md
    # every fixture x shape x opt-level inside <details>
    details = md.split("<details>")[1]
    assert details.count("| port_reset |") == 4 and details.count("| debounce_button |") == 2
    assert "| port_reset | noalloc | O3 | 0.00 | 0 |" in details and "❌" not in details
    assert md.rstrip().endswith("</details>")


def test_no_previous_run_and_nothing_changed_are_said_in_words():
    md = report.markdown(passing())
    assert "No previous run to compare" in md
    assert "| ✅ |" not in body(md) and "| ❌ |" not in body(md)
    same = report.markdown(passing(), previous_of(passing()))
    assert "0 windows changed, 0 regressions, 0 improvements" in same


def test_baseline_json_compares_the_allocating_shape_and_any_change_fails_it(tmp_path):
    """reports/baseline.json holds the allocating counts only: the no_alloc
    windows are not 'new', and any change fails the baseline rule (❌)."""
    from faa.model import Baseline
    base = Baseline.of_windows(compare.of_report(passing()), "frc", "0.1.0")
    base.write(tmp_path / "baseline.json")
    rep = passing()
    rep.fixtures[0].runs[0].steps[3] = Window(phase="step", step=3, allocs=2, frees=3, bytes=40)
    prev = report.previous(tmp_path / "baseline.json", rep)
    assert prev.modes == ("alloc",) and prev.any_change_fails
    md = report.markdown(rep, prev)
    assert "1 window changed, 0 regressions, 1 improvement (allocations/frees/bytes per window)" in md
    # a baseline.json records no bytes: before is allocations/frees
    assert "| ❌ | port_reset | alloc | O0 | step 4 connect() | improvement | 4/4 | 2/3/40 |" in md
    assert "| port_reset | alloc | O0 | 2.75 | 4 | 46 | 168 | ❌ |" in md
    assert "new" not in md.split("\n")[3]
    other = Baseline.of_windows(compare.of_report(passing()), "framec", "0.12")
    other.write(tmp_path / "other.json")
    assert report.previous(tmp_path / "other.json", rep) is None     # another compiler's


def test_more_bytes_is_a_regression_row_the_gate_passes_and_missing_windows_are_counted():
    old = passing()
    old.fixtures[0].runs[0].steps.append(Window(phase="step", step=4, allocs=1, frees=1))
    old.fixtures[0].runs[0].calls.append("halt()")
    rep = passing()
    s = rep.fixtures[0].runs[0].steps[0]
    s.bytes += 16                                   # same allocations, more bytes
    md = report.markdown(rep, previous_of(old))
    assert "1 window changed, 1 regression, 0 improvements, 1 missing" in md
    rows = [ln for ln in body(md).splitlines() if ln.startswith("| ")][1:]
    assert rows == ["| ✅ | port_reset | alloc | O0 | step 1 connect() | regression | 4/4/64 | 4/4/80 |",
                    "| ✅ | port_reset | alloc | O0 | step 5 halt() | missing | 1/1/0 | — |"], rows


# ---- a failing run ------------------------------------------------------------

def test_failing_report_rows_marks_and_failures():
    rep = failing()
    md = report.markdown(rep, previous_of(passing()))
    assert md.splitlines()[1] == "### ❌ frame-alloc-audit: **FAIL** — frc 0.1.0"
    assert "2 windows changed, 2 regressions, 0 improvements" in md
    rows = [ln for ln in body(md).splitlines() if ln.startswith("| ")][1:]
    assert rows == ["| ❌ | port_reset | alloc | O3 | step 2 fault() | regression | 2/2/32 | 3/2/48 |",
                    "| ❌ | port_reset | noalloc | O0 | step 1 connect() | regression | 0/0/0 | 1/1/8 |"], rows
    # ❌ per row whose counts fail, not per fixture: noalloc O3 of the same fixture reads 0
    details = md.split("<details>")[1]
    assert "| port_reset | noalloc | O3 | 0.00 | 0 | 0 | 40 | ✅ |" in details
    assert "| port_reset | noalloc | O0 | 0.25 | 1 | 2 | 40 | ❌ |" in details
    assert "| port_reset | alloc | O0 | 3.25 | 4 | 52 | 168 | ✅ |" in details
    assert "| port_reset | alloc | O3 | 3.50 | 4 | 56 | 168 | ❌ |" in details      # the regression
    assert "**Failures** (2)" in md and "a note, not a failure" not in md


def test_a_failure_starts_with_its_allocating_line():
    md = report.markdown(failing())
    zero = next(ln for ln in md.splitlines() if "**zero**" in ln)
    assert zero.startswith(f"- `{FRS}` · `{GEN}` **zero** port_reset no_alloc O0 step 1 connect()")
    build = next(ln for ln in md.splitlines() if "**build**" in ln)
    assert build == "- `port_reset.rs:88:20` **build** debounce_button alloc O3: rustc failed:"


def test_a_multi_line_message_is_fenced_verbatim():
    md = report.markdown(failing())
    fence = md.index("  ```text\n")
    block = md[fence:md.index("  ```\n", fence + 1) + 6]
    for line in RUSTC_ERROR.splitlines():
        assert ("  " + line if line else "") in block.splitlines(), line
    html = cmark(md)
    assert "<pre><code class=\"language-text\">error[E0308]: mismatched types\n" in html, html
    assert "let v: Vec&lt;u8&gt; = x | y;" in html


def test_a_message_holding_a_fence_gets_a_longer_one():
    rep = failing()
    rep.findings[1].message = "rustc failed:\n```\nnot the end\n```\n"
    md = report.markdown(rep)
    assert "  ````text" in md and "not the end" in md


def test_every_text_is_escaped_for_github_markdown():
    assert report.md_text("Vec<u8>") == "Vec&lt;u8&gt;"
    assert report.md_text("a|b *c* `d` [e](f) ~g~ $x$ #1") == \
        "a\\|b \\*c\\* \\`d\\` \\[e\\](f) \\~g\\~ \\$x\\$ \\#1"
    assert report.md_text("__create() _s_Idle_connect port_reset") == \
        "\\_\\_create() \\_s_Idle_connect port_reset"
    assert report.md_text("two\nlines", cell=True) == "two lines"
    assert report.md_code("a`b|c", cell=True) == "``a`b\\|c``"
    rep = failing()
    rep.fixtures[0].name = "weird|<name>*_x_"
    rep.findings[0].message = "Vec<u8> | *not bold* _not em_ `tick` <b>no html</b>"
    rep.findings[0].gen = rep.findings[0].frs = None
    html = cmark(report.markdown(rep))
    assert "Vec&lt;u8&gt; | *not bold* _not em_ `tick` &lt;b&gt;no html&lt;/b&gt;" in html
    assert "<em>" not in html and "<strong>not" not in html and "<b>" not in html
    assert "<td>weird|&lt;name&gt;*_x_</td>" in html
    # every table row keeps its columns: 7 in the changed table, 8 in the full one
    for table in re.findall(r"<table>.*?</table>", html, re.S):
        counts = {len(re.findall(r"<t[dh][ >]", tr)) for tr in re.findall(r"<tr>.*?</tr>", table, re.S)}
        assert len(counts) == 1, counts


def test_the_whole_comment_renders_as_github_would():
    html = cmark(report.markdown(failing(), previous_of(passing())))
    assert "<details><summary>Every fixture × shape × opt-level (6)</summary>" in html
    assert "<h3>❌ frame-alloc-audit: <strong>FAIL</strong> — frc 0.1.0</h3>" in html
    assert "<sub>audit aaaaaaaaaaaa · frc 0.1.0 at build/compiler/frc" in html
    assert html.count("<table>") == 2


# ---- the allocating shape's allocation sites (report.json alloc_sites) ---------

SITES_HEAD = ("| phase | generated line | Rust function | .frs construct | calls per dispatch | "
              "bytes per call |")


def site_table(md, fixture="port_reset"):
    """The rows of `fixture`'s allocation-site table in report.md."""
    part = md.split(f"`{fixture}` — ", 1)[1].split("\n\n", 3)
    assert part[1].startswith(SITES_HEAD), part
    return part[1].splitlines()[2:], part[2]


def test_the_allocation_sites_are_a_table_inside_details_capped_with_and_n_more():
    md = report.markdown(with_sites())
    assert "Allocation sites" not in body(md)                 # a passing comment stays short
    assert len(body(md).strip().splitlines()) <= 10
    details = md.split("<details>")[1]
    assert details.startswith("<summary>Every fixture × shape × opt-level (6), allocation sites</summary>")
    assert "`port_reset` — O0, 11 sites in port_reset.rs; 1 construction, 46 dispatches, 1 drop" in details
    rows, after = site_table(md)
    assert len(rows) == report.MD_SITES_ROWS == 10
    assert rows[0] == ("| construct | `port_reset.rs:175` | `PortReset::__comp_Idle` | "
                       "`fixtures/port_reset.frs:6` system PortReset, start state \\$Idle | 2.00 | 4 |")
    assert rows[3] == ("| dispatch | `port_reset.rs:141` | `PortReset::__drain` | "
                       "`fixtures/port_reset.frs:6` system PortReset | 0.96 | 24 |")
    assert rows[7] == ("| dispatch | `port_reset.rs:195` | `PortReset::__comp_Resetting` | "
                       "`fixtures/port_reset.frs:12` handler \\$Idle.connect | 0.48 | 9 |")
    # the 11th site (1 call in 46 dispatches) is counted, not shown
    assert after.startswith("… and 1 more site(s): report.html and report.json list them all.")
    assert "port_reset.rs:215" not in md
    # debounce_button's alloc_sites is null: no table for it
    assert "`debounce_button` —" not in md


def test_no_allocation_sites_render_when_valgrind_did_not_run():
    md = report.markdown(passing())                          # every alloc_sites null
    assert "Allocation sites" not in md and "allocation sites" not in md
    assert "<summary>Every fixture × shape × opt-level (6)</summary>" in md
    assert SITES_HEAD not in md


def test_allocation_sites_are_escaped_and_keep_their_columns():
    rep = with_sites()
    site = rep.fixtures[0].alloc_sites["sites"][3]
    site["function"] = "Queue<Vec<u8>>::push|pop"
    site["what"] = "handler $Idle.connect | *not em* `tick` <b>x</b>"
    md = report.markdown(rep)
    row = site_table(md)[0][3]
    assert ("| `Queue<Vec<u8>>::push\\|pop` | `fixtures/port_reset.frs:6` handler \\$Idle.connect \\| "
            "\\*not em\\* \\`tick\\` &lt;b&gt;x&lt;/b&gt; |") in row, row
    html = cmark(md)
    assert "<td><code>Queue&lt;Vec&lt;u8&gt;&gt;::push|pop</code></td>" in html
    assert "handler $Idle.connect | *not em* `tick` &lt;b&gt;x&lt;/b&gt;</td>" in html
    assert "<td><code>PortReset::__drain</code></td>" in html
    table = re.findall(r"<table>.*?</table>", html, re.S)[-1]
    counts = {len(re.findall(r"<t[dh][ >]", tr)) for tr in re.findall(r"<tr>.*?</tr>", table, re.S)}
    assert counts == {6}, counts


def test_allocation_sites_that_do_not_fit_in_a_comment_are_counted():
    """report.md stays under a GitHub comment's 65536 characters: the
    tables of the fixtures that do not fit are counted, not shown."""
    rep = with_sites()
    one = rep.fixtures[0]
    rep.fixtures = [copy.deepcopy(one) for _ in range(60)]
    for i, fx in enumerate(rep.fixtures):
        fx.name = f"port_reset_{i}"
    md = report.markdown(rep)
    assert len(md) <= report.MD_MAX_CHARS
    shown = md.count(SITES_HEAD)
    assert 20 < shown < 60
    assert (f"… the allocation sites of {60 - shown} more fixture(s) do not fit in a pull-request "
            f"comment: report.html and report.json list them all.") in md
    assert md.rstrip().endswith("</details>")


# ---- provenance -----------------------------------------------------------------

def provenance_errors(doc):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    v = jsonschema.Draft202012Validator({"$ref": "#/$defs/provenance", "$defs": schema["$defs"]})
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


def test_provenance_of_this_machine_has_every_field_and_validates():
    p = provenance.collect({"name": "frc", "path": str(ROOT / "build" / "compiler" / "frc"),
                            "version": "0.1.0"})
    assert not provenance_errors(p), provenance_errors(p)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p["date"])
    assert re.fullmatch(r"[0-9a-f]{40}", p["audit"]["commit"])          # this checkout is a git tree
    assert isinstance(p["audit"]["dirty"], bool)
    assert p["compiler"]["path"] == "build/compiler/frc"                 # relative to the project
    assert p["compiler"]["commit"] == p["audit"]["commit"]
    assert p["rustc"].startswith("rustc ")
    assert p["host"]["cpus"] >= 1 and p["host"]["system"] and p["host"]["machine"]
    assert (p["valgrind"] is None) == (shutil.which("valgrind") is None)


def test_provenance_outside_a_git_tree_says_unknown(tmp_path):
    fake = tmp_path / "framec"
    fake.write_text("#!/bin/sh\necho framec 0.12.0\n")
    (tmp_path / "audit").mkdir()
    p = provenance.collect({"name": "framec", "path": str(fake), "version": "0.12.0"},
                           root=tmp_path / "audit")
    assert p["audit"] == {"commit": "unknown", "dirty": None}
    assert p["compiler"] == {"name": "framec", "path": str(fake), "version": "0.12.0",
                             "commit": None, "dirty": None}
    assert not provenance_errors(p)


def test_provenance_schema_rejects_broken_provenance():
    assert not provenance_errors(PROV)
    for broken in ({k: v for k, v in PROV.items() if k != "rustc"},
                   {**PROV, "date": "yesterday"},
                   {**PROV, "audit": {"commit": "abc", "dirty": False}},
                   {**PROV, "host": {**PROV["host"], "cpus": 0}},
                   {**PROV, "surprise": 1}):
        assert provenance_errors(broken), broken


def test_provenance_is_one_line_of_report_md_and_survives_the_json_round_trip():
    rep = passing()
    md = report.markdown(rep)
    (line,) = [ln for ln in md.splitlines() if ln.startswith("<sub>")]
    assert line == ("<sub>audit aaaaaaaaaaaa · frc 0.1.0 at build/compiler/frc (commit aaaaaaaaaaaa) · "
                    "rustc 1.95.0 (59807616e 2026-04-14) · valgrind-3.19.0 · Linux 6.1.0 x86_64, "
                    "2 CPUs · 2026-12-02T10:11:12Z</sub>")
    doc = rep.to_json()
    assert doc["provenance"] == PROV and Report.from_json(doc).provenance == PROV


def test_an_older_report_without_provenance_still_loads_and_renders(tmp_path):
    doc = passing().to_json()
    del doc["provenance"]
    (tmp_path / "report.json").write_text(json.dumps(doc))
    old = Report.load(tmp_path / "report.json")
    assert old.provenance is None and "provenance" not in old.to_json()
    md = report.markdown(old)
    assert "<sub>" not in md and "**PASS**" in md


def test_paths_become_relative_to_the_project_or_the_work_dir(tmp_path):
    work, fixtures = tmp_path / "work", tmp_path / "fx"
    doc = {"compiler": {"path": f"{ROOT}/build/compiler/frc"},
           "source": f"{fixtures}/port_reset.frs",
           "log": f"{work}/valgrind/lib.memcheck.log",
           "stack": [f"{work}/bundles/lib/libfxb.so+0x1a", "/lib/x86_64-linux-gnu/libc.so.6+0x27305"],
           "message": f"at {ROOT}/build/audit/m.rs:3 (see {work}/valgrind/x.log); not {ROOT}x/y",
           "n": 3}
    got = report.portable(doc, work, fixtures)
    assert got == {"compiler": {"path": "build/compiler/frc"},
                   "source": "$FIXTURES/port_reset.frs",
                   "log": "$WORK/valgrind/lib.memcheck.log",
                   "stack": ["$WORK/bundles/lib/libfxb.so+0x1a", "/lib/x86_64-linux-gnu/libc.so.6+0x27305"],
                   "message": f"at build/audit/m.rs:3 (see $WORK/valgrind/x.log); not {ROOT}x/y",
                   "n": 3}
    # a work dir inside the project is named from the project root
    inside = report.portable({"log": f"{ROOT}/build/audit/valgrind/a.log"}, ROOT / "build" / "audit")
    assert inside == {"log": "build/audit/valgrind/a.log"}


def test_window_keys_of_the_tables_name_the_construction():
    rep = passing()
    rep.fixtures[0].runs[2].construct = Window(phase="construct", step=-1, allocs=1)
    rows = report.change_rows(rep, None)
    assert rows == [(False, "port_reset", "noalloc", 0, CREATE, "no_alloc count", "—", "1/0/0")]


def test_every_report_the_audit_builds_carries_provenance_and_validates(tmp_path):
    """report.build, as audit.write_report calls it: the report.json of even
    an empty run validates with its provenance, compiler path relative."""
    jsonschema = pytest.importorskip("jsonschema")
    from faa import build
    frc = build.Compiler(path=str(ROOT / "build" / "compiler" / "frc"), name="frc", version="0.1.0",
                         bundled=True)
    rep = report.build([], [], {}, frc, [], [], 0, work_dir=tmp_path / "work",
                       fixtures_dir=ROOT / "fixtures")
    doc = rep.to_json()
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    errs = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]
    assert not errs, errs
    assert doc["compiler"]["path"] == doc["provenance"]["compiler"]["path"] == "build/compiler/frc"
    assert doc["provenance"]["compiler"]["name"] == "frc"
