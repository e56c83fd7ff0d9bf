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
