"""`audit publish` (report.publish, cli cmd_publish, `make publish`) and the
release index it regenerates (release.py): a failing run is refused unless
--allow-failing, the provenance is stamped with the publication date,
report.json is stored compressed, and reports/index.md + index.html list
the releases with the regressions between consecutive ones marked.

The reports are model.Report objects written here: no build, no audit."""
import copy
import gzip
import json
import re
import subprocess

import pytest

from conftest import ROOT, SCRIPTS
from faa import release, junit, report
from faa.errors import UsageError
from faa.model import Report, Window
from test_report_md import PROV, failing, passing

AUDIT = str(SCRIPTS / "audit")


def run_dir(tmp_path, rep, name="run"):
    """A report dir as `audit run` leaves it (the files publish copies)."""
    d = tmp_path / name
    d.mkdir()
    rep.write(d / "report.json")
    (d / "report.md").write_text(report.markdown(rep))
    (d / "junit.xml").write_text(junit.render(rep))
    (d / "report.html").write_text("<html></html>")
    return d


def publish_cli(*args):
    r = subprocess.run([AUDIT, "--build-dir", str(ROOT / "build-none"), "publish", *map(str, args)],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def release_of(version, extra_alloc=0, published="2026-12-01T00:00:00Z"):
    """A passing frc report of `version`; `extra_alloc` more allocations in
    port_reset's allocating O3 step 2."""
    rep = passing()
    rep.compiler["version"] = version
    rep.provenance = {**copy.deepcopy(PROV), "published": published}
    s = rep.fixtures[0].runs[1].steps[1]
    s.allocs += extra_alloc
    return rep


# ---- publish ---------------------------------------------------------------------

def test_publish_writes_report_json_gz_with_the_publication_stamped(tmp_path):
    src = run_dir(tmp_path, passing())
    dest = report.publish(Report.load(src / "report.json"), src, tmp_path / "pub")
    assert dest == tmp_path / "pub" / "frc-0.1.0"
    names = sorted(p.name for p in dest.iterdir())
    assert names == ["junit.xml", "report.html", "report.json.gz", "report.md"], names
    doc = json.loads(gzip.decompress((dest / "report.json.gz").read_bytes()))
    assert doc["provenance"] == {**PROV, "published": doc["provenance"]["published"]}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["provenance"]["published"])
    from test_report_md import provenance_errors
    assert not provenance_errors(doc["provenance"])
    assert (dest / "report.json.gz").stat().st_size < (src / "report.json").stat().st_size
    # what was published reads back as the report it was
    back = release.load_published(dest)
    assert back.to_json() == doc and back.fixtures[0].runs[1].steps[1].allocs == 2


def test_publish_refuses_a_failing_run_unless_allow_failing(tmp_path):
    src = run_dir(tmp_path, failing())
    with pytest.raises(UsageError, match="--allow-failing"):
        report.publish(Report.load(src / "report.json"), src, tmp_path / "pub")
    assert not (tmp_path / "pub" / "frc-0.1.0").exists()
    dest = report.publish(Report.load(src / "report.json"), src, tmp_path / "pub", allow_failing=True)
    assert release.load_published(dest).verdict == "fail"


def test_publish_command_exit_status_force_and_index(tmp_path):
    bad = run_dir(tmp_path, failing(), "bad")
    status, text = publish_cli("--report-dir", bad, "--into", tmp_path / "pub")
    assert status == 2, text
    assert "the run FAILED (2 failure(s))" in text and "--allow-failing" in text
    assert not (tmp_path / "pub").exists() or not any((tmp_path / "pub").iterdir())
    good = run_dir(tmp_path, passing(), "good")
    status, text = publish_cli("--report-dir", good, "--into", tmp_path / "pub")
    assert status == 0, text
    assert (tmp_path / "pub" / "frc-0.1.0" / "report.json.gz").exists()
    assert (tmp_path / "pub" / "index.md").exists() and (tmp_path / "pub" / "index.html").exists()
    assert "1 release(s), 0 regression(s)" in text
    status, text = publish_cli("--report-dir", good, "--into", tmp_path / "pub")
    assert status == 2 and "--force" in text and "FORCE=1" in text
    status, text = publish_cli("--report-dir", bad, "--into", tmp_path / "pub", "--allow-failing",
                               "--force")
    assert status == 0, text
    idx = (tmp_path / "pub" / "index.md").read_text()
    assert "| frc 0.1.0 |" in idx and "| FAIL |" in idx


def test_make_publish_passes_force_and_allow_failing():
    def dry(*var):
        r = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(ROOT), "publish", *var],
                           capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        cmd = r.stdout.strip().splitlines()[-1].split()
        return cmd[cmd.index("publish") + 1:]
    assert dry() == [] and dry("FORCE=0") == []
    assert dry("FORCE=1") == ["--force"]
    assert dry("ALLOW_FAILING=1") == ["--allow-failing"]
    assert dry("FORCE=1", "ALLOW_FAILING=1") == ["--force", "--allow-failing"]


# ---- the release index -------------------------------------------------------------

def publish_releases(tmp_path, *reps):
    into = tmp_path / "reports"
    for i, rep in enumerate(reps):
        src = run_dir(tmp_path, rep, f"run{i}")
        report.publish(Report.load(src / "report.json"), src, into)
    return into


def test_index_of_two_releases_marks_the_regression(tmp_path):
    into = publish_releases(tmp_path, release_of("0.2.0", extra_alloc=1), release_of("0.1.0"))
    n, regressions = release.write_index(into)
    assert (n, regressions) == (2, 1)
    md = (into / "index.md").read_text()
    rows = [ln for ln in md.splitlines() if ln.startswith("| frc ")]
    assert [r.split(" | ")[0] for r in rows] == ["| frc 0.1.0", "| frc 0.2.0"]      # release order
    assert "| first release |" in rows[0] and "| 1 regression(s) vs 0.1.0 |" in rows[1]
    assert "**Regressions in frc 0.2.0** (against frc 0.1.0):" in md
    assert "- `port_reset` alloc O3 step 2 fault(): 2/2/32 → 3/2/32 (allocations/frees/bytes)" in md
    table = md.split("## Allocations per dispatch")[1]
    assert "| fixture | shape | frc 0.1.0 | frc 0.2.0 |" in table
    assert "| port_reset | alloc | 3.25 | ❌ **O0 3.25 · O3 3.50** ▲ |" in table
    assert "| port_reset | noalloc | 0.00 | 0.00 |" in table
    assert "| debounce_button | alloc | 2.00 | 2.00 |" in table
    page = (into / "index.html").read_text()
    assert '<td class="num regression">O0 3.25 · O3 3.50</td>' in page
    assert page.count("regression\">") == 1
    svg = (into / release.TREND_SVG).read_text()
    import xml.etree.ElementTree as ET
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert [t.text for t in root.iter(ns + "text") if t.text in ("frc 0.1.0", "frc 0.2.0")] == \
        ["frc 0.1.0", "frc 0.2.0"]
    rings = [c for c in root.iter(ns + "circle") if c.get("stroke") == "#b71c1c"]
    assert len(rings) == 1                                        # port_reset's regression in 0.2.0
    assert f"![allocations per dispatch across releases]({release.TREND_SVG})" in md


def test_no_regression_between_equal_releases_and_versions_sort_as_numbers(tmp_path):
    into = publish_releases(tmp_path, release_of("0.10.0"), release_of("0.9.1"), release_of("0.9.0"))
    assert release.write_index(into) == (3, 0)
    md = (into / "index.md").read_text()
    assert [ln.split(" | ")[0] for ln in md.splitlines() if ln.startswith("| frc ")] == \
        ["| frc 0.9.0", "| frc 0.9.1", "| frc 0.10.0"]
    assert "❌" not in md.split("## Allocations per dispatch")[1]


def test_a_no_alloc_window_that_starts_counting_is_a_regression(tmp_path):
    newer = release_of("0.2.0")
    newer.fixtures[0].runs[3].steps[0] = Window(phase="step", step=0, frees=1)
    into = publish_releases(tmp_path, release_of("0.1.0"), newer)
    assert release.write_index(into) == (2, 1)
    assert "| port_reset | noalloc | 0.00 | ❌ **0.00** ▲ |" in (into / "index.md").read_text()


def test_an_older_publication_with_plain_report_json_is_read_too(tmp_path):
    into = publish_releases(tmp_path, release_of("0.2.0"))
    old = into / "frc-0.1.0"
    old.mkdir()
    doc = release_of("0.1.0").to_json()
    del doc["provenance"]
    (old / "report.json").write_text(json.dumps(doc))
    assert release.write_index(into) == (2, 0)
    assert "| frc 0.1.0 | ? |" in (into / "index.md").read_text()
    (old / "report.json").write_text("{}")
    with pytest.raises(UsageError, match="frc-0.1.0"):
        release.write_index(into)
