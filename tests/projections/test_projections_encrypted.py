"""With encryption on, the views hold no text of what agents saw (DESIGN §4), and search still
finds a phrase at the version that brought it, with its snippet cut from the decrypted event."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from eventsourcing.cipher import AESCipher
from projection_support import LETTA, first_seen
from support import make_settings

from ctxstore.domain.events import make_envelope
from ctxstore.infrastructure.bootstrap import build_store, build_views
from ctxstore.infrastructure.importers import load_trace
from ctxstore.infrastructure.projection_worker import ProjectionWorker
from ctxstore.infrastructure.settings import Settings
from ctxstore.projections.search import SearchQuery, with_snippets

SECRET = "Quagmire-Pelican"  # in a message and a memory; must never show up in a view


def stored_text(settings: Settings) -> str:
    """Everything the database holds, as text: every row of every table (PostgreSQL), or the
    SQLite file and its write-ahead log."""
    if settings.storage_backend == "sqlite":
        files = [settings.sqlite_file, Path(f"{settings.sqlite_file}-wal")]
        return "".join(f.read_bytes().decode("latin-1") for f in files if f.exists())
    with psycopg.connect(settings.database_url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (settings.database_schema,))]
        assert any(t.endswith("_search") for t in tables)
        return "".join(
            str(conn.execute(f'SELECT t::text FROM "{settings.database_schema}"."{t}" t'
                             ).fetchall()) for t in tables)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_encrypted_views_hold_no_text_and_search_still_finds(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    dsn = request.getfixturevalue("postgres_dsn") if backend == "postgres" else None
    settings = make_settings(backend, tmp_path, dsn, encryption_enabled=True,
                             encryption_key=AESCipher.create_key(32))
    store = build_store(settings)
    agent = load_trace(LETTA)[0]
    store.record(agent.envelopes)
    store.record([
        make_envelope(agent.agent_id, "message", {"role": "user", "content":
                      f"my locker code is {SECRET} and nobody knows"},
                      event_id=str(uuid.uuid4())),
        make_envelope(agent.agent_id, "memory_stored", {"memory_id": "m-9", "kind": "semantic",
                      "content": f"the locker code: {SECRET}"}, event_id=str(uuid.uuid4())),
    ])
    views = build_views(settings)
    assert views.blind is not None
    ProjectionWorker(store, views, batch_size=40).run_once()
    assert views.dump()["search"]  # the index is there...
    text = stored_text(settings).lower()
    for word in (SECRET.lower(), "quagmire", "pelican", "sarah", "locker"):
        assert word not in text, word  # ...but holds no word of it

    version, ts = first_seen(store, agent.agent_id, "name is actually sarah")
    query = SearchQuery.parse('"name is actually sarah"')
    hits = views.search(query)
    assert [(h.version, h.ts_us, h.snippet) for h in hits] == [(version, ts, "")]
    shown = with_snippets(store, hits, query)
    assert "[sarah]" in shown[0].snippet.lower() and "[actually]" in shown[0].snippet

    secret_hits = with_snippets(store, views.search(SearchQuery.parse(
        SECRET.lower(), first_only=False)), SearchQuery.parse(SECRET))
    assert [(h.version, h.source) for h in secret_hits] == [(150, "message"), (151, "memory")]
    assert "code: [Quagmire]-[Pelican]" in secret_hits[1].snippet
