import pytest

from faa import rustlex


def kinds(src):
    return [(k, src[s:e]) for k, s, e in rustlex.spans(src)]


@pytest.mark.parametrize("src,token,kind", [
    ('x = "a, \\" b";', '"a, \\" b"', "string"),
    ('x = b"bytes\\0";', 'b"bytes\\0"', "string"),
    ('x = c"cstr";', 'c"cstr"', "string"),
    ("x = 'q';", "'q'", "char"),
    ("x = '\\'';", "'\\''", "char"),
    ("x = '\\u{1F600}';", "'\\u{1F600}'", "char"),
    ("x = b'{';", "b'{'", "char"),
    ('x = r"no \\ escape";', 'r"no \\ escape"', "raw_string"),
    ('x = br"raw bytes";', 'br"raw bytes"', "raw_string"),
    ("x = 1; // to the end\ny", "// to the end", "line_comment"),
    ("x /* a { */ y", "/* a { */", "block_comment"),
])
def test_each_token_kind_is_one_span_with_its_prefix(src, token, kind):
    assert kinds(src) == [(kind, token)]


def test_block_comments_nest():
    src = "a /* one /* two */ still comment */ b"
    assert kinds(src) == [("block_comment", "/* one /* two */ still comment */")]
    assert rustlex.blank(src).split() == ["a", "b"]


def test_raw_string_ends_only_at_a_quote_with_as_many_hashes():
    src = 'f(r##"a "# still, raw"##, 2)'
    assert kinds(src) == [("raw_string", 'r##"a "# still, raw"##')]


@pytest.mark.parametrize("src", [
    "fn f<'a, 'b>(x: &'a str, y: &'b str) {}",
    "'outer: loop { break 'outer; }",
    "struct S { r: &'static u8 }",
])
def test_a_lifetime_or_label_is_code_not_a_char(src):
    assert kinds(src) == []
    assert rustlex.blank(src) == src


def test_a_lifetime_does_not_hide_the_char_after_it():
    src = "fn f<'a>(x: &'a u8) -> char { ',' }"
    assert kinds(src) == [("char", "','")]


def test_an_identifier_ending_in_r_or_b_is_not_a_prefix():
    # `xr` is an identifier, then a plain string: its backslash escapes.
    assert kinds('xr"a\\"b"') == [("string", '"a\\"b"')]
    assert kinds("let r#type = 1;") == []          # a raw identifier


def test_blank_keeps_offsets_and_newlines():
    src = 'a("x\ny") // c\n/* d\n */ e'
    out = rustlex.blank(src)
    assert len(out) == len(src)
    assert [i for i, c in enumerate(out) if c == "\n"] == [i for i, c in enumerate(src) if c == "\n"]
    assert out.split() == ["a(", ")", "e"]


@pytest.mark.parametrize("src,kind,line", [
    ('a\nb = "open', "string", 2),
    ("a\n\n/* /* */", "block comment", 3),
    ('r#"never closed"', "raw string", 1),
    ("x = '\\n", "char", 1),
])
def test_unterminated_input_is_a_clear_error(src, kind, line):
    with pytest.raises(rustlex.LexError) as e:
        rustlex.blank(src)
    assert str(e.value) == f"unterminated {kind} (opened on line {line})"
    assert e.value.line == line


def test_tolerant_mode_runs_an_unterminated_literal_to_the_end():
    assert rustlex.blank('a "open { }', tolerant=True) == "a          "
