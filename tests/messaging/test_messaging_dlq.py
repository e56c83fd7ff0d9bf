"""Bad input goes to CTX_DLQ with its reason; the good events around it are recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import nats
from nats_helpers import running_app, subjects_of, wait_until

from ctxstore.infrastructure.messaging.dlq import list_dead_letters
from ctxstore.infrastructure.messaging.publisher import ContextPublisher, new_event
from ctxstore.infrastructure.settings import Settings


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTEXT_NATS_URL": settings.nats_url,
           "CONTEXT_NATS_PREFIX": settings.nats_prefix,
           "CONTEXT_NATS_PARTITIONS": str(settings.nats_partitions)}
    return subprocess.run([sys.executable, "-m", "ctxstore", *args], env=env,
                          capture_output=True, text=True, timeout=60)


async def test_malformed_messages_land_in_the_dlq_with_their_reason(
        settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(nats_partitions=2, max_event_bytes=2048)
    subjects = subjects_of(settings)
    good = [new_event("dlq-agent", "message", {"role": "user", "content": f"good {i}"})
            for i in range(4)]
    forgotten = new_event("dlq-agent", "memory_forgotten", {"memory_id": "m-1"})
    stored = new_event("dlq-agent", "memory_stored",
                       {"memory_id": "m-1", "kind": "semantic", "content": "a fact"})
    async with running_app(settings) as runtime:
        nc = await nats.connect(settings.nats_url)
        js = nc.jetstream()

        async def raw(subject: str, body: bytes, msg_id: str) -> None:
            await js.publish(subject, body, headers={"Nats-Msg-Id": msg_id})

        async def envelope(e: object) -> None:
            body = e.model_dump_json(exclude_none=True).encode()  # type: ignore[attr-defined]
            await raw(subjects.events(e.agent_id), body, e.event_id)  # type: ignore[attr-defined]

        await envelope(good[0])
        await raw(subjects.events("dlq-agent"), b"{not json", "bad-json")
        await raw(subjects.events("dlq-agent"),
                  json.dumps({"event_id": "bad-schema", "agent_id": "dlq-agent",
                              "type": "message", "data": {"role": "robot", "content": "x"}})
                  .encode(), "bad-schema")
        await envelope(good[1])
        other = new_event("someone-else", "message", {"role": "user", "content": "hi"})
        await raw(subjects.events("dlq-agent"), other.model_dump_json().encode(), "mismatch")
        big = new_event("dlq-agent", "message", {"role": "user", "content": "x" * 4000})
        await envelope(big)
        await envelope(forgotten)  # the store rejects it: no such memory
        await raw(f"{settings.nats_prefix}.events.two.tokens",
                  good[2].model_dump_json().encode(), "stray")
        await envelope(good[2])
        await envelope(good[3])

        store = runtime.get_store()
        await wait_until(lambda: store.index.agent("dlq-agent") is not None
                         and store.index.agent("dlq-agent").version == 4,  # type: ignore[union-attr]
                         what="the good events")
        await wait_until(lambda: runtime.worker is not None
                         and runtime.worker.stats.dead_lettered == 6, what="six dead letters")
        assert [h.event_id for h in store.history("dlq-agent")] == [e.event_id for e in good]

        letters = await list_dead_letters(js, subjects)
        reasons = {letter.original_subject + " " + letter.error for letter in letters}
        assert len(letters) == 6, reasons
        by_error = "\n".join(sorted(reasons))
        assert "invalid JSON" in by_error
        assert "data.role" in by_error
        assert "differs from the subject's agent 'dlq-agent'" in by_error
        assert "over the limit of 2048 bytes" in by_error
        assert "memory 'm-1' is not stored" in by_error
        assert "one agent id token expected" in by_error
        assert {letter.subject for letter in letters} == {
            subjects.dlq("dlq-agent"), subjects.dlq("two_tokens")}
        assert all(letter.original_subject.startswith(f"{settings.nats_prefix}.events.")
                   for letter in letters)
        mismatch = next(x for x in letters if "differs" in x.error)
        assert mismatch.data == other.model_dump_json().encode()  # byte for byte

        # The CLI lists them; after the fix (the memory now exists) a replay records the event.
        listed = cli(settings, "dlq", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert len(rows) == 6 and all(r["error"] for r in rows)
        target = next(r for r in rows if "is not stored" in r["error"])

        await envelope(stored)
        await wait_until(lambda: store.index.agent("dlq-agent").version == 5,  # type: ignore[union-attr]
                         what="the memory")
        replayed = cli(settings, "dlq", "replay", str(target["seq"]))
        assert replayed.returncode == 0, replayed.stderr
        await wait_until(lambda: store.index.agent("dlq-agent").version == 6,  # type: ignore[union-attr]
                         what="the replayed event")
        assert store.history("dlq-agent")[-1].event_id == forgotten.event_id
        assert len(await list_dead_letters(js, subjects)) == 5
        bad = cli(settings, "dlq", "replay", "999999")
        assert bad.returncode != 0 and "no dead letter" in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
        await nc.close()


async def test_sync_publisher_for_agents_without_a_loop(
        settings_factory: Callable[..., Settings]) -> None:
    import asyncio

    from ctxstore.infrastructure.messaging.publisher import SyncContextPublisher

    settings = settings_factory(nats_partitions=2)
    async with running_app(settings) as runtime:
        def publish() -> list[object]:
            with SyncContextPublisher(settings.nats_url, prefix=settings.nats_prefix) as pub:
                first = pub.event("sync-agent", "message", {"role": "user", "content": "a"})
                rest = pub.publish_many(
                    [new_event("sync-agent", "reasoning", {"thread_id": "t", "content": "b"})])
                return [first, *rest]

        acks = await asyncio.to_thread(publish)
        assert all(getattr(a, "stream", None) == subjects_of(settings).events_stream
                   for a in acks)
        store = runtime.get_store()
        await wait_until(lambda: len(store.history("sync-agent")) == 2, what="two events")


async def test_async_publisher_rejects_invalid_envelopes_before_sending(
        settings_factory: Callable[..., Settings]) -> None:
    import pytest

    from ctxstore.domain.events import InvalidEnvelope

    settings = settings_factory(nats_partitions=1)
    async with running_app(settings), await ContextPublisher.connect(
            settings.nats_url, prefix=settings.nats_prefix) as pub:
        with pytest.raises(InvalidEnvelope, match="data.role"):
            await pub.publish({"event_id": "x", "agent_id": "a", "type": "message",
                               "data": {"role": "robot", "content": "x"}})


async def test_out_of_bounds_envelopes_are_dead_letters_with_the_bound(
        settings_factory: Callable[..., Settings]) -> None:
    """Issue 12 §3 over NATS: what HTTP refuses with a 422 is a dead letter naming the bound,
    and the good events around it are recorded."""
    settings = settings_factory(nats_partitions=1)
    subjects = subjects_of(settings)
    agent = "bounds-agent"

    def body(output: str, **extra: str) -> bytes:
        fields = "".join(f',"{k}":{v}' for k, v in extra.items())
        return (f'{{"event_id":"e-{len(output)}-{len(fields)}","agent_id":"{agent}",'
                f'"type":"tool_result"{fields},"data":{{"call_id":"c","output":{output}}}}}'
                ).encode()

    bad = {
        "deep": body("[" * 100_000 + "]" * 100_000),
        "deep-70": body("[" * 70 + "]" * 70),
        "surrogate": body('"\\ud800"'),
        "surrogate-key": body('{"\\udc00x":1}'),
        "int64": body(str(2**63)),
        "year-1": body("1", occurred_at='"0001-01-01T00:00:00+14:00"'),
        "year-9999": body("2", occurred_at='"9999-12-31T23:59:59Z"'),
        # Not UTF-8: read as UTF-8, never sniffed as UTF-16 (a misleading codec message).
        "utf16-bom": b"\xff\xfe" + body("3").decode().encode("utf-16-le"),
        "latin-1": body('"cafe"').replace(b"cafe", b"caf\xe9"),
    }
    good = [new_event(agent, "message", {"role": "user", "content": f"good {i}"})
            for i in range(2)]
    async with running_app(settings) as runtime:
        nc = await nats.connect(settings.nats_url)
        js = nc.jetstream()
        await js.publish(subjects.events(agent), good[0].model_dump_json().encode(),
                         headers={"Nats-Msg-Id": good[0].event_id})
        for name, data in bad.items():
            await js.publish(subjects.events(agent), data, headers={"Nats-Msg-Id": name})
        await js.publish(subjects.events(agent), good[1].model_dump_json().encode(),
                         headers={"Nats-Msg-Id": good[1].event_id})
        store = runtime.get_store()
        await wait_until(lambda: runtime.worker is not None
                         and runtime.worker.stats.dead_lettered == len(bad),
                         what="the dead letters")
        await wait_until(lambda: store.index.agent(agent) is not None
                         and store.index.agent(agent).version == 2,  # type: ignore[union-attr]
                         what="the good events")
        assert [h.event_id for h in store.history(agent)] == [e.event_id for e in good]
        errors = "\n".join(sorted(x.error for x in await list_dead_letters(js, subjects)))
        assert errors.count("nested more than 64") == 2, errors
        assert errors.count("surrogate") == 2, errors
        assert "64-bit" in errors and errors.count("occurred_at") == 2, errors
        assert errors.count("body is not UTF-8 JSON") == 2 and "codec" not in errors, errors
        await nc.close()
