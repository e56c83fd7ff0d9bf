"""Every view equals a fold computed straight from the events, on SQLite and PostgreSQL, for
real traces plus restores, checkpoints (with retention) and memory churn."""

from __future__ import annotations

import threading

from projection_support import (
    Kit,
    add_history,
    evolution_rows,
    first_seen,
    load_real,
    reference_evolution,
    reference_rows,
    reference_search_docs,
    tool_rows,
)

from ctxstore.infrastructure.projection_worker import ProjectionWorker
from ctxstore.projections.analysis import analyse
from ctxstore.projections.catalogue import CatalogueFilter
from ctxstore.projections.search import SearchQuery


def test_views_equal_the_fold_of_the_events_and_rebuild_identically(kit: Kit) -> None:
    agents = load_real(kit.store)
    letta = agents[0]
    worker = ProjectionWorker(kit.store, kit.views, batch_size=7)  # buckets span batches
    assert worker.run_once() > 0  # projected in the middle of the history...
    fork = add_history(kit.store, kit.services, letta)
    worker.run_once()  # ...and the rest afterwards
    assert kit.views.position() == kit.store.recorder.max_notification_id()

    dump = kit.views.dump()
    expected = reference_rows(kit.store)
    assert evolution_rows(dump) == expected
    _, tools = reference_evolution(kit.store)
    assert tool_rows(dump) == tools
    # search rows: (agent, version, seq, time, source, ref, label, text)
    assert {(d[0], d[1], *d[4:]) for d in dump["search"]} == reference_search_docs(kit.store)
    assert {(r[0], r[1]) for r in dump["agents"]} == {
        (a.agent_id, a.version) for a in kit.store.agents()}
    assert {(r[0], r[1], r[2]) for r in dump["memories"]} == {
        (a.agent_id, mid, m["kind"]) for a in kit.store.agents()
        for mid, m in kit.store.agent_at(a.agent_id).content["memories"].items()}

    # The evolution of the Letta agent shows what happened to it.
    days = kit.views.evolution(letta, "day")
    # the trace's day, the churn a day later, then today (store-made events are stamped now,
    # and an agent's times never go backwards)
    assert [d.restores for d in days] == [0, 0, 1]
    assert sum(d.checkpoints for d in days) == 3
    assert sum(d.memories_forgotten_short_term for d in days) == 2
    assert sum(d.tool_errors for d in days) == 2
    assert days[-1].live_memories == len(kit.store.agent_at(letta).content["memories"])
    assert kit.views.evolution(fork, "minute")[0].restores == 1

    # Catalogue: every captured checkpoint, the pruned one flagged and hidden by default.
    captured = {c.package_id: c for c in kit.services.checkpoints.list()}
    listed = kit.views.checkpoints(CatalogueFilter(include_pruned=True))
    assert len(listed) == 4
    for entry in listed:
        meta = entry.as_dict()
        if entry.package_id in captured:
            assert entry.pruned_us is None
            for field, value in captured[entry.package_id].to_dict().items():
                # Who may read a checkpoint is the checkpoint service's rule (shared_with);
                # the catalogue, an operator's read model, lists them all. The hash-chain
                # link a checkpoint commits to (chain_head) is in its own metadata only.
                if field not in ("origin", "shared_with", "chain_head"):
                    assert meta[field] == value, field
        else:
            assert entry.pruned_us is not None and entry.label == "after churn"
    visible = kit.views.checkpoints(CatalogueFilter())
    assert {e.package_id for e in visible} == set(captured)
    assert [e.label for e in kit.views.checkpoints(CatalogueFilter(agent_id=fork))] == ["fork"]
    assert [e.label for e in kit.views.checkpoints(CatalogueFilter(text="LATE"))] == ["latest"]
    assert [(e.label, e.message_count) for e in kit.views.checkpoints(
        CatalogueFilter(min_message_count=30))] == [("latest", 36)]
    assert [e.label for e in kit.views.checkpoints(
        CatalogueFilter(access_level="public"))] == ["early"]
    newest = max(e.created_us for e in visible)
    assert kit.views.checkpoints(CatalogueFilter(created_after_us=newest)) == []

    # Search: a phrase of the real trace is first seen at the version that brought it.
    version, ts = first_seen(kit.store, letta, "my name is actually sarah")
    hits = kit.views.search(SearchQuery.parse('"my name is actually sarah"', agent_id=letta))
    assert [(h.agent_id, h.version, h.ts_us) for h in hits] == [(letta, version, ts)]
    assert "sarah" in hits[0].snippet.lower()
    everywhere = kit.views.search(SearchQuery.parse('"name is actually sarah"'))
    assert {h.agent_id for h in everywhere} == {letta, fork}
    fork_hit = next(h for h in everywhere if h.agent_id == fork)
    assert fork_hit.version == 1 and fork_hit.source == "message"  # came with the fork
    zeppelin = kit.views.search(SearchQuery.parse("zeppelin voyage", first_only=False))
    assert [(h.source, h.label) for h in zeppelin][:1] == [("memory", "episodic")]
    assert kit.views.search(SearchQuery.parse("xylophonequux")) == []

    # A window [since, until) of buckets, on both dialects.
    minutes = kit.views.evolution(letta, "minute")
    assert len(minutes) > 2
    mid = minutes[len(minutes) // 2].start_us
    assert kit.views.evolution(letta, "minute", since_us=mid) == \
        [p for p in minutes if p.start_us >= mid]
    assert kit.views.evolution(letta, "minute", until_us=mid) == \
        [p for p in minutes if p.start_us < mid]
    assert kit.views.evolution(letta, "minute", mid, mid) == []
    all_tools = kit.views.tool_mix(letta, "minute")
    assert kit.views.tool_mix(letta, "minute", since_us=mid) == \
        [t for t in all_tools if t.start_us >= mid]

    # Analysis over the period reads the same rows.
    result = analyse(kit.views, letta, "day")
    assert result.memories_added == sum(d.memories_stored for d in days)
    assert result.tool_mix["archival_memory_search"] == 2
    assert result.size_trend.direction == "growing"

    # A rebuild from zero gives identical rows.
    before = kit.views.dump()
    ProjectionWorker(kit.store, kit.views, batch_size=1000).rebuild()
    assert kit.views.dump() == before


def test_concurrent_workers_count_each_event_once(kit: Kit) -> None:
    load_real(kit.store)
    workers = [ProjectionWorker(kit.store, kit.views, batch_size=3) for _ in range(3)]
    errors: list[BaseException] = []

    def run(worker: ProjectionWorker) -> None:
        try:
            worker.run_once()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert kit.views.position() == kit.store.recorder.max_notification_id()
    assert evolution_rows(kit.views.dump()) == reference_rows(kit.store)
