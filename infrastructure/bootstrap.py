"""The composition root: settings in, one typed `Services` out (infrastructure/container.py).

Every adapter is built here and nowhere else: the store with its recorders, compressor and
dictionary catalog, the use cases over it, the projections' views, the checkpoint runner and
the NATS subjects. The doors (CLI, HTTP app and WebSocket, NATS app, projection worker) receive
the `Services` and build nothing themselves. No door imports this module (the CLI, which is the
process's entry point, does): the arrows go root -> doors' types, never back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlparse

from eventsourcing.persistence import InfrastructureFactory, TrackingRecorder
from eventsourcing.utils import Environment

from ctxstore.application.auto_checkpoints import AutoCheckpoints
from ctxstore.application.chain import EventChain
from ctxstore.application.checkpoint_runner import CheckpointRunner
from ctxstore.application.checkpoints import CheckpointService
from ctxstore.application.commands import Commands, EventLimits, UseCases
from ctxstore.application.dictionary_port import DictionaryCatalog
from ctxstore.application.diff import DiffService
from ctxstore.application.forget import ForgetService, Purge
from ctxstore.application.integrity import IntegrityService
from ctxstore.application.packages import PackageService
from ctxstore.application.part_port import PartStore
from ctxstore.application.restore import RestoreService
from ctxstore.application.store import ContextStore
from ctxstore.infrastructure.container import Services
from ctxstore.infrastructure.messaging.subjects import Subjects
from ctxstore.infrastructure.persistence.body_codec import BodyCodec
from ctxstore.infrastructure.persistence.builtin_dictionary import BUILTIN_DICTIONARY_ID
from ctxstore.infrastructure.persistence.cipher import ContextCipher
from ctxstore.infrastructure.persistence.ctxpkg_codec import CtxpkgCodec
from ctxstore.infrastructure.persistence.data_keys import DataKeyTable, KeyRing
from ctxstore.infrastructure.persistence.ddl_lock import folder_lock
from ctxstore.infrastructure.persistence.dictionaries import (
    EncryptedDictionaryCatalog,
    PostgresDictionaryCatalog,
    SQLiteDictionaryCatalog,
    chosen_dictionary,
)
from ctxstore.infrastructure.persistence.dsn import store_dsn
from ctxstore.infrastructure.persistence.mapper import ContextMapper
from ctxstore.infrastructure.persistence.memory import (
    MemoryDictionaryCatalog,
    MemoryPartStore,
    MemoryStoreRecorder,
)
from ctxstore.infrastructure.persistence.migrations.schema import (
    PostgresSchema,
    SQLiteSchema,
    StoreSchema,
)
from ctxstore.infrastructure.persistence.part_files import FilePartStore, key_scope
from ctxstore.infrastructure.persistence.part_lock import (
    postgres_part_guard,
    postgres_part_lock,
    sqlite_part_lock,
)
from ctxstore.infrastructure.persistence.part_table import TablePartStore
from ctxstore.infrastructure.persistence.portable import PortableZstd
from ctxstore.infrastructure.persistence.views_sqlite import SQLiteContextViews
from ctxstore.infrastructure.persistence.zstd_compressor import ZstdCompressor
from ctxstore.infrastructure.settings import Settings
from ctxstore.projections.projection import ContextProjection
from ctxstore.projections.search import BlindIndex
from ctxstore.projections.views import ContextViews

if TYPE_CHECKING:
    from fastapi import FastAPI
    from faststream import FastStream
    from nats.js import JetStreamContext

    from ctxstore.infrastructure.client.embedded import AsyncEmbeddedClient
    from ctxstore.infrastructure.messaging.app import Runtime


class ConfigurationError(ValueError):
    """Settings that cannot work together; the message says which and why."""


def eventsourcing_env(settings: Settings, *, in_memory: bool = False) -> dict[str, str]:
    """The eventsourcing library's environment for these settings (in memory: the store's
    recorders of infrastructure.persistence.memory instead of the settings' database)."""
    # No library cache: the store keeps its own, bounded by bytes (application.agent_cache).
    env: dict[str, str] = {"IS_SNAPSHOTTING_ENABLED": "y"}
    if in_memory:
        env["PERSISTENCE_MODULE"] = "ctxstore.infrastructure.persistence.memory:MemoryFactory"
    elif settings.engine == "sqlite":
        settings.storage_path.mkdir(parents=True, exist_ok=True)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            SQLITE_DBNAME=str(settings.sqlite_file),
            SQLITE_LOCK_TIMEOUT="30",
            APPLICATION_RECORDER_TOPIC=(
                "ctxstore.infrastructure.persistence.packages_sqlite:SQLiteStoreRecorder"
            ),
        )
    else:
        url = urlparse(settings.database_url)
        if url.scheme not in ("postgresql", "postgres"):
            raise ConfigurationError(
                f"CONTEXT_DATABASE_URL must be a postgresql:// URL, not {settings.database_url!r}"
            )
        env.update(
            # The library's, with binary inserts of snapshots.
            PERSISTENCE_MODULE="ctxstore.infrastructure.persistence.postgres:ContextPostgresFactory",
            POSTGRES_DBNAME=unquote(url.path.lstrip("/")) or "postgres",
            POSTGRES_HOST=url.hostname or "127.0.0.1",
            POSTGRES_PORT=str(url.port or 5432),
            POSTGRES_USER=unquote(url.username or "postgres"),
            POSTGRES_PASSWORD=unquote(url.password or ""),
            POSTGRES_SCHEMA=settings.database_schema,
            POSTGRES_POOL_SIZE=str(settings.database_pool_size),
            POSTGRES_MAX_OVERFLOW="10",
            POSTGRES_CONNECT_TIMEOUT="10",
            POSTGRES_LOCK_TIMEOUT="30",
            POSTGRES_PRE_PING="y",
            # The URL's libpq parameters (keepalives, tcp_user_timeout, sslmode...).
            POSTGRES_CONNECTION_OPTIONS=url.query,
            APPLICATION_RECORDER_TOPIC=(
                "ctxstore.infrastructure.persistence.packages_postgres:PostgresStoreRecorder"
            ),
        )
    if settings.encryption_enabled:
        if settings.encryption_key is None:
            raise ConfigurationError(
                "CONTEXT_ENCRYPTION_ENABLED is set but CONTEXT_ENCRYPTION_KEY is empty; make "
                "one with: python -c 'from eventsourcing.cryptography import AESCipher; "
                "print(AESCipher.create_key(32))'"
            )
        env.update(
            # eventsourcing's AES-GCM cipher, with clear errors for a bad or wrong key.
            CIPHER_TOPIC="ctxstore.infrastructure.persistence.cipher:ContextCipher",
            CIPHER_KEY=settings.encryption_key.get_secret_value(),
        )
    # Unreadable stored data (wrong key, missing dictionary) raises our own clear errors.
    env["MAPPER_TOPIC"] = "ctxstore.infrastructure.persistence.mapper:ContextMapper"
    # Same bytes as eventsourcing's JSON transcoder; reads parse with orjson (big snapshots).
    env["TRANSCODER_TOPIC"] = "ctxstore.infrastructure.persistence.transcoder:FastJSONTranscoder"
    return env


def store_schema(settings: Settings) -> StoreSchema:
    """The schema version of the store these settings name (`ctxstore migrate`)."""
    if settings.engine == "sqlite":
        return SQLiteSchema(settings.sqlite_file, settings.integrity_key_bytes)
    return PostgresSchema(store_dsn(settings.database_url), settings.database_schema,
                          settings.integrity_key_bytes)


def build_store(settings: Settings | None = None,
                catalog: DictionaryCatalog | None = None) -> ContextStore:
    """The event store these settings name (tables created when missing), once its schema
    version is the code's (migrations.schema: a new store is stamped, an older embedded one
    migrated; otherwise a SchemaError says what to do)."""
    settings = settings or Settings()
    env = eventsourcing_env(settings)
    store_schema(settings).prepare()
    with creating_tables(settings):
        return _build_store(settings, env, catalog)


def creating_tables(settings: Settings) -> AbstractContextManager[None]:
    """Held while the store's or the views' tables are created (or found): processes starting
    together on a new store must not race making them (persistence.ddl_lock)."""
    if settings.engine == "postgres":
        from ctxstore.infrastructure.persistence.postgres import schema_setup_lock

        return schema_setup_lock(store_dsn(settings.database_url), settings.database_schema)
    return folder_lock(settings.storage_path)


def _build_store(settings: Settings, env: dict[str, str],
                 catalog: DictionaryCatalog | None) -> ContextStore:
    # Dictionaries load (over a plain connection) before the store reads any event.
    compressor = build_compressor(settings, catalog)
    store = ContextStore(env=env, compressor=compressor,
                         snapshot_interval=settings.snapshot_interval,
                         snapshot_growth=settings.snapshot_growth,
                         cache_bytes=settings.aggregate_cache_bytes,
                         cache_agents=settings.aggregate_cache_size,
                         part_cache_bytes=settings.part_cache_bytes,
                         remembered_agents=settings.remembered_agents or None,
                         chain=EventChain(settings.integrity_key_bytes))
    use_data_keys(store)
    # A command's statements share one pooled connection, checked once (PostgreSQL).
    pin = getattr(store.factory, "connection_pin", None)
    if pin is not None:  # ContextPostgresFactory's (persistence.postgres)
        store.one_connection = pin
    # Snapshots and restores keep their contents as parts of the store's part store.
    store.use_parts(build_parts(settings, store))
    return store


def use_data_keys(store: ContextStore) -> None:
    """When the store encrypts: each agent's rows under its own data key, wrapped by the
    store key (persistence.data_keys), so that forgetting it is deleting its key."""
    mapper = store.mapper
    if isinstance(mapper, ContextMapper) and isinstance(mapper.cipher, ContextCipher):
        keys = KeyRing(mapper.cipher, cast(DataKeyTable, store.recorder))
        mapper.use_data_keys(keys)
        store.data_keys = keys


def dictionary_catalog(settings: Settings) -> DictionaryCatalog:
    """The catalog in the store these settings name, encrypted when the store is."""
    catalog: DictionaryCatalog
    if settings.engine == "sqlite":
        catalog = SQLiteDictionaryCatalog(settings.sqlite_file)
    else:
        catalog = PostgresDictionaryCatalog(store_dsn(settings.database_url),
                                            settings.database_schema)
    return _encrypted(catalog, settings)


def _encrypted(catalog: DictionaryCatalog, settings: Settings) -> DictionaryCatalog:
    """The catalog, encrypted at rest when the settings encrypt the store."""
    if settings.encryption_enabled and settings.encryption_key is not None:
        key = settings.encryption_key.get_secret_value()
        cipher = ContextCipher(Environment(env={ContextCipher.CIPHER_KEY: key}))
        catalog = EncryptedDictionaryCatalog(catalog, cipher)
    return catalog


def build_compressor(settings: Settings, catalog: DictionaryCatalog | None = None, *,
                     fallback: int | None = BUILTIN_DICTIONARY_ID) -> ZstdCompressor:
    """A compressor with every stored dictionary loaded and the chosen one active (none
    trained or chosen: `fallback`, the built-in one)."""
    catalog = catalog or dictionary_catalog(settings)
    stored = catalog.all()

    def fetch_missing(dict_id: int) -> bytes | None:
        found = catalog.get(dict_id)  # trained by another process after this one started
        return found.data if found else None

    return ZstdCompressor(
        level=settings.compression_level,
        dictionaries={d.dict_id: d.data for d in stored},
        active_dictionary_id=chosen_dictionary(settings.compression_dictionary, stored,
                                                fallback),
        fetch_missing=fetch_missing,
    )


def build_parts(settings: Settings, store: ContextStore) -> PartStore:
    """The store's one part store (application.part_port): files under
    CONTEXT_STORAGE_PATH/parts for `hybrid`, else a table beside the events; locked per tenant
    on the store's own connections (persistence.part_lock)."""
    key = settings.encryption_key.get_secret_value() if (
        settings.encryption_enabled and settings.encryption_key is not None) else None
    recorder: Any = store.packages
    if isinstance(recorder, MemoryStoreRecorder):  # memory_services: nothing on disk
        return MemoryPartStore(recorder)
    datastore = recorder.datastore
    if settings.engine == "sqlite":
        return TablePartStore(datastore, "sqlite", recorder.parts_table,
                              recorder.part_refs_table, key_scope(key),
                              sqlite_part_lock(datastore, recorder.parts_table))
    lock = postgres_part_lock(datastore)
    if settings.bodies_in_files:
        return FilePartStore(settings.storage_path / "parts", key_scope(key), store.packages,
                             lock)
    return TablePartStore(datastore, "postgres", recorder.parts_table,
                          recorder.part_refs_table, key_scope(key), lock,
                          postgres_part_guard(datastore))


def build_checkpoint_codec(settings: Settings, catalog: DictionaryCatalog,
                           store: ContextStore) -> BodyCodec:
    """Checkpoint bodies' codec for CONTEXT_COMPRESSION_STRATEGY: the store's dictionaries
    loaded (old bodies stay readable); `basic` writes without one, the others with the chosen
    one and long-distance matching."""
    # A body is one large input, which the built-in dictionary does not help: a trained one
    # or none, as ever.
    compressor = build_compressor(
        settings.model_copy(update={"compression_level": settings.checkpoint_level}), catalog,
        fallback=None)
    if settings.compression_strategy == "basic":
        compressor.activate(None)
    else:
        compressor.long_distance = True
    return BodyCodec(compressor, store.cipher, getattr(store.mapper, "keys", None))


def build_views(settings: Settings) -> ContextViews:
    """The projections' tables beside the events, as the settings place them."""
    env = Environment(ContextProjection.name, eventsourcing_env(settings))
    factory = InfrastructureFactory[TrackingRecorder].construct(env)
    if settings.engine == "sqlite":
        views_class: type = SQLiteContextViews
    else:
        # The PostgreSQL views import psycopg: on this path alone (persistence.pg_lazy).
        from ctxstore.infrastructure.persistence.views_postgres import PostgresContextViews
        views_class = PostgresContextViews
    with creating_tables(settings):
        views = cast(ContextViews, factory.tracking_recorder(cast(Any, views_class)))
    views.factory = factory  # type: ignore[attr-defined]  # keeps the datastore open
    views.closes_with(factory.close)
    if settings.encryption_enabled and settings.encryption_key is not None:
        # Nothing in plain text at rest: the search index holds keyed word hashes only.
        views.blind = BlindIndex(settings.encryption_key.get_secret_value().encode())
    return views


def build_subjects(settings: Settings) -> Subjects:
    """The NATS subjects of these settings; whether the partition count was set or defaulted
    decides what a server too old to partition does (streams.fit_to_server)."""
    return Subjects(prefix=settings.nats_prefix, partitions=settings.nats_partitions,
                    replicas=settings.nats_replicas,
                    partitions_explicit="nats_partitions" in settings.model_fields_set,
                    tenants=settings.nats_tenant_names,
                    dlq_max_age=settings.nats_dlq_max_age_days * 24 * 3600)


def build_purges(settings: Settings) -> list[Purge]:
    """What a forget purges besides the store: the NATS streams' copies of the agent's
    envelopes, when CONTEXT_NATS_URL is set (an HTTP-only deployment has no streams)."""
    if "nats_url" not in settings.model_fields_set:
        return []
    from ctxstore.infrastructure.messaging.purge import NatsPurge

    return [NatsPurge(settings.nats_url.split(","), build_subjects(settings))]


def build_auto_checkpoints(settings: Settings, checkpoints: CheckpointService
                           ) -> AutoCheckpoints:
    """Automatic checkpoints: the default schedule every CONTEXT_CHECKPOINT_INTERVAL_MINUTES
    (none when 0) and the agents' own schedules kept in the store."""
    minutes = settings.checkpoint_interval_minutes
    return AutoCheckpoints(checkpoints,
                           default_interval_seconds=minutes * 60 if minutes > 0 else None)


def build_checkpoint_runner(settings: Settings, checkpoints: CheckpointService,
                            auto: AutoCheckpoints | None = None) -> CheckpointRunner:
    """The thread that runs the due rounds of `auto` (built from settings unless given); the
    long-running doors (`serve`, `ingest`) start and stop it. With
    CONTEXT_CHECKPOINT_INTERVAL_MINUTES=0 it runs only the agents' own schedules."""
    return CheckpointRunner(auto or build_auto_checkpoints(settings, checkpoints),
                            poll_seconds=settings.checkpoint_poll_seconds)


@asynccontextmanager
async def open_jetstream(settings: Settings) -> AsyncIterator[JetStreamContext]:
    """A short-lived JetStream connection for one operator command (dead letters, partition
    status): one attempt per server, closed on exit."""
    from ctxstore.infrastructure.messaging.probe import connect_once

    nc = await connect_once(settings.nats_url.split(","), timeout=5)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


def bootstrap(settings: Settings | None = None, *, store: ContextStore | None = None,
              catalog: DictionaryCatalog | None = None) -> Services:
    """Every service of one process, over one store and dictionary catalog (built from
    settings unless given)."""
    settings = settings or Settings()
    catalog = catalog or dictionary_catalog(settings)
    store = store or build_store(settings, catalog)
    level = settings.checkpoint_level
    # The store's one part store, for its contents (build_store gives it one) and checkpoints.
    if store.part_content is None:
        store.use_parts(build_parts(settings, store))
    assert store.part_content is not None
    parts = store.part_content.parts
    checkpoints = CheckpointService(
        store,
        build_checkpoint_codec(settings, catalog, store),
        max_checkpoints_per_agent=settings.max_checkpoints_per_agent,
        max_package_bytes=int(settings.max_package_size_mb * 1024 * 1024),
        retention_days=settings.retention_days,
        parts=parts,
        strategy=settings.compression_strategy,
        bodies_in_parts=settings.bodies_in_files,
        target_ratio=settings.default_compression_ratio,
    )
    restore = RestoreService(store, checkpoints)
    # Exported bodies use no dictionary, so any other store can read them.
    packages = PackageService(checkpoints, CtxpkgCodec(PortableZstd(level=level), store.cipher))
    diff = DiffService(restore)
    auto = build_auto_checkpoints(settings, checkpoints)
    commands = Commands(UseCases(store=store, checkpoints=checkpoints, restore=restore,
                                 diff=diff, packages=packages, auto=auto,
                                 forget=ForgetService(store, checkpoints.bodies,
                                                      build_purges(settings)),
                                 limits=EventLimits(
                                     max_event_bytes=settings.max_event_bytes,
                                     max_clock_skew_seconds=settings.max_clock_skew_seconds)))
    return Services(settings=settings, store=store, checkpoints=checkpoints, restore=restore,
                    diff=diff, packages=packages, commands=commands, dictionaries=catalog,
                    subjects=build_subjects(settings),
                    runner=build_checkpoint_runner(settings, checkpoints, auto),
                    integrity=IntegrityService(store.chain_index, store.chain, (
                        store.snapshot_commitments, checkpoints.chain_commitments)),
                    open_views=lambda: build_views(settings))


def memory_services(settings: Settings | None = None) -> Services:
    """Every service over a store and a dictionary catalog held in this process's memory
    (infrastructure.persistence.memory): what the application's tests run on without a
    database. The settings' other choices (encryption, compression, limits) apply; the views
    stay where the settings put them (SQLite under storage_path, or PostgreSQL). Nothing is
    kept when the process ends, so this is no storage backend a user chooses."""
    settings = settings or Settings()
    catalog = _encrypted(MemoryDictionaryCatalog(), settings)
    store = _build_store(settings, eventsourcing_env(settings, in_memory=True), catalog)
    return bootstrap(settings, store=store, catalog=catalog)


# The doors' modules are imported where a door is built, not above: FastAPI and FastStream
# take about 0.15 s each to import, which every other CLI command would pay otherwise. Neither
# door imports this module, so this is no hidden cycle.

def build_http_app(settings: Settings | None = None) -> FastAPI:
    """The HTTP API (a FastAPI app) over services from these settings, closed on shutdown."""
    from ctxstore.infrastructure.http.app import create_app

    return create_app(bootstrap(settings or Settings()))


def build_messaging_app(settings: Settings | None = None, **options: Any
                        ) -> tuple[FastStream, Runtime]:
    """The `ctxstore ingest` FastStream app (and its runtime); its services are bootstrapped
    when it starts (the store connects then, and is closed on shutdown)."""
    from ctxstore.infrastructure.messaging.app import create_app

    settings = settings or Settings()
    return create_app(settings.nats_url.split(","), build_subjects(settings),
                      lambda: bootstrap(settings), **options)


class EmbeddedApi:
    """The HTTP API inside this process, without a server: `client()` answers the calls of
    `ctxstore.client` by running their routes' functions on this store
    (client.embedded), so an embedded adapter goes through the same validation, tenants and
    errors a remote one does, without the wire. One per process and store."""

    def __init__(self, settings: Settings | None = None):
        from ctxstore.infrastructure.http.app import create_app

        self.services = bootstrap(settings or Settings())
        self.app = create_app(self.services, close_on_shutdown=False)

    def client(self, api_key: str | None = None) -> AsyncEmbeddedClient:
        from ctxstore.infrastructure.client.embedded import AsyncEmbeddedClient

        return AsyncEmbeddedClient(self.app, api_key)

    def close(self) -> None:
        self.services.close()
