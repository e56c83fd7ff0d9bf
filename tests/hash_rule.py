"""The content hash rules as a client writes them from their descriptions (domain.pages'
docstring, DESIGN §2), independently of ctxstore's code: what the tests compare the store's
hashes with."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _sha(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def legacy_independent_hash(content: dict[str, Any]) -> str:
    """DESIGN §2's hash before the tree: of the whole canonical JSON."""
    fields = {k: content[k] for k in ("messages", "reasoning", "tool_calls", "memories",
                                      "memory_links", "mcp_servers")}
    if content.get("channels"):
        fields["channels"] = content["channels"]
    return "sha256:" + _sha(fields)


def independent_hash(content: dict[str, Any]) -> str:
    """The `sha256-tree1` rule as a client would write it from domain.pages' docstring."""
    def pages(items: list[Any]) -> list[str]:
        return [_sha(items[i:i + 64]) for i in range(0, len(items), 64)]

    def groups(addresses: list[str]) -> list[str]:
        return [_sha(addresses[i:i + 64]) for i in range(0, len(addresses), 64)]

    buckets: dict[str, dict[str, Any]] = {}
    for memory_id, memory in content["memories"].items():
        n = int.from_bytes(hashlib.sha256(memory_id.encode()).digest()[:4], "big") % 64
        buckets.setdefault(str(n), {})[memory_id] = memory
    tree = {"messages": groups(pages(content["messages"])),
            "tool_calls": groups(pages(content["tool_calls"])),
            "memory_links": groups(pages(content["memory_links"])),
            "reasoning": {t: groups(pages(s)) for t, s in content["reasoning"].items()},
            "memories": {n: _sha(b) for n, b in buckets.items()},
            "mcp_servers": _sha(content["mcp_servers"])}
    if content.get("channels"):  # only when non-empty
        tree["channels"] = {name: _sha(v) for name, v in content["channels"].items()}
    return "sha256-tree1:" + _sha(tree)
