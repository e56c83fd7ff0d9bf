"""canonical_json_of_content writes exactly canonical_json's bytes for what an agent's content
holds (JSON within the bounds), whichever of its two ways it takes: every content hash and
every stored part depends on those bytes (DESIGN §2)."""

from __future__ import annotations

import math
import random
import struct
from datetime import UTC, datetime
from typing import Any

import pytest
from hash_rule import independent_hash
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.state import canonical_json, canonical_json_of_content
from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.samples import TRACES

# JSON as the doors let it in: finite floats, 64-bit integers, text without lone surrogates.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
LEAVES = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
          | st.floats(allow_nan=False, allow_infinity=False) | TEXT)
JSON = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=6)
                    | st.dictionaries(TEXT, inner, max_size=6), max_leaves=40)


@settings(max_examples=1500, deadline=None)
@given(JSON)
def test_the_same_bytes_for_any_json_within_the_bounds(value: Any) -> None:
    assert canonical_json_of_content(value) == canonical_json(value)


def test_every_code_point_is_written_alike() -> None:
    """Escapes (controls, quote, backslash) and raw UTF-8 (DEL, U+2028, astral) alike, in
    values and in keys, which both sort by code point."""
    points = [*range(0xD800), *range(0xE000, 0x110000, 7), 0x10FFFF]
    for start in range(0, len(points), 512):
        chunk = [chr(p) for p in points[start:start + 512]]
        value = {"text": "".join(chunk), "each": chunk, "keys": {c: i for i, c in enumerate(chunk)}}
        assert canonical_json_of_content(value) == canonical_json(value)


def test_floats_of_every_magnitude() -> None:
    """Where orjson writes a float otherwise (below 1e-4, one-digit negative exponents), the
    value goes to canonical_json: the bytes never differ."""
    rng = random.Random(16)
    floats = [float(f"{m}e{e}") for e in range(-324, 309) for m in (1, 1.5, 4.9, 9.99)]
    floats += [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
               for _ in range(20_000)]
    floats += [round(rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30), rng.randint(0, 17))
               for _ in range(20_000)]
    finite = [f for f in floats if math.isfinite(f)] + [0.0, -0.0, 2.0**53, 5e-324]
    for f in finite:
        for value in ([f, {"f": -f}], f, [[f]]):
            assert canonical_json_of_content(value) == canonical_json(value), value


def test_text_that_looks_like_such_a_float_is_the_same_too() -> None:
    for text in ("1e-7", "0.00001", "uuid 123e-4567", "page-2", "a 0.0000 b", "x:1e-5,",
                 "[-0.00001]", "message-1"):
        assert canonical_json_of_content({"t": text}) == canonical_json({"t": text})


class Name(str):
    pass


@pytest.mark.parametrize("value", [
    {"n": 2**64}, [Name("x")], {1: "integer key"}, {"when": datetime(2026, 1, 1, tzinfo=UTC)},
    ["\ud800"], {"x": object()}])
def test_what_orjson_refuses_is_canonical_jsons_to_write_or_refuse(value: Any) -> None:
    try:
        expected: bytes | type[Exception] = canonical_json(value)
    except (TypeError, ValueError) as e:
        expected = type(e)
    if isinstance(expected, bytes):
        assert canonical_json_of_content(value) == expected
    else:
        with pytest.raises(expected):
            canonical_json_of_content(value)


@pytest.mark.parametrize("path", sorted(p for p in TRACES.rglob("*") if p.is_file()
                                         and p.suffix in (".json", ".traj", ".af")),
                         ids=lambda p: p.name)
def test_hashes_of_real_trace_contents_are_the_rules(path: Any) -> None:
    """Pages of real agents (tool outputs, memories, unicode), every part written both ways:
    the aggregate's hash, made with this, is the hash an independent implementation of the
    rule computes."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    for imported in load_trace(path):
        agent = AgentContext.start(imported.agent_id)
        for envelope in imported.envelopes:
            agent.record(event_id=envelope.event_id, type=envelope.type,
                         data=envelope.data_dict(), timestamp=when)
        state = agent.state()
        assert agent.version == len(imported.envelopes) > 0
        assert state["content_hash"] == independent_hash(state)
        for field in ("messages", "tool_calls", "memories", "reasoning", "mcp_servers"):
            assert canonical_json_of_content(state[field]) == canonical_json(state[field])
