"""What a `CtxstoreSaver` remembers of the content it wrote, so that reading a checkpoint it
wrote needs no state read from the store (the half of the saver's reads that does no I/O).

A version's content never changes, so what the saver appended (each message object, each
`channels` change, at its version) and each rewind or fork it made (content = another
version's) tell the content at every version in between. A thread's `Timeline` is a list of
segments, each from a base version (whose content is either known by reference to another
version this saver knows, or else read from the store once) to the last version the saver knows
contiguously; events written by others open a new segment after them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# Imported first: without LangGraph it says which extra to install.
from ctxstore.infrastructure.adapters.langgraph_records import Entry, channel_key, decode

if TYPE_CHECKING:
    from langgraph.checkpoint.serde.base import SerializerProtocol

# A change at a version: a message appended to a channel, or `channels` values (None: removed).
Change = tuple[str, Any] | dict[str, Any]


@dataclass
class Cursor:
    """An agent's values at a version: the message objects by channel, the encoded channels."""

    agent: str
    version: int
    messages: dict[str, list[Any]]
    channels: dict[str, Any]

    def copy(self, version: int) -> Cursor:
        return Cursor(self.agent, version, {k: list(v) for k, v in self.messages.items()},
                      dict(self.channels))

    def apply(self, change: Change) -> None:
        if isinstance(change, tuple):
            name, message = change
            self.messages.setdefault(name, []).append(message)
            return
        for name, value in change.items():
            if value is None:
                self.channels.pop(name, None)
            else:
                self.channels[name] = value

    def values(self, entry: Entry, serde: SerializerProtocol) -> dict[str, Any]:
        """A checkpoint's channel values (message lists share their objects)."""
        record = entry.record
        values: dict[str, Any] = {}
        for name in record["present"]:
            if name in record.get("messages", ()):
                values[name] = list(self.messages.get(name, ()))
            elif (found := self.channels.get(channel_key(entry.ns, name))) is not None:
                values[name] = decode(serde, found)
        return values


@dataclass
class Segment:
    """Versions `base`..`end` of one agent: the content at `base` (empty at version 0; else
    `source`'s, when a rewind or fork of this saver made it, empty when that is version 0;
    else unknown until read), then the changes after it."""

    base: int
    end: int
    source: tuple[str, int] | None = None
    versions: list[int] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    read: Cursor | None = None  # the base's content, once read from the store
    # Contents part-way, kept by `upto` (Timeline.MARK): the number of changes applied ->
    # the content then, never handed out. Whatever `base` a call is given, it is the content
    # at version `base` (read, empty, or its source's), so the marks serve every call.
    marks: dict[int, Cursor] = field(default_factory=dict, repr=False)


@dataclass
class Timeline:
    """One agent's segments, oldest first (module doc)."""

    segments: list[Segment] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(s.changes) + 1 for s in self.segments)

    def find(self, version: int) -> Segment | None:
        at = bisect.bisect_right([s.base for s in self.segments], version) - 1
        if at < 0 or version > self.segments[at].end:
            return None
        return self.segments[at]

    def appended(self, first: int, changes: list[tuple[int, Change]], last: int) -> None:
        """Events `first`..`last` were written (by this saver), with these content changes;
        a gap before them (others' events) starts a new segment whose base is unknown."""
        if not self.segments or self.segments[-1].end != first - 1:
            self.segments.append(Segment(base=first - 1, end=first - 1))
        segment = self.segments[-1]
        for version, change in changes:
            segment.versions.append(version)
            segment.changes.append(change)
        segment.end = last

    def restored(self, version: int, source: tuple[str, int]) -> None:
        """This saver's rewind or fork made the content at `version` `source`'s."""
        self.segments.append(Segment(base=version, end=version, source=source))

    # Every MARK changes, and where the last call ended, `upto` keeps the content it passed
    # (list copies of message references: a few microseconds each), so a read of a
    # checkpoint applies at most MARK changes, not the whole segment's (a fork reads its
    # point three times: ~2,700 changes a fork at 500 turns). At most MARKS kept a segment.
    MARK = 128
    MARKS = 16

    @staticmethod
    def upto(base: Cursor, segment: Segment, version: int) -> Cursor:
        """The content at `version` of a segment whose base content is `base`."""
        wanted = bisect.bisect_right(segment.versions, version)
        marks = segment.marks
        start = max((n for n in marks if n <= wanted), default=0)
        cursor = (marks[start] if start else base).copy(version)
        for n in range(start, wanted):
            cursor.apply(segment.changes[n])
            if (n + 1) % Timeline.MARK == 0 and n + 1 not in marks \
                    and len(marks) < Timeline.MARKS:
                marks[n + 1] = cursor.copy(version)
        if start != wanted:
            for n in [n for n in marks if n % Timeline.MARK]:
                del marks[n]  # where the previous call ended: one kept
            marks[wanted] = cursor.copy(version)
        return cursor
