"""What the routes share, held on `app.state.api`: the composition root's services, the keys,
metrics and the live hub."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from ctxstore.application.store import ContextStore
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.http.auth import KeyRing
from ctxstore.infrastructure.http.cache import StateCache
from ctxstore.infrastructure.http.hub import EventHub
from ctxstore.infrastructure.http.metrics import Metrics
from ctxstore.infrastructure.settings import Settings


@dataclass
class Api:
    services: Services  # from the composition root (infrastructure/bootstrap.py)
    keys: KeyRing
    metrics: Metrics = field(default_factory=Metrics)
    hub: EventHub = field(default_factory=EventHub)
    states: StateCache = field(default_factory=StateCache)
    # GET context answers of at least these bytes go zstd-compressed to clients that accept
    # it (http.compression); None: never.
    compress_min_bytes: int | None = None

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def store(self) -> ContextStore:
        return self.services.store


def api_of(conn: HTTPConnection) -> Api:
    api: Api = conn.app.state.api
    return api


async def get_api(request: Request) -> Api:
    return api_of(request)


ApiDep = Annotated[Api, Depends(get_api)]
