"""Request/reply on ctx.rpc.*, and the AsyncAPI document listing every subject."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import nats
from nats_helpers import running_app, subjects_of, wait_until

from ctxstore.infrastructure.messaging.asyncapi import asyncapi_document
from ctxstore.infrastructure.messaging.publisher import ContextPublisher, new_event
from ctxstore.infrastructure.messaging.subjects import Subjects
from ctxstore.infrastructure.settings import Settings


async def test_rpc_context_answers_state_and_errors(
        settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=1)
    subjects = subjects_of(settings)
    async with running_app(settings) as runtime:
        publisher = await ContextPublisher.connect(settings.nats_url, prefix=settings.nats_prefix)
        await publisher.publish_many([
            new_event("rpc-agent", "message", {"role": "user", "content": "one"}),
            new_event("rpc-agent", "message", {"role": "assistant", "content": "two"}),
        ])
        await publisher.close()
        store = runtime.get_store()
        await wait_until(lambda: len(store.history("rpc-agent")) == 2, what="two events")

        nc = await nats.connect(settings.nats_url)

        async def ask(body: object) -> dict[str, Any]:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            reply = await nc.request(subjects.rpc_context, raw, timeout=10)
            return json.loads(reply.data)  # type: ignore[no-any-return]

        now = await ask({"agent_id": "rpc-agent"})
        assert now["version"] == 2
        assert [m["content"] for m in now["messages"]] == ["one", "two"]
        assert now["content_hash"] == store.context("rpc-agent")["content_hash"]
        first = await ask({"agent_id": "rpc-agent", "version": 1})
        assert first["version"] == 1 and len(first["messages"]) == 1  # type: ignore[arg-type]
        window = await ask({"agent_id": "rpc-agent", "tail": 1})
        assert [m["content"] for m in window["messages"]] == ["two"]
        assert window["window"]["messages_total"] == 2  # type: ignore[index]
        assert window["content_hash"] == now["content_hash"]
        changes = await ask({"agent_id": "rpc-agent", "since_version": 1})
        assert [e["data"]["content"] for e in changes["events"]] == ["two"]
        bad_tail = await ask({"agent_id": "rpc-agent", "tail": -1})
        assert bad_tail["error"]["field"] == "tail"  # type: ignore[index]

        missing = await ask({"agent_id": "nobody"})
        assert missing["error"]["type"] == "AgentNotFound"  # type: ignore[index]
        too_far = await ask({"agent_id": "rpc-agent", "version": 9})
        assert too_far["error"]["type"] == "PointNotFound"  # type: ignore[index]
        bad = await ask({"agent_id": "bad id!", "version": -1})
        assert bad["error"]["type"] == "ValidationError"  # type: ignore[index]
        assert "agent_id" in bad["error"]["message"]  # type: ignore[index]
        assert "version" in bad["error"]["message"]  # type: ignore[index]
        for huge in (2**63, 2**64, 10**30):
            beyond = await ask({"agent_id": "rpc-agent", "version": huge})
            assert beyond["error"]["type"] == "ValidationError", beyond  # type: ignore[index]
            assert "version: " in beyond["error"]["message"]  # type: ignore[index]
            assert "Overflow" not in beyond["error"]["message"]  # type: ignore[index]
        both = await ask({"agent_id": "rpc-agent", "version": 1, "at": "2024-01-01T00:00:00Z"})
        assert "not both" in both["error"]["message"]  # type: ignore[index]
        garbage = await ask(b"{nope")
        assert "error" in garbage
        await nc.close()


async def test_rpc_checkpoint_and_restore(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=1)
    subjects = subjects_of(settings)
    async with running_app(settings) as runtime:
        async with await ContextPublisher.connect(settings.nats_url,
                                                  prefix=settings.nats_prefix) as pub:
            await pub.publish_many([
                new_event("cp-agent", "message", {"role": "user", "content": str(i)})
                for i in range(3)])
        store = runtime.get_store()
        await wait_until(lambda: len(store.history("cp-agent")) == 3, what="three events")
        nc = await nats.connect(settings.nats_url)

        async def ask(subject: str, body: object) -> dict[str, object]:
            reply = await nc.request(subject, json.dumps(body).encode(), timeout=15)
            return json.loads(reply.data)  # type: ignore[no-any-return]

        taken = await ask(subjects.rpc_checkpoint, {"agent_id": "cp-agent", "label": "three"})
        assert taken["label"] == "three" and taken["version"] == 3
        assert taken["message_count"] == 3
        assert taken["integrity_hash"] == store.context("cp-agent")["content_hash"]

        fork = await ask(subjects.rpc_restore, {
            "source_agent_id": "cp-agent", "version": 1, "target_agent_id": "cp-fork",
            "merge_strategy": "replace"})
        assert fork["target_agent_id"] == "cp-fork", fork
        assert fork["content_hash"] == store.context("cp-agent", version=1)["content_hash"]
        from_package = await ask(subjects.rpc_restore, {
            "package_id": taken["package_id"], "target_agent_id": "cp-fork-2"})
        assert from_package["content_hash"] == taken["integrity_hash"], from_package

        # No point is the latest, at every door (issue 13): a rewind to now.
        no_point = await ask(subjects.rpc_restore, {"source_agent_id": "cp-agent"})
        assert no_point["mode"] == "rewind" and no_point["point"] == {"latest": True}, no_point
        no_target = await ask(subjects.rpc_restore, {"package_id": taken["package_id"]})
        assert no_target["error"]["field"] == "target_agent_id", no_target  # type: ignore[index]
        two_points = await ask(subjects.rpc_restore, {"source_agent_id": "cp-agent",
                                                      "version": 1, "package_id": "x"})
        assert two_points["error"]["field"] == "package_id"  # type: ignore[index]
        unknown = await ask(subjects.rpc_checkpoint, {"agent_id": "nobody"})
        assert unknown["error"]["type"] == "AgentNotFound"  # type: ignore[index]
        await nc.close()


async def test_recorded_announcements_follow_commits(
        settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=2)
    subjects = subjects_of(settings)
    nc = await nats.connect(settings.nats_url)
    sub = await nc.subscribe(subjects.recorded("live-agent"))
    async with running_app(settings):
        event = new_event("live-agent", "reasoning", {"thread_id": "t", "content": "hm"})
        async with await ContextPublisher.connect(settings.nats_url,
                                                  prefix=settings.nats_prefix) as pub:
            await pub.publish(event)
        msg = await sub.next_msg(timeout=10)
        assert json.loads(msg.data) == {"agent_id": "live-agent", "version": 1,
                                        "event_id": event.event_id, "type": "reasoning"}
    await nc.close()


def test_asyncapi_lists_every_subject() -> None:
    subjects = Subjects()
    document = asyncapi_document("nats://127.0.0.1:4222", subjects)
    addresses = {c["address"] for c in document["channels"].values()}
    assert {
        "ctx.events.{agent_id}",
        "ctx.dlq.{agent_id}",
        "ctx.recorded.{agent_id}",
        "ctx.rpc.context",
        "ctx.rpc.checkpoint",
        "ctx.rpc.restore",
        # every other tenant's, under its own prefix
        "ctx.t.{tenant}.events.{agent_id}",
        "ctx.t.{tenant}.dlq.{agent_id}",
        "ctx.t.{tenant}.recorded.{agent_id}",
        "ctx.t.{tenant}.rpc.context",
        "ctx.t.{tenant}.rpc.checkpoint",
        "ctx.t.{tenant}.rpc.restore",
    } <= addresses
    text = json.dumps(document)
    assert "CTX_EVENTS" in text and "CTX_DLQ" in text
    assert "Ctx-Error" in text and "Ctx-Original-Subject" in text
    schemas = document["components"]["schemas"]
    assert any("ContextRequest" in name for name in schemas)
    assert any("RecordedAnnouncement" in name for name in schemas)
