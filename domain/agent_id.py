"""Agent ids, the tenant namespaces they live in, and the deterministic aggregate ids.

An agent is named by its tenant and its agent id. Inside the store it is known by one string,
its *key*: the agent id itself for the local (keyless) tenant, so existing single-tenant stores
keep their aggregate ids, and `<tenant>/<agent id>` for any other tenant. Agent ids never hold
a `/`, so a key names exactly one (tenant, agent id) pair and never collides with a local id.
Events, side tables, projections and checkpoints all key on it, which is what keeps two
tenants' `support-bot-1` apart everywhere; callers outside the store show `plain_agent_id`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from uuid import UUID, uuid5

AGENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
_AGENT_ID_RE = re.compile(AGENT_ID_PATTERN)

# Fixed namespace so every ctxstore derives the same aggregate id for an agent id.
AGENT_NAMESPACE = UUID("6f1c3f4e-2b7a-5d2e-9a51-8c0e4c7f1a10")

# The tenant of everything written without API keys, and over NATS on the contract's subjects.
LOCAL_TENANT = "local"
TENANT_SEPARATOR = "/"


class InvalidAgentId(ValueError):
    """An agent id that is not safe as a NATS subject token."""


def check_agent_id(agent_id: str) -> str:
    if not isinstance(agent_id, str) or not _AGENT_ID_RE.match(agent_id):
        raise InvalidAgentId(
            f"agent_id {agent_id!r} must match {AGENT_ID_PATTERN} "
            "(letters, digits, '_' and '-', at most 128 characters)"
        )
    return agent_id


def agent_key(tenant: str, agent_id: str) -> str:
    """The store's name for a tenant's agent (see the module docstring)."""
    check_agent_id(agent_id)
    if tenant == LOCAL_TENANT:
        return agent_id
    if not tenant:
        raise ValueError("a tenant name cannot be empty")
    return f"{tenant}{TENANT_SEPARATOR}{agent_id}"


def named_tenant(key: str) -> str:
    """The tenant an agent key names (its owner once it is written, which never changes)."""
    return key.rpartition(TENANT_SEPARATOR)[0] or LOCAL_TENANT


def plain_agent_id(key: str) -> str:
    """The agent id a tenant knows an agent by: its key without the tenant."""
    return key.rpartition(TENANT_SEPARATOR)[2]


def check_agent_key(key: str) -> str:
    """A local agent id, or `<tenant>/<agent id>` with a valid agent id."""
    if not isinstance(key, str):
        check_agent_id(key)  # raises InvalidAgentId
    tenant, sep, agent_id = key.rpartition(TENANT_SEPARATOR)
    check_agent_id(agent_id)
    if sep and not tenant:
        raise InvalidAgentId(f"agent key {key!r} names an empty tenant")
    return key


@lru_cache(maxsize=65536)  # a writer derives it for every agent of every batch
def aggregate_id(key: str) -> UUID:
    """The aggregate id of an agent key: the same in every store, so exports and restores line
    up; a local agent's is the uuid5 of its agent id, as it always was."""
    return uuid5(AGENT_NAMESPACE, check_agent_key(key))
