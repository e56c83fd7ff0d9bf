"""Fixtures shared by the persistence tests."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg_pool import ConnectionPool


@pytest.fixture
def full_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each check the pools make before handing out a connection (the pre-ping)."""
    made: list[int] = []
    full = ConnectionPool.check_connection

    def counted(conn: Any) -> None:
        made.append(1)
        full(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    return made
