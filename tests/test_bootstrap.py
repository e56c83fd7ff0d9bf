"""The composition root: `bootstrap(settings)` gives one frozen, typed set of services over one
store, and the doors use that set (not services of their own)."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support import make_settings

from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.http.app import create_app
from ctxstore.projections.views import ContextViews


@pytest.fixture(params=["sqlite", "postgres"])
def services(request: pytest.FixtureRequest, tmp_path: Path, postgres_dsn: str) -> Services:
    return bootstrap(make_settings(request.param, tmp_path, postgres_dsn,
                                   checkpoint_interval_minutes=5))


def test_one_frozen_set_over_one_store(services: Services) -> None:
    store = services.store
    assert services.checkpoints.store is store
    assert services.restore.store is store
    assert services.runner is not None and services.runner.checkpoints is services.checkpoints
    assert services.subjects.prefix == services.settings.nats_prefix
    with pytest.raises(dataclasses.FrozenInstanceError):
        services.store = store  # type: ignore[misc]
    services.close()


def test_views_open_once_however_many_threads_ask(services: Services) -> None:
    calls: list[int] = []

    def open_views() -> ContextViews:
        calls.append(1)
        return services.open_views()

    counted = dataclasses.replace(services, open_views=open_views)
    seen: list[ContextViews] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        seen.append(counted.views)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(seen) == 8 and all(v is seen[0] for v in seen)
    assert counted.views is seen[0] and len(calls) == 1
    services.close()


def test_the_http_app_serves_the_services_it_is_given(services: Services) -> None:
    app = create_app(services, close_on_shutdown=False)
    with TestClient(app) as client:
        assert app.state.api.services is services
        assert app.state.checkpoint_runner is services.runner and services.runner.running
        event = make_envelope("root-agent", "message", {"role": "user", "content": "hi"},
                              event_id=str(uuid.uuid4()))
        client.post("/api/v1/agents/root-agent/events",
                    json=[event.model_dump(mode="json")]).raise_for_status()
        answer = client.post("/api/v1/context/capture/root-agent", json={})
        assert answer.status_code == 201, answer.text
        taken = answer.json()
    assert not services.runner.running  # stopped with the app
    assert [cp.package_id for cp in services.checkpoints.list("root-agent")] == [
        taken["package_id"]]
    services.close()


def test_the_memory_bounds_reach_the_processes_parts(tmp_path: Path) -> None:
    """Each per-process memory bound a setting names bounds what it says (the soak sets them
    small so that they fill during its warm-up)."""
    settings = make_settings("sqlite", tmp_path, remembered_agents=7,
                             part_cache_bytes=12345, http_state_cache_bytes=54321)
    services = bootstrap(settings)
    try:
        store = services.store
        assert store._owners.max_entries == 7
        assert store._keys.max_entries == 7
        assert store._chain_heads.max_entries == 7
        assert store.part_content is not None and store.part_content.cache is not None
        assert store.part_content.cache.max_bytes == 12345
        app = create_app(services, close_on_shutdown=False)
        assert app.state.api.states.max_bytes == 54321
    finally:
        services.close()
