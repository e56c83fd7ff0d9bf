"""The composition root: settings in, wired application and adapters out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from application.checkpoint_runner import CheckpointRunner
from application.checkpoints import CheckpointService
from application.diff import DiffService
from application.packages import PackageService
from application.restore import RestoreService
from application.store import ContextStore
from infrastructure.persistence.body_codec import BodyCodec
from infrastructure.persistence.dictionaries import build_compressor
from infrastructure.persistence.portable import PortableZstd
from infrastructure.persistence.postgres import schema_setup_lock
from infrastructure.services import libpq_dsn
from infrastructure.settings import Settings

if TYPE_CHECKING:
    from infrastructure.messaging.subjects import Subjects


class ConfigurationError(ValueError):
    """Settings that cannot work together; the message says which and why."""


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing library's environment for these settings."""
    env: dict[str, str] = {
        "IS_SNAPSHOTTING_ENABLED": "y",
        "AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size),
        "AGGREGATE_CACHE_FASTFORWARD": "y",
    }
    if settings.aggregate_cache_size == 0:
        del env["AGGREGATE_CACHE_MAXSIZE"]
    if settings.storage_backend == "sqlite":
        settings.storage_path.mkdir(parents=True, exist_ok=True)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            SQLITE_DBNAME=str(settings.sqlite_file),
            SQLITE_LOCK_TIMEOUT="30",
            APPLICATION_RECORDER_TOPIC=(
                "infrastructure.persistence.packages_sqlite:SQLiteStoreRecorder"
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
            PERSISTENCE_MODULE="infrastructure.persistence.postgres:ContextPostgresFactory",
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
            APPLICATION_RECORDER_TOPIC=(
                "infrastructure.persistence.packages_postgres:PostgresStoreRecorder"
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
            CIPHER_TOPIC="infrastructure.persistence.cipher:ContextCipher",
            CIPHER_KEY=settings.encryption_key.get_secret_value(),
        )
    # Unreadable stored data (wrong key, missing dictionary) raises our own clear errors.
    env["MAPPER_TOPIC"] = "infrastructure.persistence.mapper:ContextMapper"
    # Same bytes as eventsourcing's JSON transcoder; reads parse with orjson (big snapshots).
    env["TRANSCODER_TOPIC"] = "infrastructure.persistence.transcoder:FastJSONTranscoder"
    return env


def build_store(settings: Settings | None = None) -> ContextStore:
    settings = settings or Settings()
    env = eventsourcing_env(settings)
    if settings.storage_backend != "postgres":
        return _build_store(settings, env)
    # Workers starting together must not race creating the schema's tables.
    with schema_setup_lock(libpq_dsn(settings.database_url), settings.database_schema):
        return _build_store(settings, env)


def _build_store(settings: Settings, env: dict[str, str]) -> ContextStore:
    # Dictionaries load (over a plain connection) before the store reads any event.
    compressor = build_compressor(settings)
    return ContextStore(env=env, compressor=compressor,
                        snapshot_interval=settings.snapshot_interval,
                        snapshot_growth=settings.snapshot_growth)


@dataclass(frozen=True)
class RestoreServices:
    """Checkpoint, restore, diff and .ctxpkg use cases over one store."""

    checkpoints: CheckpointService
    restore: RestoreService
    diff: DiffService
    packages: PackageService

    def as_dict(self) -> dict[str, Any]:
        """By name, for adapters that look use cases up (`checkpoints`, `restore`, ...)."""
        return {"checkpoints": self.checkpoints, "restore": self.restore, "diff": self.diff,
                "packages": self.packages}


def build_restore_services(settings: Settings | None = None,
                           store: ContextStore | None = None) -> RestoreServices:
    """The point-in-time restore use cases (DESIGN §3), with limits from settings."""
    settings = settings or Settings()
    store = store or build_store(settings)
    level = settings.checkpoint_compression_level
    checkpoints = CheckpointService(
        store,
        # The store's dictionaries, at the (slower, smaller) checkpoint level.
        BodyCodec(build_compressor(settings.model_copy(update={"compression_level": level})),
                  store.cipher),
        max_checkpoints_per_agent=settings.max_checkpoints_per_agent,
        max_package_bytes=int(settings.max_package_size_mb * 1024 * 1024),
        retention_days=settings.retention_days,
    )
    restore = RestoreService(store, checkpoints)
    # Exported bodies use no dictionary, so any other store can read them.
    portable = PortableZstd(level=level)
    return RestoreServices(checkpoints, restore, DiffService(restore),
                           PackageService(checkpoints, portable))


def build_checkpoint_runner(settings: Settings, checkpoints: CheckpointService
                            ) -> CheckpointRunner | None:
    """Automatic checkpoints every CONTEXT_CHECKPOINT_INTERVAL_MINUTES (None when 0); the
    caller starts and stops it."""
    if settings.checkpoint_interval_minutes <= 0:
        return None
    return CheckpointRunner(checkpoints, settings.checkpoint_interval_minutes * 60)


def build_http_app(settings: Settings | None = None) -> Any:
    """The HTTP API (a FastAPI app) over a store built from these settings."""
    from infrastructure.http.app import create_app

    return create_app(settings or Settings())


def build_subjects(settings: Settings) -> Subjects:
    """The NATS subjects of these settings; whether the partition count was set or defaulted
    decides what a server too old to partition does (streams.fit_to_server)."""
    from infrastructure.messaging.subjects import Subjects

    return Subjects(prefix=settings.nats_prefix, partitions=settings.nats_partitions,
                    replicas=settings.nats_replicas,
                    partitions_explicit="nats_partitions" in settings.model_fields_set)


def build_messaging_app(settings: Settings | None = None, **options: Any) -> Any:
    """The `ctxstore ingest` FastStream app (and its runtime) over a store from these settings."""
    from infrastructure.messaging.app import create_app

    settings = settings or Settings()
    subjects = build_subjects(settings)
    return create_app(settings.nats_url.split(","), subjects, lambda: build_store(settings),
                      lambda store: build_restore_services(settings, store), **options)
