"""Age-based retention (CONTEXT_RETENTION_DAYS): expired checkpoints are pruned by a capture's
own CheckpointTaken or, for idle agents, by one CheckpointsPruned event; the fold ignores it,
automatic capture does not take it for a change, and the catalogue projection marks the pruned
checkpoints the same way as count-based retention. Checkpoints are aged by moving their stored
creation time back (nothing else reads the clock)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from restore_support import Kit, msg, new_agent
from typer.testing import CliRunner

from ctxstore.application.errors import CheckpointNotFound, PointNotFound
from ctxstore.application.store import to_us
from ctxstore.domain.agent_id import aggregate_id
from ctxstore.domain.aggregate import AgentContext
from ctxstore.domain.points import Point
from ctxstore.infrastructure.bootstrap import build_views
from ctxstore.infrastructure.cli import common
from ctxstore.infrastructure.cli.main import app
from ctxstore.infrastructure.projection_worker import ProjectionWorker
from ctxstore.projections.catalogue import CatalogueFilter


def backdate(kit: Kit, package_ids: list[str], days: float) -> None:
    """Make these checkpoints look `days` old to retention (keeping their order)."""
    created = to_us(datetime.now(UTC) - timedelta(days=days))
    for i, package_id in enumerate(package_ids):
        kit.sql(f"UPDATE {kit.table('packages')} SET created_us = ? WHERE package_id = ?",
                (created + i, package_id))


def captured(kit: Kit, agent: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        kit.store.record([msg(agent, f"m{i}")])
        ids.append(kit.checkpoints.capture(agent, label=f"c{i}").package_id)
    return ids


def last_event(kit: Kit, agent: str) -> object:
    return list(kit.store.events.get(aggregate_id(agent)))[-1]


def test_prune_removes_expired_with_one_event_and_leaves_content(kit: Kit) -> None:
    agent, other = new_agent(), new_agent("other")
    old, old2, fresh = captured(kit, agent, 3)
    (kept_other,) = captured(kit, other, 1)
    backdate(kit, [old, old2], days=31)
    version, content = kit.version(agent), kit.hash(agent)
    assert kit.checkpoints.due_for_pruning() == {agent: [old, old2]}
    assert kit.version(agent) == version  # a dry run writes nothing

    report = kit.checkpoints.prune()
    assert report.pruned == {agent: [old, old2]} and report.failed == {}
    assert [c.package_id for c in kit.checkpoints.list(agent)] == [fresh]
    assert [c.package_id for c in kit.checkpoints.list(other)] == [kept_other]
    event = last_event(kit, agent)
    assert isinstance(event, AgentContext.CheckpointsPruned)
    assert event.pruned_package_ids == [old, old2]
    assert "CONTEXT_RETENTION_DAYS" in event.reason and "30 days" in event.reason
    assert kit.version(agent) == version + 1 and kit.hash(agent) == content
    # History shows it, as its own entry after the last checkpoint.
    item = kit.store.history(agent, after_version=version)[0]
    assert item.version == version + 1 and item.event_id.startswith("prune-")
    assert item.type == "checkpoints_pruned"
    assert item.data["pruned_package_ids"] == [old, old2]

    assert kit.checkpoints.prune().pruned == {}  # nothing more is due: no second event
    assert kit.version(agent) == version + 1
    assert agent not in kit.checkpoints.changed_agents()  # a prune is not a change
    with pytest.raises((CheckpointNotFound, PointNotFound)):
        kit.restore.restore(agent, Point.of_checkpoint(old), new_agent())
    # The versions it captured, and the version of the prune itself, stay restorable.
    fork = new_agent("fork")
    result = kit.restore.restore(agent, Point.of_version(version + 1), fork,
                                 validation_level="comprehensive")
    assert result.content_hash == content == kit.hash(fork)


def test_capture_prunes_expired_in_its_own_event(kit: Kit) -> None:
    agent = new_agent()
    old, young = captured(kit, agent, 2)
    backdate(kit, [old], days=45)
    (new,) = captured(kit, agent, 1)
    taken = kit.store.history(agent, types=["checkpoint_taken"])[-1]
    assert taken.data["pruned_package_ids"] == [old]
    assert [c.package_id for c in kit.checkpoints.list(agent)] == [young, new]


def test_retention_days_and_count_together(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit(retention_days=7, max_checkpoints_per_agent=2)
    agent = new_agent()
    ids = captured(kit, agent, 2)
    backdate(kit, ids[:1], days=8)
    assert kit.checkpoints.due_for_pruning() == {agent: ids[:1]}
    assert kit.checkpoints.due_for_pruning(retention_days=30) == {}
    assert kit.checkpoints.due_for_pruning(retention_days=0.5) == {agent: ids[:1]}
    later = captured(kit, agent, 2)  # count retention removes ids[1]; age removed ids[0]
    assert [c.package_id for c in kit.checkpoints.list(agent)] == later


def test_idle_agent_is_pruned_by_the_round_and_not_captured_again(kit: Kit) -> None:
    idle, busy = new_agent("idle"), new_agent("busy")
    (only,) = captured(kit, idle, 1)
    (busy_old,) = captured(kit, busy, 1)
    kit.store.record([msg(busy, "new")])
    backdate(kit, [only, busy_old], days=40)
    report = kit.checkpoints.capture_changed()
    assert report.pruned == {idle: [only], busy: [busy_old]}
    assert [c.agent_id for c in report.captured] == [busy]
    assert kit.checkpoints.list(idle) == []
    # Its content has not changed since its last (pruned) checkpoint: no recapture.
    assert idle not in kit.checkpoints.changed_agents()
    assert kit.checkpoints.capture_changed().captured == []
    kit.store.record([msg(idle, "awake")])
    assert kit.checkpoints.changed_agents() == [idle]


def test_imported_packages_are_kept(make_kit: Callable[..., Kit]) -> None:
    one, two = make_kit("one"), make_kit("two")
    agent = new_agent()
    (package_id,) = captured(one, agent, 1)
    two.services.packages.import_package(one.services.packages.export(package_id))
    backdate(two, [package_id], days=400)
    assert two.checkpoints.prune().pruned == {}
    assert [c.package_id for c in two.checkpoints.list()] == [package_id]


def test_catalogue_projection_marks_age_pruned_checkpoints(kit: Kit) -> None:
    agent = new_agent()
    old, fresh = captured(kit, agent, 2)
    views = build_views(kit.settings)
    worker = ProjectionWorker(kit.store, views)
    worker.run_once()
    listed = views.checkpoints(CatalogueFilter(agent_id=agent))
    assert {e.package_id for e in listed} == {old, fresh}
    backdate(kit, [old], days=31)
    kit.checkpoints.prune()
    worker.run_once()
    prune_event = last_event(kit, agent)
    assert [e.package_id for e in views.checkpoints(CatalogueFilter(agent_id=agent))] == [fresh]
    entry = views.checkpoint(old)
    assert entry is not None and entry.pruned_us == to_us(prune_event.timestamp)  # type: ignore[attr-defined]
    everything = views.checkpoints(CatalogueFilter(agent_id=agent, include_pruned=True))
    assert {e.package_id for e in everything} == {old, fresh}
    # Rebuilt from zero, the catalogue says the same.
    worker.rebuild()
    assert views.checkpoint(old) == entry
    assert [e.package_id for e in views.checkpoints(CatalogueFilter(agent_id=agent))] == [fresh]


# The command ------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(kit: Kit) -> Iterator[dict[str, str]]:
    s = kit.settings
    env = {"CONTEXT_STORAGE_BACKEND": s.storage_backend,
           "CONTEXT_STORAGE_PATH": str(s.storage_path),
           "CONTEXT_DATABASE_URL": s.database_url,
           "CONTEXT_DATABASE_SCHEMA": s.database_schema, "COLUMNS": "200"}
    yield env
    clear_caches()


def clear_caches() -> None:
    common.reset()


def invoke(env: dict[str, str], *args: str, code: int = 0) -> str:
    clear_caches()
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_checkpoint_prune_command(kit: Kit, cli_env: dict[str, str], tmp_path: Path) -> None:
    agent = new_agent()
    old, fresh = captured(kit, agent, 2)
    backdate(kit, [old], days=3)
    version = kit.version(agent)
    dry = json.loads(invoke(cli_env, "checkpoint-prune", "--dry-run", "--json"))
    assert dry == {"dry_run": True, "pruned": {}, "failed": {}}  # 3 days < 30
    dry = json.loads(invoke(cli_env, "checkpoint-prune", agent, "--days", "2", "--dry-run",
                            "--json"))
    assert dry["pruned"] == {agent: [old]} and kit.version(agent) == version
    out = invoke(cli_env, "checkpoint-prune", "--days", "2.5")
    assert "pruned 1 checkpoints of 1 agents" in out and old in out
    listed = json.loads(invoke(cli_env, "checkpoints", agent, "--json"))
    assert [c["package_id"] for c in listed] == [fresh]
    assert kit.version(agent) == version + 1
    error = invoke(cli_env, "checkpoint-prune", "--days", "0", code=1)
    assert "--days" in error and len(error.strip().splitlines()) == 1
    error = invoke(cli_env, "checkpoint-prune", "not a valid id!", code=1)
    assert len(error.strip().splitlines()) == 1
