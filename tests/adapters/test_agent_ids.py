"""Framework ids as agent ids: the documented rule, stable and injective."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from ctxstore.domain.agent_id import check_agent_id
from ctxstore.infrastructure.adapters.agent_ids import agent_id_for


def test_valid_ids_are_kept_and_others_encoded_by_the_rule() -> None:
    assert agent_id_for("thread-1") == "thread-1"
    odd = "user 42 / chat #3"
    digest = hashlib.sha256(odd.encode()).hexdigest()[:32]
    assert agent_id_for(odd) == f"x-user_42___chat__3-{digest}"
    # A valid id that looks encoded is encoded too, so it never meets an encoded one.
    assert agent_id_for("x-abc").startswith("x-x-abc-")


@given(st.text(min_size=1, max_size=300))
def test_every_id_maps_to_a_valid_agent_id(framework_id: str) -> None:
    assert check_agent_id(agent_id_for(framework_id))


@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_different_ids_get_different_agents(a: str, b: str) -> None:
    if a != b:
        assert agent_id_for(a) != agent_id_for(b)
