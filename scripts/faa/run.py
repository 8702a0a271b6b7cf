"""Run the Criterion harness over fixture libraries and read its records."""

import os
import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import procs, progress
from . import scenario as scenario_mod
from .errors import UsageError
from .model import Measurement

HARNESS_TIMEOUT = 3600


@dataclass
class Fixture:
    name: str
    frs: Path | None
    toml: Path
    scenario: object
    target: str = "rust"          # the language frc generates: rust, or c (fixtures/c/)


C_DIR = "c"
C_SUFFIX = ".c"


def c_name(stem):
    """The name a C fixture goes by (fixtures/c/port_reset.frs: `port_reset.c`),
    distinct from the Rust fixture of the same system in every record,
    report and baseline."""
    return stem + C_SUFFIX


def discover(fixtures_dir, names=None):
    """fixtures/NAME.frs + NAME.toml pairs, all (less fixtures/SKIP.toml's)
    or the named ones, sorted."""
    return survey(fixtures_dir, names).fixtures


def _candidates(fixtures_dir):
    """{name: (frs, toml or None, target)}: the Rust fixtures (every
    NAME.toml, its NAME.frs beside it), then the C fixtures
    (fixtures/c/NAME.frs, `@@[target("c")]`, named NAME.c) with their
    scenario fixtures/c/NAME.toml, else the Rust fixture's fixtures/NAME.toml:
    one scenario serves both targets where the calls are the same."""
    found = {p.stem: (p.with_suffix(".frs"), p, "rust")
             for p in sorted(fixtures_dir.glob("*.toml")) if p.name != SKIP_FILE}
    for frs in sorted((fixtures_dir / C_DIR).glob("*.frs")):
        own, shared = frs.with_suffix(".toml"), fixtures_dir / f"{frs.stem}.toml"
        toml = own if own.exists() else (shared if shared.exists() else None)
        found[c_name(frs.stem)] = (frs, toml, "c")
    # a system's Rust and C fixtures side by side (port_reset, port_reset.c)
    return dict(sorted(found.items(), key=lambda kv: (kv[1][0].stem, kv[1][2] != "rust")))


def survey(fixtures_dir, names=None):
    """Like discover(), but returns a Discovery: the fixtures to audit, the
    .frs files that have no scenario (a failure of rule `scenario` unless
    fixtures/SKIP.toml lists them with a reason), and the skip list.  A
    fixture that has a scenario is always audited, listed or not."""
    fixtures_dir = Path(fixtures_dir)
    cands = _candidates(fixtures_dir)
    found = {n: c for n, c in cands.items() if c[1] is not None}
    skips = read_skips(fixtures_dir)
    if names:
        missing = [n for n in names if n not in found]
        for n in missing:
            frs = cands[n][0] if n in cands else fixtures_dir / f"{n}.frs"
            if frs.exists():
                why = f"; it is skipped: {skips[n]}" if n in skips else ""
                raise UsageError(f"{frs} has no scenario {frs.stem}.toml beside it{why}")
        if missing:
            raise UsageError(f"no fixture named {', '.join(missing)} in {fixtures_dir} "
                             f"(have: {', '.join(found) or 'none'})")
        found = {n: found[n] for n in names}
    out = []
    for name, (frs, toml, target) in found.items():
        if not frs.exists():
            raise UsageError(f"{toml}: no {frs.name} beside it")
        out.append(Fixture(name=name, frs=frs, toml=toml, scenario=scenario_mod.load(toml),
                           target=target))
    if not out:
        raise UsageError(f"no fixtures (NAME.frs + NAME.toml) in {fixtures_dir}")
    d = Discovery(fixtures=out, skips=skips)
    if not names:
        frs_names = {p.stem for p in fixtures_dir.glob("*.frs")}
        frs_names |= {n for n, c in cands.items() if c[2] == "c"}
        d.unscenarioed = sorted(n for n in frs_names - set(found) if n not in skips)
        d.stale_skips = sorted(n for n in skips if n not in frs_names)
        d.skipped_with_scenario = sorted(n for n in skips if n in found)
    return d


SKIP_FILE = "SKIP.toml"


def read_skips(fixtures_dir):
    """fixtures/SKIP.toml: the .frs files that have no scenario on purpose,
    each with the reason ({name: reason}; {} when the file does not exist).

        [skip]
        big_fixture = "needs a compiler feature frc does not have (E042)"
    """
    path = Path(fixtures_dir) / SKIP_FILE
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: {e}") from e
    extra = set(data) - {"skip"}
    if extra:
        raise UsageError(f"{path}: unknown key(s) {', '.join(sorted(extra))}; only a [skip] table")
    table = data.get("skip", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: `skip` must be a table of fixture = \"reason\"")
    for name, why in table.items():
        if isinstance(why, dict) and list(why) == [C_DIR]:      # ghost.c = "..." is a dotted key
            raise UsageError(f'{path}: [skip] {name}.{C_DIR}: quote a C fixture\'s name: '
                             f'"{name}.{C_DIR}" = "why"')
        if not isinstance(why, str) or not why.strip():
            raise UsageError(f"{path}: [skip] {name} needs a reason (a non-empty string)")
    return {k: v.strip() for k, v in table.items()}


@dataclass
class Discovery:
    fixtures: list
    skips: dict = field(default_factory=dict)          # name -> reason
    unscenarioed: list = field(default_factory=list)   # NAME.frs without NAME.toml, not skipped
    stale_skips: list = field(default_factory=list)    # SKIP.toml names without a .frs
    skipped_with_scenario: list = field(default_factory=list)   # listed, but audited anyway


@dataclass
class HarnessRun:
    status: int
    output: str
    tested: int = 0
    failing: int = 0
    crashing: int = 0
    measurements: list = field(default_factory=list)


def _finished(rdir):
    """Records files whose measuring process has written its verdict."""
    n = 0
    for p in rdir.glob("*.jsonl"):
        with open(p, "rb") as f:
            f.seek(max(0, p.stat().st_size - 512))
            n += b'"kind":"verdict"' in f.read()
    return n


def run_harness(tree, entries, jobs=None, junit=None, extra_env=None, interposer=None):
    """entries: [(fixture, mode, opt, libpath[, symbol prefix])] -> HarnessRun
    with records; several entries may share one (bundle) library, each with
    its fixture's prefix (default fx_).  `interposer`: the libaudit.so to
    preload (default: the build's)."""
    rdir = tree.work / "records"
    rdir.mkdir(parents=True, exist_ok=True)
    for old in rdir.glob("*.jsonl"):
        old.unlink()
    manifest = tree.work / "manifest.tsv"
    rows, recs = [], []
    for fixture, mode, opt, lib, *prefix in entries:
        rec = rdir / f"{fixture}-{mode}-O{opt}.jsonl"
        rows.append(f"{fixture}\t{mode}\t{opt}\t{lib}\t{rec}\t{prefix[0] if prefix else 'fx_'}")
        recs.append((rec, fixture, mode, opt, lib, prefix[0] if prefix else "fx_"))
    manifest.write_text("# fixture\tmode\topt\tlibrary\trecords\tprefix\n" + "\n".join(rows) + "\n")
    env = dict(os.environ)
    env["FAA_MANIFEST"] = str(manifest)
    env["LD_PRELOAD"] = str(interposer or tree.interposer)
    env.update(extra_env or {})
    cmd = [str(tree.harness), f"--jobs={jobs or max(1, os.cpu_count() or 1)}"]
    if junit:
        cmd.append(f"--xml={junit}")
    phase = progress.Phase("harness", len(recs), "fixture library")
    try:
        with progress.Watch(phase, lambda: _finished(rdir)):
            r = procs.run(cmd, env=env, timeout=HARNESS_TIMEOUT)
        status, output = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired:
        status, output = 124, f"harness did not finish within {HARNESS_TIMEOUT} s"
    phase.end(f"exit status {status}")
    run = HarnessRun(status=status, output=output)
    m = re.search(r"Tested:\s*(\d+)\s*\|\s*Passing:\s*(\d+)\s*\|\s*Failing:\s*(\d+)"
                  r"\s*\|\s*Crashing:\s*(\d+)", output)
    if m:
        run.tested, run.failing, run.crashing = int(m[1]), int(m[3]), int(m[4])
    run.measurements = [Measurement.read(*r) for r in recs]
    return run


def measure(tree, outcomes, jobs=None, junit=None, interposer=None, progress=None):
    """The harness stage: every library the build produced, measured under
    the interposer; None when there is nothing to measure."""
    entries = [(o.fixture, o.mode, opt, lib, o.prefix) for o in outcomes.values()
               for opt, lib in sorted(o.libs.items())]
    if not entries:
        return None
    if progress:
        progress(f"audit: measuring {len(entries)} fixture librar{'y' if len(entries) == 1 else 'ies'} "
                 f"under the interposer")
    return run_harness(tree, entries, jobs=jobs, junit=junit, interposer=interposer)
