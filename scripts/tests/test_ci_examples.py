"""The CI examples in examples/ci/ work as written (issue 13).

Each example's shell steps run here, in order, as the CI service would run
them, against a stand-in for the compiler under test, so the commands are
proven even where the service is not:

* GitHub Actions (alloc-audit.yml, alloc-audit-sharded.yml): every `run:`
  step runs with `bash -e` in its working-directory, with the workflow's
  and job's `env:`, GITHUB_WORKSPACE, GITHUB_STEP_SUMMARY, GITHUB_ENV and
  GITHUB_PATH as on the service, `${{ }}` expressions and step `if:`
  conditions evaluated for a pull_request event (a step after a failed
  one runs only under always()/failure()), jobs in `needs` order and a
  matrix's instances in turn.  A `uses:` step is the service's own and is
  never run: actions/checkout, the Rust toolchain action and
  upload-/download-artifact are stood in for (a clone of this repository
  at HEAD, the rustc and cargo on this machine, artifacts copied from job
  to job with the actions' layout rules); the JUnit check run and the
  sticky comment only have the files they read checked.  Any other action
  fails the test until it is listed here.
* GitLab CI (gitlab-ci.yml): `script:` runs as one `bash` script with
  `set -eo pipefail` in CI_PROJECT_DIR; artifacts:paths and
  artifacts:reports:junit must exist afterwards.

What stands in for the service:
* the compiler under test is a small Cargo project (`cargo build
  --release` really runs) whose target/release/framec passes its
  arguments to the audit's own frc ($FAA_STANDIN_FRC) -- a
  framec-compatible compiler, as README "Auditing another compiler" asks;
* the audit is checked out from this repository at HEAD (AUDIT_REF is
  set to HEAD's SHA; the examples' zeros are a placeholder);
* `apt-get` is a stub first on PATH: `install` checks that every package
  it is asked for is known to apt on this Debian 12 machine and installs
  nothing; `update` does nothing;
* the `container:`/`image:` is not started: this machine is Debian 12 too.

Runtime: AUDIT_ARGS (which every example reads) narrows the audit to one
fixture (two for the 3 shards) at O0 (`--opt 0`: what is proven here is
the examples' commands, not the corpus, which audit-every-fixture audits
at both opt-levels), Valgrind on as in CI.  The audit is built
from scratch once, by the example that fetches it itself: gitlab-ci.yml
runs first, in a fresh project dir (its own git init/fetch/checkout, then
`make -C alloc-audit build` configures and builds everything).  The
GitHub workflows' audit checkout is that built tree (the same commit; a
fresh clone if the GitLab script failed): their `make build` is the same
Makefile target on the same tree, already proven from scratch, and runs
there as a no-op, as it does for the sharded matrix's 3 shards, in turn
on that one machine.  Every example still builds its own stand-in
compiler and runs its own audits, in work dirs no other example used.
Scratch space is BUILD/test-ci-examples/, removed after a passing run
unless FAA_CI_EXAMPLES_KEEP=1 (each step's script and log are there, each
log ending with the step's wall and CPU seconds).

Needs PyYAML (Debian python3-yaml), rustc and cargo, and `make build`."""
import fnmatch
import functools
import glob
import os
import re
import resource
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ROOT, SCRIPTS

from faa import procs

yaml = pytest.importorskip("yaml", reason="PyYAML missing: apt-get install python3-yaml")

EXAMPLES = ROOT / "examples" / "ci"
GITHUB = ("alloc-audit.yml", "alloc-audit-sharded.yml")
GITLAB = ("gitlab-ci.yml",)
SINGLE_ARGS = "--opt 0 port_reset"
SHARDED_ARGS = "--opt 0 port_reset token_bucket"
STEP_TIMEOUT = 1200
COMMENT_LIMIT = 65536          # characters GitHub takes in one comment body

# Actions that only the service can run: the inputs naming files they
# read, and the permission the workflow must grant them.
SERVICE_ONLY = {
    "mikepenz/action-junit-report": ("report_paths",),
    "marocchino/sticky-pull-request-comment": ("path",),
}
PERMISSION = {
    "mikepenz/action-junit-report": "checks",
    "marocchino/sticky-pull-request-comment": "pull-requests",
}
DROP_ENV = ("FAA_", "GITHUB_", "GITLAB_", "CI_", "RUNNER_", "MESON", "MAKE", "MFLAGS")
DROP_VARS = {"CI", "RUSTC", "CARGO_TARGET_DIR", "PYTHONPATH", "NO_COLOR"}
KEPT = []                      # scratch dirs of a failed run, kept for a look

APT_STUB = """#!/bin/sh
# apt-get stand-in for test_ci_examples.py: installs nothing.
echo "apt-get $*" >> "$(dirname "$0")/apt-get.log"
case "$1" in
    update) exit 0 ;;
    install) shift ;;
    *) echo "apt-get stub: '$1' is not stood in for" >&2; exit 100 ;;
esac
# One apt-cache call for all of them (each call reads the whole cache):
# every package asked for must be among the records it prints.
pkgs=""
for p in "$@"; do
    case "$p" in -*) continue ;; esac
    pkgs="$pkgs $p"
done
[ -n "$pkgs" ] || exit 0
known=$(apt-cache show --no-all-versions $pkgs 2>/dev/null | sed -n 's/^Package: //p')
for p in $pkgs; do
    printf '%s\n' "$known" | grep -qxF "$p" || { echo "E: Unable to locate package $p" >&2; exit 100; }
done
"""

STANDIN_MAIN = """// A framec-compatible compiler for test_ci_examples.py: the audit's frc.
use std::os::unix::process::CommandExt;

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if args.len() == 1 && args[0] == "--version" {
        println!("framec 0.0.0-standin");
        return;
    }
    let frc = std::env::var_os("FAA_STANDIN_FRC").expect("FAA_STANDIN_FRC: the path of frc");
    let err = std::process::Command::new(frc).args(args).exec();
    eprintln!("framec stand-in: {err}");
    std::process::exit(127);
}
"""


# ---- loading the examples ----------------------------------------------

def load(name):
    return yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))


def triggers(wf):
    """The `on:` block (YAML 1.1 reads a bare `on` key as True)."""
    return wf.get("on", wf.get(True))


@functools.lru_cache(maxsize=None)
def head_sha():
    """HEAD when first asked: every example in one run audits the same
    commit, even if the branch moves meanwhile."""
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()


# ---- GitHub expressions ------------------------------------------------

TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)"
                   r"|(?P<op>==|!=|&&|\|\||!|\(|\))|(?P<call>[a-z]+)\(\)"
                   r"|(?P<ref>[A-Za-z_][\w.-]*))")
STATUS = ("always", "success", "failure", "cancelled")


def lookup(ref, ctx):
    """`github.event.pull_request.number` in the contexts; None if absent."""
    value = ctx
    for part in ref.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def evaluate(expr, ctx, job_ok=True):
    """A GitHub expression of the subset the examples use: literals,
    context references, ==, !=, !, &&, || and the status functions."""
    expr = expr.strip()
    if expr.startswith("${{") and expr.endswith("}}"):
        expr = expr[3:-2].strip()
    calls = {"always": True, "success": job_ok, "failure": not job_ok, "cancelled": False}
    words, pos = [], 0
    while pos < len(expr.rstrip()):
        m = TOKEN.match(expr, pos)
        assert m and m.end() > pos, f"expression not understood here: {expr!r} at {pos}"
        pos = m.end()
        if m["str"] is not None:
            words.append(repr(m["str"][1:-1].replace("''", "'")))
        elif m["num"] is not None:
            words.append(m["num"])
        elif m["op"]:
            words.append({"&&": " and ", "||": " or ", "!": " not "}.get(m["op"], m["op"]))
        elif m["call"]:
            assert m["call"] in calls, f"function {m['call']}() not stood in for: {expr!r}"
            words.append(repr(calls[m["call"]]))
        elif m["ref"] in ("true", "false", "null"):
            words.append({"true": "True", "false": "False", "null": "None"}[m["ref"]])
        else:
            assert m["ref"].split(".")[0] in ctx, f"unknown context in {expr!r}"
            words.append(repr(lookup(m["ref"], ctx)))
    return eval(" ".join(words), {"__builtins__": {}})  # noqa: S307 -- our own tokens only


def substitute(value, ctx):
    """Every ${{ expr }} in a string replaced by its value, as the service does."""
    if not isinstance(value, str):
        return value

    def one(m):
        v = evaluate(m[1], ctx)
        return "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


def should_run(cond, ctx, job_ok):
    """A step's or job's `if:`; without a status function it means success() && cond."""
    if cond is None:
        return job_ok
    text = str(cond)
    if not any(f"{f}()" in text for f in STATUS):
        return job_ok and bool(evaluate(text, ctx, job_ok))
    return bool(evaluate(text, ctx, job_ok))


# ---- stand-ins ----------------------------------------------------------

def standin_compiler(dest):
    """The compiler under test's repository: a Cargo project building framec."""
    (dest / "src").mkdir(parents=True)
    (dest / "Cargo.toml").write_text('[package]\nname = "framec"\nversion = "0.0.0"\n'
                                     'edition = "2021"\n\n[dependencies]\n')
    (dest / "src" / "main.rs").write_text(STANDIN_MAIN)
    (dest / ".gitignore").write_text("/target\n")
    git = ["git", "-C", str(dest), "-c", "user.name=ci", "-c", "user.email=ci@example.invalid"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "stand-in"]):
        subprocess.run(git + args, check=True, capture_output=True)


def clone_audit(dest, ref):
    """This repository at `ref`, as a checkout of the audit."""
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", "--detach", ref], check=True)


def built_checkout(built):
    """actions/checkout of the audit stood in for by `built`, a checkout
    of the same commit that one example's own commands have already built
    from scratch (`dest` becomes a symlink to it); any other ref, a fresh
    clone."""
    def checkout(dest, ref):
        head = subprocess.run(["git", "-C", str(built), "rev-parse", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        if head != ref:
            clone_audit(dest, ref)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.symlink_to(built, target_is_directory=True)
    return checkout


def tool_dir(name):
    found = shutil.which(name) or (Path.home() / ".cargo/bin" / name)
    if not Path(found).exists():
        pytest.skip(f"no {name}: the toolchain step cannot be stood in for")
    return str(Path(found).parent)


def base_env(scratch):
    """This process's environment without what a CI machine would not have
    (the test runner's FAA_*, RUSTC, make's and meson's variables), with
    the apt-get stub and the Rust toolchain first on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(DROP_ENV) and k not in DROP_VARS}
    stub = scratch / "bin"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "apt-get").write_text(APT_STUB)
    (stub / "apt-get").chmod(0o755)
    env["PATH"] = os.pathsep.join([str(stub), tool_dir("cargo"), env.get("PATH", "/usr/bin:/bin")])
    env["CARGO_NET_OFFLINE"] = "true"       # the stand-in has no dependencies to fetch
    env["CI"] = "true"
    return env


def run_shell(script, cwd, env, log, shell):
    """One shell step, its output appended to `log`; returns the exit status."""
    path = log.with_suffix(".sh")
    path.write_text(script)
    with open(log, "a") as out:
        out.write(f"$ ({cwd}) {shell} {path.name}\n{script}\n")
        out.flush()
        wall, cpu = time.monotonic(), children_cpu()
        try:
            r = procs.run(shell + [str(path)], cwd=cwd, env=env, capture_output=False,
                          stdout=out, stderr=subprocess.STDOUT, timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            out.write(f"\n[stopped after {STEP_TIMEOUT} s]\n")
            return 124
        out.write(f"\n[exit {r.returncode} after {time.monotonic() - wall:.1f} s wall, "
                  f"{children_cpu() - cpu:.1f} s CPU]\n")
    return r.returncode


def children_cpu():
    """User + system CPU seconds of this process's waited-for children."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def tail(path, lines=40):
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def existing(ws, patterns, what):
    """Every pattern (relative to ws) must name an existing file or dir."""
    hits = []
    for p in patterns:
        found = sorted(glob.glob(str(ws / p), recursive=True))
        assert found, f"{what}: {p} matches nothing in {ws}"
        hits += found
    return hits


def lines_of(value):
    return [p.strip() for p in str(value).splitlines() if p.strip()]


# ---- GitHub Actions -----------------------------------------------------

def search_base(ws, pattern):
    """upload-artifact's root for one search path: up to its first wildcard."""
    parts = []
    for part in Path(pattern.rstrip("/")).parts:
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return ws.joinpath(*parts) if parts else ws


def needs_of(job):
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else needs


class GitHubRun:
    """One run of a workflow: its jobs in `needs` order, each on a machine
    (workspace) of its own unless `workspaces` names one.  `overrides` are
    the values a user sets in the workflow's env (each must be there);
    `own_repo(dest)` makes the checkout of the workflow's own repository,
    `audit_checkout(dest, ref)` the audit's (a `repository:` checkout);
    `extra_env` is what the stand-ins need."""

    def __init__(self, name, scratch, overrides, own_repo, workspaces=None, extra_env=None,
                 audit_checkout=clone_audit):
        self.name = name
        self.audit_checkout = audit_checkout
        self.wf = load(name)
        self.scratch = scratch
        self.overrides = overrides
        self.own_repo = own_repo
        self.workspaces = workspaces or {}
        self.store = scratch / "artifacts"
        self.store.mkdir(parents=True)
        self.base = dict(base_env(scratch), **(extra_env or {}))
        self.results = {}          # "job (matrix)" -> [step result dict]
        self.workspace_of = {}

    def run(self):
        done = {}
        for job_id in self.job_order():
            job = self.wf["jobs"][job_id]
            ok_before = all(done[n] for n in needs_of(job))
            ctx = {"github": self.github(), "env": self.workflow_env(job), "matrix": {}}
            if not should_run(job.get("if"), ctx, ok_before):
                done[job_id] = True
                continue
            done[job_id] = all([self.run_job(job_id, job, m) for m in self.matrix(job)])
        return self

    def job_order(self):
        jobs, order = self.wf["jobs"], []
        while len(order) < len(jobs):
            ready = [j for j in jobs if j not in order and all(n in order for n in needs_of(jobs[j]))]
            assert ready, f"{self.name}: a cycle in needs"
            order += ready
        return order

    @staticmethod
    def matrix(job):
        m = (job.get("strategy") or {}).get("matrix")
        if not m:
            return [{}]
        assert set(m) - {"include", "exclude"} and not ({"include", "exclude"} & set(m)), \
            "matrix include/exclude are not stood in for"
        combos = [{}]
        for key, values in m.items():
            combos = [dict(c, **{key: v}) for c in combos for v in values]
        return combos

    def github(self):
        repo = "example/framec"
        return {"event_name": "pull_request", "repository": repo, "ref": "refs/pull/1/merge",
                "workspace": "", "event": {"pull_request": {"number": 1, "head": {
                    "repo": {"full_name": repo}}}}}

    def workflow_env(self, job):
        env = {}
        for block in (self.wf.get("env") or {}, job.get("env") or {}):
            env.update({k: str(v) for k, v in block.items()})
        for k, v in self.overrides.items():
            assert k in env, f"{self.name}: the test sets {k}, which the workflow does not read"
            env[k] = v
        return env

    def run_job(self, job_id, job, matrix):
        label = job_id + (" (" + ", ".join(map(str, matrix.values())) + ")" if matrix else "")
        ws = self.workspaces.get(job_id) or self.scratch / f"ws-{job_id}"
        ws.mkdir(parents=True, exist_ok=True)
        self.workspace_of[label] = ws
        files = self.scratch / re.sub(r"\W+", "-", label)
        files.mkdir(parents=True, exist_ok=True)
        state = {"ok": True, "ws": ws, "files": files, "path": [], "env": {}}
        ctx = {"github": dict(self.github(), workspace=str(ws)), "matrix": matrix,
               "env": self.workflow_env(job), "runner": {"os": "Linux", "temp": str(files)}}
        results = self.results.setdefault(label, [])
        for i, step in enumerate(job["steps"]):
            ctx["env"] = dict(self.workflow_env(job), **state["env"], **(step.get("env") or {}))
            name = substitute(step.get("name") or step.get("uses") or step.get("run"), ctx)
            res = {"name": name, "step": step, "rc": None, "ran": False}
            results.append(res)
            if not should_run(step.get("if"), ctx, state["ok"]):
                print(f"[{label}] {name}: skipped (if: {step.get('if')})")
                continue
            res["ran"] = True
            if "uses" in step:
                try:
                    self.uses(step, ctx, state)
                except AssertionError as e:    # the step fails, as on the service
                    res["error"], state["ok"] = str(e), False
                print(f"[{label}] {name}: {step['uses']} stood in for {res.get('error', '')}")
                continue
            res["log"] = files / f"step{i:02}.log"
            res["rc"] = self.run_step(step, ctx, state, res["log"])
            print(f"[{label}] {name}: exit {res['rc']} ({res['log']})")
            state["ok"] = state["ok"] and res["rc"] == 0
        return state["ok"]

    def run_step(self, step, ctx, state, log):
        ws, files = state["ws"], state["files"]
        env = dict(self.base, **ctx["env"])
        env["PATH"] = os.pathsep.join(state["path"] + [self.base["PATH"]])
        for var, fname in (("GITHUB_STEP_SUMMARY", "summary.md"), ("GITHUB_ENV", "env"),
                           ("GITHUB_PATH", "path"), ("GITHUB_OUTPUT", "output")):
            env[var] = str(files / fname)
            (files / fname).touch()
        env.update(GITHUB_WORKSPACE=str(ws), GITHUB_ACTIONS="true", RUNNER_TEMP=str(files),
                   GITHUB_EVENT_NAME="pull_request", GITHUB_REPOSITORY=ctx["github"]["repository"])
        cwd = ws / substitute(step.get("working-directory", "."), ctx)
        assert step.get("shell") in (None, "bash"), f"shell {step['shell']} not stood in for"
        shell = ["bash", "--noprofile", "--norc", "-e"] + (["-o", "pipefail"] if step.get("shell") else [])
        rc = run_shell(substitute(step["run"], ctx), cwd, env, log, shell)
        state["path"] = [p for p in (files / "path").read_text().splitlines()[::-1] if p] + state["path"]
        (files / "path").write_text("")
        for line in (files / "env").read_text().splitlines():
            assert "<<" not in line, "multi-line GITHUB_ENV values are not stood in for"
            if "=" in line:
                k, v = line.split("=", 1)
                state["env"][k] = v
        (files / "env").write_text("")
        return rc

    def uses(self, step, ctx, state):
        action = step["uses"].split("@")[0]
        inputs = {k: substitute(v, ctx) for k, v in (step.get("with") or {}).items()}
        ws = state["ws"]
        if action == "actions/checkout":
            dest = ws / inputs.get("path", ".")
            if "repository" in inputs:
                self.audit_checkout(dest, inputs["ref"])
            elif not (dest / ".git").exists():
                self.own_repo(dest)
        elif action == "dtolnay/rust-toolchain":
            assert inputs.get("toolchain"), "dtolnay/rust-toolchain@master needs `toolchain`"
        elif action == "actions/upload-artifact":
            self.upload(inputs, ws)
        elif action == "actions/download-artifact":
            self.download(inputs, ws)
        else:
            assert action in SERVICE_ONLY, f"{self.name}: {action} is neither stood in for nor listed"
            for key in SERVICE_ONLY[action]:
                if key in inputs:
                    existing(ws, lines_of(inputs[key]), f"{action} {key}")

    def upload(self, inputs, ws):
        name = inputs.get("name", "artifact")
        patterns = lines_of(inputs["path"])
        hits = existing(ws, patterns, f"upload-artifact {name}")
        bases = [search_base(ws, p) for p in patterns]
        root = Path(os.path.commonpath(bases)) if len(bases) > 1 else bases[0]
        if root.is_file():
            root = root.parent
        dest = self.store / name
        assert not dest.exists(), f"two artifacts named {name} in one run"
        dest.mkdir()
        for hit in map(Path, hits):
            target = dest / hit.relative_to(root)
            if hit.is_dir():
                shutil.copytree(hit, target, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(hit, target)

    def download(self, inputs, ws):
        dest = ws / inputs.get("path", ".")
        names = sorted(p.name for p in self.store.iterdir())
        if "name" in inputs:
            assert inputs["name"] in names, f"download-artifact: no artifact {inputs['name']}"
            shutil.copytree(self.store / inputs["name"], dest, dirs_exist_ok=True)
            return
        chosen = fnmatch.filter(names, inputs.get("pattern", "*"))
        assert chosen, f"download-artifact: no artifact matches {inputs.get('pattern')}"
        for n in chosen:
            merged = str(inputs.get("merge-multiple", "false")).lower() == "true"
            shutil.copytree(self.store / n, dest if merged else dest / n, dirs_exist_ok=True)


def assert_steps_passed(run):
    """Every step that ran exited 0 (the stand-in compiler passes every
    check); the log's tail names the one that did not."""
    ran = 0
    for label, steps in run.results.items():
        for s in steps:
            assert "error" not in s, f"{run.name}: job {label}, step {s['name']!r}: {s.get('error')}"
            if s["rc"] is not None:
                ran += 1
                assert s["rc"] == 0, (f"{run.name}: job {label}, step {s['name']!r} exited "
                                      f"{s['rc']}:\n{tail(s['log'])}")
            elif "run" in s["step"]:
                assert s["ran"], f"{run.name}: job {label}, step {s['name']!r} did not run"
    assert ran, f"{run.name}: no shell step ran"


def audit_steps(run, verb):
    """(label, step result) of the steps that call `scripts/audit ... VERB`."""
    return [(label, s) for label, steps in run.results.items() for s in steps
            if re.search(rf"scripts/audit\b.*\b{verb}\b", s["step"].get("run", ""), re.S)]


# ---- the tests: what the examples say -----------------------------------

def test_every_example_is_run_by_this_test():
    assert sorted(p.name for p in EXAMPLES.glob("*.yml")) == sorted(GITHUB + GITLAB)


@pytest.mark.parametrize("name", GITHUB)
def test_github_runs_once_per_pull_request_push_and_on_the_default_branch(name):
    on = triggers(load(name))
    assert set(on) == {"pull_request", "push"}, f"{name}: on: {on}"
    assert on["push"]["branches"] == ["main"], "push: the default branch only, else a PR runs twice"
    assert not (on["pull_request"] or {}).get("branches"), "every pull request"


def pr_context(event, number=None):
    """The github context of a pull_request event for PR `number`, or of a push to main."""
    ref = f"refs/pull/{number}/merge" if number else "refs/heads/main"
    pr = {"number": number} if number else None
    return {"github": {"event_name": event, "ref": ref, "event": {"pull_request": pr}}}


@pytest.mark.parametrize("name", GITHUB)
def test_github_a_newer_push_to_a_pull_request_cancels_its_older_run(name):
    conc = load(name)["concurrency"]
    pr1, pr2, push = (pr_context("pull_request", 1), pr_context("pull_request", 2),
                      pr_context("push"))
    group = {k: substitute(conc["group"], c) for k, c in (("pr1", pr1), ("pr2", pr2), ("push", push))}
    assert len(set(group.values())) == 3, group
    cancel = {k: str(substitute(conc["cancel-in-progress"], c)).lower() for k, c in
              (("pull request", pr1), ("push to main", push))}
    assert cancel == {"pull request": "true", "push to main": "false"}, \
        "cancel superseded PR runs, never a push to the default branch"


@pytest.mark.parametrize("name", GITHUB)
def test_github_grants_what_the_service_steps_need(name):
    wf = load(name)
    granted = wf.get("permissions") or {}
    for job in wf["jobs"].values():
        for step in job["steps"]:
            need = PERMISSION.get(step.get("uses", "").split("@")[0])
            if need:
                assert granted.get(need) == "write", f"{name}: {step['uses']} needs {need}: write"


def test_the_audit_checkout_is_pinned_to_a_commit():
    wf = load("alloc-audit.yml")
    ctx = {"env": {k: str(v) for k, v in wf["env"].items()}, "github": {}}
    checkouts = [s for s in wf["jobs"]["alloc-audit"]["steps"]
                 if s.get("uses", "").startswith("actions/checkout@") and "repository" in s.get("with", {})]
    assert len(checkouts) == 1
    ref = substitute(checkouts[0]["with"].get("ref", ""), ctx)
    assert re.fullmatch(r"[0-9a-f]{40}", ref), f"alloc-audit.yml: audit ref {ref!r} is not a commit"
    ref = load("gitlab-ci.yml")["alloc-audit"]["variables"]["AUDIT_REF"]
    assert re.fullmatch(r"[0-9a-f]{40}", ref), f"gitlab-ci.yml: AUDIT_REF {ref!r} is not a commit"
    gitlab = load("gitlab-ci.yml")["alloc-audit"]
    assert any('"$AUDIT_REF"' in line for line in gitlab["script"])


def gitlab_rule_matches(rules, variables):
    """GitLab's `rules:` for the `$VAR == "literal"` / `$A == $B` subset."""
    for rule in rules:
        expr = re.sub(r"\$(\w+)", lambda m: repr(variables.get(m[1])), rule["if"])
        expr = expr.replace("&&", " and ").replace("||", " or ")
        if eval(expr, {"__builtins__": {}}):  # noqa: S307 -- the example's own rules
            return rule.get("when", "on_success") != "never"
    return False


@pytest.mark.parametrize("event, runs", [
    ({"CI_PIPELINE_SOURCE": "merge_request_event"}, True),
    ({"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"}, True),
    ({"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "feature"}, False),
])
def test_gitlab_runs_for_merge_requests_and_the_default_branch_only(event, runs):
    rules = load("gitlab-ci.yml")["alloc-audit"]["rules"]
    assert gitlab_rule_matches(rules, dict(event, CI_DEFAULT_BRANCH="main")) == runs


# Options the examples take up as soon as the audit has them: (example,
# the option in `audit run --help`, how the example passes it).
AS_SOON_AS_OFFERED = [
    ("alloc-audit.yml", "--annotations", "--annotations github"),
    ("gitlab-ci.yml", "--junit-flavour", "--junit-flavour gitlab"),
]


@pytest.fixture(scope="module")
def help_at_head(tmp_path_factory):
    """`audit run --help` of the audit at HEAD, the commit the examples run here."""
    d = tmp_path_factory.mktemp("head")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", head_sha(), "scripts"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(d)], input=archive, check=True)
    r = subprocess.run([str(d / "scripts/audit"), "run", "--help"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "--strict" in r.stdout, r.stderr
    return r.stdout


@pytest.mark.parametrize("name, option, usage", AS_SOON_AS_OFFERED)
def test_an_option_the_audit_offers_is_used_and_one_it_lacks_is_only_described(
        help_at_head, name, option, usage):
    """Until the audit at HEAD has the option, the example only says how to
    add it (a comment); once it has it, the example passes it."""
    offered = option in help_at_head
    doc = load(name)
    jobs = doc["jobs"].values() if "jobs" in doc else [doc["alloc-audit"]]
    commands = [s.get("run", "") for j in jobs for s in j.get("steps", [])]
    commands += [line for j in jobs for line in j.get("script", [])]
    used = any(usage in c for c in commands)
    assert used == offered, (f"audit run now has {option}: pass `{usage}` in examples/ci/{name}"
                             if offered else f"{name} passes {option}, which `audit run` lacks")
    assert usage in (EXAMPLES / name).read_text(), f"{name} should say how to add `{usage}`"


# ---- the tests: the examples run ----------------------------------------

@contextmanager
def kept_on_failure(path):
    """A failing check keeps `path` (and the whole scratch dir) for a look."""
    try:
        yield
    except BaseException:
        KEPT.append(path)
        print(f"scratch kept: {path}")
        raise


@pytest.fixture(scope="module")
def scratch(build_dir):
    d = build_dir / "test-ci-examples"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    yield d
    if not KEPT and os.environ.get("FAA_CI_EXAMPLES_KEEP") != "1":
        shutil.rmtree(d, ignore_errors=True)


def gitlab_env(scratch, job, project):
    env = dict(base_env(scratch), CI_PROJECT_DIR=str(project), GITLAB_CI="true",
               CI_PIPELINE_SOURCE="merge_request_event", CI_DEFAULT_BRANCH="main")
    env.update({k: str(v) for k, v in (job.get("variables") or {}).items()})
    for k, v in {"AUDIT_REPOSITORY": str(ROOT), "AUDIT_REF": head_sha(),
                 "AUDIT_ARGS": SINGLE_ARGS}.items():
        assert k in env, f"the test sets {k}, which the job does not read"
        env[k] = v
    env["FAA_STANDIN_FRC"] = str(project / "alloc-audit/build/compiler/frc")
    return env


def test_gitlab_ci_yml_runs_as_written(gitlab_run):
    job, project, log = gitlab_run.job, gitlab_run.project, gitlab_run.log
    with kept_on_failure(gitlab_run.dir):
        assert gitlab_run.rc == 0, f"gitlab-ci.yml's script exited {gitlab_run.rc}:\n{tail(log)}"
        # alloc-audit.yml's run reuses this build as proven from scratch.
        assert re.search(r"^meson setup build( &&|$)", log.read_text(), re.M), \
            "make -C alloc-audit build did not configure the audit from scratch"
        art = job["artifacts"]
        assert art.get("when") == "always", "a failing audit's reports must be kept too"
        existing(project, art["paths"], "artifacts:paths")
        existing(project, [art["reports"]["junit"]], "artifacts:reports:junit")
        assert "framec 0.0.0-standin" in (project / "alloc-report/report.md").read_text()


@pytest.fixture(scope="module")
def gitlab_run(scratch):
    """gitlab-ci.yml's script, run first: in a fresh project dir, so its
    own lines fetch the audit into an empty alloc-audit/ and `make -C
    alloc-audit build` configures and builds it from scratch."""
    job = load("gitlab-ci.yml")["alloc-audit"]
    d = scratch / "gitlab"
    project = d / "project"
    log = d / "script.log"
    with kept_on_failure(d):
        standin_compiler(project)
        script = "set -eo pipefail\n" + "\n".join(job.get("before_script", []) + job["script"])
        rc = run_shell(script + "\n", project, gitlab_env(d, job, project), log,
                       ["bash", "--noprofile", "--norc"])
    return SimpleNamespace(job=job, dir=d, project=project, log=log, rc=rc)


@pytest.fixture(scope="module")
def single_run(scratch, gitlab_run):
    """alloc-audit.yml on the stand-in compiler.  Its audit checkout is
    gitlab-ci.yml's, already built (when that script passed): the same
    commit, and `make build` there is the very target gitlab-ci.yml's `make
    -C alloc-audit build` has just run from scratch (the build reads no
    git metadata, only the tree), so a second from-scratch build would
    prove nothing new; here `make deps` and `make build` run as written and
    must pass on the built tree, as on a re-run.  Everything else is this
    workflow's own: its compiler build, work and report dirs (the audit
    builds every fixture library again), artifacts."""
    d = scratch / "alloc-audit"
    ws = d / "ws-alloc-audit"
    built = gitlab_run.project / "alloc-audit"
    checkout = built_checkout(built) if gitlab_run.rc == 0 else clone_audit
    with kept_on_failure(d):
        return GitHubRun("alloc-audit.yml", d, {"AUDIT_REF": head_sha(), "AUDIT_ARGS": SINGLE_ARGS},
                         standin_compiler, workspaces={"alloc-audit": ws},
                         extra_env={"FAA_STANDIN_FRC": str(ws / "audit/build/compiler/frc")},
                         audit_checkout=checkout).run()


def test_alloc_audit_yml_runs_as_written(single_run):
    ws = single_run.workspace_of["alloc-audit"]
    report = ws / "alloc-report/report.md"
    with kept_on_failure(single_run.scratch):
        assert_steps_passed(single_run)
        [(_, audit_step)] = audit_steps(single_run, "run")
        assert audit_step["rc"] == 0
        assert "framec 0.0.0-standin" in report.read_text()
        assert report.stat().st_size < COMMENT_LIMIT, "too long for one pull request comment"
        summary = single_run.scratch / "alloc-audit" / "summary.md"
        assert summary.read_text() == report.read_text()
        uploaded = single_run.store / "alloc-audit"
        for part in ("alloc-report/junit.xml", "alloc-report/report.html", "alloc-work/records",
                     "alloc-work/valgrind"):
            assert (uploaded / part).exists(), f"the artifact lacks {part}"
        assert list((uploaded / "alloc-work/valgrind").glob("*.memcheck.log"))


def test_the_sharded_matrix_runs_and_merges(single_run):
    """Three shard jobs, their artifacts handed to the merge job, whose
    `audit merge` is the gate; the shards run in alloc-audit.yml's audit
    checkout (built), the merge job on a fresh clone."""
    built = single_run.workspace_of["alloc-audit"] / "audit"
    d = single_run.scratch.parent / "sharded"
    with kept_on_failure(d):
        run = GitHubRun("alloc-audit-sharded.yml", d, {"AUDIT_ARGS": SHARDED_ARGS},
                        lambda dest: clone_audit(dest, head_sha()),
                        workspaces={"shard": built}).run()
        assert_steps_passed(run)
        shards = audit_steps(run, "run")
        assert sorted(label for label, _ in shards) == ["shard (1)", "shard (2)", "shard (3)"]
        [(_, merge)] = audit_steps(run, "merge")
        assert merge["rc"] == 0
        merged = run.workspace_of["merge"] / "merged"
        assert {"report.json", "report.md", "junit.xml"} <= {p.name for p in merged.iterdir()}
        assert (run.store / "alloc-audit-report" / "report.json").exists()
        assert list((run.store / "logs-shard-1").glob("valgrind/*.memcheck.log"))
