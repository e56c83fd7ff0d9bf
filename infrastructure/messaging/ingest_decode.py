"""From JetStream messages to envelopes, or to dead letters with the reason.

A message is decoded as every door reads an envelope (application.commands.parse_event): within
the limits, and of the agent its subject names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nats.aio.msg import Msg

from ctxstore.application.commands import EventLimits, parse_event
from ctxstore.domain.events import AnyEnvelope, InvalidEnvelope
from ctxstore.infrastructure.messaging.dlq import DeadLetter
from ctxstore.infrastructure.messaging.subjects import Subjects, dlq_agent_token


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


class MessageDecoder:
    def __init__(self, subjects: Subjects, limits: EventLimits):
        self.subjects = subjects
        self.limits = limits

    def decode(self, msg: Msg) -> Decoded:
        original, token = self.subjects.original_subject(msg.subject)
        item = Decoded(msg, original_subject=original, agent_token=token)
        if token is None:
            item.error = (f"subject {original!r} is not {self.subjects.events_template}: "
                          "one agent id token expected")
            return item
        try:
            item.envelope = parse_event(msg.data, token, self.limits, where="subject")
        except InvalidEnvelope as e:
            item.error = e.reason
        return item

    def dead_letter(self, item: Decoded) -> DeadLetter:
        body_agent = item.envelope.agent_id if item.envelope is not None else None
        # A malformed subject (ctx.events.a.b) is filed under its sanitised tail (a_b).
        parts = item.original_subject.split(".", 2)
        tail = parts[2] if len(parts) == 3 else None
        meta = item.msg.metadata
        return DeadLetter(
            agent_token=dlq_agent_token(item.agent_token, body_agent, tail),
            data=item.msg.data,
            error=item.error or "rejected",
            original_subject=item.original_subject,
            dedup_id=f"{self.subjects.events_stream}:{meta.sequence.stream}",
            original_msg_id=(item.msg.headers or {}).get("Nats-Msg-Id"),
        )
