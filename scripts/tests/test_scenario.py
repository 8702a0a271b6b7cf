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
    # unknown keys: everywhere, at their own line, with what the table takes
    ('system = "S"\n[[step]]\ncall = "a()"\nbogus = 1\n',
     "s.toml:4: unknown key `bogus` in [[step]] 1; it takes: alloc, call, domain, frees, returns"),
    ('system = "S"\n[[step]]\ncall = "a()"\n[[step]]\ncall = "b()"\nretruns = "1"\n',
     "s.toml:6: unknown key `retruns` in [[step]] 2"),
    ('system = "S"\nextra = 1\n[[step]]\ncall = "a()"\n',
     "s.toml:2: unknown key `extra` in the scenario's top level"),
    ('system = "S"\n[[step]]\ncall = "a()"\n[constuct]\nalloc = 1\n',
     "s.toml:4: unknown key `constuct` in the scenario's top level"),
    ('system = "S"\n[construct]\nalloc = 1\nargz = [1]\n[[step]]\ncall = "a()"\n',
     "s.toml:4: unknown key `argz` in [construct]; it takes: alloc, args, call, frees"),
    ('system = "S"\n[[step]]\ncall = "a()"\n[steady]\nfrom = 1\nrepeats = 2\n',
     "s.toml:6: unknown key `repeats` in [steady]"),
    # [construct]: args or call, not both; call names a constructor
    ('system = "S"\n[construct]\nargs = [1]\ncall = "__create(1)"\n[[step]]\ncall = "a()"\n',
     "s.toml:4: [construct] takes `args = [...]` or `call"),
    ('system = "S"\n[construct]\ncall = "make(1)"\n[[step]]\ncall = "a()"\n',
     "s.toml:3: [construct] `call` must call `__create(...)` or `new(...)`, not `make`"),
    ('system = "S"\n[construct]\ncall = "__create(1,"\n[[step]]\ncall = "a()"\n',
     "s.toml:3: bad constructor call"),
    ('system = "S"\n[construct]\nargs = "3, 10"\n[[step]]\ncall = "a()"\n',
     "s.toml:3: [construct] `args` must be a list"),
    ('system = "S"\n[construct]\nargs = ["3, 10"]\n[[step]]\ncall = "a()"\n',
     "s.toml:3: [construct] argument `3, 10` is 2 arguments"),
    ('system = "S"\n[construct]\nargs = [1.5]\n[[step]]\ncall = "a()"\n',
     "s.toml:3: [construct] `args` holds Rust expressions as strings"),
    ('system = 3\n[[step]]\ncall = "a()"\n', "s.toml:1: `system` must name"),
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


@pytest.mark.parametrize("text,method,args,line", [
    ('[construct]\nargs = ["3", 10, true, \'String::from("a,b")\']\n', None,
     ["3", "10", "true", 'String::from("a,b")'], 3),
    ('[construct]\ncall = "__create(3, -10)"\nalloc = 2\n', "__create", ["3", "-10"], 3),
    ('[construct]\ncall = "new()"\n', "new", [], 3),
    ('[construct]\nalloc = 2\n', None, [], 2),
    ('', None, [], 0),
])
def test_construct_takes_args_or_a_call(tmp_path, text, method, args, line):
    s = scenario.load(write(tmp_path, 'system = "S"\n' + text + '[[step]]\ncall = "a()"\n'))
    assert (s.construct_method, s.construct_args, s.construct_line) == (method, args, line)


def test_key_lines_number_array_tables_and_skip_multiline_strings():
    text = ('system = "S"\n[[step]]\ncall = "a()"\ndescription = """\nalloc = 9\n"""\n'
            '[[step]]  # two\ncall = "b()"\ndomain = { x = "1" }\n')
    lines = scenario.key_lines(text)
    assert lines[("", 0, "system")] == 1
    assert lines[("step", 0, "call")] == 3 and ("step", 0, "alloc") not in lines
    assert lines[("step", 1, None)] == 7 and lines[("step", 1, "call")] == 8
    assert lines[("step", 1, "domain")] == 9


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


def test_non_blocking_is_a_boolean_key_off_by_default(tmp_path):
    """`non_blocking = true` asks the nonblocking rule of this fixture
    (issue 15); anything but a boolean is a usage error at its line."""
    p = tmp_path / "s.toml"
    p.write_text('system = "S"\n[[step]]\ncall = "go()"\n')
    assert scenario.load(p).non_blocking is False
    p.write_text('system = "S"\nnon_blocking = true\n[[step]]\ncall = "go()"\n')
    assert scenario.load(p).non_blocking is True
    p.write_text('system = "S"\nnon_blocking = "yes"\n[[step]]\ncall = "go()"\n')
    with pytest.raises(UsageError, match=r"s\.toml:2: `non_blocking` must be true or false"):
        scenario.load(p)
