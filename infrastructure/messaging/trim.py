"""Remove recorded-and-acknowledged messages from the events stream.

Why: the events stream keeps each envelope, content in plain text, and once PostgreSQL holds
it (compressed, maybe encrypted) the stream's copy is only a liability. Why not the stream's
retention policy: work-queue retention requires explicit acks per message (our consumers
acknowledge a batch with one AckPolicy.ALL ack) and consumers that deliver everything (our
rewind recreates a consumer at its ack floor); interest retention drops what no consumer
wants, so a message published before the ingest worker first made its consumers, or while a
rewind deletes and recreates one, would be lost. And neither can be set on an existing
stream. So the stream keeps LIMITS retention and the worker purges behind itself: for each
consumer's filter, everything below the last committed message. That is exactly what its
AckPolicy.ALL acknowledgement already asserts (every earlier message of the consumer is
recorded or dead-lettered), and the consumers' filters never overlap (subjects.py), so a
purge never reaches another consumer's messages.

Purges go out on a timer, not per batch: one request per busy consumer per interval, off the
committer's path. One that fails is tried again at the next tick; a worker that dies before
it leaves messages that the next worker's purge covers, since they are below its marks too.
"""

from __future__ import annotations

import asyncio
import logging

from nats.js import JetStreamContext

log = logging.getLogger(__name__)


class StreamTrimmer:
    """Purges, per consumer filter, the stream up to the last message recorded through it."""

    def __init__(self, js: JetStreamContext, stream: str, *, every: float = 1.0):
        self.js = js
        self.stream = stream
        self.every = every
        self._marks: dict[str, int] = {}  # filter subject -> last committed stream sequence
        self._done: dict[str, int] = {}  # filter subject -> the last sequence purged through

    def committed(self, filter_subject: str, stream_seq: int) -> None:
        """Every message of `filter_subject` up to `stream_seq` is recorded or dead-lettered."""
        if stream_seq > self._marks.get(filter_subject, 0):
            self._marks[filter_subject] = stream_seq

    async def flush(self) -> None:
        """Purge what was committed since the last flush."""
        for subject, seq in list(self._marks.items()):
            if self._done.get(subject, 0) >= seq:
                continue
            try:
                # `seq`: everything of the subject below it goes.
                await self.js.purge_stream(self.stream, seq=seq + 1, subject=subject)
            except Exception as e:  # noqa: BLE001 - NATS away for a moment: next tick
                log.warning("purging recorded messages of %s from %s failed (%s: %s); "
                            "retrying", subject, self.stream, type(e).__name__, e)
                return
            self._done[subject] = seq

    async def run(self) -> None:
        """Flush every `every` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.every)
            await self.flush()
