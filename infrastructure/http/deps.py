"""What the routes share, held on `app.state.api`: the composition root's services, the keys,
metrics and the live hub."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from application.store import ContextStore
from infrastructure.container import Services
from infrastructure.http.auth import KeyRing
from infrastructure.http.cache import StateCache
from infrastructure.http.hub import EventHub
from infrastructure.http.metrics import Metrics
from infrastructure.settings import Settings


@dataclass
class Api:
    services: Services  # from the composition root (infrastructure/bootstrap.py)
    keys: KeyRing
    metrics: Metrics = field(default_factory=Metrics)
    hub: EventHub = field(default_factory=EventHub)
    states: StateCache = field(default_factory=StateCache)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def store(self) -> ContextStore:
        return self.services.store


def api_of(conn: HTTPConnection) -> Api:
    api: Api = conn.app.state.api
    return api


def get_api(request: Request) -> Api:
    return api_of(request)


ApiDep = Annotated[Api, Depends(get_api)]
