"""How a checkpoint's body is kept, by CONTEXT_COMPRESSION_STRATEGY, and read back.

`basic` and `advanced` compress the canonical JSON of the state as one frame (the codec's
level, long-distance matching and dictionary say which). `semantic` first splits the state
(application.semantic_parts): the pieces agents repeat are parts of the part store, each
compressed alone and stored once per tenant and data key, and the body is the compressed
skeleton. A capture compresses only the pieces the store does not hold yet, so the second
checkpoint of a growing conversation costs what changed. Where the body itself goes is the
backend's: its row, or (`hybrid`) a part.

The compressed size a capture reports is what it added to storage: its body and the pieces it
wrote; pieces it shares with earlier checkpoints were paid for by them. The checkpoint's
`compression_strategy` names the strategy first (`semantic/zstd-19+long+dict-7`); bodies of
checkpoints made before strategies (`zstd-11`) are one frame, as `basic` ones are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ctxstore.application.package_port import PackageCodec, PackageRow
from ctxstore.application.part_port import PartMissing, PartStore, part_address
from ctxstore.application.semantic_parts import join_state, skeleton_addresses, split_state
from ctxstore.domain.agent_id import aggregate_id

STRATEGIES = ("semantic", "basic", "advanced")


def is_semantic(compression_strategy: str) -> bool:
    return compression_strategy.startswith("semantic/")


@dataclass
class EncodedBody:
    body: bytes  # the stored body (compressed, encrypted when the store encrypts)
    body_part: str | None  # its address when the part store keeps it
    parts: tuple[str, ...]  # every part the row refers to
    stored_bytes: int  # what this capture added to storage
    raw: Mapping[str, bytes] = field(default_factory=dict)  # raw content by address

    def for_row(self) -> dict[str, Any]:
        return {"body": self.body, "body_part": self.body_part, "parts": self.parts}


class CheckpointBodies:
    def __init__(self, codec: PackageCodec, parts: PartStore | None, *,
                 strategy: str = "basic", bodies_in_parts: bool = False):
        if strategy not in STRATEGIES:
            raise ValueError(f"compression strategy must be one of {', '.join(STRATEGIES)}")
        if parts is None and (strategy == "semantic" or bodies_in_parts):
            raise ValueError(f"{strategy!r} bodies need a part store")
        self.codec = codec
        self.parts = parts
        self.strategy = strategy
        self.bodies_in_parts = bodies_in_parts

    @property
    def label(self) -> str:
        """The checkpoint's `compression_strategy`: the strategy, then the codec."""
        return f"{self.strategy}/{self.codec.strategy}"

    def encode(self, tenant: str, raw: bytes, state: dict[str, Any],
               owner: UUID | None = None) -> EncodedBody:
        """Encode a state (its canonical JSON `raw`) of the agent `owner` (its aggregate id: a
        body kept in its row is under the agent's data key; parts, which forks share, are
        under the store's); pieces and a body part are in the part store when this returns,
        before the row that refers to them commits."""
        body_owner = None if self.bodies_in_parts else owner
        if self.strategy != "semantic":
            return self._keep(tenant, raw, self.codec.encode(raw, body_owner), (), 0, {})
        assert self.parts is not None
        split = split_state(state)
        held = self.parts.held(tenant, split.pieces)
        new = {a: self.codec.encode(r) for a, r in split.pieces.items() if a not in held}
        self.parts.put_many(tenant, new)
        return self._keep(tenant, split.skeleton,
                          self.codec.encode(split.skeleton, body_owner),
                          tuple(split.pieces), sum(map(len, new.values())), split.pieces)

    def _keep(self, tenant: str, raw: bytes, body: bytes, pieces: tuple[str, ...],
              piece_bytes: int, raws: Mapping[str, bytes]) -> EncodedBody:
        body_part = None
        if self.bodies_in_parts:
            assert self.parts is not None
            body_part = part_address(raw)
            raws = {**raws, body_part: raw}
            self.parts.put(tenant, body_part, body)
        parts = pieces + ((body_part,) if body_part and body_part not in pieces else ())
        return EncodedBody(body, body_part, parts, len(body) + piece_bytes, raws)

    def kept(self, row: PackageRow, encoded: EncodedBody) -> None:
        """After the row committed: parts a concurrent release removed are put again."""
        if self.parts is not None and encoded.parts:
            raws = encoded.raw
            self.parts.ensure(row.tenant, encoded.parts,
                              lambda address: self.codec.encode(raws[address]))

    def released(self, tenant: str, addresses: Collection[str]) -> list[str]:
        """After rows referring to these parts were deleted: the unreferenced ones go (and
        down their trees what only they reached); the addresses removed."""
        if self.parts is not None and addresses:
            return self.parts.release(tenant, addresses)
        return []

    def decode(self, row: PackageRow, compression_strategy: str) -> dict[str, Any]:
        """The state a stored row holds. Raises PartMissing, or any decoding error."""
        body = self._stored(row)
        owner = aggregate_id(row.agent_id) if row.body_part is None else None
        if not is_semantic(compression_strategy):
            state: dict[str, Any] = json.loads(self.codec.decode(body, owner))
            return state
        skeleton = self.codec.decode(body, owner)
        assert self.parts is not None
        stored = self.parts.get_many(row.tenant, skeleton_addresses(skeleton))
        return join_state(skeleton, self._piece_reader(stored))

    def _piece_reader(self, stored: Mapping[str, bytes]) -> Callable[[str], bytes]:
        def read(address: str) -> bytes:
            raw = self.codec.decode(stored[address])
            if part_address(raw) != address:
                raise PartMissing(f"part {address} does not hold the content of its address")
            return raw
        return read

    def _stored(self, row: PackageRow) -> bytes:
        if row.body_part is None:
            return row.body or b""
        if self.parts is None:
            raise PartMissing("its body is in the part store (CONTEXT_STORAGE_BACKEND=hybrid, "
                              "under CONTEXT_STORAGE_PATH), which this store was not given")
        return self.parts.get(row.tenant, row.body_part)
