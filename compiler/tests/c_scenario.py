#!/usr/bin/env python3
"""Runs a C port's scenario against frc -l c's output, both shapes.

For fixtures/c/NAME.frs and its scenario (fixtures/c/NAME.toml, else the
Rust fixture's fixtures/NAME.toml: the calls are the same), compiles both
shapes, builds a driver that constructs the system and makes every step's
call in its own interposer window (this thread), and checks each step's
`returns` and `domain` values (printed as the Rust shim prints them:
integers in decimal, bools as true/false). Prints the allocator calls per
step; the no_alloc shape must make none. With --write-toml it writes
fixtures/c/NAME.toml: the scenario with the allocating C shape's figures.

usage: c_scenario.py FRC LIBAUDIT INTERPOSER_DIR ROOT [NAME...] [--write-toml]
       (no NAME: every fixtures/c/*.frs)
"""
import pathlib
import re
import subprocess
import sys
import tempfile
import tomllib

ATTR = re.compile(r"^@@\[no_alloc[^\]]*\]\s*$", re.M)
CALL = re.compile(r"^(\w+)\((.*)\)$")


def decls(frs_text):
    """{method: return type}, {domain field: type}, system name."""
    sysname = re.search(r"@@system\s+(\w+)", frs_text)[1]
    iface = frs_text.split("interface:", 1)[1].split("machine:", 1)[0]
    rets = {m[1]: m[2].strip() for m in re.finditer(r"^\s*(\w+)\(.*?\)\s*(?::\s*([^=\n]+?))?\s*(?:=.*)?$",
                                                     iface, re.M) if m[2]}
    dom = frs_text.rsplit("domain:", 1)[1] if "domain:" in frs_text else ""
    fields = {m[1]: m[2].strip() for m in re.finditer(r"^\s*(\w+)\s*:\s*([^=\n]+?)\s*=", dom, re.M)}
    return rets, fields, sysname


def fmt(expr, ctype):
    """A printf statement printing expr as Rust's Debug would."""
    m = re.match(r"^(.*?)\[(\d+)\]$", ctype)
    if m:
        inner = fmt(f"({expr})[__i]", m[1].strip())
        return (f'{{ printf("["); for (int __i = 0; __i < {m[2]}; __i++) {{ if (__i) printf(", "); '
                f'{inner} }} printf("]"); }}')
    if ctype == "bool":
        return f'printf("%s", ({expr}) ? "true" : "false");'
    if ctype.startswith(("int", "long", "short", "signed")):
        return f'printf("%lld", (long long)({expr}));'
    return f'printf("%llu", (unsigned long long)({expr}));'


def driver(gen, sc, rets, fields, S, no_alloc):
    out = ['#define _GNU_SOURCE\n#define AUDIT_WANT_RESOLVE\n#include <stdio.h>\n#include "audit.h"\n',
           f'#include "{gen}"\n', "int main(void)\n{\n    struct audit_api api;\n    struct audit_counts c;\n",
           '    if (audit_api_resolve(&api) != 0) { puts("interposer not loaded"); return 2; }\n']
    out.append(f"    static {S} st; {S} *s = &st;\n" if no_alloc else f"    {S} *s;\n")
    ctor = f"{S}_init(s)" if no_alloc else f"s = {S}_create()"
    out.append(f'    api.open(AUDIT_THIS_THREAD); {ctor}; api.close(&c);\n'
               f'    printf("construct %llu %llu\\n", (unsigned long long)c.allocs, (unsigned long long)c.frees);\n')
    for i, step in enumerate(sc["step"]):
        m = CALL.match(step["call"].strip())
        name, args = m[1], m[2]
        call = f"{S}_{name}(s{', ' if args.strip() else ''}{args})"
        if name in rets:
            out.append(f"    {{ {rets[name]} r; api.open(AUDIT_THIS_THREAD); r = {call}; api.close(&c);\n")
            out.append(f'      printf("step {i} %llu %llu ret ", (unsigned long long)c.allocs, (unsigned long long)c.frees); '
                       f'{fmt("r", rets[name])} puts(""); }}\n')
        else:
            out.append(f"    api.open(AUDIT_THIS_THREAD); {call}; api.close(&c);\n"
                       f'    printf("step {i} %llu %llu\\n", (unsigned long long)c.allocs, (unsigned long long)c.frees);\n')
        for f in step.get("domain", {}):
            out.append(f'    printf("dom {i} {f} "); {fmt("s->" + f, fields.get(f, "uint64_t"))} puts("");\n')
    out.append(f"    {S}_{'deinit' if no_alloc else 'destroy'}(s);\n    return 0;\n}}\n")
    return "".join(out)


def run_shape(frc, libaudit, inc, root, name, work, no_alloc):
    frs = root / "fixtures" / "c" / f"{name}.frs"
    own = frs.with_suffix(".toml")
    toml = own if own.exists() else root / "fixtures" / f"{name}.toml"
    sc = tomllib.loads(toml.read_text())
    text = frs.read_text()
    shape = "noalloc" if no_alloc else "alloc"
    src = work / shape / "fixtures" / "c" / frs.name
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(text if no_alloc else ATTR.sub("", text))
    gen = work / shape / "gen"
    subprocess.run([frc, "compile", "-l", "c", "-o", str(gen), f"fixtures/c/{frs.name}"], cwd=work / shape, check=True)
    rets, fields, S = decls(text)
    drv = gen / "drive.c"
    drv.write_text(driver(f"{name}.c", sc, rets, fields, S, no_alloc))
    exe = gen / "drive"
    subprocess.run(["gcc", "-std=c11", "-O2", f"-I{inc}", str(drv), "-o", str(exe), "-ldl"], check=True)
    r = subprocess.run([str(exe)], env={"LD_PRELOAD": libaudit}, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{name} {shape}: driver exit {r.returncode}: {r.stdout}{r.stderr}")
    return sc, r.stdout.splitlines()


def check(name, sc, lines, no_alloc):
    """Problems: returns/domain that differ from the scenario, allocations
    in the no_alloc shape. Returns (problems, construct figures, per-step allocs)."""
    probs, steps = [], {}
    construct = None
    for ln in lines:
        p = ln.split()
        if p[0] == "construct":
            construct = (int(p[1]), int(p[2]))
        elif p[0] == "step":
            i = int(p[1])
            steps[i] = int(p[2])
            if no_alloc and (p[2], p[3]) != ("0", "0"):
                probs.append(f"step {i + 1}: {p[2]} allocs, {p[3]} frees in no_alloc")
            want = sc["step"][i].get("returns")
            if want is not None and len(p) > 5 and p[5] != want:
                probs.append(f"step {i + 1} {sc['step'][i]['call']}: returned {p[5]}, want {want}")
        elif p[0] == "dom":
            i, f, v = int(p[1]), p[2], " ".join(p[3:])
            want = sc["step"][i]["domain"][f]
            if v != want:
                probs.append(f"step {i + 1}: {f} = {v}, want {want}")
    if no_alloc and construct != (0, 0):
        probs.append(f"construction made {construct}")
    return [f"{name}: {x}" for x in probs], construct, steps


def write_toml(root, name, sc, construct, steps):
    rust = (root / "fixtures" / f"{name}.toml").read_text()
    out = [f"# {sc['system']} in C (fixtures/c/{name}.frs): the calls, returns and domain values of\n"
           f"# fixtures/{name}.toml; the allocating figures are framec's C runtime's (frc -l c):\n"
           "# a call 4 (FrameEvent, FrameContext and its FrameDict), +3 per parameter list\n"
           "# (FrameVec), a transition +14 (a compartment per HSM level: 12, the <$ and $>\n"
           "# events), push$ +12 per level, a self-call its own call's figures.\n"]
    out.append(f'system = "{sc["system"]}"\ndescription = "{sc.get("description", "")}, C target"\n\n')
    out.append(f"[construct]\nalloc = {construct[0]}\nfrees = {construct[1]}\n")
    blocks = re.split(r"^\[\[step\]\]", rust, flags=re.M)[1:]
    for i, block in enumerate(blocks):
        body = block.split("\n[", 1)[0] if "\n[steady]" in block or "\n[" in block else block
        keep = [ln for ln in body.splitlines()[1:] if ln.strip() and not ln.lstrip().startswith(("alloc", "frees", "#"))]
        keep = [re.sub(r"\s+#.*$", "", ln) for ln in keep]
        out.append("\n[[step]]\n" + "\n".join(keep) + f"\nalloc = {steps[i]}\n")
    m = re.search(r"^\[steady\].*?(?=^\[|\Z)", rust, flags=re.M | re.S)
    if m:
        out.append("\n" + re.sub(r"\s+#[^\n]*", "", m[0]).rstrip() + "\n")
    (root / "fixtures" / "c" / f"{name}.toml").write_text("".join(out))


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    frc, libaudit, inc = (str(pathlib.Path(a).resolve()) for a in args[:3])
    root = pathlib.Path(args[3]).resolve()
    problems = []
    names = args[4:] or sorted(p.stem for p in (root / "fixtures" / "c").glob("*.frs"))
    with tempfile.TemporaryDirectory() as d:
        for name in names:
            work = pathlib.Path(d) / name
            sc, alines = run_shape(frc, libaudit, inc, root, name, work, False)
            pa, construct, steps = check(name, sc, alines, False)
            sc2, nlines = run_shape(frc, libaudit, inc, root, name, work, True)
            pn, _, _ = check(name, sc2, nlines, True)
            problems += pa + pn
            print(f"{name}: construct {construct}, steps {[steps[i] for i in sorted(steps)]}, "
                  f"{'ok' if not pa + pn else 'FAIL'}")
            if "--write-toml" in sys.argv and not pa + pn:
                write_toml(root, name, sc, construct, steps)
    for p in problems:
        print("FAIL:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
