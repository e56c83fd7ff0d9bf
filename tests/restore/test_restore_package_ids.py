"""One checkpoint per package id for each tenant, even when two readable ones of one id exist
(two tenants importing the same id at the same moment both pass the check before either
writes): each reader sees its own, else the earliest created (then by owner), in the list and
in every lookup alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from restore_support import Kit, msg, new_agent

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.application.errors import CorruptedCheckpoint
from ctxstore.domain.points import Point
from ctxstore.domain.state import canonical_json, content_hash


def test_each_tenant_sees_one_checkpoint_of_an_id(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    agent = new_agent()
    kit.store.record([msg(agent, "hello")])
    captured = kit.checkpoints.capture(agent, access_level="public")
    _, state = kit.checkpoints.load(captured.package_id)
    raw = canonical_json(state)
    earliest = captured.created_at - timedelta(days=1)
    held: dict[str, Checkpoint] = {}
    # The race's outcome: written as each import would, each past the check already.
    for tenant, created in (("tenant-b", captured.created_at), ("tenant-a", earliest),
                            ("tenant-d", captured.created_at)):
        checkpoint = replace(captured, package_id="same-id", created_at=created,
                             label=tenant, agent_id=kit.store.key_for(tenant, agent))
        held[tenant] = kit.checkpoints.store_imported(checkpoint, raw, tenant)
    for reader, expected in (("tenant-c", "tenant-a"), ("tenant-b", "tenant-b"),
                             ("tenant-d", "tenant-d"), ("tenant-a", "tenant-a")):
        rows = [(owner, c.label) for owner, c in kit.checkpoints.readable(reader)
                if c.package_id == "same-id"]
        assert rows == [(expected, expected)], (reader, rows)
        assert kit.checkpoints.find("same-id", reader) == (expected, held[expected])
        loaded, _ = kit.checkpoints.load("same-id", reader)
        assert loaded.label == expected
    # Created at the same moment: the owner's name decides, the same way everywhere.
    for tenant in ("tenant-d", "tenant-b"):
        kit.checkpoints.store_imported(replace(captured, package_id="tie-id", label=tenant,
                                               agent_id=kit.store.key_for(tenant, agent)),
                                       raw, tenant)
    assert [(o, c.label) for o, c in kit.checkpoints.readable("tenant-c")
            if c.package_id == "tie-id"] == [("tenant-b", "tenant-b")]
    assert kit.checkpoints.find("tie-id", "tenant-c")[0] == "tenant-b"


def test_an_invalid_state_imported_before_the_check_is_never_restored(
        make_kit: Callable[..., Kit]) -> None:
    """A store may hold an import kept before states were checked: reading it for a restore
    or an export is a CorruptedCheckpoint, and nothing is written."""
    kit = make_kit()
    agent = new_agent()
    kit.store.record([msg(agent, "hello")])
    captured = kit.checkpoints.capture(agent)
    _, state = kit.checkpoints.load(captured.package_id)
    state["messages"][0]["content"] = {"_type_": "decimal_str", "_data_": "1"}
    state["content_hash"] = content_hash(state)
    kit.checkpoints.store_imported(replace(captured, package_id="old-import",
                                           integrity_hash=state["content_hash"]),
                                   canonical_json(state))
    with pytest.raises(CorruptedCheckpoint, match="messages.0.content"):
        kit.restore.restore(None, Point.of_checkpoint("old-import"), "victim")
    with pytest.raises(CorruptedCheckpoint):
        kit.services.packages.export("old-import")
    assert kit.store.summary("victim") is None
