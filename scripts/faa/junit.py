"""junit.xml: the audit's JUnit report for CI systems (Jenkins xunit,
GitLab, GitHub test reporters), built with xml.etree.ElementTree from a
model.Report.  The default validates against the strict JUnit schema in
scripts/tests/data/junit/junit.xsd (Jenkins xunit's structure, with
`errors`, `time`, `timestamp`, `hostname`, `id` and `package` required).

Cases: the same set for a passing and a failing run of one selection.

  testsuite FIXTURE (one per fixture):
    classname FIXTURE  name MODE.On     one per shape x opt-level of the run (`noalloc.O3`;
                                        a C fixture's `c.noalloc.O3`: target x shape x opt);
                                        a shape that was not measured is an <error>
    classname FIXTURE  name checks      always: the fixture's findings about no single shape
                                        and opt-level (build, nostd, coverage, differential, ...)
  testsuite skipped   classname FIXTURE name scenario    fixtures/SKIP.toml entries (<skipped>)
  testsuite audit     classname audit   name run         findings about the whole run ('*')
                      classname audit   name CHECK       coverage, second_counter, memcheck,
                                        baseline, rejects: <skipped> when it could not run
                                        (under --strict the `strict` finding fails `run`)
  testsuite reject    classname reject  name FIXTURE     each fixtures/reject/*.frs

<error> or <failure> (ERROR_RULES): an error is the audit failing to
measure or judge (the code did not build, the no_std proof or a Valgrind
tool could not run, the library panicked, the harness or the interposer's
calibration broke); a failure is the compiler's output breaking a rule
(zero, a no_std proof that found the heap, baseline, differential, expect,
steady, valgrind-count, memcheck errors or leaks, coverage, reject,
scenario, strict).  Notes (findings that are not failures) go to the
case's <system-out>.  The allocating `file:line` (generated module and
.frs) heads the failure text; `message` is the first line, cut at a word
boundary.

time: a shape case's measured dispatch time (the timing batches'
dispatches x median ns); the report holds no wall time, so a suite's time
is the sum of its cases' unless `durations` ({fixture: seconds}) says.

Flavours: `plain` (the default, schema-valid) and `gitlab`, which adds
`file` and `line` attributes to a testcase with a location (the .frs line,
else the generated one): GitLab and some other readers show them, the
strict schema does not allow them.  annotations() prints GitHub workflow
commands (`::error file=F,line=N,title=T::MSG`) for findings with a
location.
"""

import datetime
import re
import socket
import xml.etree.ElementTree as ET

from .model import write_atomic

FLAVOURS = ("plain", "gitlab")
ANNOTATIONS = ("github",)
PACKAGE = "frame-alloc-audit"
# The run-wide checks (report.json's `unchecked` enum): one case each.
CHECKS = ("coverage", "second counter", "memcheck", "baseline", "rejects")
ERROR_RULES = frozenset({"build", "panic", "harness", "calibration", "massif"})
MESSAGE_MAX = 200

_SHAPE = re.compile(r"^(?P<fx>\S+) (?P<mode>alloc|noalloc|no_alloc) O(?P<opt>\d+)\b")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LOC = re.compile(r"(?P<file>[\w./+-]+\.(?P<ext>frs|rs)):(?P<line>\d+)\b")


def kind(f):
    """'error', 'failure' or 'note' for a model.Finding (see ERROR_RULES)."""
    if not f.failure:
        return "note"
    if f.rule in ERROR_RULES:
        return "error"
    if f.rule == "nostd" and "could not" in f.message:
        return "error"
    if f.rule == "memcheck" and not re.search(r"memcheck: \d+ error", f.message):
        return "error"          # faa-run exited / timed out under memcheck: the tool, not the code
    return "failure"


def where(f):
    """(generated `file:line` or None, .frs `file:line` or None) of a
    finding: its own fields (zero rule), else the first of each kind its
    message names."""
    gen, frs = f.gen, f.frs
    for m in _LOC.finditer(f.message):
        if m["ext"] == "frs" and not frs:
            frs = m[0]
        elif m["ext"] == "rs" and not gen:
            gen = m[0]
    return gen, frs


def shape_of(f):
    """(mode, opt) a finding is about, or None when it is about several."""
    m = _SHAPE.match(f.message)
    if m and m["fx"] == f.fixture:
        return ("noalloc" if m["mode"] == "no_alloc" else m["mode"], int(m["opt"]))
    if f.rule == "zero" and f.opt is not None:
        return ("noalloc", f.opt)
    return None


def short(text, limit=MESSAGE_MAX):
    """The first line of `text`, cut at whitespace (never inside a word,
    path or identifier) when longer than `limit`."""
    line = text.strip().split("\n", 1)[0].strip()
    if len(line) <= limit:
        return line
    cut = line.rfind(" ", 0, limit)
    return (line[:cut] if cut > limit // 3 else line[:limit]).rstrip(" ,;:") + " …"


def _planned(rep):
    """The shape x opt-level cases: what ran anywhere in the report."""
    modes = sorted({r.mode for fx in rep.fixtures for r in fx.runs})
    opts = sorted({r.opt for fx in rep.fixtures for r in fx.runs})
    if rep.compiler.get("name") == "generated" and modes:
        return [(m, o) for m in modes for o in opts]
    return [(m, o) for m in ("alloc", "noalloc") for o in (opts or [0, 3])]


class Case:
    """One testcase: what it holds before it becomes XML."""

    def __init__(self, classname, name, time=0.0):
        self.classname, self.name, self.time = classname, name, time
        self.findings, self.problems, self.notes, self.skip = [], [], [], None
        self.skip_type = "unchecked"
        self.location = None

    def add(self, f):
        (self.notes if not f.failure else self.findings).append(f)
        if f.failure and not self.location:
            gen, frs = where(f)
            self.location = frs or gen

    @property
    def outcome(self):
        kinds = {kind(f) for f in self.findings} | ({"error"} if self.problems else set())
        return "error" if "error" in kinds else ("failure" if kinds else None)


def _locations(f):
    """`fixtures/x.frs:12 · generated …/x.rs:244` of a finding, or ''."""
    gen, frs = where(f)
    return " · ".join(t for t in (f"at {frs}" if frs else "", f"generated {gen}" if gen else "") if t)


def _text(f):
    """A finding in a failure's text: the allocating lines first."""
    loc = _locations(f)
    return f"[{f.rule}] " + (f"{loc}\n" if loc else "") + f.message


def _message(f):
    """The `message` attribute: where (the .frs line, the generated file's
    name and line), then the finding's first line."""
    gen, frs = where(f)
    where_ = " ".join(t for t in (frs, f"({gen.rsplit('/', 1)[-1]})" if gen and frs else gen) if t)
    return f"{where_}: {f.message}" if where_ and where_ not in short(f.message) else f.message


def _fixture_cases(rep, fx, planned):
    runs = {(r.mode, r.opt): r for r in fx.runs}
    lang = "" if fx.target == "rust" else f"{fx.target}."      # target x shape x opt: c.noalloc.O3
    cases = {key: Case(fx.name, f"{lang}{key[0]}.O{key[1]}", _dispatch_time(runs.get(key)))
             for key in planned}
    checks = Case(fx.name, "checks")
    for f in rep.findings:
        if f.fixture == fx.name:
            cases.get(shape_of(f), checks).add(f)
    errors = [f for f in checks.findings if kind(f) == "error"]
    why = "; ".join(dict.fromkeys(f"{f.rule} " + (" ".join(x for x in where(f) if x) or short(f.message, 80))
                                  for f in errors))
    for key, c in cases.items():
        if key not in runs and not c.findings:
            c.problems.append(f"{fx.name} {key[0]} O{key[1]} was not measured: "
                              + (f"{why} (see {fx.name}.checks)" if why else "no library was built for it"))
    return list(cases.values()) + [checks]


def _dispatch_time(run):
    t = run.timing if run else None
    if not t:
        return 0.0
    return t.get("dispatches", 0) * t.get("median_ns", 0.0) / 1e9


def _audit_cases(rep):
    run = Case("audit", "run")
    named = {fx.name for fx in rep.fixtures}
    strays = {}
    for f in rep.findings:
        if f.fixture == "*":
            run.add(f)
        elif f.fixture not in named and f.rule != "reject":
            strays.setdefault(f.fixture, Case(f.fixture, "checks")).add(f)
    checks = []
    for what in CHECKS:
        c = Case("audit", what.replace(" ", "_"))
        why = rep.unchecked_why.get(what)
        if what == "rejects" and not rep.rejects and not why:
            why = "no reject fixture was checked in this run"
        if why is not None:
            c.skip = f"not checked: {why}" + (" (--strict: a failure, see audit.run)" if rep.strict else "")
        checks.append(c)
    return [run] + checks, list(strays.values())


def cases(rep, planned=None):
    """[(suite name, [Case])] of a model.Report (see the module docstring)."""
    planned = planned or _planned(rep)
    suites = [(fx.name, _fixture_cases(rep, fx, planned)) for fx in rep.fixtures]
    audit, strays = _audit_cases(rep)
    for c in strays:
        suites.append((c.classname, [c]))
    if rep.skipped:
        skipped = []
        for name, why in sorted(rep.skipped.items()):
            c = Case(name, "scenario")
            c.skip, c.skip_type = f"fixtures/SKIP.toml: {why}", "SKIP.toml"
            skipped.append(c)
        suites.append(("skipped", skipped))
    suites.append(("audit", audit))
    if rep.rejects:
        rej = []
        for x in rep.rejects:
            c = Case("reject", x["fixture"])
            for f in rep.findings:
                if f.rule == "reject" and f.fixture == x["fixture"]:
                    c.add(f)
            rej.append(c)
        suites.append(("reject", rej))
    return suites


def _num(x):
    return f"{x:.6f}".rstrip("0").rstrip(".") if x else "0"


def _clean(text):
    """XML 1.0 has no control characters but tab and newline: the rest
    (a terminal colour from rustc, a NUL) become visible `\\xNN`."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", str(text))


def _outcome_xml(el, c, outcome):
    bad = [f for f in c.findings if kind(f) == outcome]
    first = bad[0] if bad else None
    if first is None:
        msg, typ = c.problems[0], "not-measured"
    else:
        msg, typ = _message(first), first.rule
    body = "\n\n".join(c.problems + [_text(f) for f in c.findings])
    ET.SubElement(el, outcome, {"message": _clean(short(msg)), "type": typ}).text = _clean(body)


def _case_xml(c, flavour):
    attrs = {"name": _clean(c.name), "classname": _clean(c.classname), "time": _num(c.time)}
    if flavour == "gitlab" and c.location:
        file, line = c.location.rsplit(":", 1)
        attrs.update(file=_clean(file), line=line)
    el = ET.Element("testcase", attrs)
    if c.skip:
        ET.SubElement(el, "skipped", {"message": _clean(short(c.skip)), "type": c.skip_type}).text = \
            _clean(c.skip)
    if c.outcome:
        _outcome_xml(el, c, c.outcome)
    if c.notes:
        ET.SubElement(el, "system-out").text = _clean("\n".join(f"note {_text(f)}" for f in c.notes))
    return el


def _count(cs):
    out = {"tests": len(cs), "failures": 0, "errors": 0, "skipped": 0}
    for c in cs:
        if c.outcome:
            out[c.outcome + "s"] += 1
        elif c.skip:
            out["skipped"] += 1
    return out


def timestamp(rep):
    """ISO 8601 without a zone (the schema's pattern), UTC: the report's
    provenance date when it has one, else now."""
    prov = getattr(rep, "provenance", None) or {}
    date = prov.get("date") if isinstance(prov, dict) else None
    try:
        t = datetime.datetime.fromisoformat(str(date).replace("Z", "+00:00"))
        if t.tzinfo:
            t = t.astimezone(datetime.timezone.utc)
    except (TypeError, ValueError):
        t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def _hostname(rep):
    prov = getattr(rep, "provenance", None) or {}
    host = prov.get("host") if isinstance(prov, dict) else None
    if isinstance(host, dict):
        host = host.get("name") or host.get("hostname")
    return str(host or socket.gethostname() or "localhost").split()[0] or "localhost"


def build(rep, flavour="plain", durations=None, planned=None):
    """The <testsuites> element of a model.Report."""
    if flavour not in FLAVOURS:
        raise ValueError(f"junit flavour {flavour!r}: one of {', '.join(FLAVOURS)}")
    durations = durations or {}
    stamp, host = timestamp(rep), _hostname(rep)
    root = ET.Element("testsuites", {"name": PACKAGE})
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    for i, (name, cs) in enumerate(cases(rep, planned)):
        n = _count(cs)
        t = durations.get(name, sum(c.time for c in cs))
        seconds += t
        suite = ET.SubElement(root, "testsuite", {
            "name": name, **{k: str(v) for k, v in n.items()}, "time": _num(t),
            "timestamp": stamp, "hostname": host, "id": str(i), "package": PACKAGE})
        for c in cs:
            suite.append(_case_xml(c, flavour))
        for k in total:
            total[k] += n[k]
    root.attrib.update({k: str(v) for k, v in total.items() if k != "skipped"})
    root.set("time", _num(seconds))
    return root


def render(rep, flavour="plain", durations=None, planned=None):
    root = build(rep, flavour, durations, planned)
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(rep, path, flavour="plain", durations=None, planned=None):
    """junit.xml of a model.Report at `path` (written atomically)."""
    write_atomic(path, render(rep, flavour, durations, planned))


def _escape(text, prop=False):
    """GitHub workflow command escaping (data; properties also : and ,)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def annotations(rep, style="github"):
    """Lines `::error file=F,line=N,title=T::MSG` (::warning for notes) for
    the findings that name a .frs or generated line."""
    if style not in ANNOTATIONS:
        raise ValueError(f"annotations {style!r}: one of {', '.join(ANNOTATIONS)}")
    out = []
    for f in rep.findings:
        gen, frs = where(f)
        loc = frs or gen
        if not loc:
            continue
        file, line = loc.rsplit(":", 1)
        level = "warning" if not f.failure else "error"
        title = f"frame-alloc-audit {f.rule}: {f.fixture}"
        msg = f.message + (f"\ngenerated: {gen}" if gen and frs else "")
        out.append(f"::{level} file={_escape(file, True)},line={line},"
                   f"title={_escape(title, True)}::{_escape(msg)}")
    return out
