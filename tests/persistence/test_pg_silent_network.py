"""A PostgreSQL network that goes silent mid-commit: with the URL's TCP options passed on to
the store's connections, a statement fails (the ingest worker then retries its batch) instead
of waiting for ever on bytes that are never acknowledged."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from eventsourcing.persistence import OperationalError
from support import make_settings

from ctxstore.infrastructure.bootstrap import build_store, dictionary_catalog, store_schema
from ctxstore.infrastructure.persistence.dictionaries import PostgresDictionaryCatalog
from ctxstore.infrastructure.persistence.migrations.schema import PostgresSchema
from devtools.tcp_proxy import TcpProxy

# What notices the silence: unacknowledged data gives up after 1 s (keepalives for an idle
# connection, which this proxy cannot show: its kernel answers them).
SILENCE_OPTIONS = ("tcp_user_timeout=1000&keepalives=1&keepalives_idle=1"
                   "&keepalives_interval=1&keepalives_count=2")


def test_the_urls_tcp_options_reach_the_stores_connections(
        tmp_path: Path, postgres_dsn: str) -> None:
    direct = make_settings("postgres", tmp_path, postgres_dsn)
    sep = "&" if "?" in direct.database_url else "?"
    settings = direct.model_copy(
        update={"database_url": f"{direct.database_url}{sep}{SILENCE_OPTIONS}"})
    store = build_store(settings)
    try:
        with store.factory.datastore.get_connection() as conn:
            parameters = conn.info.get_parameters()
        assert parameters["tcp_user_timeout"] == "1000"
        assert parameters["keepalives_idle"] == "1" and parameters["keepalives_count"] == "2"
    finally:
        store.close()


def test_a_url_without_tcp_options_gets_ones_that_notice_a_silent_network(
        tmp_path: Path, postgres_dsn: str) -> None:
    """Without them libpq leaves the first keepalive probe to the OS (two hours) and bytes
    never acknowledged to TCP's retransmissions (about 15 minutes)."""
    store = build_store(make_settings("postgres", tmp_path, postgres_dsn))
    try:
        with store.factory.datastore.get_connection() as conn:
            parameters = conn.info.get_parameters()
        assert parameters["keepalives"] == "1" and parameters["keepalives_idle"] == "30"
        assert parameters["keepalives_interval"] == "10"
        assert parameters["keepalives_count"] == "3"
        assert parameters["tcp_user_timeout"] == "60000"
    finally:
        store.close()


def test_connections_made_apart_from_the_pool_get_them_too(
        tmp_path: Path, postgres_dsn: str) -> None:
    """The dictionary catalog's and the schema set-up's connections: the defaults where the
    URL says nothing, the URL's own values where it does."""
    settings = make_settings("postgres", tmp_path, postgres_dsn)
    sep = "&" if "?" in settings.database_url else "?"
    told = settings.model_copy(
        update={"database_url": f"{settings.database_url}{sep}keepalives_idle=7"})
    for chosen, idle in ((settings, "30"), (told, "7")):
        catalog = dictionary_catalog(chosen)
        assert isinstance(catalog, PostgresDictionaryCatalog)
        schema = store_schema(chosen)
        assert isinstance(schema, PostgresSchema)
        for dsn in (catalog.dsn, schema.dsn):
            with psycopg.connect(dsn) as conn:
                parameters = conn.info.get_parameters()
            assert parameters["keepalives_idle"] == idle
            assert parameters["tcp_user_timeout"] == "60000"


async def test_a_statement_into_a_silent_network_fails_instead_of_hanging(
        tmp_path: Path, postgres_dsn: str) -> None:
    """On one of the store's connections (a retry's next one would be pinged first, and the
    ping's bytes are acknowledged by the proxy's kernel: only keepalives, which it answers
    too, would notice a real silent peer there)."""
    direct = make_settings("postgres", tmp_path, postgres_dsn)
    build_store(direct).close()  # the tables, made past the proxy
    server = urlsplit(direct.database_url)
    proxy = await TcpProxy(server.hostname or "127.0.0.1", server.port or 5432,
                           receive_buffer=4096).start()
    proxied = direct.database_url.replace(f":{server.port}/", f":{proxy.port}/")
    sep = "&" if "?" in proxied else "?"
    settings = direct.model_copy(update={"database_url": f"{proxied}{sep}{SILENCE_OPTIONS}"})
    store = await asyncio.to_thread(build_store, settings)
    # Random text, as big as a batch of real events: the network goes silent in the middle of
    # the statement, leaving most of it unacknowledged.
    big = base64.b64encode(os.urandom(600_000)).decode()

    def send() -> None:
        with store.factory.datastore.get_connection() as conn:
            conn.execute("SELECT length(%s)", (big,))

    try:
        await asyncio.to_thread(send)  # through the proxy while it forwards
        proxy.stall_after(50_000)
        with pytest.raises(OperationalError):  # the datastore's, from psycopg's
            try:
                await asyncio.wait_for(asyncio.to_thread(send), 120)
            except TimeoutError:
                raise AssertionError("the statement still waits after 120 s of silence") from None
        assert proxy.stalled
    finally:
        proxy.heal()  # a statement still waiting gets its connection reset
        await proxy.stop()
        await asyncio.to_thread(store.close)
