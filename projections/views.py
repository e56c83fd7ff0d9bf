"""The read models' storage port: one tracking recorder that writes every view atomically.

All views (evolution, tool mix, search, checkpoint catalogue) are written in one transaction
with the tracking record of the last event they include, so a crash anywhere leaves them all at
the same position and nothing is applied twice. The SQL lives in infrastructure.persistence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from eventsourcing.persistence import Tracking, TrackingRecorder

from ctxstore.projections.catalogue import CatalogueFilter, CheckpointEntry
from ctxstore.projections.evolution import AgentTrack, EvolutionChanges, EvolutionPoint, ToolUse
from ctxstore.projections.search import BlindIndex, SearchDoc, SearchHit, SearchQuery

VIEW_TABLES = ("evolution", "tools", "agents", "memories", "search", "checkpoints")


@dataclass
class ViewChanges:
    """Everything one batch of events changes in the views."""

    evolution: EvolutionChanges = field(default_factory=EvolutionChanges)
    search: list[SearchDoc] = field(default_factory=list)
    checkpoints: list[CheckpointEntry] = field(default_factory=list)
    pruned: dict[str, int] = field(default_factory=dict)  # package_id -> pruned at (us)

    def agent_ids(self) -> set[str]:
        """The agents (by key) whose rows the batch writes."""
        evolution = self.evolution
        return ({key[0] for key in evolution.points} | {key[0] for key in evolution.tools}
                | set(evolution.agents) | set(evolution.memories)
                | {d.agent_id for d in self.search} | {e.agent_id for e in self.checkpoints})


class ContextViews(TrackingRecorder, ABC):
    """Tables of the projections, beside the events (same SQLite file / PostgreSQL schema)."""

    application_name = "ctxstore"
    blind: BlindIndex | None = None  # set when the store encrypts: no text in the index
    _release: Callable[[], None] | None = None

    def closes_with(self, release: Callable[[], None]) -> None:
        """`release` gives back what the views hold open (their datastore's connections);
        `close` calls it."""
        self._release = release

    def close(self) -> None:
        """Give back the views' connections (a process that opened them and lives on: a test,
        an embedding application); once."""
        release, self._release = self._release, None
        if release is not None:
            release()

    # Writing ---------------------------------------------------------------------------------
    @abstractmethod
    def commit(self, changes: ViewChanges, tracking: Tracking, previous: int | None) -> None:
        """Write a batch's changes and move the tracking record from `previous` (None: no
        record yet) to the batch's last notification, in one transaction.

        Raises eventsourcing's IntegrityError, writing nothing, when the recorded position is
        not `previous` (another worker moved the views meanwhile).
        """

    @abstractmethod
    def load_tracks(self, agent_ids: Iterable[str]) -> dict[str, AgentTrack]:
        """The persisted per-agent state of the given agents (absent: never projected)."""

    @abstractmethod
    def drop(self) -> None:
        """Drop every view table and this application's tracking record, then recreate empty."""

    def position(self) -> int | None:
        """The last notification id included in the views (None: nothing yet)."""
        return self.max_tracking_id(self.application_name)

    # Reading ---------------------------------------------------------------------------------
    @abstractmethod
    def evolution(self, agent_id: str, bucket: str, since_us: int | None = None,
                  until_us: int | None = None) -> list[EvolutionPoint]:
        """An agent's buckets in time order, optionally only those starting in [since, until)."""

    @abstractmethod
    def tool_mix(self, agent_id: str, bucket: str, since_us: int | None = None,
                 until_us: int | None = None) -> list[ToolUse]:
        """Calls per tool per bucket, in time order then tool name."""

    def search(self, query: SearchQuery) -> list[SearchHit]:
        """Matches in version order per agent (the first per agent when `first_only`).

        On a blind index the snippets are empty: `projections.search.with_snippets` cuts them
        from the decrypted events."""
        if self.blind is None:
            return self._search(query)
        return [replace(h, snippet="") for h in self._search(self.blind.query(query))]

    @abstractmethod
    def _search(self, query: SearchQuery) -> list[SearchHit]:
        """The SQL search (terms already blinded when the index is)."""

    @abstractmethod
    def checkpoints(self, filter: CatalogueFilter) -> list[CheckpointEntry]:
        """Catalogue entries matching the filter, newest first."""

    @abstractmethod
    def checkpoint(self, package_id: str) -> CheckpointEntry | None:
        """One catalogue entry."""

    @abstractmethod
    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every view table in a fixed order: what a rebuild must reproduce."""


def stale_position(tracking: Tracking, previous: int | None) -> str:
    return (f"views of {tracking.application_name!r} are no longer at notification "
            f"{previous or 0}: another worker moved them; not writing up to "
            f"{tracking.notification_id}")


def time_window(params: list[Any], since_us: int | None, until_us: int | None,
                mark: str) -> str:
    """The `AND start_us ...` conditions of a bucket range, its bounds appended to `params`
    (`mark`: the driver's placeholder, %s or ?)."""
    sql = ""
    if since_us is not None:
        sql += f" AND start_us >= {mark}"
        params.append(since_us)
    if until_us is not None:
        sql += f" AND start_us < {mark}"
        params.append(until_us)
    return sql
