"""Full-text search scoped to a tenant, and the seed's evolution analysis bounded by its period,
on real stores (SQLite and PostgreSQL) with the real Letta trace."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from projection_support import LETTA, Kit

from ctxstore.application.context_search import ContextSearch
from ctxstore.application.errors import InvalidRequest
from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.projection_worker import ProjectionWorker
from ctxstore.projections.catalogue import CatalogueFilter
from ctxstore.projections.context_analysis import (
    analyze_context_evolution,
    iso_period,
    parse_period,
)
from ctxstore.projections.search import SearchQuery, search_text


def said(agent: str, text: str) -> object:
    return make_envelope(agent, "message", {"role": "user", "content": text},
                         event_id=str(uuid.uuid4()))


def test_search_sees_only_the_tenants_agents(kit: Kit) -> None:
    store = kit.store
    store.record([said("bot", "the red lighthouse")])  # the local tenant's
    store.record([said("bot", "a red lighthouse too")], tenant="acme")  # key acme/bot
    store.record([said("bot", "red lighthouse again")], tenant="acme-2")  # a prefix of none
    ProjectionWorker(store, kit.views).run_once()

    def agents(tenant: str | None) -> list[str]:
        query = SearchQuery.parse("lighthouse", tenant=tenant)
        return sorted(h.agent_id for h in search_text(kit.views, store, query))

    assert agents(None) == ["acme-2/bot", "acme/bot", "bot"]
    assert agents("local") == ["bot"]
    assert agents("acme") == ["acme/bot"]
    assert agents("acme-2") == ["acme-2/bot"]
    assert agents("nobody") == []


def test_the_analysis_covers_its_period_only(kit: Kit) -> None:
    agent = load_trace(LETTA)[0]
    kit.store.record(agent.envelopes)
    service = kit.services.checkpoints
    first = service.capture(agent.agent_id, version=40)
    last = service.capture(agent.agent_id)
    ProjectionWorker(kit.store, kit.views).run_once()
    search = ContextSearch(service)
    now = datetime.now(UTC) + timedelta(seconds=1)
    both = analyze_context_evolution(search, kit.views, agent.agent_id, timedelta(days=1),
                                     tenant="local", now=now)
    assert both["total_packages"] == 2
    assert both["content_evolution"]["messages"]["first"] == first.message_count
    assert both["content_evolution"]["messages"]["last"] == last.message_count
    assert both["size_trend"]["direction"] == "growing"
    # A period that ended before the checkpoints: none of them, and no windows.
    later = analyze_context_evolution(search, kit.views, agent.agent_id, timedelta(hours=1),
                                      tenant="local", now=now - timedelta(days=2))
    assert later["total_packages"] == 0 and later["size_trend"]["direction"] == "unknown"
    assert later["compression_efficiency"]["average_compression_ratio"] is None
    # Another tenant does not read the local tenant's private checkpoints.
    other = analyze_context_evolution(search, kit.views, agent.agent_id, timedelta(days=1),
                                      tenant="acme", now=now)
    assert other["total_packages"] == 0


@pytest.mark.parametrize(("text", "iso"), [
    ("P7D", "P7D"), ("PT12H", "PT12H"), ("7d", "P7D"), ("90m", "PT1H30M"), ("3600", "PT1H"),
    ("P1DT30M", "P1DT30M"), ("2w", "P14D"), ("P1W", "P7D"), ("1.5s", "PT1.5S"),
])
def test_periods_read_in_every_form(text: str, iso: str) -> None:
    assert iso_period(parse_period(text)) == iso


@pytest.mark.parametrize("text", ["0", "P", "PT", "-1d", "P99999D", "soon", "1y", "9" * 400])
def test_bad_periods_name_the_field(text: str) -> None:
    with pytest.raises(InvalidRequest, match="^time_period: "):
        parse_period(text)


def test_a_nul_in_what_agents_said_projects_and_searches(kit: Kit) -> None:
    """JSON strings may hold U+0000, PostgreSQL text may not: the projection round still
    completes (a failing round would stall every agent after it), the words beside the NUL
    are found, a query holding one answers, and the event itself keeps its NUL."""
    store = kit.store
    store.record([said("nul", "before\x00after lighthouse"),
                  make_envelope("nul", "memory_stored", {"memory_id": "m\x00", "kind":
                                                         "episodic", "content": "x\x00y"},
                                event_id=str(uuid.uuid4())),
                  make_envelope("nul", "tool_call", {"call_id": "c\x00", "tool": "t\x00",
                                                     "arguments": {"k\x00": "v\x00"}},
                                event_id=str(uuid.uuid4()))])
    assert ProjectionWorker(store, kit.views).run_once() == 3
    hits = search_text(kit.views, store, SearchQuery.parse("lighthouse"))
    assert [h.agent_id for h in hits] == ["nul"]
    assert search_text(kit.views, store, SearchQuery.parse("before\x00after")) is not None
    assert store.context("nul")["messages"][0]["content"] == "before\x00after lighthouse"


def test_the_catalogue_keeps_a_partial_checkpoints_parts_and_its_target(kit: Kit) -> None:
    store = kit.store
    store.record([said("parted", "hello"),
                  make_envelope("parted", "memory_stored", {"memory_id": "m1", "kind":
                                                            "episodic", "content": "x"},
                                event_id=str(uuid.uuid4()))])
    partial = kit.services.checkpoints.capture("parted", parts=("conversation",))
    whole = kit.services.checkpoints.capture("parted", label="whole")
    ProjectionWorker(store, kit.views).run_once()
    listed = {e.package_id: e.as_dict() for e in kit.views.checkpoints(CatalogueFilter())}
    assert listed[partial.package_id]["parts"] == ["conversation"]
    assert listed[whole.package_id]["parts"] == ["conversation", "memory", "mcp_state"]
    for cp in (partial, whole):
        assert listed[cp.package_id]["target_compression_ratio"] == cp.target_compression_ratio
        assert listed[cp.package_id]["target_met"] is cp.target_met
