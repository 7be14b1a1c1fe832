"""runtime.inputs.check_texts: the one place task models check what a reader passes them."""
import pytest

from llmbook_lib.runtime.inputs import check_texts


def test_good_input_comes_back_as_a_list():
    assert check_texts(("a", "", " b "), "f([text])") == ["a", "", " b "]
    assert check_texts([], "f([text])") == []
    assert check_texts(iter(["x"]), "f([text])", empty="do") == ["x"]


@pytest.mark.parametrize("texts, error, match", [
    ("一段话", TypeError, r"not a single str: wrap it, f\(\[text\]\)"),
    (b"bytes", TypeError, "not a single bytes"),
    (42, TypeError, "not int"),
    (["a", 3], TypeError, "text 1 is a int"),
    (["a", None], TypeError, "text 1 is a NoneType"),
    (["好".encode("gbk")], TypeError, r"text 0 is bytes, not str: decode it first"),
    ([bytearray(b"x")], TypeError, "text 0 is bytearray"),
])
def test_bad_input_names_the_problem(texts, error, match):
    with pytest.raises(error, match=match):
        check_texts(texts, "f([text])")


def test_empty_text_is_an_error_only_when_asked():
    assert check_texts(["", " \n"], "f([text])") == ["", " \n"]
    with pytest.raises(ValueError, match="text 1 is empty or only whitespace: there is nothing to classify"):
        check_texts(["a", " \t"], "f([text])", empty="classify")
