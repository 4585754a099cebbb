"""The one JSON body reader: every unusable body is a ConnectorError with the status the caller answers."""
from __future__ import annotations

import pytest

from ciconnector.errors import ConnectorError
from ciconnector.request_body import MAX_DEPTH, read_json

JSON = "application/json"


def test_reads_json_and_json_suffix_types():
    assert read_json(b'{"a": [1, {"b": "\\u00e9"}]}', JSON, max_bytes=100) == {"a": [1, {"b": "é"}]}
    assert read_json(b"[]", "application/merge-patch+json; charset=utf-8", max_bytes=10) == []


def test_depth_limit_is_exact():
    at_limit = ("[" * MAX_DEPTH + "]" * MAX_DEPTH).encode()
    value = read_json(at_limit, JSON, max_bytes=10_000)
    for _ in range(MAX_DEPTH - 1):
        value = value[0]
    assert value == []
    with pytest.raises(ConnectorError) as caught:
        read_json(("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode(), JSON, max_bytes=10_000)
    assert (caught.value.status, caught.value.code) == (400, "JsonTooDeep")


def test_nesting_past_the_recursion_limit_is_a_400_not_a_crash():
    with pytest.raises(ConnectorError) as caught:
        read_json(b"[" * 100_000 + b"]" * 100_000, JSON, max_bytes=1_000_000)
    assert caught.value.code == "JsonTooDeep"


@pytest.mark.parametrize("body, status, code", [
    (b"x" * 11, 413, "BodyTooLarge"),
    (b"{}", 400, "UnsupportedContentType"),
    (b"{oops", 400, "InvalidJson"),
    (b"\xff\xfe", 400, "InvalidJson"),
    (b'"\\ud800"', 400, "InvalidUnicode"),
    (b'{"\\udc00": 1}', 400, "InvalidUnicode"),
    (b'[{"a": ["ok", "\\udbff"]}]', 400, "InvalidUnicode"),
    (b"1" * 5000, 413, "BodyTooLarge"),
])
def test_refusals(body, status, code):
    content_type = "text/plain" if code == "UnsupportedContentType" else JSON
    with pytest.raises(ConnectorError) as caught:
        read_json(body, content_type, max_bytes=10 if code == "BodyTooLarge" else 100, field="item")
    assert (caught.value.status, caught.value.code, caught.value.field) == (status, code, "item")


def test_huge_integers_are_invalid_json_not_a_crash():
    """Python refuses int literals over 4300 digits (int_max_str_digits): a ValueError, so a 400."""
    with pytest.raises(ConnectorError) as caught:
        read_json(b"9" * 5000, JSON, max_bytes=10_000)
    assert caught.value.code == "InvalidJson"
