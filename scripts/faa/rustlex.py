"""The Rust tokens every reader of Rust text must step over.

One scanner for the shim (reading a generated module's API), the scenario
parser (splitting a call at top-level commas), the static proof (finding
allocator attributes) and attribution (matching braces): comments and
literals are where a brace, a comma or `pub fn` means nothing.

`spans(src)` yields (kind, start, end) for every comment and literal;
`blank(src)` replaces them with spaces, keeping every offset and newline,
so a regex or a bracket count over the result sees only code.

Kinds: "line_comment", "block_comment" (nested, as Rust nests them),
"string" ("..", b"..", c".."), "raw_string" (r#".."#, br"..", cr".."),
"char" ('x', '\\n', '\\u{..}', b'x').  A lifetime or label ('a, 'static)
is code, not a literal: the pitfall every ad-hoc skipper falls into is
reading `<'a, 'b>` as the char literal `'a, '`.  A raw identifier
(r#type) is code too.

Unterminated input raises LexError naming the kind and the line it
started on.  Readers of text that rustc has not vetted and that must not
fail (attribution over a mutant) pass tolerant=True: an unterminated
literal or comment then runs to the end of the text.
"""

import re

_WORD = re.compile(r"[A-Za-z0-9_]+")
# A literal prefix, matched only at the start of a word (`xr"..."` is the
# identifier `xr` followed by a plain string).
_RAW_OPEN = re.compile(r'(?:b|c)?r(#*)"')
_QUOTED_OPEN = re.compile(r'(?:b|c)?"')
_BYTE_CHAR_OPEN = re.compile(r"b'")


class LexError(ValueError):
    """Unterminated comment or literal; .offset is where it started."""

    def __init__(self, kind, src, offset):
        line = src.count("\n", 0, offset) + 1
        super().__init__(f"unterminated {kind.replace('_', ' ')} (opened on line {line})")
        self.kind = kind
        self.offset = offset
        self.line = line


def _block_comment_end(src, i):
    depth, j, n = 1, i + 2, len(src)
    while j < n:
        if src.startswith("/*", j):
            depth, j = depth + 1, j + 2
        elif src.startswith("*/", j):
            depth, j = depth - 1, j + 2
            if depth == 0:
                return j
        else:
            j += 1
    return -1


def _quoted_end(src, j):
    """Index past the closing quote of a string whose body starts at j."""
    n = len(src)
    while j < n:
        if src[j] == "\\":
            j += 2
        elif src[j] == '"':
            return j + 1
        else:
            j += 1
    return -1


def _char_end(src, i):
    """Index past the char literal whose quote is src[i], or None when the
    quote opens a lifetime or label.  -1: an escape never closed."""
    if src[i + 1:i + 2] == "\\":
        k = src.find("'", i + 3)
        return -1 if k < 0 else k + 1
    if src[i + 2:i + 3] == "'":
        return i + 3
    return None


def _literal_at_word(src, i):
    """(kind, end) for a literal whose prefix starts the word at src[i];
    None when the word is plain code (an identifier, keyword or number)."""
    m = _RAW_OPEN.match(src, i)
    if m:
        close = '"' + m.group(1)
        k = src.find(close, m.end())
        return "raw_string", (-1 if k < 0 else k + len(close))
    m = _QUOTED_OPEN.match(src, i)
    if m:
        return "string", _quoted_end(src, m.end())
    if _BYTE_CHAR_OPEN.match(src, i):
        end = _char_end(src, i + 1)
        return "char", (-1 if end is None else end)
    return None


def _token_at(src, i):
    """(kind, end) of the comment or literal at src[i]; (None, next index)
    when src[i] starts code."""
    c = src[i]
    if src.startswith("//", i):
        k = src.find("\n", i)
        return "line_comment", (len(src) if k < 0 else k)
    if src.startswith("/*", i):
        return "block_comment", _block_comment_end(src, i)
    if c == '"':
        return "string", _quoted_end(src, i + 1)
    if c == "'":
        end = _char_end(src, i)
        if end is None:          # a lifetime: step over its name as code
            m = _WORD.match(src, i + 1)
            return None, (m.end() if m else i + 1)
        return "char", end
    if c.isalnum() or c == "_":
        lit = _literal_at_word(src, i)
        if lit:
            return lit
        m = _WORD.match(src, i)
        return None, (m.end() if m else i + 1)
    return None, i + 1


def spans(src, tolerant=False):
    """Yields (kind, start, end) of every comment and literal in src."""
    i, n = 0, len(src)
    while i < n:
        kind, end = _token_at(src, i)
        if kind is None:
            i = end
            continue
        if end < 0:
            if not tolerant:
                raise LexError(kind, src, i)
            end = n
        yield kind, i, end
        i = end


def blank(src, tolerant=False):
    """src with every comment and literal blanked (newlines kept)."""
    out = list(src)
    for _kind, start, end in spans(src, tolerant):
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "
    return "".join(out)


_INT_SUFFIX = r"(?P<suffix>[iu](?:8|16|32|64|128|size))?"
_INT_LIT = re.compile(r"(?P<neg>-\s*)?(?:0x(?P<hex>[0-9A-Fa-f_]+)|0o(?P<oct>[0-7_]+)|0b(?P<bin>[01_]+)"
                      r"|(?P<dec>[0-9][0-9_]*))" + _INT_SUFFIX)
_FLOAT_LIT = re.compile(r"-?\s*[0-9][0-9_]*(?:(?:\.[0-9][0-9_]*)?(?:[eE][+-]?[0-9_]+)?(?P<suffix>f32|f64)"
                        r"|\.[0-9][0-9_]*(?:[eE][+-]?[0-9_]+)?|[eE][+-]?[0-9_]+|\.)")


def _int_literal(text):
    m = _INT_LIT.fullmatch(text)
    if not m:
        return None
    for base, key in ((16, "hex"), (8, "oct"), (2, "bin"), (10, "dec")):
        digits = (m.group(key) or "").replace("_", "")
        if m.group(key) is not None:
            if not digits:
                return None
            value = int(digits, base)
            return ("int", -value if m.group("neg") else value, m.group("suffix"))
    return None


def literal(text):
    """What a Rust literal is, from its text alone (None: not one literal):
    ("int", value, suffix or None), ("float", suffix or None), ("bool",),
    ("char",), ("byte",) for b'x', ("str",) for "..." and r"...", ("bytes",)
    for b"..." and br"..."."""
    t = text.strip()
    if t in ("true", "false"):
        return ("bool",)
    found = _int_literal(t)
    if found:
        return found
    m = _FLOAT_LIT.fullmatch(t)
    if m:
        return ("float", m.group("suffix"))
    try:
        toks = list(spans(t))
    except LexError:
        return None
    if len(toks) != 1 or toks[0][1] != 0 or toks[0][2] != len(t):
        return None
    kind = toks[0][0]
    if kind == "char":
        return ("byte",) if t.startswith("b") else ("char",)
    if kind in ("string", "raw_string") and not t.startswith("c"):
        return ("bytes",) if t.startswith("b") else ("str",)
    return None
