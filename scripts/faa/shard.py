"""Sharding across CI machines: `audit run --shard K/N` audits a
deterministic 1/N of the selected fixtures, `audit merge DIR...` checks
that its directories hold the N shards of one selection and combines
their reports into one report set with one verdict.

The assignment depends only on the selection (the fixture names) and,
with `--shard-costs FILE`, that file: never on the machine or on what a
work dir holds, so shards started on different machines agree.

    balance        greedy: fixtures by decreasing cost (ties: by a SHA-256
                   of the name) each to the shard with the least cost so
                   far (ties: the lower K); without a costs file every
                   fixture costs the same, which deals them out round-robin
                   in the order of the hash.  A fixture the costs file does
                   not name costs the mean of those it does.
    costs.json     {"schema": "frame-alloc-audit/costs@1",
                    "fixtures": {name: seconds}} (schemas/costs.schema.json):
                   what each fixture cost the last run that built it (its
                   compiler time plus its share of its bundles' rustc time,
                   the phase that dominates a cold run).  Every run writes
                   WORK/costs.json (record_costs); keep one under version
                   control and pass it to every shard.
    corpus checks  fixtures/reject and the fixtures/ survey (a .frs without
                   a scenario, SKIP.toml) are checked by shard 1 only, so a
                   merged report has them once; a golden is checked by the
                   shard that compiled its fixture.

A shard's report.json carries `shard` (model.Report.shard): K, N, the
names of the whole selection, the ones it was assigned and how it was
balanced; merge() refuses a missing or duplicated shard, mixed N,
selections, balances, compilers or --strict, and a fixture audited by no
shard or by two.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from . import html, procs, progress, report
from .errors import EXIT_GATE, EXIT_OK, ToolMissing, UsageError
from .model import Costs, Report

HASH_BALANCE = "name hash"


@dataclass(frozen=True)
class Spec:
    """`--shard K/N`: shard k (1-based) of n."""
    k: int
    n: int

    def __str__(self):
        return f"{self.k}/{self.n}"


def parse_spec(text):
    """argparse type of --shard: K/N with 1 <= K <= N."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise _type_error(f"expected K/N such as 2/3 (shard K of N), not {text!r}")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= k <= n:
        raise _type_error(f"{text!r}: K/N needs 1 <= K <= N (shards are numbered 1 to N)")
    return Spec(k, n)


def _type_error(msg):
    import argparse
    return argparse.ArgumentTypeError(msg)


# --- costs.json ------------------------------------------------------------

def record_costs(path, outcomes):
    """WORK/costs.json after a run: each fixture whose every library this
    run built (none from the cache) gets its build seconds; the others
    keep what the file said before (a warm run measures nothing)."""
    try:
        costs = Costs.load(path).fixtures if Path(path).exists() else {}
    except UsageError:
        costs = {}
    per = {}
    for (name, _mode), o in outcomes.items():
        per.setdefault(name, []).append(o)
    for name, os_ in per.items():
        if all(o.built and not o.cached for o in os_):
            costs[name] = round(sum(o.compile_s + o.rustc_s for o in os_), 3)
    Costs(costs).write(path)


# --- the assignment ----------------------------------------------------------

def _hash(name):
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


def _millis(seconds):
    return max(1, int(round(seconds * 1000)))


def assign(names, n, costs=None):
    """The n shards of `names`: [[name, ...] of shard 1, ..., of shard n],
    each in the order of `names`.  Integer milliseconds, so every machine
    adds the same numbers."""
    known = {x: costs[x] for x in names if costs and x in costs}
    default = sum(known.values()) / len(known) if known else 1.0
    weight = {x: _millis(known.get(x, default)) for x in names}
    shards, load = [set() for _ in range(n)], [0] * n
    for x in sorted(names, key=lambda x: (-weight[x], _hash(x), x)):
        i = min(range(n), key=lambda i: (load[i], i))
        shards[i].add(x)
        load[i] += weight[x]
    return [[x for x in names if x in s] for s in shards]


def take(fixtures, spec, costs_file=None):
    """This shard's fixtures of the selection `fixtures` (run.Fixture, in
    audit order) and the report's `shard` field."""
    names = [fx.name for fx in fixtures]
    if costs_file:
        costs = Costs.load(costs_file).fixtures
        digest = hashlib.sha256(Path(costs_file).read_bytes()).hexdigest()[:16]
        balance = f"costs sha256:{digest}"
    else:
        costs, balance = None, HASH_BALANCE
    mine = assign(names, spec.n, costs)[spec.k - 1]
    info = {"k": spec.k, "n": spec.n, "fixtures": names, "assigned": mine, "balance": balance}
    return [fx for fx in fixtures if fx.name in mine], info


# --- merge -------------------------------------------------------------------

def load_shards(dirs):
    """[(dir, Report)] of DIR/report.json for each DIR."""
    out = []
    for d in dirs:
        path = Path(d) / "report.json"
        if not path.is_file():
            raise UsageError(f"{d}: no report.json (is it a shard's --report-dir?)")
        out.append((Path(d), Report.load(path)))
    return out


def problems(shards):
    """What keeps the reports [(dir, Report)] from being the N shards of
    one selection: [message], empty when they are."""
    if not shards:
        return ["no shard directories given"]
    bad = [f"{d}/report.json is not a shard's report (its run had no --shard K/N)"
           for d, r in shards if not r.shard]
    if bad:
        return bad
    first_dir, first = shards[0]
    s0, c0 = first.shard, first.compiler
    out = []
    for d, r in shards[1:]:
        s, c = r.shard, r.compiler
        if s["n"] != s0["n"]:
            out.append(f"mixed shard counts: {first_dir} is shard {s0['k']}/{s0['n']}, "
                       f"{d} is shard {s['k']}/{s['n']}")
        elif sorted(s["fixtures"]) != sorted(s0["fixtures"]):
            out.append(f"mixed selections: {d} is a shard of another selection than {first_dir} "
                       f"({_difference(s['fixtures'], s0['fixtures'])})")
        elif s["balance"] != s0["balance"]:
            out.append(f"mixed balances: {first_dir} was shared out by {s0['balance']}, {d} by "
                       f"{s['balance']} (give every shard the same --shard-costs file)")
        if (c["name"], c["version"], c["bundled"]) != (c0["name"], c0["version"], c0["bundled"]):
            out.append(f"different compilers: {first_dir} audits {c0['name']} {c0['version']}, "
                       f"{d} audits {c['name']} {c['version']}")
        if r.strict != first.strict:
            out.append(f"{first_dir} ran {'with' if first.strict else 'without'} --strict, "
                       f"{d} {'with' if r.strict else 'without'}")
    return out or _coverage_problems(shards)


def _difference(a, b):
    only_a, only_b = [x for x in a if x not in b], [x for x in b if x not in a]
    parts = ([f"only in it: {', '.join(only_a)}"] if only_a else []) + (
        [f"not in it: {', '.join(only_b)}"] if only_b else [])
    return "; ".join(parts)


def _coverage_problems(shards):
    """Same N and selection: every K once, every fixture in one shard."""
    n, selection = shards[0][1].shard["n"], shards[0][1].shard["fixtures"]
    out, by_k, owner = [], {}, {}
    for d, r in shards:
        by_k.setdefault(r.shard["k"], []).append(d)
    for k, ds in sorted(by_k.items()):
        if len(ds) > 1:
            out.append(f"shard {k}/{n} given {len(ds)} times: {', '.join(map(str, ds))}")
    missing = [k for k in range(1, n + 1) if k not in by_k]
    if missing:
        out.append(f"missing shard(s) {', '.join(f'{k}/{n}' for k in missing)} "
                   f"(given: {', '.join(f'{k}/{n}' for k in sorted(by_k)) or 'none'})")
    if out:
        return out
    for d, r in shards:
        names = [fx.name for fx in r.fixtures]
        if names != r.shard["assigned"]:
            out.append(f"{d}: its report has fixtures {', '.join(names) or 'none'}, but shard "
                       f"{r.shard['k']}/{n} was assigned {', '.join(r.shard['assigned']) or 'none'}")
        for x in r.shard["assigned"]:
            if x in owner:
                out.append(f"fixture {x} audited by both {owner[x]} and {d}")
            owner[x] = d
    lost = [x for x in selection if x not in owner]
    if lost and not out:
        out.append(f"no shard audited {', '.join(lost)}")
    return out


def combine(shards):
    """One Report of the shards [(dir, Report)] that problems() accepts:
    fixtures in the selection's order; findings shard by shard (a finding
    about the whole run, fixture `*`, that several shards made alike,
    once); unchecked, skipped and rejects united; massif entries of every
    shard; the verdict fails if any shard failed."""
    reps = [r for _, r in sorted(shards, key=lambda dr: dr[1].shard["k"])]
    order = {x: i for i, x in enumerate(reps[0].shard["fixtures"])}
    findings, seen = [], set()
    for r in reps:
        for f in r.findings:
            key = json.dumps(f.to_json(), sort_keys=True)
            if f.fixture == "*" and key in seen:
                continue
            seen.add(key)
            findings.append(f)
    unchecked = {}
    for r in reps:
        for what, why in r.unchecked_why.items():
            if why not in unchecked.setdefault(what, []):
                unchecked[what].append(why)
    rejects = {}
    for r in reps:
        for x in r.rejects:
            rejects.setdefault(x["fixture"], x)
    failed = any(r.exit_status != EXIT_OK for r in reps) or any(f.failure for f in findings)
    return Report(
        compiler=dict(reps[0].compiler), exit_status=EXIT_GATE if failed else EXIT_OK,
        unchecked_why={k: "; ".join(v) for k, v in unchecked.items()}, strict=reps[0].strict,
        skipped={k: v for r in reps for k, v in r.skipped.items()}, findings=findings,
        fixtures=sorted((fx for r in reps for fx in r.fixtures), key=lambda fx: order[fx.name]),
        rejects=list(rejects.values()),
        performance=next((r.performance for r in reps if r.performance is not None), None),
        massif=[m for r in reps for m in r.massif], shard=None,
        provenance=reps[0].provenance)


def merge(dirs):
    """The merged Report of the shard report dirs `dirs`, or UsageError
    listing everything that keeps them from being one selection's shards."""
    shards = load_shards(dirs)
    wrong = problems(shards)
    if wrong:
        raise UsageError("cannot merge:\n  " + "\n  ".join(wrong))
    return combine(shards)


def write_set(rep, out):
    """The whole report set of `rep` in `out`, replacing whatever set was
    there (the writers of `audit run`: report.write_reports, html.write);
    a stopping signal waits until the set is complete."""
    with procs.deferred():
        out.mkdir(parents=True, exist_ok=True)
        for old in report.REPORT_FILES:
            (out / old).unlink(missing_ok=True)
        report.write_reports(rep, out)
        try:
            html.write(rep, out)
        except ToolMissing as e:
            print(f"note [html] report.html skipped: {e}")


def command(dirs, out):
    """`audit merge DIR... --report-dir OUT`: the exit status (0 pass,
    1 a shard or the merged gate failed; UsageError: not one selection's
    shards, exit 2)."""
    out = Path(out)
    for d in dirs:
        if Path(d).resolve() == out.resolve():
            raise UsageError(f"--report-dir {out} is one of the shard directories: merge into "
                             f"another one")
    if out.exists() and not out.is_dir():
        raise UsageError(f"report dir {out} is not a directory")
    rep = merge(dirs)
    write_set(rep, out)
    for f in rep.findings:
        word = progress.paint("FAIL", "fail") if f.failure else progress.paint("note", "note")
        print(f"{word} [{f.rule}] {f.message}")
    verdict = report.verdict_word(rep.exit_status, rep.unchecked)
    print(f"audit merge: {progress.paint(verdict, 'pass' if rep.exit_status == 0 else 'fail')} — "
          f"{len(dirs)} shard(s), {len(rep.fixtures)} fixture(s), {len(rep.failures)} failure(s); "
          f"reports in {out}")
    return rep.exit_status
