"""The `semantic` strategy's split of a state into a skeleton and content-addressed pieces.

Lossless and content-aware: what agents repeat — system prompts, tool schemas (an MCP server's
state), tool outputs read again and again, long memories — is stored once per tenant in the
part store (application.part_port) and the checkpoint body keeps only the skeleton: the state
with those values taken out and, beside it, where each one goes and its address. A piece is any
string of at least `min_bytes` bytes, and any MCP server state of at least that size (tool
schemas are structured). Its raw form is its canonical JSON, so putting the pieces back gives
the very same state (same canonical bytes, same content hash).

The skeleton is `{"semantic": 1, "state": <state with pieces as null>, "pieces":
[[path, address], ...]}` where a path is the list of keys and indexes from the state's root.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ctxstore.application.part_port import part_address
from ctxstore.domain.state import canonical_json, canonical_json_of_content

FORMAT = 1
MIN_PIECE_BYTES = 512
Path = list[str | int]


@dataclass(frozen=True)
class Split:
    skeleton: bytes  # canonical JSON of the skeleton
    pieces: dict[str, bytes]  # address -> raw piece (canonical JSON of the value)


def split_state(state: dict[str, Any], min_bytes: int = MIN_PIECE_BYTES) -> Split:
    pieces: dict[str, bytes] = {}
    refs: list[tuple[Path, str]] = []

    def take(value: Any, path: Path) -> Any:
        raw = canonical_json_of_content(value)
        address = part_address(raw)
        pieces.setdefault(address, raw)
        refs.append((path, address))
        return None

    def walk(value: Any, path: Path) -> Any:
        if isinstance(value, str):
            # UTF-8 is at least as long as the character count: a cheap first test.
            if len(value) * 4 >= min_bytes and len(value.encode()) >= min_bytes:
                return take(value, path)
            return value
        if isinstance(value, dict):
            if len(path) == 2 and path[0] == "mcp_servers" and value and \
                    len(canonical_json(value)) >= min_bytes:
                return take(value, path)  # a server's tool schemas, as one piece
            return {k: walk(v, [*path, k]) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, [*path, i]) for i, v in enumerate(value)]
        return value

    skeleton = walk(state, [])
    return Split(canonical_json({"semantic": FORMAT, "state": skeleton,
                                 "pieces": [[p, a] for p, a in refs]}), pieces)


def skeleton_addresses(skeleton: bytes) -> list[str]:
    """The addresses a skeleton refers to, in order (repeats kept once)."""
    doc = json.loads(skeleton)
    return list(dict.fromkeys(a for _, a in doc["pieces"]))


def join_state(skeleton: bytes, pieces: Mapping[str, bytes] | Callable[[str], bytes]
               ) -> dict[str, Any]:
    """The state a skeleton and its pieces (raw, by address) make. KeyError or ValueError when
    the skeleton is malformed or a piece is absent."""
    doc = json.loads(skeleton)
    if not isinstance(doc, dict) or doc.get("semantic") != FORMAT:
        raise ValueError("not a semantic skeleton of format 1")
    fetch = pieces if callable(pieces) else pieces.__getitem__
    state: dict[str, Any] = doc["state"]
    cache: dict[str, Any] = {}
    for path, address in doc["pieces"]:
        if address not in cache:
            cache[address] = fetch(address)
        value = json.loads(cache[address])
        holder: Any = state
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = value
    return state
