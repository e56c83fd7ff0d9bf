"""The OpenAI Agents SDK's `Session` over ctxstore: `CtxstoreSession("conv-1")` where the SDK
takes `SQLiteSession("conv-1")` (extra `openai-agents`).

Each item becomes one ctxstore event of what it is — a message (anything with a `role`), a tool
call (`function_call` and the other `*_call` items), a tool result (`*_call_output`), reasoning —
with the item as given beside it (`source`: DESIGN §2's `SourceItem`), so `get_items` gives back
exactly what was added while `ctxstore context`, search, diff, checkpoints and restore see a
typed conversation. A session is an agent (`agent_ids.agent_id_for(session_id)`; the session id
rides on every envelope). `pop_item` is a rewind to just before the last item's event and
`clear_session` a rewind to version 0: history keeps everything, and either can be undone by
restoring a later version.

Embedded (no URL: the store from settings, in this process) or remote (`url=`, `api_key=`), both
through `ctxstore.client`, so both pass the same doors and checks.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

try:
    from agents.items import TResponseInputItem
    from agents.memory.session import SessionABC
    from agents.memory.session_settings import SessionSettings, resolve_session_limit
except ModuleNotFoundError as missing:  # an optional extra: say which, not just what is missing
    raise ModuleNotFoundError("ctxstore's OpenAI Agents session needs the SDK: pip install "
                              "'ctxstore[openai-agents]'", name=missing.name) from missing

from ctxstore.infrastructure.adapters.agent_ids import agent_id_for
from ctxstore.infrastructure.bootstrap import EmbeddedApi
from ctxstore.infrastructure.client import AsyncCalls, AsyncClient, CtxstoreError, NotFound
from ctxstore.infrastructure.http.schemas import ContextState
from ctxstore.infrastructure.settings import Settings

FRAMEWORK = "openai-agents"
ROLES = ("system", "user", "assistant", "tool")
# How many events back the search for the event that added an item starts; it widens.
FIRST_LOOK_BACK = 32


def event_of(item: dict[str, Any], position: int) -> tuple[str, dict[str, Any]]:
    """The ctxstore event (type, data) that stands for one SDK item."""
    source = {"framework": FRAMEWORK, "position": position, "item": item}
    kind = item.get("type")
    kind = kind if isinstance(kind, str) else None
    call_id = item.get("call_id") or item.get("id")
    if "role" in item and kind in (None, "message"):
        role = item["role"] if item["role"] in ROLES else "system"  # "developer"
        content = item.get("content")
        if not (isinstance(content, str) or (isinstance(content, list)
                                             and all(isinstance(p, dict) for p in content))):
            content = json.dumps(content)
        return "message", {"role": role, "content": content, "source": source}
    if kind is not None and kind.endswith("_call_output") and isinstance(call_id, str):
        return "tool_result", {"call_id": call_id, "output": item.get("output"),
                               "source": source}
    if kind is not None and kind.endswith("_call") and isinstance(call_id, str):
        return "tool_call", {"call_id": call_id, "tool": item.get("name") or kind,
                             "arguments": _arguments(item.get("arguments")), "source": source}
    if kind == "reasoning":
        summary = item.get("summary")
        text = " ".join(str(s.get("text", "")) for s in summary if isinstance(s, dict)) \
            if isinstance(summary, list) else ""
        return "reasoning", {"thread_id": FRAMEWORK, "content": text, "source": source}
    # Anything else the SDK may add later: kept, as an assistant turn with no text of its own.
    return "message", {"role": "assistant", "content": [], "source": source}


def _arguments(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {"arguments": value}
    return value if isinstance(value, dict) else {"arguments": value}


def sources_in(state: ContextState) -> list[dict[str, Any]]:
    """This adapter's items held in a state, in the order they were added."""
    found: list[dict[str, Any]] = []

    def take(entry: Any) -> None:
        if isinstance(entry, dict):
            source = entry.get("source")
            if isinstance(source, dict) and source.get("framework") == FRAMEWORK:
                found.append(source)

    for message in state.messages:
        take(message)
    for steps in state.reasoning.values():
        for step in steps:
            take(step)
    for call in state.tool_calls:
        take(call)
        take(call.get("result"))
    return sorted(found, key=lambda s: int(s["position"]))


class CtxstoreSession(SessionABC):
    """Conversation history of one SDK session, kept as a ctxstore agent."""

    def __init__(self, session_id: str, *, url: str | None = None,
                 api_key: str | None = None, settings: Settings | None = None,
                 session_settings: SessionSettings | None = None):
        self.session_id = session_id
        self.agent_id = agent_id_for(session_id)
        self.session_settings = session_settings or SessionSettings()
        self._embedded = None if url else EmbeddedApi(settings)
        connect: Callable[[], AsyncCalls]
        if self._embedded is not None:
            embedded = self._embedded
            connect = lambda: embedded.client(api_key)  # noqa: E731
        else:
            connect = lambda: AsyncClient(str(url), api_key=api_key)  # noqa: E731
        self._connect = connect
        # httpx clients are bound to one event loop; the SDK may call from several threads.
        self._clients: dict[int, AsyncCalls] = {}
        self._lock = threading.Lock()  # one writer at a time: positions stay unique

    # The Session protocol ---------------------------------------------------------------------
    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        limit = resolve_session_limit(limit, self.session_settings)
        if limit is not None and limit <= 0:
            return []
        state = await self._state()
        sources = sources_in(state) if state is not None else []
        if limit is not None:
            sources = sources[-limit:]
        return [source["item"] for source in sources]  # type: ignore[misc]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        if not items:
            return
        async with self._writing():
            state = await self._state()
            sources = sources_in(state) if state is not None else []
            start = int(sources[-1]["position"]) + 1 if sources else 0
            envelopes = []
            for offset, item in enumerate(items):
                kind, data = event_of(dict(item), start + offset)  # type: ignore[arg-type]
                envelopes.append({"event_id": f"{FRAMEWORK}-{uuid.uuid4().hex}",
                                  "type": kind, "data": data, "session_id": self.session_id})
            done = await self._client().record(self.agent_id, envelopes)
            if done.rejected:
                bad = next(o for o in done.outcomes if o.status == "rejected")
                raise ValueError(f"ctxstore refused item {bad.index}: {bad.reason}"
                                 f" ({bad.field})")

    async def pop_item(self) -> TResponseInputItem | None:
        async with self._writing():
            state = await self._state()
            sources = sources_in(state) if state is not None else []
            if state is None or not sources:
                return None
            last = sources[-1]
            version = await self._version_that_added(int(last["position"]), state.version)
            await self._client().rewind(self.agent_id, version=version - 1)
            return last["item"]  # type: ignore[no-any-return]

    async def clear_session(self) -> None:
        async with self._writing():
            state = await self._state()
            if state is not None and (state.messages or state.tool_calls or state.reasoning
                                      or state.memories or state.mcp_servers):
                await self._client().rewind(self.agent_id, version=0)

    # Lifecycle -----------------------------------------------------------------------------
    async def aclose(self) -> None:
        client = self._clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            await client.aclose()
        self.close()

    def close(self) -> None:
        """Let go of the store (embedded); clients of other loops are dropped with them."""
        self._clients.clear()
        if self._embedded is not None:
            self._embedded.close()
            self._embedded = None

    # Helpers --------------------------------------------------------------------------------
    def _client(self) -> AsyncCalls:
        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._connect()
        return client

    def _writing(self) -> _Held:
        return _Held(self._lock)

    async def _state(self) -> ContextState | None:
        try:
            return await self._client().context(self.agent_id)
        except NotFound:
            return None

    async def _version_that_added(self, position: int, latest: int) -> int:
        """The version of the newest event that recorded the item at `position` (an item
        popped and added again leaves an older one behind, which the newest supersedes)."""
        look_back = FIRST_LOOK_BACK
        while True:
            after = max(0, latest - look_back)
            found = None
            while True:
                page = await self._client().events(self.agent_id, after_version=after, limit=1000)
                for event in page.items:
                    source = event.data.get("source")
                    if (isinstance(source, dict) and source.get("framework") == FRAMEWORK
                            and source.get("position") == position):
                        found = event.version
                if page.next_after_version is None:
                    break
                after = page.next_after_version
            if found is not None:
                return found
            if latest - look_back <= 0:
                raise CtxstoreError(409, f"no event of agent {self.agent_id!r} recorded the "
                                    f"item at position {position}")
            look_back *= 4


class _Held:
    """A thread lock held across awaits without blocking the event loop while waiting."""

    def __init__(self, lock: threading.Lock):
        self._lock = lock

    async def __aenter__(self) -> None:
        while not self._lock.acquire(blocking=False):
            await asyncio.sleep(0.001)

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()
