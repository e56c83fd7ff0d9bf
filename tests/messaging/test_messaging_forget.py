"""Forgetting an agent purges its messages from CTX_EVENTS and CTX_DLQ (its subjects only, its
tenant's only), and an event published for it afterwards is dropped by the ingest worker (whose
cache still held the agent): neither recorded nor dead-lettered with its content."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import nats
from nats_helpers import running_app, subjects_of, wait_drained, wait_until
from support import make_settings

from ctxstore.application.commands import Caller, Forget
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.messaging.publisher import new_event
from ctxstore.infrastructure.settings import Settings
from devtools.services import ensure_nats, free_port


async def test_forget_purges_the_agents_subjects_and_drops_its_later_events(
        settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=2)
    subjects = subjects_of(settings)
    acme = Caller("acme", keyed=True)
    async with running_app(settings) as runtime:
        del runtime
        nc = await nats.connect(settings.nats_url)
        js = nc.jetstream()

        async def publish(agent: str, content: str, tenant: str = LOCAL_TENANT) -> None:
            e = new_event(agent, "message", {"role": "user", "content": content})
            await js.publish(subjects.events(agent, tenant), e.model_dump_json().encode(),
                             headers={"Nats-Msg-Id": subjects.msg_id(e.event_id, tenant)})

        async def held(stream: str, subject: str) -> int:
            info = await js.stream_info(stream, subjects_filter=subject)
            return sum((info.state.subjects or {}).values())

        async def dead_letters(agent: str, tenant: str = LOCAL_TENANT) -> int:
            return await held(subjects.dlq_stream, subjects.dlq(agent, tenant))

        for i in range(3):
            await publish("fg-agent", f"forget me {i}")
        bad = {"event_id": "bad-role", "agent_id": "fg-agent", "type": "message",
               "data": {"role": "robot", "content": "a dead letter, in plain text"}}
        await js.publish(subjects.events("fg-agent"), json.dumps(bad).encode(),
                         headers={"Nats-Msg-Id": "bad-role"})
        await publish("keep-agent", "keep me")
        await publish("fg-agent", "acme's own", tenant="acme")
        await wait_drained(settings)
        await wait_until(lambda: dead_letters("fg-agent"), what="the dead letter")
        kept_before = await held(subjects.events_stream, f"{settings.nats_prefix}.>")

        services = bootstrap(settings)
        try:
            result = await asyncio.to_thread(  # commands block: doors call them off the loop
                services.commands.forget, Caller(), Forget(agent_id="fg-agent", by="t"))
            assert result.events == 3 and result.purge_error is None
            assert result.stream_messages is not None and result.stream_messages >= 1
            assert await dead_letters("fg-agent") == 0
            for stored in (f"{settings.nats_prefix}.part.*.fg-agent",
                           f"{settings.nats_prefix}.events.fg-agent"):
                assert await held(subjects.events_stream, stored) == 0
            # Only its messages went: the other agent's and the other tenant's stay.
            left = await held(subjects.events_stream, f"{settings.nats_prefix}.>")
            assert left == kept_before - (result.stream_messages - 1)
            assert await held(subjects.events_stream,
                              subjects.events("fg-agent", "acme")) == 1

            # Published after the forget: the worker drops it (it is refused, not recorded,
            # and no dead letter keeps its content).
            await publish("fg-agent", "published too late")
            await wait_drained(settings)
            assert await dead_letters("fg-agent") == 0
            store = services.store
            assert store.summary(store.key_for(LOCAL_TENANT, "fg-agent")) is None
            assert store.summary(store.key_for("acme", "fg-agent")) is not None
            assert store.summary(store.key_for(LOCAL_TENANT, "keep-agent")) is not None

            theirs = await asyncio.to_thread(
                services.commands.forget, acme, Forget(agent_id="fg-agent", by="acme"))
            assert theirs.events == 1 and theirs.stream_messages == 1
            assert await held(subjects.events_stream,
                              subjects.events("fg-agent", "acme")) == 0
        finally:
            services.close()
            await nc.close()


def test_purge_filters_cover_each_layout() -> None:
    from ctxstore.infrastructure.messaging.purge import agent_filters
    from ctxstore.infrastructure.messaging.subjects import Subjects

    local = agent_filters(Subjects(prefix="ctx", partitions=4), LOCAL_TENANT, "bot")
    assert ("CTX_EVENTS", "ctx.part.*.bot") in local and ("CTX_DLQ", "ctx.dlq.bot") in local
    tenant = agent_filters(Subjects(prefix="ctx"), "acme", "bot")
    assert json.dumps(tenant) == json.dumps([
        ["CTX_EVENTS", "ctx.t.acme.events.bot"], ["CTX_EVENTS", "ctx.t.acme.events.bot.>"],
        ["CTX_DLQ", "ctx.t.acme.dlq.bot"]])


async def test_no_canary_is_left_in_the_jetstream_store(
        tmp_path: Path, postgres_dsn: str, prefix: str) -> None:
    """A nats-server of the test's own, so its store folder can be read: after the forget, no
    message file holds the agent's content (events and dead letters alike)."""
    server = ensure_nats(f"nats://127.0.0.1:{free_port()}", base_dir=tmp_path)
    try:
        assert server.data_dir is not None
        settings = make_settings("postgres", tmp_path, postgres_dsn, nats_url=server.url,
                                 nats_prefix=prefix, nats_partitions=2)
        subjects = subjects_of(settings)
        canary = f"canary{uuid.uuid4().hex[:12]}"
        async with running_app(settings):
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            for agent, content in (("leaky", f"my password is {canary}"),
                                   ("keeper", "nothing to hide"),
                                   ("leaky", f"again: {canary}")):
                e = new_event(agent, "message", {"role": "user", "content": content})
                await js.publish(subjects.events(agent), e.model_dump_json().encode(),
                                 headers={"Nats-Msg-Id": e.event_id})
            # Dead letters stay (CONTEXT_NATS_DLQ_MAX_AGE_DAYS), while recorded messages leave
            # the events stream (messaging.trim): the other agent's dead letter is the control
            # that shows the scan finds what is there.
            for agent, content in (("leaky", canary), ("keeper", "nothing to hide either")):
                bad = {"event_id": f"bad-{agent}", "agent_id": agent, "type": "message",
                       "data": {"role": "robot", "content": content}}
                await js.publish(subjects.events(agent), json.dumps(bad).encode(),
                                 headers={"Nats-Msg-Id": f"bad-{agent}"})
            await wait_drained(settings)
            await wait_until(lambda: _holds(server.data_dir, canary.encode()),
                             what="the canary in the store folder")
            services = bootstrap(settings)
            try:
                result = await asyncio.to_thread(services.commands.forget, Caller(),
                                                 Forget(agent_id="leaky", by="t"))
            finally:
                services.close()
            assert result.purge_error is None and result.stream_messages
            await nc.close()
        assert not _holds(server.data_dir, canary.encode())
        assert _holds(server.data_dir, b"nothing to hide either")
    finally:
        server.stop()


def _holds(folder: Path, needle: bytes, times: int = 1) -> bool:
    """Whether the files under `folder` hold `needle` (at least `times` times in all)."""
    return sum(p.read_bytes().count(needle) for p in folder.rglob("*") if p.is_file()) >= times
