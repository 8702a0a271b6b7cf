import pytest

from faa import scenario
from faa.errors import UsageError


@pytest.mark.parametrize("text,name,args", [
    ("connect()", "connect", []),
    ("progress(5)", "progress", ["5"]),
    ('load(3, String::from("a"))', "load", ["3", 'String::from("a")']),
    ('load(3, String::from("a,b)"))', "load", ["3", 'String::from("a,b)")']),
    ("pair((1, 2), [3, 4])", "pair", ["(1, 2)", "[3, 4]"]),
    ("ch(',', 'x')", "ch", ["','", "'x'"]),
    ('raw(r#"a",b"#)', "raw", ['r#"a",b"#']),
    ("span(&x[1..], /* a, b */ 2)", "span", ["&x[1..]", "/* a, b */ 2"]),
])
def test_split_call_splits_at_top_level_commas_only(text, name, args):
    assert scenario.split_call(text) == (name, args)


@pytest.mark.parametrize("text", ["connect", "f(1,)", "f(1, (2)", "1f()", 'f("x)', "f(,1)"])
def test_split_call_rejects_malformed_calls(text):
    with pytest.raises(ValueError):
        scenario.split_call(text)


def write(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def test_load_reads_steps_expectations_and_steady(tmp_path):
    p = write(tmp_path, 'system = "S"\n[construct]\nalloc = 4\nfrees = 2\n'
              '[[step]]\ncall = "a()"\nalloc = 1\nreturns = "3"\n'
              '[[step]]\ncall = "b(1, 2)"\ndomain = { x = "5" }\n'
              '[steady]\nfrom = 1\nto = 2\nrepeat = 10\n')
    s = scenario.load(p)
    assert s.system == "S"
    assert (s.construct_alloc, s.construct_frees) == (4, 2)
    assert [st.method for st in s.steps] == ["a", "b"]
    assert s.steps[0].alloc == 1 and s.steps[0].returns == "3"
    assert s.steps[1].args == ["1", "2"] and s.steps[1].domain == {"x": "5"}
    assert s.steps[1].line == 10
    assert (s.steady_from, s.steady_to, s.steady_repeat) == (0, 1, 10)


@pytest.mark.parametrize("text,needle", [
    ('system = "S"\n[[step]]\ncall = "a(\n', "invalid TOML"),
    ('system = "S"\n', "at least one [[step]]"),
    ('[[step]]\ncall = "a()"\n', "`system`"),
    ('system = "S"\n[[step]]\ncall = "a("\n', "s.toml:3: bad call"),
    ('system = "S"\n[[step]]\ncall = "a()"\nalloc = -1\n', "non-negative"),
    ('system = "S"\n[[step]]\ncall = "a()"\nbogus = 1\n', "unknown step key"),
    ('system = "S"\nextra = 1\n[[step]]\ncall = "a()"\n', "unknown key"),
    ('system = "S"\n[[step]]\ncall = "a()"\n[steady]\nfrom = 3\nrepeat = 2\n', "not a range"),
])
def test_load_rejects_bad_scenarios_naming_the_file(tmp_path, text, needle):
    with pytest.raises(UsageError) as e:
        scenario.load(write(tmp_path, text))
    assert "s.toml" in str(e.value) and needle in str(e.value)


def test_load_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read scenario"):
        scenario.load(tmp_path / "nope.toml")


def test_uncovered_takes_handler_line_and_range_keys(tmp_path):
    s = scenario.load(write(tmp_path, 'system = "S"\n[[step]]\ncall = "a()"\n[uncovered]\n'
                            '"$Fault.reset" = "needs a fault"\n"line 42" = "x > 4095"\n'
                            '"lines 50-53" = "after 2^32 ticks"\n'))
    assert s.uncovered == {"$Fault.reset": "needs a fault"}
    assert s.uncovered_lines == {"line 42": (42, 42, "x > 4095"),
                                 "lines 50-53": (50, 53, "after 2^32 ticks")}


@pytest.mark.parametrize("entry,needle", [
    ('"line 4" = ""', "needs the reason"),
    ('"line 4" = 3', "needs the reason"),
    ('"lines 4" = "x"', 'write "line N"'),
    ('"line 4-6" = "x"', 'write "line N"'),
    ('"lines 6-4" = "x"', "N <= M"),
    ('"line 0" = "x"', 'write "line N"'),
    ('"Fault.reset" = "x"', 'neither "$State.event"'),
    ('"line 5" = "x"\n"lines 3-6" = "y"', 'repeats line 5 of "line 5"'),
])
def test_uncovered_rejects_bad_entries_naming_file_and_line(tmp_path, entry, needle):
    with pytest.raises(UsageError) as e:
        scenario.load(write(tmp_path, 'system = "S"\n[[step]]\ncall = "a()"\n[uncovered]\n' + entry + "\n"))
    assert needle in str(e.value)
    assert "s.toml:5" in str(e.value) or "s.toml:6" in str(e.value)
