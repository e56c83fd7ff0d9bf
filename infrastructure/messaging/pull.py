"""Pull a durable consumer's messages in batches through one long-lived inbox subscription.

Why not nats-py's ``PullSubscription.fetch``: it waits for every message with ``next_msg``,
which makes a uuid4 name, an ``asyncio.wait_for`` and a task per message, and it issues a
fresh pull request (often two) per call. Here one inbox subscription with a callback appends
each delivered message to a list, and one pull request (``$JS.API.CONSUMER.MSG.NEXT``) asks for
``batch`` messages at a time: the server streams what it has at once and the rest as it comes,
until the batch is full or the request expires. The next request goes out as soon as the
current one is complete, so messages keep flowing while the caller records the last batch.

Ordering and safety: one request is open at a time per consumer (a second one only when the
first is presumed lost, e.g. across a reconnect), the server delivers a consumer's messages in
order, and the inbox is unbounded (no slow-consumer drops: a dropped message in the middle of a
batch would be acknowledged by AckPolicy.ALL without being recorded). What is buffered is
bounded by the batch size, since a new request is made only after the last one completed.
Status messages end a request: 404 (no messages), 408 (expired) and 409 (e.g. leadership
change, consumer deleted) make a new one; 409 and unknown statuses after a short pause.

Deliveries lost on the wire: when the connection breaks (the NATS node it was on dies), what
the server had sent is gone, while the server counts it as delivered and sends the next
messages to the next request. Acknowledging one of those (AckPolicy.ALL) would acknowledge the
lost ones unrecorded, and their redelivery would come after their successors. Every delivery
carries the consumer's delivery sequence, one more than the last: a message that is not is the
sign (``gap``). From it on, nothing is handed out until the owner rewinds the consumer to its
ack floor and calls ``reset``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import DEFAULT_PREFIX, StatusCode

log = logging.getLogger(__name__)

_STATUS = "Status"
_DESCRIPTION = "Description"
_REQUEST_LOST_GRACE_S = 2.0  # beyond `expires`: a request neither completed nor expired is lost
_ERROR_PAUSE_S = 0.5


class BatchPuller:
    """Batches of one durable pull consumer's messages, in delivery order."""

    def __init__(self, nc: Client, stream: str, consumer: str, *, batch: int, expires: float,
                 api_prefix: str = DEFAULT_PREFIX):
        if batch < 1 or expires <= 0:
            raise ValueError("batch must be at least 1 and expires positive")
        self.consumer = consumer
        self._nc = nc
        self._next_subject = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._request = orjson.dumps({"batch": batch, "expires": int(expires * 1e9)})
        self._batch = batch
        self._expires = expires
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._buffer: list[Msg] = []
        self._remaining = 0  # messages the open request may still deliver; 0: none open
        self._deadline = 0.0  # when the open request is presumed lost
        self._pause_until = 0.0  # after an error status, no new request before this
        self._arrived = asyncio.Event()
        self._last_delivery: int | None = None  # the consumer sequence of the last message
        self.gap = False  # a delivery went missing; see the module's docstring

    @property
    def last_delivery(self) -> int | None:
        """The consumer (delivery) sequence of the last message handed out before any gap."""
        return self._last_delivery

    def reset(self, delivered: int | None) -> None:
        """Start over after the consumer was rewound (or created): the next delivery is
        `delivered` + 1 (None: take the first one as it comes)."""
        self._buffer.clear()
        self._remaining = 0
        self._last_delivery = delivered
        self.gap = False

    async def start(self) -> None:
        # Unbounded: the server never sends more than one open request's batch at a time
        # (plus, rarely, a presumed-lost one), and dropping a message is not an option.
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_msg, pending_msgs_limit=0,
                                             pending_bytes_limit=0)

    async def close(self) -> None:
        """Stop receiving; what was delivered and not taken stays unacknowledged."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _on_msg(self, msg: Msg) -> None:
        headers = msg.headers
        status = headers.get(_STATUS) if headers else None
        if status is None:
            self._remaining -= 1
            delivery = consumer_sequence(msg.reply)
            if self.gap:
                return  # comes again after the rewind
            if (self._last_delivery is not None and delivery is not None
                    and delivery != self._last_delivery + 1):
                log.warning("consumer %s: delivery %d came after %d (a connection broke with "
                            "messages on the wire); rewinding", self.consumer, delivery,
                            self._last_delivery)
                self.gap = True
                self._arrived.set()
                return
            self._last_delivery = delivery
            self._buffer.append(msg)
        else:
            self._on_status(status, headers.get(_DESCRIPTION, "") if headers else "")
        self._arrived.set()

    def _on_status(self, status: str, description: str) -> None:
        if status == StatusCode.CONTROL_MESSAGE:
            return  # heartbeat or flow control: never asked for, and no end of a request
        self._remaining = 0
        if status in (StatusCode.NO_MESSAGES, StatusCode.REQUEST_TIMEOUT):
            return
        if "consumer deleted" in description.lower() and not self.gap:
            self._last_delivery = 0  # a consumer made again counts its deliveries from 1
        log.warning("pull request on %s ended with status %s %s; pulling again",
                    self.consumer, status, description)
        self._pause_until = time.monotonic() + _ERROR_PAUSE_S

    async def _send_request(self) -> None:
        await self._nc.publish(self._next_subject, self._request, self._inbox)
        self._remaining = self._batch
        self._deadline = time.monotonic() + self._expires + _REQUEST_LOST_GRACE_S

    async def take(self, wait: float) -> list[Msg]:
        """The messages delivered so far, waiting up to `wait` seconds for the first one.

        Returns an empty list when none came in time, or after a gap (see ``gap``). Keeps a
        pull request open meanwhile, and sends the next one before returning a batch that
        completed the last.
        """
        give_up = time.monotonic() + wait
        while True:
            now = time.monotonic()
            if (not self.gap and (self._remaining <= 0 or now > self._deadline)
                    and now >= self._pause_until):
                await self._send_request()
            if self._buffer:
                msgs, self._buffer = self._buffer, []
                return msgs
            if now >= give_up or self.gap:
                return []
            # Wake for a message, or when the open request is presumed lost, or the pause ends.
            wake = min(give_up, self._deadline if self._remaining > 0 else self._pause_until)
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), max(wake - now, 0.001))


def consumer_sequence(reply: str | None) -> int | None:
    """The consumer's delivery sequence in a JetStream reply subject (None: not one).

    ``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>``,
    or with a domain and an account hash after ``$JS.ACK`` (and maybe a token at the end).
    """
    if not reply:
        return None
    tokens = reply.split(".")
    index = 6 if len(tokens) == 9 else 8 if len(tokens) >= 11 else None
    if index is None or not tokens[index].isdigit():
        return None
    return int(tokens[index])
