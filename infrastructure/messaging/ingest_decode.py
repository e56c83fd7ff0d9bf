"""From JetStream messages to envelopes, or to dead letters with the reason.

A message is decoded as every door reads an envelope (application.commands.parse_event): within
the limits, and of the agent its subject names, for the tenant its subject names (subjects.py).
A tenant's message that carries a Nats-Msg-Id must carry `<tenant>:...`: a bare event id
would share JetStream's duplicate window with other tenants' equal ids, and the publisher would
be told "duplicate" for an event that was never stored; refusing it makes the mistake visible
at once rather than on the first collision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nats.aio.msg import Msg

from ctxstore.application.commands import EventLimits, parse_event
from ctxstore.domain.agent_id import LOCAL_TENANT
from ctxstore.domain.events import AnyEnvelope, InvalidEnvelope
from ctxstore.infrastructure.messaging.dlq import DeadLetter
from ctxstore.infrastructure.messaging.subjects import MSG_ID, Subjects, dlq_agent_token


def last_of_each_consumer(msgs: Iterable[Msg]) -> list[Msg]:
    """The last message of each consumer (the reply subject names it) among `msgs`."""
    last: dict[str, Msg] = {}
    for msg in msgs:
        # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>
        # Counted from the end: newer servers put a domain and an account hash first, and
        # may add a token (then a consumer can be acked more than once: harmless).
        last[msg.reply.rsplit(".", 5)[0]] = msg
    return list(last.values())


@dataclass
class Decoded:
    msg: Msg
    envelope: AnyEnvelope | None = None
    error: str | None = None
    original_subject: str = ""
    agent_token: str | None = None
    tenant: str = LOCAL_TENANT


class MessageDecoder:
    def __init__(self, subjects: Subjects, limits: EventLimits):
        self.subjects = subjects
        self.limits = limits

    def decode(self, msg: Msg) -> Decoded:
        route = self.subjects.route(msg.subject)
        item = Decoded(msg, original_subject=route.original, agent_token=route.agent_token,
                       tenant=route.tenant)
        if route.agent_token is None:
            item.error = route.error
            return item
        try:
            envelope = parse_event(msg.data, route.agent_token, self.limits, where="subject")
        except InvalidEnvelope as e:
            item.error = e.reason
            return item
        msg_id = (msg.headers or {}).get(MSG_ID)
        if msg_id is not None and not self.subjects.owns_msg_id(msg_id, route.tenant):
            wanted = self.subjects.msg_id(envelope.event_id, route.tenant)
            item.error = (f"{MSG_ID}: {msg_id!r} must begin with the tenant, as {wanted!r} "
                          "does, so that JetStream's duplicate window is the tenant's own")
            return item
        item.envelope = envelope
        return item

    def dead_letter(self, item: Decoded) -> DeadLetter:
        body_agent = item.envelope.agent_id if item.envelope is not None else None
        # A malformed subject (ctx.events.a.b) is filed under its sanitised tail (a_b).
        tail = item.original_subject.partition(".events.")[2] or None
        meta = item.msg.metadata
        return DeadLetter(
            agent_token=dlq_agent_token(item.agent_token, body_agent, tail),
            tenant=item.tenant,
            data=item.msg.data,
            error=item.error or "rejected",
            original_subject=item.original_subject,
            dedup_id=f"{self.subjects.events_stream}:{meta.sequence.stream}",
            original_msg_id=(item.msg.headers or {}).get("Nats-Msg-Id"),
        )
