"""What changed between two points, of one agent or of two agents (`GET .../diff`).

Items are matched by identity where they have one (memory id, tool call id, MCP server) and by
equal content otherwise (messages, reasoning steps, links), one for one, so a rewind shows the
dropped messages as removed and a fork's new messages as added.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ctxstore.application.restore import RestoreService, SourceState
from ctxstore.domain.agent_id import LOCAL_TENANT, plain_agent_id
from ctxstore.domain.merge import unmatched
from ctxstore.domain.points import Point
from ctxstore.domain.state import Content, canonical_json_of_content


@dataclass(frozen=True)
class PointSummary:
    agent_id: str
    point: dict[str, Any]
    version: int
    content_hash: str


@dataclass
class ContextDiff:
    """Changes from `base` to `other`; `to_dict()` is plain JSON."""

    base: PointSummary
    other: PointSummary
    messages_added: list[dict[str, Any]] = field(default_factory=list)
    messages_removed: list[dict[str, Any]] = field(default_factory=list)
    reasoning_added: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reasoning_removed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    memories_stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    memories_updated: dict[str, dict[str, Any]] = field(default_factory=dict)  # before/after
    memories_forgotten: dict[str, dict[str, Any]] = field(default_factory=dict)
    links_added: list[dict[str, Any]] = field(default_factory=list)
    links_removed: list[dict[str, Any]] = field(default_factory=list)
    tool_calls_added: list[dict[str, Any]] = field(default_factory=list)
    tool_calls_removed: list[dict[str, Any]] = field(default_factory=list)
    tool_calls_changed: list[dict[str, Any]] = field(default_factory=list)  # before/after
    mcp_changed: dict[str, dict[str, Any]] = field(default_factory=dict)  # before/after|None

    @property
    def identical(self) -> bool:
        return self.base.content_hash == self.other.content_hash

    def summary(self) -> dict[str, int]:
        """Counts per kind of change (for tables and logs)."""
        return {
            "messages_added": len(self.messages_added),
            "messages_removed": len(self.messages_removed),
            "reasoning_steps_added": sum(len(v) for v in self.reasoning_added.values()),
            "reasoning_steps_removed": sum(len(v) for v in self.reasoning_removed.values()),
            "memories_stored": len(self.memories_stored),
            "memories_updated": len(self.memories_updated),
            "memories_forgotten": len(self.memories_forgotten),
            "links_added": len(self.links_added),
            "links_removed": len(self.links_removed),
            "tool_calls_added": len(self.tool_calls_added),
            "tool_calls_removed": len(self.tool_calls_removed),
            "tool_calls_changed": len(self.tool_calls_changed),
            "mcp_servers_changed": len(self.mcp_changed),
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["identical"] = self.identical
        data["summary"] = self.summary()
        return data


def diff_content(base: Content, other: Content, diff: ContextDiff) -> ContextDiff:
    """Fill `diff` with the changes from content `base` to content `other`."""
    diff.messages_added = unmatched(other["messages"], base["messages"])
    diff.messages_removed = unmatched(base["messages"], other["messages"])
    for thread in sorted(set(base["reasoning"]) | set(other["reasoning"])):
        before, after = base["reasoning"].get(thread, []), other["reasoning"].get(thread, [])
        if added := unmatched(after, before):
            diff.reasoning_added[thread] = added
        if removed := unmatched(before, after):
            diff.reasoning_removed[thread] = removed
    bm, om = base["memories"], other["memories"]
    diff.memories_stored = {k: om[k] for k in om if k not in bm}
    diff.memories_forgotten = {k: bm[k] for k in bm if k not in om}
    diff.memories_updated = {k: {"before": bm[k], "after": om[k]} for k in om
                             if k in bm and canonical_json_of_content(bm[k])
                             != canonical_json_of_content(om[k])}
    diff.links_added = unmatched(other["memory_links"], base["memory_links"])
    diff.links_removed = unmatched(base["memory_links"], other["memory_links"])
    new_calls = unmatched(other["tool_calls"], base["tool_calls"])
    gone_calls = unmatched(base["tool_calls"], other["tool_calls"])
    gone_left = list(gone_calls)
    for call in new_calls:
        before = next((g for g in gone_left if g["call_id"] == call["call_id"]), None)
        if before is not None:
            gone_left.remove(before)
            diff.tool_calls_changed.append({"call_id": call["call_id"], "before": before,
                                            "after": call})
        else:
            diff.tool_calls_added.append(call)
    diff.tool_calls_removed = gone_left
    bs, os_ = base["mcp_servers"], other["mcp_servers"]
    for server in sorted(set(bs) | set(os_)):
        b, o = bs.get(server), os_.get(server)
        if b is None or o is None or (canonical_json_of_content(b)
                                      != canonical_json_of_content(o)):
            diff.mcp_changed[server] = {"before": b, "after": o}
    return diff


def _summary(state: SourceState) -> PointSummary:
    return PointSummary(plain_agent_id(state.agent_id), state.point.to_dict(), state.version,
                        state.content_hash)


class DiffService:
    def __init__(self, restore: RestoreService):
        self.restore = restore

    def diff(self, agent_id: str, from_point: Point, to_point: Point, *,
             other_agent_id: str | None = None, tenant: str = LOCAL_TENANT) -> ContextDiff:
        """Changes from `agent_id`@`from_point` to (`other_agent_id` or `agent_id`)@`to_point`.

        Raises AgentNotFound / PointNotFound like reading a point does.
        """
        base = self.restore.state_at(agent_id, from_point, tenant=tenant)
        other = self.restore.state_at(other_agent_id or agent_id, to_point, tenant=tenant)
        return diff_content(base.content, other.content,
                            ContextDiff(base=_summary(base), other=_summary(other)))
