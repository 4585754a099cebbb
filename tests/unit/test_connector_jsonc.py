"""Reading JSON with // comments."""
import pytest

from dev.jsonc import loads, strip_comments


def test_comments_outside_strings_are_removed():
    text = '{\n  "a": 1, // note\n  // whole line\n  "b": "x"\n}'
    assert loads(text) == {"a": 1, "b": "x"}


def test_urls_and_escaped_quotes_inside_strings_survive():
    text = '{"id": "https://example.com/x#", "q": "say \\"//hi\\"" // trailing\n}'
    assert loads(text) == {"id": "https://example.com/x#", "q": 'say "//hi"'}


def test_bom_is_ignored():
    assert loads("\ufeff{\"a\": 1}") == {"a": 1}


def test_comment_at_end_without_newline():
    assert strip_comments('{"a": 1} // end') == '{"a": 1} '


def test_a_naive_strip_would_break_the_same_input():
    text = '{"u": "http://x"}'
    with pytest.raises(ValueError):
        import json
        json.loads(text.split("//")[0])
    assert loads(text) == {"u": "http://x"}
