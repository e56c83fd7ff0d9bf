"""What the routes share, held on `app.state.api`: settings, the store, use cases, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.requests import HTTPConnection

from application.store import ContextStore
from infrastructure.http.auth import KeyRing
from infrastructure.http.cache import StateCache
from infrastructure.http.hub import EventHub
from infrastructure.http.metrics import Metrics
from infrastructure.settings import Settings


@dataclass
class Api:
    settings: Settings
    store: ContextStore
    keys: KeyRing
    metrics: Metrics = field(default_factory=Metrics)
    hub: EventHub = field(default_factory=EventHub)
    states: StateCache = field(default_factory=StateCache)
    # Use cases of other areas, wired by the composition root when present.
    extras: dict[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> Any:
        """A use case wired by the composition root, or 503 when this build has none."""
        found = self.extras.get(name)
        if found is None:
            raise HTTPException(503, f"{name} are not available in this server")
        return found


def api_of(conn: HTTPConnection) -> Api:
    api: Api = conn.app.state.api
    return api


def get_api(request: Request) -> Api:
    return api_of(request)


ApiDep = Annotated[Api, Depends(get_api)]
