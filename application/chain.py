"""The hash chain over each agent's stored events: what a link commits to, and how to walk one.

A write that bypasses the store (a row edited, deleted, swapped or inserted with SQL) must show.
Each event's link commits to the link before it and to the event as stored: its aggregate id,
version, topic and stored bytes (compressed, and encrypted when encryption is on, so a chain
verifies without the encryption key). With an integrity key the link is HMAC-SHA-256 under it,
so someone who can write the database but lacks the key cannot recompute the links after a
change; without one it is plain SHA-256, which anyone can recompute: it then catches accidents
(a damaged disk, a bad restore, a stray UPDATE), not attackers.

The link sits in the event's per-version index row; the last link (the head) sits in the
agent's catalogue row too, so deleting the last events shows as a head with no event under it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from eventsourcing.persistence import StoredEvent

GENESIS = bytes(32)  # the link before an agent's first event
_DOMAIN = b"ctxstore-chain-1\x00"  # versions the link's layout; no other hash shares it


class EventChain:
    """Links under one integrity key (None: plain SHA-256)."""

    def __init__(self, key: bytes | None = None):
        self.key = key or None
        # The key's pads hashed once: each link copies this state (a fifth less CPU than
        # hmac.digest, which sets the key up again for every link).
        self._keyed = hmac.new(self.key, digestmod=hashlib.sha256) if self.key else None

    @property
    def keyed(self) -> bool:
        return self.key is not None

    def link(self, previous: bytes, originator_id: UUID | str, version: int, topic: str,
             state: bytes) -> bytes:
        topic_bytes = topic.encode()
        id_bytes = (originator_id if isinstance(originator_id, UUID) else UUID(originator_id)
                    ).bytes
        message = b"".join((_DOMAIN, previous, id_bytes, version.to_bytes(8, "big"),
                            len(topic_bytes).to_bytes(4, "big"), topic_bytes, state))
        if self._keyed is None:
            return hashlib.sha256(message).digest()
        mac = self._keyed.copy()
        mac.update(message)
        return mac.digest()

    def links(self, previous: bytes, stored: Iterable[StoredEvent]) -> list[bytes]:
        """The links of one agent's consecutive events, the first following `previous`."""
        out = []
        for e in stored:
            previous = self.link(previous, e.originator_id, e.originator_version, e.topic,
                                 e.state)
            out.append(previous)
        return out


@dataclass(frozen=True)
class ChainRow:
    """One version of an agent as the tables hold it: the event (None: no event row) and the
    link in its index row (None: no link)."""

    version: int
    topic: str | None
    state: bytes | None
    link: bytes | None


Kind = Literal["altered", "removed", "inserted", "reordered", "head", "unchained", "snapshot",
               "checkpoint"]


@dataclass(frozen=True)
class Finding:
    agent_id: str
    version: int
    kind: Kind
    detail: str

    def line(self) -> str:
        return f"{self.agent_id} version {self.version}: {self.kind}: {self.detail}"


_REORDER_WINDOW = 3  # how far away a moved event's content is looked for


def walk(chain: EventChain, agent_id: str, originator_id: UUID, rows: Sequence[ChainRow],
         head: tuple[int, bytes | None]) -> list[Finding]:
    """Every break in one agent's chain, first first. `rows` are its versions in order;
    `head` the catalogue's (version, last link).

    After a break the walk goes on from the link stored at that version, so each later break
    is named where it is, not as the consequence of the first.
    """
    findings: list[Finding] = []

    def found(version: int, kind: Kind, detail: str) -> None:
        findings.append(Finding(agent_id, version, kind, detail))

    links = {r.version: r.link for r in rows}
    previous: bytes | None = GENESIS
    expected = 1
    for row in rows:
        for missing in range(expected, row.version):
            found(missing, "removed", "no event and no link at this version")
            previous = None
        expected = row.version + 1
        if row.state is None or row.topic is None:
            found(row.version, "removed", "its link is there but the event is not")
            previous = row.link
            continue
        if row.link is None:
            found(row.version, "inserted", "an event the store never chained")
            previous = None
            continue
        if previous is not None and chain.link(previous, originator_id, row.version, row.topic,
                                               row.state) != row.link:
            moved = _moved_from(chain, originator_id, row, links)
            if moved is not None:
                found(row.version, "reordered", f"its content is version {moved}'s")
            else:
                found(row.version, "altered", "its stored content or link was changed")
        previous = row.link
    last = rows[-1].version if rows else 0
    head_version, head_link = head
    if head_link is None and head_version > 0:
        found(head_version, "unchained", "the catalogue has no chain head (run ctxstore migrate)")
    elif head_version > last:
        found(last + 1, "removed", f"the catalogue's head is version {head_version}, the "
              f"last event is version {last}")
    elif head_version < last:
        found(head_version + 1, "inserted", f"events after the catalogue's head (version "
              f"{head_version}) up to version {last}")
    elif last and links.get(last) != head_link:
        found(last, "head", "the catalogue's chain head is not this version's link")
    return findings


def _moved_from(chain: EventChain, originator_id: UUID, row: ChainRow,
                links: dict[int, bytes | None]) -> int | None:
    """The nearby version whose link this row's content makes, when it was moved here."""
    assert row.topic is not None and row.state is not None
    for distance in range(1, _REORDER_WINDOW + 1):
        for other in (row.version - distance, row.version + distance):
            before = GENESIS if other == 1 else links.get(other - 1)
            target = links.get(other)
            if other < 1 or before is None or target is None:
                continue
            if chain.link(before, originator_id, other, row.topic, row.state) == target:
                return other
    return None


@dataclass(frozen=True)
class Commitment:
    """A snapshot's or checkpoint's claim that the chain's link at `version` was `head`: what
    history it was built from. Events rewritten under it, links recomputed and all, show as a
    link that is no longer the one it holds."""

    kind: Literal["snapshot", "checkpoint"]
    name: str  # how a finding names it (a checkpoint's package id; empty for a snapshot)
    version: int
    head: str | None  # hex; None: made before chains, or not readable here
    readable: bool = True  # False: its stored bytes could not be decoded (encrypted?)


def check_commitments(agent_id: str, rows: Sequence[ChainRow],
                      commitments: Iterable[Commitment]) -> tuple[list[Finding], int, int]:
    """The commitments whose head is not the link stored at their version, one finding each;
    and how many were checked and how many could not be read."""
    links = {r.version: r.link for r in rows}
    findings: list[Finding] = []
    checked = unread = 0
    for c in commitments:
        if not c.readable:
            unread += 1
            continue
        if c.head is None:
            continue
        checked += 1
        link = GENESIS if c.version == 0 else links.get(c.version)
        if link is None or link.hex() != c.head:
            what = "its" if c.kind == "snapshot" else f"checkpoint {c.name!r}:"
            findings.append(Finding(agent_id, c.version, c.kind,
                                    f"{what} chain head is not the chain's link at this "
                                    "version"))
    return findings, checked, unread
