"""report.html (scripts/faa/html.py): readable findings (no red on red),
a table of contents, the allocating file:line as text, a chart panel per
opt-level, coverage that names the shape that ran, the interposer's live
peak instead of massif, provenance when there is one."""
import copy
import html as htmllib
import json
import re
import shutil
import subprocess

import pytest

from faa import html
from test_junit import FRS, GEN, _fixture, failing, passing
from test_report_md import PORT_RESET_SITES

pytest.importorskip("jinja2")


def render(rep, tmp_path, name="r"):
    out = tmp_path / name
    page = html.write(rep, out).read_text(encoding="utf-8")
    return out, page


def css_rules(page):
    """[(selector, {property: value})] of the page's <style>."""
    style = re.search(r"<style>(.*?)</style>", page, re.S)[1]
    style = re.sub(r"/\*.*?\*/", "", style, flags=re.S)
    rules = []
    for sel, body in re.findall(r"([^{}]+)\{([^}]*)\}", style):
        decls = dict((k.strip(), v.strip()) for k, _, v in
                     (d.partition(":") for d in body.split(";") if ":" in d))
        for s in sel.split(","):
            rules.append((s.strip(), decls))
    return rules


def _lum(hexcolor):
    h = hexcolor.lstrip("#")
    h = "".join(c * 2 for c in h) if len(h) == 3 else h
    ch = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in ch]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a, b):
    x, y = sorted((_lum(a), _lum(b)), reverse=True)
    return (x + 0.05) / (y + 0.05)


def test_only_the_badge_has_a_red_background_and_findings_are_dark_on_pale(tmp_path):
    _, page = render(failing(), tmp_path)
    rules = css_rules(page)
    red = [s for s, d in rules if d.get("background", "").lower() in ("#c62828", "#b71c1c", "red")]
    assert red and all(".badge" in s for s in red), red
    li = [(s, d) for s, d in rules if re.search(r"findings li\b", s)]
    assert li
    for s, d in li:
        bg = d.get("background")
        color = d.get("color") or "#222"
        if bg:
            assert contrast(color, bg) >= 4.5, (s, color, bg)
    # the classes the findings use are not the badge's
    assert '<li class="failure">' in page and '<span class="badge fail">' in page
    assert not re.search(r"(^|[\s,}])\.fail\b", re.sub(r"\.badge\.fail", "", page.split("</style>")[0]))


def test_table_of_contents_links_resolve(tmp_path):
    _, page = render(failing(), tmp_path)
    assert '<nav class="toc" id="contents">' in page
    toc = page[page.index('<nav class="toc"'):page.index("</nav>")]
    targets = set(re.findall(r'href="#([^"]+)"', toc))
    ids = set(re.findall(r'id="([^"]+)"', page))
    assert {"findings", "summary", "chart", "peak", "detail", "fx-port_reset", "fx-lexer"} <= targets
    assert targets <= ids, targets - ids
    # the verdict comes before the contents, the findings right after it
    assert page.index('class="badge fail"') < page.index('id="contents"') < page.index('id="findings"')


def test_findings_show_both_lines_as_text_failures_first(tmp_path):
    _, page = render(failing(), tmp_path)
    findings = page[page.index('id="findings"'):page.index('id="summary"')]
    text = re.sub(r"<[^>]+>", " ", findings)
    assert re.search(r"Frame source\s+" + re.escape(FRS) + r"\s+·\s+generated\s+" + re.escape(GEN), text)
    assert findings.index("FAILURE".lower()) < findings.index('class="error"')
    # multi-line messages in a block, escaped, not cut
    assert '<pre class="msg">error[E0308]: mismatched types' in findings and "Vec&lt;u8&gt;" in findings
    # the site of the failing window is visible text in the fixture's detail, not only a title=
    detail = page[page.index('id="fx-port_reset"'):]
    assert f"<code>{GEN} in _s_Idle_connect" in detail


def test_failing_fixtures_are_open_passing_ones_closed(tmp_path):
    _, page = render(failing(), tmp_path)
    assert re.search(r'<details class="fixture" id="fx-port_reset" open>', page)
    _, page = render(passing(), tmp_path, "p")
    assert '<details class="fixture" id="fx-port_reset">' in page and "<details>" in page


def chart_texts(svg):
    """[(text, fill)] of an SVG chart's <text> elements, in order."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    return [(t.text, t.get("fill")) for t in root.iter(ns + "text")]


def panels(svg):
    """The chart's texts split per panel (at each `rustc -C opt-level=N` title)."""
    out = []
    for text, fill in chart_texts(svg):
        if text.startswith("rustc -C opt-level="):
            out.append([])
        elif out:
            out[-1].append((text, fill))
    return out


def test_the_chart_has_a_panel_per_opt_level_and_shows_an_O0_only_allocation(tmp_path):
    rep = failing().to_json()
    opts, svg = html.chart_allocs(rep, tmp_path / "c.svg", {"port_reset"})
    assert opts == [0, 3] and (tmp_path / "c.svg").read_text() == svg
    o0, o3 = panels(svg)
    assert ("0.50", "#b71c1c") in o0          # port_reset no_alloc O0: 1 allocation in 2 steps
    assert ("0.50", "#b71c1c") not in o3 and ("0", "#333") in o3
    assert ("not run", "#777") in o0          # lexer's no_alloc shape did not build
    assert ("port_reset", "#b71c1c") in o0     # a failing fixture's name is red
    assert ("lexer", "#333") in o0
    out, page = render(failing(), tmp_path)
    assert "one panel per opt-level: O0, O3" in page
    inline = re.search(r'<figure class="chart"[^>]*>(<svg .*?</svg>)', page, re.S)[1]
    assert panels(inline) == panels((out / html.CHART).read_text())   # the page carries the file's chart
    assert ("lexer", "#b71c1c") in panels(inline)[0]     # the page's failing set: lexer failed too


def test_a_stale_png_chart_of_an_earlier_version_is_removed(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "allocs_per_dispatch.png").write_bytes(b"\x89PNG old")
    render(passing(), tmp_path)
    assert not (out / "allocs_per_dispatch.png").exists() and (out / html.CHART).exists()


def test_generated_mode_coverage_names_the_one_shape(tmp_path):
    rep = passing()
    rep.compiler = {"name": "generated", "version": "mutant.rs", "path": "mutant.rs", "bundled": False}
    rep.fixtures = [_fixture("port_reset", modes=("noalloc",))]
    _, page = render(rep, tmp_path)
    cov = page[page.index("Handler coverage"):]
    assert "2/2 handlers exercised in the noalloc shape (the only shape this run audited)" in cov
    assert "✓: exercised by the scenario in the noalloc shape, the only shape this run audited" in cov
    assert "✗</td>" not in cov and "both shapes" not in cov


def test_line_coverage_shows_only_where_lines_are_mapped(tmp_path):
    """framec's output maps no line to the .frs (its handlers are
    recognised by name): no ".frs lines 0/0" for it; frc's counts show."""
    rep = passing()
    fx = _fixture("port_reset", modes=("noalloc",))
    fx.coverage["lines"] = {"noalloc": {"covered": 0, "total": 0}}
    rep.fixtures = [fx]
    _, page = render(rep, tmp_path)
    assert "Handler coverage" in page and ".frs lines" not in page
    fx.coverage["lines"] = {"noalloc": {"covered": 5, "total": 7}}
    _, page = render(rep, tmp_path, "mapped")
    assert ".frs lines noalloc 5/7" in page


def test_coverage_of_a_fixture_whose_other_shape_did_not_build(tmp_path):
    _, page = render(failing(), tmp_path)
    lexer = page[page.index('id="fx-lexer"'):]
    assert "in the alloc shape only (the other was not measured)" in lexer
    assert "the noalloc shape was not measured for this fixture" in lexer


def test_live_peak_from_the_interposer_not_massif(tmp_path):
    rep = failing()
    rep.massif = [{"mode": "alloc", "opt": 3, "fixtures": ["port_reset"], "peak_bytes": 10035,
                   "series": [[0, 0], [5, 10035]]}]
    out, page = render(rep, tmp_path)
    peak = page[page.index('id="peak"'):page.index('id="detail"')]
    assert "96 B" in peak and "24 B" in peak and "step 1 connect()" in peak
    assert "massif.png" not in page and "10035" not in page and not (out / "massif.png").exists()


def test_provenance_rendered_when_present_skipped_when_absent(tmp_path):
    _, page = render(passing(), tmp_path)
    assert 'id="provenance"' in page and "<dt>host.system</dt><dd>Linux</dd>" in page
    rep = passing()
    rep.provenance = None
    _, page = render(rep, tmp_path, "noprov")
    assert 'id="provenance"' not in page and "#provenance" not in page


def with_sites(rep):
    """`rep` with port_reset's 11 allocation sites (test_report_md's)."""
    fx = next(f for f in rep.fixtures if f.name == "port_reset")
    fx.alloc_sites = copy.deepcopy(PORT_RESET_SITES)
    return rep


def site_tables(page, name="port_reset"):
    """(shown rows, folded rows) of a fixture's allocation-site tables:
    [[cell text, ...]] each, the header left out."""
    detail = page[page.index(f'<details class="fixture" id="fx-{name}"'):]
    end = detail.find('<details class="fixture"', 1)
    detail = detail[:end] if end > 0 else detail
    tables = re.findall(r'<table class="sites">(.*?)</table>', detail, re.S)
    rows = [[[htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip()
              for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
             for tr in re.findall(r"<tr>(.*?)</tr>", t, re.S)][1:] for t in tables]
    return rows[0], (rows[1] if len(rows) > 1 else [])


def test_allocation_sites_first_ten_shown_the_rest_folded(tmp_path):
    _, page = render(with_sites(passing()), tmp_path)
    assert page.count("Allocation sites of the allocating shape") == 1
    shown, rest = site_tables(page)
    assert len(shown) == html.SITES_SHOWN == 10 and len(rest) == 1
    assert shown[0] == ["construct", "port_reset.rs:175", "PortReset::__comp_Idle",
                        "fixtures/port_reset.frs:6 system PortReset, start state $Idle", "2.00", "4"]
    assert shown[7] == ["dispatch", "port_reset.rs:195", "PortReset::__comp_Resetting",
                        "fixtures/port_reset.frs:12 handler $Idle.connect", "0.48", "9"]
    assert rest == [["dispatch", "port_reset.rs:215", "PortReset::__comp_Enabled",
                     "fixtures/port_reset.frs:14 handler $Resetting.reset_done", "0.02", "7"]]
    assert '<details class="more-sites"><summary>… and 1 more site(s)</summary>' in page
    assert "O0, 11 sites in port_reset.rs; 1 construction, 46 dispatches, 1 drop" in page
    # per step, as a tooltip: the Exit event once per dispatch of every transition
    assert 'title="calls per dispatch of step 1: 1.00, step 2: 1.00, step 4: 1.00, step 5: 1.00">0.96<' in page


def test_allocation_sites_are_escaped_and_absent_without_valgrind(tmp_path):
    rep = with_sites(failing())
    site = rep.fixtures[0].alloc_sites["sites"][3]
    site["function"] = "Queue<Vec<u8>>::push"
    site["what"] = "handler $Idle.connect <b>x</b> & y"
    _, page = render(rep, tmp_path)
    assert "<code>Queue&lt;Vec&lt;u8&gt;&gt;::push</code>" in page and "<u8>" not in page
    assert "handler $Idle.connect &lt;b&gt;x&lt;/b&gt; &amp; y</td>" in page
    shown, _ = site_tables(page)
    assert shown[3][2:4] == ["Queue<Vec<u8>>::push", "fixtures/port_reset.frs:6 handler $Idle.connect <b>x</b> & y"]
    # the gate's sites of the failing no_alloc window stay as they were
    assert f"<code>{GEN} in _s_Idle_connect" in page and "(attributed by the gate)" in page
    _, page = render(failing(), tmp_path, "none")             # alloc_sites null everywhere
    assert "Allocation sites of the allocating shape" not in page and 'class="sites"' not in page


# ---- in a browser ----------------------------------------------------------

PROBE = """<script>
function rgb(s) { return (s.match(/[\\d.]+/g) || []).map(Number); }
function bg(el) {
  for (; el; el = el.parentElement) {
    const v = rgb(getComputedStyle(el).backgroundColor);
    if (v.length < 4 || v[3] > 0) return v;
  }
  return [255, 255, 255];
}
function lum(v) {
  const a = v.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2];
}
function contrast(el) {
  const [x, y] = [lum(rgb(getComputedStyle(el).color)), lum(bg(el))].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}
const out = {height: document.documentElement.scrollHeight, items: []};
for (const li of document.querySelectorAll('ul.findings li'))
  for (const el of [li, ...li.querySelectorAll('*')])
    out.items.push({cls: li.className, tag: el.tagName, contrast: contrast(el),
                    color: getComputedStyle(el).color, bg: bg(el)});
const b = document.querySelector('.badge');
out.badge = {contrast: contrast(b), bg: bg(b)};
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


def browser():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(args, tmp_path):
    exe = browser()
    if not exe:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}"] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def computed_styles(page_path, tmp_path):
    """What Chromium computes for the findings and the badge of a page."""
    probe = page_path.with_name("probe.html")
    probe.write_text(page_path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    r = chromium(["--dump-dom", probe.as_uri()], tmp_path)
    m = re.search(r'<pre id="probe">(.*?)</pre>', r.stdout, re.S)
    assert m, r.stderr[-1000:]
    return json.loads(htmllib.unescape(m[1]))


def check_readable(styles, verdict):
    """Every text element of every finding reads at WCAG AA contrast
    (4.5:1) on what is behind it; the badge is white on its colour."""
    bad = [i for i in styles["items"] if i["contrast"] < 4.5]
    assert not bad, bad[:3]
    assert styles["badge"]["contrast"] >= 4.5
    red = styles["badge"]["bg"][0] > 150 and styles["badge"]["bg"][1] < 80
    assert red == (verdict == "fail")


def test_findings_are_readable_in_chromium(tmp_path):
    out, _ = render(failing(), tmp_path)
    styles = computed_styles(out / "report.html", tmp_path)
    assert {i["cls"] for i in styles["items"]} >= {"failure", "error"}
    check_readable(styles, "fail")
