"""faa.panic over text that rustc 1.63 (old layout) and 1.95 (new layout)
really printed: data/panic/rustc-VERSION/ (capture.sh regenerates it from
data/panic/panics.rs; harness*.txt is faa-harness's stderr for port_reset
with connect() panicking, two libraries writing at once)."""

from pathlib import Path

import pytest

from faa import panic

DATA = Path(__file__).resolve().parent / "data" / "panic"
OLD, NEW = "rustc-1.63.0", "rustc-1.95.0"
VERSIONS = (OLD, NEW)

# case -> (thread, line, col, message); the line and column in panics.rs.
CASES = {
    "simple": ("main", 11, 21, "connect refused on purpose"),
    "multi": ("main", 12, 20, "first line\nsecond line: with colon\nthird', quoted"),
    "quote": ("main", 13, 20, "it's 'odd', isn't it: a:b:c"),
    "named": ("worker-1", 14, 86, "in a named thread"),
    "unnamed": ("<unnamed>", 15, 49, "in an unnamed thread"),
    "unwrap": ("main", 16, 82, "called `Option::unwrap()` on a `None` value"),
    "empty": ("main", 17, 20, ""),
    "trailing": ("main", 18, 23, "ends with newline"),
    "blank": ("main", 19, 20, "para one\n\npara two"),
    "fmt": ("main", 20, 18, "value 2 at x.rs:3"),
}
# The one message the two versions word differently.
ASSERT = {
    OLD: "assertion failed: `(left == right)`\n  left: `2`,\n right: `7`: args: few",
    NEW: "assertion `left == right` failed: args: few\n  left: 2\n right: 7",
}


def sample(version, name):
    return (DATA / version / name).read_text()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_each_panic_is_read_with_its_thread_location_and_whole_message(version, case):
    thread, line, col, message = CASES[case]
    assert panic.parse(sample(version, f"{case}.txt")) == [
        panic.Panic(thread=thread, file="p.rs", line=line, col=col, message=message)]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_multi_line_assertion_message_keeps_its_lines(version):
    assert [p.message for p in panic.parse(sample(version, "assert.txt"))] == [ASSERT[version]]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ["two.txt", "two.bt.txt"])
def test_two_panics_in_one_output_are_two_in_order(version, name):
    got = [(p.thread, p.location, p.message) for p in panic.parse(sample(version, name))]
    assert got == [("<unnamed>", "p.rs:22:45", "first of two"),
                   ("main", "p.rs:22:77", "second of two")]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", ["simple", "multi"])
def test_a_backtrace_is_not_part_of_the_message(version, case):
    assert [p.message for p in panic.parse(sample(version, f"{case}.bt.txt"))] == [CASES[case][3]]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ["harness.txt", "harness.bt.txt"])
def test_the_harness_output_of_a_panicking_fixture_names_the_generated_line(version, name):
    """Two measuring processes (O0, O3) panicked at once; Criterion's lines
    and the other process's backtrace follow each message."""
    got = panic.parse(sample(version, name))
    assert len(got) == 2, got
    for p in got:
        assert (p.thread, p.line, p.col) == ("<unnamed>", 106, 9)
        assert p.file.endswith("/port_reset.rs")
        assert p.message == "connect refused on purpose"
        assert p.one_line() == f"{p.file}:106:9: connect refused on purpose"


def test_one_line_keeps_a_multi_line_message_on_one_line():
    p = panic.Panic("main", "a.rs", 1, 2, "x\ny: z")
    assert p.one_line() == "a.rs:1:2: x\\ny: z"


@pytest.mark.parametrize("text", [
    "",
    "no panic here\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
    "thread 'main' panicked at 'never closed\n",          # old layout, cut short
    "thread 'main' panicked at somewhere without a location\n",
])
def test_text_without_a_complete_panic_gives_none(text):
    assert panic.parse(text) == []


def test_a_header_in_the_middle_of_a_line_is_found():
    """Another process's unterminated line before the panic."""
    text = "[----] partial linethread 'main' panicked at 'boom', src/x.rs:3:4\n"
    assert [p.one_line() for p in panic.parse(text)] == ["src/x.rs:3:4: boom"]


def test_a_file_name_with_spaces_and_colons_in_the_message():
    old = "thread 'main' panicked at 'a: b', my dir/x y.rs:10:5\n"
    new = "\nthread 'main' (7) panicked at my dir/x y.rs:10:5:\na: b\n"
    assert panic.parse(old) == panic.parse(new) == [
        panic.Panic("main", "my dir/x y.rs", 10, 5, "a: b")]


def test_pick_prefers_the_fixtures_own_module_then_the_first():
    a = panic.Panic("<unnamed>", "/w/port_reset/gen/noalloc/port_reset.rs", 106, 9, "a")
    b = panic.Panic("<unnamed>", "/w/elevator/gen/noalloc/elevator.rs", 12, 5, "b")
    c = panic.Panic("<unnamed>", "/tmp/x/generated.rs", 3, 1, "c")
    assert panic.pick([a, b], "elevator") is b
    assert panic.pick([a, b], "port_reset") is a
    assert panic.pick([c, b], "port_reset") is c        # no file of its own: the first
    assert panic.pick([panic.Panic("t", "/w/elevator/shim/x.rs", 1, 1, "d")], "elevator").message == "d"
    assert panic.pick([], "elevator") is None


# ---- the panic of the library's own shape ------------------------------------

ALLOC = "/w/parents/gen/alloc/parents.rs"
NOALLOC = "/w/parents/gen/noalloc/parents.rs"


def test_pick_never_takes_the_other_shapes_module_or_shim():
    a = panic.Panic("<unnamed>", ALLOC, 428, 65, "exit args of $X were not passed")
    n = panic.Panic("<unnamed>", NOALLOC, 391, 17, "exit args of $X were not passed")
    shim_a = panic.Panic("<unnamed>", "/w/parents/shim/parents_alloc.rs", 9, 1, "s")
    assert panic.pick([a, n], "parents", "noalloc") is n
    assert panic.pick([a, n], "parents", "alloc") is a
    assert panic.pick([n, a], "parents", "alloc") is a
    assert panic.pick([a, n], "parents") is a                  # no shape given: the first
    assert panic.pick([a], "parents", "noalloc") is None         # only the other shape's
    assert panic.pick([shim_a, n], "parents", "noalloc") is n
    other = panic.Panic("<unnamed>", "/tmp/x/generated.rs", 3, 1, "c")
    assert panic.pick([a, other], "parents", "noalloc") is other  # shape unknown: may be its


def test_a_no_alloc_panic_finding_cites_the_no_alloc_module(tmp_path):
    """Both shapes of `parents` panicked; the allocating one printed first
    (REQUESTS O2: the no_alloc finding quoted gen/alloc/parents.rs:428:65)."""
    from faa import gate, model
    text = "".join(f"\nthread '<unnamed>' panicked at {f}:{ln}:{c}:\nexit args of $X were not passed\n"
                   for f, ln, c in ((ALLOC, 428, 65), (NOALLOC, 391, 17)))
    found = []
    for mode in ("noalloc", "alloc"):
        m = model.Measurement(fixture="parents", mode=mode, opt=0, verdict=model.Verdict(
            ok=False, failures=1, message=f"parents {mode} O0: step 1 panicked (message above, on stderr)"))
        assert gate.check_panic(m, panic.parse(text), found)
    assert [f.message for f in found] == [
        f"parents noalloc O0: step 1 panicked: panicked at {NOALLOC}:391:17: exit args of $X were not passed",
        f"parents alloc O0: step 1 panicked: panicked at {ALLOC}:428:65: exit args of $X were not passed"]
