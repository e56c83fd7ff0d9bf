"""The raw-text look that spares most envelopes the bounds walk (domain.bounds): it must find
every number that may not fit in 64 bits, and the envelope parser must then walk and refuse it."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctxstore.domain.bounds import INT64_MAX, has_long_digits, loads, text_within_bounds
from ctxstore.domain.events import InvalidEnvelope, parse_envelope

LONG_DIGITS = re.compile(rb"\d{19}")  # the rule, spelled as a regex


@given(st.binary(max_size=200) | st.text(alphabet="0123456789 ,-[]{}a\u0660", max_size=200)
       .map(str.encode))
def test_long_digits_are_found_as_the_regex_finds_them(text: bytes) -> None:
    assert has_long_digits(text) is (LONG_DIGITS.search(text) is not None)


@pytest.mark.parametrize(("text", "found"), [
    (b"1234567890123456789", True),  # 19 digits
    (b"x123456789012345678", False),  # 18
    (b"[1234567890,123456789]", False),  # long, but not one run
    (b'{"n": -92233720368547758080}', True),
    ("\u0661" * 30, False),  # other scripts' digits are not JSON numbers
])
def test_long_digits_examples(text: bytes | str, found: bool) -> None:
    raw = text.encode() if isinstance(text, str) else text
    assert has_long_digits(raw) is found
    assert text_within_bounds(raw) is not found


@pytest.mark.parametrize("number", [INT64_MAX + 1, -(INT64_MAX + 2), 10**30])
def test_a_number_past_64_bits_is_refused_naming_its_field(number: int) -> None:
    body = json.dumps({"event_id": "e-1", "agent_id": "a-1", "type": "tool_result",
                       "data": {"call_id": "c1", "output": {"n": [number]}}})
    value, by_orjson = loads(body.encode())
    assert value["data"]["output"]["n"] == [number] and not by_orjson  # kept exact
    with pytest.raises(InvalidEnvelope) as info:
        parse_envelope(body.encode())
    assert [e.field for e in info.value.errors] == ["data.output.n.0"]


def test_the_largest_64_bit_numbers_are_accepted() -> None:
    body = json.dumps({"event_id": "e-1", "agent_id": "a-1", "type": "tool_result",
                       "data": {"call_id": "c1", "output": [INT64_MAX, -INT64_MAX - 1]}})
    assert parse_envelope(body).data_dict()["output"] == [INT64_MAX, -INT64_MAX - 1]


def test_escaped_text_is_not_encoded_again_to_look_for_the_store_tag(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's json.dumps escapes every non-ASCII character (`\\u00e9`): such text is read
    as the same envelope as the unescaped one, without the stdlib re-encoding its free-form
    JSON to look for an escaped "_type_" key (orjson's plain re-encoding shows none)."""
    import ctxstore.domain.payloads as payloads

    body = {"event_id": "e-1", "agent_id": "a-1", "type": "tool_result",
            "data": {"call_id": "c1", "output": {"café": ["naïve", "\u001b[1m", 3]}}}
    escaped, plain = json.dumps(body), json.dumps(body, ensure_ascii=False)
    assert "\\u00e9" in escaped
    unescaped = json.dumps({**body, "data": {"call_id": "c1", "output": {"n": [1, "é"]}}},
                           ensure_ascii=False)
    assert "\\u" not in unescaped
    encoded: list[object] = []
    real = payloads.json.dumps
    monkeypatch.setattr(payloads.json, "dumps", lambda *a, **k: encoded.append(a) or real(*a,
                                                                                          **k))
    assert parse_envelope(escaped) == parse_envelope(plain.encode())
    assert parse_envelope(escaped).data_dict()["output"] == body["data"]["output"]
    parse_envelope(unescaped)
    assert encoded == []
    parse_envelope(body)  # a mapping, not text: checked the long way, as before
    assert encoded
