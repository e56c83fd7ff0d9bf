"""Agent ids and the deterministic aggregate ids derived from them."""

from __future__ import annotations

import re
from functools import lru_cache
from uuid import UUID, uuid5

AGENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
_AGENT_ID_RE = re.compile(AGENT_ID_PATTERN)

# Fixed namespace so every ctxstore derives the same aggregate id for an agent id.
AGENT_NAMESPACE = UUID("6f1c3f4e-2b7a-5d2e-9a51-8c0e4c7f1a10")


class InvalidAgentId(ValueError):
    """An agent id that is not safe as a NATS subject token."""


def check_agent_id(agent_id: str) -> str:
    if not isinstance(agent_id, str) or not _AGENT_ID_RE.match(agent_id):
        raise InvalidAgentId(
            f"agent_id {agent_id!r} must match {AGENT_ID_PATTERN} "
            "(letters, digits, '_' and '-', at most 128 characters)"
        )
    return agent_id


@lru_cache(maxsize=65536)  # a writer derives it for every agent of every batch
def aggregate_id(agent_id: str) -> UUID:
    """The aggregate id of an agent: the same in every store, so exports and restores line up."""
    return uuid5(AGENT_NAMESPACE, check_agent_id(agent_id))
