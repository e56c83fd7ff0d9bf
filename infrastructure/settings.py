"""Settings from the environment (DESIGN §7): every knob is a CONTEXT_* variable."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# The seed plan's names beside ours: `database` is PostgreSQL, `file_system` the embedded
# SQLite file under CONTEXT_STORAGE_PATH, `hybrid` PostgreSQL with checkpoint bodies as
# content-addressed files under CONTEXT_STORAGE_PATH (infrastructure.persistence.part_files).
StorageBackend = Literal["sqlite", "postgres", "database", "file_system", "hybrid"]
_ENGINES: dict[str, Literal["sqlite", "postgres"]] = {
    "sqlite": "sqlite", "file_system": "sqlite",
    "postgres": "postgres", "database": "postgres", "hybrid": "postgres",
}

CompressionStrategy = Literal["semantic", "basic", "advanced"]
_STRATEGY_LEVELS = {"basic": 3, "advanced": 19, "semantic": 19}


class SettingsError(ValueError):
    """A CONTEXT_* variable with a value the store does not take: one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONTEXT_", env_file=None, extra="ignore")

    storage_backend: StorageBackend = "sqlite"
    storage_path: Path = Path("var/ctxstore")
    database_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    database_schema: str = "public"
    database_pool_size: int = Field(default=5, ge=1)
    nats_url: str = "nats://127.0.0.1:4222"
    nats_partitions: int = Field(default=4, ge=1, le=1024)
    # Subject/stream prefix: "ctx" gives ctx.events.<agent_id> and CTX_EVENTS (DESIGN §5).
    nats_prefix: str = Field(default="ctx", pattern=r"^[A-Za-z0-9_-]+$")
    # Replicas of CTX_EVENTS and CTX_DLQ: 3 on a three-node JetStream cluster.
    nats_replicas: int = Field(default=1, ge=1, le=5)
    # Tenants accepted over NATS (comma-separated), each on <prefix>.t.<tenant>.*; unset: any
    # tenant whose subjects NATS lets through (its permissions are what confine a tenant).
    nats_tenants: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_,\s-]*$")
    # How long CTX_DLQ keeps a dead letter (it holds the rejected event's content).
    nats_dlq_max_age_days: float = Field(default=14, gt=0, le=36500)
    compression_level: int = Field(default=3, ge=-7, le=22)
    compression_dictionary: str | None = None
    snapshot_interval: int = Field(default=100, ge=1)
    # Past N events, the next snapshot also waits for new event bytes worth this share of the
    # last snapshot (keeps snapshot storage linear for ever-growing contexts).
    snapshot_growth: float = Field(default=0.25, ge=0)
    max_event_bytes: int = Field(default=1024 * 1024, ge=256)
    # How far an event's occurred_at may be ahead of this store's clock (domain.bounds).
    max_clock_skew_seconds: float = Field(default=300, ge=0, le=7 * 24 * 3600)
    encryption_enabled: bool = False
    encryption_key: SecretStr | None = None
    # The key of each agent's hash chain (HMAC-SHA-256; application.chain). Without it the
    # chain is plain SHA-256: it catches accidents, not someone who can write the database.
    integrity_key: SecretStr | None = None
    checkpoint_interval_minutes: float = Field(default=30, ge=0)
    max_checkpoints_per_agent: int = Field(default=10, ge=1)
    # How often a runner looks for schedules another process started (its own: at once).
    checkpoint_poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    retention_days: int = Field(default=30, ge=1)
    # How checkpoint bodies are compressed (application.checkpoint_bodies): `basic` zstd 3;
    # `advanced` zstd 19 with long-distance matching and the trained dictionary; `semantic`
    # the repeated pieces stored once in the part store, then `advanced`.
    compression_strategy: CompressionStrategy = "semantic"
    # The compressed ÷ original size a capture reports against (`target_met`).
    default_compression_ratio: float = Field(default=0.3, gt=0, le=1)
    # The zstd level of checkpoint and .ctxpkg bodies instead of the strategy's (3 or 19).
    checkpoint_compression_level: int | None = Field(default=None, ge=-7, le=22)
    max_package_size_mb: float = Field(default=100, gt=0)
    api_keys: str | None = None
    # Guards against other web pages (infrastructure.http.guards), comma-separated lists:
    # extra `Host` names the server answers to ("*": any) besides loopback and the address a
    # request arrived at, and extra browser origins (`https://dash.example.com`; "*": any)
    # allowed to open the WebSocket and send state-changing requests besides the page's own.
    http_allowed_hosts: str = ""
    http_allowed_origins: str = ""
    # `ctxstore serve` on a non-loopback address without API keys: refused unless set.
    http_allow_unauthenticated_remote: bool = False
    http_max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    http_max_batch_events: int = Field(default=1000, ge=1)
    # Agents kept folded in memory by a writer or reader (LRU); one that misses is read back
    # with the other misses of its batch in one query. Bounded by count and by the stored
    # (compressed) bytes the agents were folded from; memory held is a multiple of the latter
    # (application.agent_cache, README). 0 in either: no cache. 48 MiB since the built-in
    # dictionary made stored rows smaller: it holds the agents, and the memory, 64 did before.
    aggregate_cache_size: int = Field(default=10_000, ge=0)
    aggregate_cache_bytes: int = Field(default=48 * 1024 * 1024, ge=0)
    # Parts of kept contents (snapshots, restores) held decoded in memory, bounded by their
    # JSON bytes (application.part_cache): reads, forks and rewinds at earlier versions then
    # cost what those versions do not share. 0: none.
    part_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    # Per-agent facts a process remembers to save a query (an agent's tenant, its data key,
    # its chain head, when it was last snapshotted), for this many agents at most (LRU);
    # 0: as many as aggregate_cache_size, at least 1,024.
    remembered_agents: int = Field(default=0, ge=0)
    # Encoded HTTP answers kept per (agent, version, window), at most these bytes (LRU).
    http_state_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    # GET context answers of at least http_compression_min_bytes go zstd-compressed to a
    # client whose Accept-Encoding takes zstd (infrastructure.http.compression); off: never.
    http_compression: bool = True
    http_compression_min_bytes: int = Field(default=16 * 1024, ge=0)
    # Young-generation threshold of CPython's collector in ingest, serve and project (0: the
    # default 700); see infrastructure.gc_tuning.
    gc_young_threshold: int = Field(default=50_000, ge=0)
    # glibc's mmap and trim thresholds in the same processes, fixed rather than left to move
    # (0: glibc's moving default; MALLOC_MMAP_THRESHOLD_ set: that); see
    # infrastructure.malloc_tuning.
    malloc_mmap_threshold: int = Field(default=128 * 1024, ge=0, le=32 * 1024 * 1024)

    @property
    def nats_tenant_names(self) -> frozenset[str] | None:
        """CONTEXT_NATS_TENANTS as names; None when unset (any tenant)."""
        if self.nats_tenants is None:
            return None
        return frozenset(t.strip() for t in self.nats_tenants.split(",") if t.strip())

    @property
    def sqlite_file(self) -> Path:
        return self.storage_path / "ctxstore.sqlite"

    @property
    def integrity_key_bytes(self) -> bytes | None:
        return self.integrity_key.get_secret_value().encode() if self.integrity_key else None

    @property
    def engine(self) -> Literal["sqlite", "postgres"]:
        """The database the events live in, whichever name the backend was given by."""
        return _ENGINES[self.storage_backend]

    @property
    def checkpoint_level(self) -> int:
        """The zstd level of checkpoint and .ctxpkg bodies: the strategy's unless set."""
        if self.checkpoint_compression_level is not None:
            return self.checkpoint_compression_level
        return _STRATEGY_LEVELS[self.compression_strategy]

    @property
    def bodies_in_files(self) -> bool:
        """Checkpoint bodies as content-addressed files under CONTEXT_STORAGE_PATH."""
        return self.storage_backend == "hybrid"


# Variables of the prefix that are no setting but that a command reads itself.
NEW_KEY_VARIABLE = "CONTEXT_NEW_ENCRYPTION_KEY"  # `ctxstore rotate-key`'s new key
OTHER_VARIABLES = frozenset({NEW_KEY_VARIABLE})


def misspelt_settings(environ: Mapping[str, str]) -> list[str]:
    """One line per CONTEXT_* variable that is no setting but looks like a known one.

    A typo would otherwise be ignored and its setting quietly keep the default (a misspelt
    CONTEXT_DATABASE_URL writes to another database). Names far from every setting are left
    alone: other tools may share the prefix.
    """
    known = sorted(f"CONTEXT_{name.upper()}" for name in Settings.model_fields)
    lines = []
    for name in sorted(environ):
        upper = name.upper()  # pydantic-settings matches names whatever their case
        if not upper.startswith("CONTEXT_") or upper in known or upper in OTHER_VARIABLES:
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.85)
        if close:
            lines.append(f"{name} is not a setting: did you mean {close[0]}?")
    return lines


def load_settings() -> Settings:
    """The environment's settings; a value the store does not take, or a variable that looks
    like a misspelt setting, is one line naming the variable (SettingsError), not pydantic's
    report."""
    typos = misspelt_settings(os.environ)
    if typos:
        raise SettingsError("; ".join(typos))
    try:
        return Settings()
    except ValidationError as e:
        lines = []
        for error in e.errors():
            name = "CONTEXT_" + "_".join(str(p) for p in error["loc"]).upper()
            expected = (error.get("ctx") or {}).get("expected")
            what = f"must be one of {expected}" if expected else error["msg"]
            lines.append(f"{name}={error.get('input')!r}: {what}")
        raise SettingsError("; ".join(lines)) from None
