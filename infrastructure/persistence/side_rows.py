"""The store recorders' `insert_events`, with the side rows of the EventWriter port declared.

The store recorders (SQLite, PostgreSQL and in memory) take the same keywords and hand them on
to their own transaction; declaring them once here keeps their signatures, and the port's, from
drifting apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent

from ctxstore.application.package_port import PackageRow
from ctxstore.application.ports import AgentRow, EventIndexRow


class DeclaredSideRows:
    """Mixed in before a recorder whose `insert_events` takes the side rows as keywords."""

    def insert_events(  # the EventWriter port (application.ports), with its side rows declared
        self,
        stored_events: Sequence[StoredEvent],
        *,
        index_rows: Sequence[EventIndexRow] = (),
        agent_rows: Sequence[AgentRow] = (),
        package_rows: Sequence[PackageRow] = (),
        pruned_package_ids: Sequence[str] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        result: Sequence[int] | None = super().insert_events(  # type: ignore[misc]
            stored_events, index_rows=index_rows, agent_rows=agent_rows,
            package_rows=package_rows, pruned_package_ids=pruned_package_ids, **kwargs)
        return result
