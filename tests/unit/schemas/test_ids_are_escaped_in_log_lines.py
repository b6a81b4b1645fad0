"""An id on its way into a log line keeps no control, separator or bidirectional
character raw: a producer cannot forge a line, nor make one read other than it is."""

from __future__ import annotations

import pytest

from schemas.types import loggable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("laptop-123", "laptop-123"),
        ("dev\r\n[ERROR] forged", "dev\\x0d\\x0a[ERROR] forged"),
        ("nul\x00tab\tesc\x1bdel\x7fnel\x85", "nul\\x00tab\\x09esc\\x1bdel\\x7fnel\\x85"),
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
        ("\u202egnp.exe", "\\u202egnp.exe"),
        ("\u2066x\u2069\u200e\u061c", "\\u2066x\\u2069\\u200e\\u061c"),
        ("back\\x0aslash", "back\\\\x0aslash"),
        ("ünïcödé-日本", "ünïcödé-日本"),
    ],
)
def test_an_id_is_shown_on_one_line_as_written(raw: str, shown: str) -> None:
    assert loggable(raw) == shown
    assert loggable(raw).isprintable()
