"""One ratio, the seed plan's: `compression_ratio` = compressed ÷ original everywhere (capture,
package list and metadata, `.ctxpkg` manifest, catalogue, evolution), `space_saving` = 1 − it
beside it; a package exported by the release that wrote original ÷ compressed reads back right.

Real HTTP (FastAPI's TestClient over the app the composition root builds) on SQLite and
PostgreSQL, over a real agent trace."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import make_settings

from ctxstore.application.checkpoint_model import Checkpoint
from ctxstore.infrastructure.bootstrap import bootstrap
from ctxstore.infrastructure.http.app import create_app
from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.samples import TRACES
from ctxstore.projections.catalogue import entry_for
from ctxstore.projections.events import CHECKPOINT_TAKEN, ProjectedEvent
from ctxstore.projections.evolution import EvolutionPoint

LEGACY = Path(__file__).resolve().parents[1] / "restore" / "legacy_ctxpkg"
TRACE = TRACES / "swe-agent" / "networking_1.traj"


@pytest.fixture(params=["sqlite", "postgres"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    settings = make_settings(request.param, tmp_path, dsn, checkpoint_interval_minutes=0)
    with TestClient(create_app(bootstrap(settings))) as c:
        yield c


def record_trace(c: TestClient, path: Path = TRACE) -> str:
    """Record a real agent trace through the events route; its agent id."""
    agent = load_trace(path)[0]
    body = [e.model_dump(mode="json", exclude_none=True) for e in agent.envelopes]
    r = c.post(f"/api/v1/agents/{agent.agent_id}/events", json=body)
    assert r.status_code == 201, r.text
    return agent.agent_id


def plan_ratio(item: dict[str, Any]) -> tuple[float, float]:
    original, compressed = item["original_size_bytes"], item["compressed_size_bytes"]
    return round(compressed / original, 4), round(1 - compressed / original, 4)


def manifest_of(data: bytes) -> dict[str, Any]:
    """The manifest of `.ctxpkg` bytes (layout: application.packages)."""
    _, manifest_n, _ = struct.unpack_from(">8sIQ", data)
    manifest: dict[str, Any] = json.loads(data[20:20 + manifest_n])
    return manifest


def test_capture_of_a_real_trace_reports_the_plans_ratio(client: TestClient) -> None:
    agent = record_trace(client)
    r = client.post(f"/api/v1/context/capture/{agent}")
    assert r.status_code == 201, r.text
    captured = r.json()
    # The seed plan's own test: "assert result.compression_ratio < 0.8  # At least 20%".
    assert captured["compression_ratio"] < 0.8
    assert (captured["compression_ratio"], captured["space_saving"]) == plan_ratio(captured)
    package_id = captured["package_id"]
    listed = client.get("/api/v1/context/packages").json()["items"]
    assert [(p["compression_ratio"], p["space_saving"]) for p in listed] == [plan_ratio(
        captured)]
    one = client.get(f"/api/v1/context/packages/{package_id}").json()
    assert (one["compression_ratio"], one["space_saving"]) == plan_ratio(captured)
    exported = client.get(f"/api/v1/context/packages/{package_id}/export")
    manifest = manifest_of(exported.content)["checkpoint"]
    assert (manifest["compression_ratio"], manifest["space_saving"]) == plan_ratio(captured)


def test_a_package_exported_before_the_flip_reads_back_with_the_plans_ratio(
        client: TestClient) -> None:
    data = (LEGACY / "before_ratio_flip.ctxpkg").read_bytes()
    written = json.loads((LEGACY / "before_ratio_flip.json").read_text())
    old = manifest_of(data)["checkpoint"]
    assert old["compression_ratio"] == written["compression_ratio"] > 1  # original ÷ compressed
    assert "space_saving" not in old
    r = client.post("/api/v1/context/packages/import", content=data,
                    headers={"content-type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    imported = r.json()
    assert imported["original_size_bytes"] == written["original_size_bytes"]
    assert (imported["compression_ratio"], imported["space_saving"]) == plan_ratio(imported)
    assert imported["compression_ratio"] < 0.8
    listed = client.get("/api/v1/context/packages").json()["items"]
    assert [(p["package_id"], p["compression_ratio"]) for p in listed] == [
        (written["package_id"], imported["compression_ratio"])]
    restored = client.post(f"/api/v1/context/restore/{written['package_id']}",
                           json={"target_agent_id": "from-old-package"})
    assert restored.status_code == 200, restored.text


def test_old_checkpoint_events_and_metadata_read_with_the_plans_ratio() -> None:
    """The catalogue projection folds `CheckpointTaken` events written with the old ratio, and
    stored metadata kept it too: both give compressed ÷ original from the sizes they hold."""
    written = json.loads((LEGACY / "before_ratio_flip.json").read_text())
    event = ProjectedEvent(agent_id=written["agent_id"], version=written["event_version"],
                           ts_us=1, type=CHECKPOINT_TAKEN, data=written, raw_bytes=1,
                           stored_bytes=1)
    entry = entry_for(event)
    assert entry is not None
    expected = plan_ratio(written)
    assert (entry.compression_ratio, entry.space_saving) == expected
    assert (entry.as_dict()["compression_ratio"], entry.as_dict()["space_saving"]) == expected
    checkpoint = Checkpoint.from_dict(written)
    assert (checkpoint.compression_ratio, checkpoint.space_saving) == expected
    assert checkpoint.to_dict()["compression_ratio"] == expected[0]


def test_evolution_points_give_stored_over_raw() -> None:
    point = EvolutionPoint(agent_id="a", bucket="hour", start_us=0, raw_bytes=1000,
                           stored_bytes=250, total_raw_bytes=4000, total_stored_bytes=1000)
    out = point.as_dict()
    assert (out["compression_ratio"], out["space_saving"]) == (0.25, 0.75)
    assert out["total_compression_ratio"] == 0.25
    empty = EvolutionPoint(agent_id="a", bucket="hour", start_us=0).as_dict()
    assert (empty["compression_ratio"], empty["space_saving"]) == (None, None)
