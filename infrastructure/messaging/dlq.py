"""The dead-letter stream: what could not be recorded, why, and how to send it back.

A dead letter keeps the original body byte for byte, the reason in ``Ctx-Error`` and the subject
the agent used in ``Ctx-Original-Subject``; a tenant's goes to its own dead-letter subject
(``ctx.t.<tenant>.dlq.<agent_id>``) with its name in ``Ctx-Tenant``. Publishing one is retried
until JetStream acknowledges it: the original message is acknowledged only after that, so
nothing is lost between the two streams. Its ``Nats-Msg-Id`` is the original stream sequence, so
a redelivered bad message is dead-lettered once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import NotFoundError

from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.infrastructure.messaging.subjects import (
    CTX_ERROR,
    CTX_ORIGINAL_SUBJECT,
    MSG_ID,
    Subjects,
)

log = logging.getLogger(__name__)

ORIGINAL_MSG_ID = "Ctx-Original-Msg-Id"
CTX_TENANT = "Ctx-Tenant"
MAX_HEADER_CHARS = 2000


def header_safe(text: str) -> str:
    """One line, bounded: header values cannot hold line breaks."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_HEADER_CHARS else line[: MAX_HEADER_CHARS - 1] + "…"


@dataclass(frozen=True)
class DeadLetter:
    agent_token: str
    data: bytes
    error: str
    original_subject: str
    dedup_id: str
    original_msg_id: str | None = None
    tenant: str = LOCAL_TENANT


class DeadLetterPublisher:
    def __init__(self, js: JetStreamContext, subjects: Subjects, ack_timeout: float = 5.0):
        self.js = js
        self.subjects = subjects
        self.ack_timeout = ack_timeout

    async def publish_all(self, letters: list[DeadLetter]) -> None:
        await asyncio.gather(*(self.publish(letter) for letter in letters))

    async def publish(self, letter: DeadLetter) -> PubAck:
        headers = {
            CTX_ERROR: header_safe(letter.error),
            CTX_ORIGINAL_SUBJECT: letter.original_subject,
            MSG_ID: letter.dedup_id,
        }
        if letter.original_msg_id:
            headers[ORIGINAL_MSG_ID] = letter.original_msg_id
        if letter.tenant != LOCAL_TENANT:
            headers[CTX_TENANT] = letter.tenant
        delay = 0.1
        while True:
            try:
                return await self.js.publish(
                    self.subjects.dlq(letter.agent_token, letter.tenant), letter.data,
                    timeout=self.ack_timeout, stream=self.subjects.dlq_stream, headers=headers)
            except (NatsError, TimeoutError) as e:
                log.warning("dead-lettering to %s failed (%s); retrying", self.subjects.dlq_stream,
                            e)
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)


@dataclass(frozen=True)
class DlqEntry:
    seq: int
    subject: str
    error: str
    original_subject: str
    time: datetime | None
    data: bytes
    original_msg_id: str | None
    tenant: str = LOCAL_TENANT


async def list_dead_letters(js: JetStreamContext, subjects: Subjects, *,
                            agent_id: str | None = None, limit: int | None = None,
                            tenant: str = LOCAL_TENANT) -> list[DlqEntry]:
    """Dead letters in stream order, of one tenant (the local one unless told), of one agent
    token when given."""
    wanted = subjects.dlq(agent_id, tenant) if agent_id else f"{subjects.scope(tenant)}.dlq.>"
    entries: list[DlqEntry] = []
    seq = 1
    while limit is None or len(entries) < limit:
        try:
            raw = await js.get_msg(subjects.dlq_stream, seq, subject=wanted, next=True)
        except NotFoundError:
            break
        headers = raw.headers or {}
        assert raw.seq is not None
        entries.append(DlqEntry(
            seq=raw.seq, subject=raw.subject or "", error=headers.get(CTX_ERROR, ""),
            original_subject=headers.get(CTX_ORIGINAL_SUBJECT, ""), time=raw.time,
            data=raw.data or b"", original_msg_id=headers.get(ORIGINAL_MSG_ID),
            tenant=headers.get(CTX_TENANT, LOCAL_TENANT)))
        seq = raw.seq + 1
    return entries


async def replay_dead_letters(js: JetStreamContext, subjects: Subjects, entries: list[DlqEntry],
                              ack_timeout: float = 5.0) -> list[tuple[DlqEntry, PubAck]]:
    """Republish each to its original subject, then remove it from the dead-letter stream.

    The new message id differs from the first publication's (JetStream would drop a repeat
    inside its window); the store's event-id index still records each event once.
    """
    done: list[tuple[DlqEntry, PubAck]] = []
    for entry in entries:
        if not entry.original_subject:
            raise ValueError(f"dead letter {entry.seq} has no {CTX_ORIGINAL_SUBJECT} header")
        msg_id = f"{entry.original_msg_id or 'dlq'}:replay:{entry.seq}"
        if not subjects.owns_msg_id(msg_id, entry.tenant):  # ingest refuses another's id
            msg_id = subjects.msg_id(msg_id, entry.tenant)
        ack = await js.publish(entry.original_subject, entry.data, timeout=ack_timeout,
                               stream=subjects.events_stream, headers={MSG_ID: msg_id})
        await js.delete_msg(subjects.dlq_stream, entry.seq)
        done.append((entry, ack))
    return done
