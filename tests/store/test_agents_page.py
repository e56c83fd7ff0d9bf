"""The agent catalogue pages by keyset in the database: each tenant's agents by agent id (the
key without its tenant), in code-point order, `limit` at a time after the last one seen."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ctxstore.application.store import ContextStore
from ctxstore.domain.agent_id import plain_agent_id
from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import build_store
from tests.support import make_settings

# Code-point order puts '-' before digits before capitals before '_' before small letters,
# which a locale's collation would not.
NAMES = ["b_2", "B-1", "a", "a-b", "A", "aa", "z9", "Z", "0", "a_b"]


def page_through(store: ContextStore, tenant: str, limit: int) -> list[str]:
    seen: list[str] = []
    after: str | None = None
    while True:
        page = store.agents_page(tenant, after, limit)
        seen += [plain_agent_id(a.agent_id) for a in page]
        if len(page) < limit:
            return seen
        after = plain_agent_id(page[-1].agent_id)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_pages_follow_each_other_in_code_point_order(backend: str, tmp_path: Path,
                                                     postgres_dsn: str) -> None:
    store = build_store(make_settings(backend, tmp_path, postgres_dsn))
    try:
        for tenant, names in (("local", NAMES), ("acme", NAMES[:6]), ("globex", ["a", "q"])):
            store.record([make_envelope(name, "message", {"role": "user", "content": "hi"},
                                        event_id=str(uuid.uuid4())) for name in names],
                          tenant=tenant)
        assert page_through(store, "local", 3) == sorted(NAMES)
        assert page_through(store, "acme", 4) == sorted(NAMES[:6])
        assert page_through(store, "nobody", 2) == []
        assert [plain_agent_id(a.agent_id) for a in store.agents_page("acme", "a", 2)] == \
            ["a-b", "aa"]
        assert [a.tenant for a in store.agents_page("globex", None, 10)] == ["globex"] * 2
    finally:
        store.close()
