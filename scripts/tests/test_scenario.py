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


UNCOVERED = 'system = "S"\n[[step]]\ncall = "a()"\n[uncovered]\n'


@pytest.mark.parametrize("text,needle", [
    ('system = "S"\n[[step]]\ncall = "a(\n', "invalid TOML"),
    ('system = "S"\n', "at least one [[step]]"),
    ('[[step]]\ncall = "a()"\n', "`system`"),
    ('system = "S"\n[[step]]\ncall = "a("\n', "s.toml:3: bad call"),
    ('system = "S"\n[[step]]\ncall = "a()"\nalloc = -1\n', "non-negative"),
    ('system = "S"\n[[step]]\ncall = "a()"\nbogus = 1\n', "unknown step key"),
    ('system = "S"\nextra = 1\n[[step]]\ncall = "a()"\n', "unknown key"),
    ('system = "S"\n[[step]]\ncall = "a()"\n[steady]\nfrom = 3\nrepeat = 2\n', "not a range"),
    # [uncovered] entries: the message names the entry's own line
    (UNCOVERED + '"line 4" = ""\n', 's.toml:5: [uncovered] "line 4" needs the reason'),
    (UNCOVERED + '"line 4" = 3\n', 's.toml:5: [uncovered] "line 4" needs the reason'),
    (UNCOVERED + '"lines 4" = "x"\n', 's.toml:5: [uncovered] "lines 4": write "line N"'),
    (UNCOVERED + '"line 4-6" = "x"\n', 's.toml:5: [uncovered] "line 4-6": write "line N"'),
    (UNCOVERED + '"lines 6-4" = "x"\n', 's.toml:5: [uncovered] "lines 6-4": write "line N" for one line or "lines N-M" with N <= M'),
    (UNCOVERED + '"line 0" = "x"\n', 's.toml:5: [uncovered] "line 0": write "line N"'),
    (UNCOVERED + '"Fault.reset" = "x"\n', 's.toml:5: [uncovered] key "Fault.reset" is neither "$State.event"'),
    (UNCOVERED + '"line 5" = "x"\n"lines 3-6" = "y"\n', 's.toml:6: [uncovered] "lines 3-6" repeats line 5 of "line 5"'),
])
def test_load_rejects_bad_scenarios_naming_the_file(tmp_path, text, needle):
    with pytest.raises(UsageError) as e:
        scenario.load(write(tmp_path, text))
    assert "s.toml" in str(e.value) and needle in str(e.value)


def test_load_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read scenario"):
        scenario.load(tmp_path / "nope.toml")


def test_uncovered_takes_handler_line_and_range_keys(tmp_path):
    s = scenario.load(write(tmp_path, UNCOVERED +
                            '"$Fault.reset" = "needs a fault"\n"line 42" = "x > 4095"\n'
                            '"lines 50-53" = "after 2^32 ticks"\n'))
    assert s.uncovered == {"$Fault.reset": "needs a fault"}
    assert s.uncovered_lines == {"line 42": (42, 42, "x > 4095"),
                                 "lines 50-53": (50, 53, "after 2^32 ticks")}
