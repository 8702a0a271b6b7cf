from faa import variant

SRC = """// a comment
@@[target("rust")]
@@[no_alloc(state_stack = 4)]
@@system A {
}
native();
@@system B {
}
"""


def test_alloc_variant_blanks_the_attribute_and_keeps_line_numbers():
    out = variant.make(SRC, "alloc")
    assert "no_alloc" not in out
    assert out.count("\n") == SRC.count("\n")
    assert out.splitlines()[3] == "@@system A {"


def test_noalloc_variant_keeps_declared_capacity_and_adds_missing_attribute():
    out = variant.make(SRC, "noalloc").splitlines()
    assert "@@[no_alloc(state_stack = 4)]" in out
    i = out.index("@@system B {")
    assert out[i - 1] == "@@[no_alloc]"
    assert sum("no_alloc" in l for l in out) == 2


def test_noalloc_variant_of_a_fixture_with_the_attribute_is_unchanged():
    src = '@@[no_alloc]\n@@system A {\n}\n'
    assert variant.make(src, "noalloc") == src
    assert variant.make(variant.make(src, "alloc"), "noalloc").count("@@[no_alloc]") == 1
