"""Every NATS subject and stream name of DESIGN §5, derived from one prefix.

The contract's names use the prefix ``ctx`` (``ctx.events.<agent_id>``, stream ``CTX_EVENTS``);
tests and side-by-side deployments pick another prefix so their streams never meet.

Tenants: the local (keyless) tenant's subjects are the contract's, unchanged. Any other tenant
has the same layout under ``<prefix>.t.<tenant>`` (``ctx.t.acme.events.<agent_id>``,
``ctx.t.acme.dlq.<agent_id>``, ``ctx.t.acme.recorded.<agent_id>``, ``ctx.t.acme.rpc.context``),
so one NATS permission, publish and subscribe on ``ctx.t.acme.>``, confines a publisher to its
tenant: the subject is the tenant's credential, checked by NATS, and the store takes the tenant
from it. The tenant token is the tenant's name (the one its API keys map to). Both streams
cover both layouts; JetStream's duplicate window is per stream, so a tenant's message id is
``<tenant>:<event_id>`` (`msg_id`) and tenants cannot drop each other's events inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ctxstore.domain.agent_id import AGENT_ID_PATTERN, LOCAL_TENANT

_AGENT_RE = re.compile(AGENT_ID_PATTERN)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]+$")
UNKNOWN_AGENT = "unknown"
TENANTS_TOKEN = "t"  # <prefix>.t.<tenant>...: the subjects of tenants other than the local one
TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_TENANT_RE = re.compile(TENANT_PATTERN)


class InvalidTenantToken(ValueError):
    """A tenant that cannot have NATS subjects of its own."""


def check_tenant_token(tenant: str) -> str:
    """A tenant name usable as the tenant token of its subjects, else InvalidTenantToken.

    The local tenant has the contract's own subjects (``ctx.events.<agent_id>``), never a
    ``ctx.t.local`` twin: one agent reachable by two subjects would have two message ids.
    """
    if tenant == LOCAL_TENANT:
        raise InvalidTenantToken(f"the local tenant publishes on <prefix>.events.<agent_id>, "
                                 f"not under <prefix>.{TENANTS_TOKEN}.{LOCAL_TENANT}")
    if not _TENANT_RE.match(tenant):
        raise InvalidTenantToken(f"tenant {tenant!r} must match {TENANT_PATTERN} to have NATS "
                                 "subjects (letters, digits, '_' and '-', at most 64)")
    return tenant


@dataclass(frozen=True)
class Route:
    """Where a stored message came from: the subject published on, its tenant, its agent token
    (None when the subject is malformed), and why it is malformed."""

    original: str
    tenant: str = LOCAL_TENANT
    agent_token: str | None = None
    error: str | None = None


def dlq_agent_token(*candidates: str | None) -> str:
    """The first candidate that is a valid agent id, else the first one sanitised, else unknown."""
    for candidate in candidates:
        if candidate and _AGENT_RE.match(candidate):
            return candidate
    for candidate in candidates:
        if candidate:
            token = _UNSAFE.sub("_", candidate).strip("_-")[:128]
            if token and token[0].isalnum():
                return token
    return UNKNOWN_AGENT


@dataclass(frozen=True)
class Subjects:
    """Subjects and stream names for one prefix and partition count (and the streams'
    replication: 3 on a three-node cluster keeps every event through the loss of a node)."""

    prefix: str = "ctx"
    partitions: int = 4
    replicas: int = 1
    # False when the partition count is only the default: on a server that cannot partition
    # (nats-server before 2.10) it then falls back to one (streams.fit_to_server).
    partitions_explicit: bool = True
    # The tenants (besides the local one) accepted over NATS; None: any whose subjects NATS
    # lets through (CONTEXT_NATS_TENANTS).
    tenants: frozenset[str] | None = None
    # How long the dead-letter stream keeps a message (seconds; CONTEXT_NATS_DLQ_MAX_AGE_DAYS):
    # a dead letter holds the rejected event's content, which must not stay for ever.
    dlq_max_age: float = 14 * 24 * 3600.0

    def __post_init__(self) -> None:
        if not _PREFIX_RE.match(self.prefix):
            raise ValueError(f"NATS prefix {self.prefix!r} must be one subject token "
                             "(letters, digits, '_' and '-')")
        if self.partitions < 1:
            raise ValueError("the number of partitions must be at least 1")
        if self.dlq_max_age <= 0:
            raise ValueError("the dead-letter stream's max age must be positive")
        if not 1 <= self.replicas <= 5:
            raise ValueError("stream replicas must be from 1 to 5")
        for tenant in self.tenants or ():
            try:
                check_tenant_token(tenant)
            except InvalidTenantToken as e:
                raise InvalidTenantToken(f"CONTEXT_NATS_TENANTS: {e}") from None

    # Streams -----------------------------------------------------------------------------------
    @property
    def events_stream(self) -> str:
        return f"{self.prefix.upper().replace('-', '_')}_EVENTS"

    @property
    def dlq_stream(self) -> str:
        return f"{self.prefix.upper().replace('-', '_')}_DLQ"

    @property
    def leases_bucket(self) -> str:
        """Key-value bucket of the partition leases (which worker consumes which partition)."""
        return f"{self.prefix.upper().replace('-', '_')}_INGEST_LEASES"

    # Tenants ------------------------------------------------------------------------------------
    def scope(self, tenant: str = LOCAL_TENANT) -> str:
        """The subject prefix of a tenant's subjects: the contract's for the local tenant."""
        if tenant == LOCAL_TENANT:
            return self.prefix
        return f"{self.prefix}.{TENANTS_TOKEN}.{check_tenant_token(tenant)}"

    @property
    def tenants_all(self) -> str:
        """Every tenant's subjects (NATS permissions grant one tenant's: `scope(t) + '.>'`)."""
        return f"{self.prefix}.{TENANTS_TOKEN}.>"

    def accepted_tenant(self, tenant: str) -> str:
        """A tenant token that may act over NATS here, else InvalidTenantToken."""
        check_tenant_token(tenant)
        if self.tenants is not None and tenant not in self.tenants:
            raise InvalidTenantToken(f"tenant {tenant!r} is not one of CONTEXT_NATS_TENANTS "
                                     f"({', '.join(sorted(self.tenants)) or 'none'})")
        return tenant

    def msg_id(self, event_id: str, tenant: str = LOCAL_TENANT) -> str:
        """The Nats-Msg-Id of an event: its id, behind its tenant's name for other tenants."""
        return event_id if tenant == LOCAL_TENANT else f"{tenant}:{event_id}"

    def owns_msg_id(self, msg_id: str, tenant: str) -> bool:
        """Whether a message id is in the tenant's namespace (any id is the local tenant's)."""
        return tenant == LOCAL_TENANT or msg_id.startswith(f"{tenant}:")

    # Subjects agents publish on ---------------------------------------------------------------
    @property
    def events_all(self) -> str:
        return f"{self.prefix}.events.>"

    @property
    def tenant_events_all(self) -> str:
        return f"{self.prefix}.{TENANTS_TOKEN}.*.events.>"

    @property
    def events_subjects(self) -> list[str]:
        """What the events stream holds: the local tenant's and every other tenant's."""
        return [self.events_all, self.tenant_events_all]

    def events(self, agent_id: str, tenant: str = LOCAL_TENANT) -> str:
        return f"{self.scope(tenant)}.events.{agent_id}"

    @property
    def events_template(self) -> str:
        return f"{self.prefix}.events.{{agent_id}}"

    # Partitions (stored subjects after the stream's subject transform) -----------------------
    @property
    def transformed(self) -> bool:
        """One partition needs no transform; then stored subjects are the published ones."""
        return self.partitions > 1

    def partition_filter(self, partition: int) -> str:
        if not self.transformed:
            return f"{self.prefix}.events.*"
        return f"{self.prefix}.part.{partition}.*"

    @property
    def transform_source(self) -> str:
        return f"{self.prefix}.events.*"

    @property
    def transform_destination(self) -> str:
        return f"{self.prefix}.part.{{{{partition({self.partitions},1)}}}}.{{{{wildcard(1)}}}}"

    @property
    def stray_filter(self) -> str:
        """Published subjects with more than one agent token: never valid, sent to the DLQ."""
        return f"{self.prefix}.events.*.>"

    def durable(self, partition: int) -> str:
        return f"{self.prefix}-ingest-{partition}"

    @property
    def stray_durable(self) -> str:
        return f"{self.prefix}-ingest-stray"

    @property
    def tenants_durable(self) -> str:
        """The one consumer of every tenant's events (stored as published: the stream's one
        subject transform partitions the local tenant's), pulled with partition 0."""
        return f"{self.prefix}-ingest-tenants"

    def route(self, stored: str) -> Route:
        """Where a message of the events stream came from (see `Route`)."""
        tokens = stored.split(".")
        if len(tokens) == 4 and tokens[1] == "part" and self.transformed:
            return Route(self.events(tokens[3]), agent_token=tokens[3])
        if len(tokens) == 3 and tokens[1] == "events":
            return Route(stored, agent_token=tokens[2])
        if len(tokens) >= 4 and tokens[1] == TENANTS_TOKEN and tokens[3] == "events":
            try:
                check_tenant_token(tokens[2])
            except InvalidTenantToken as e:
                return Route(stored, error=f"subject {stored!r}: {e}")
            tenant = tokens[2]
            try:
                self.accepted_tenant(tenant)
            except InvalidTenantToken as e:  # filed under the tenant's own dead letters
                return Route(stored, tenant, error=f"subject {stored!r}: {e}")
            if len(tokens) == 5:
                return Route(stored, tenant, tokens[4])
            return Route(stored, tenant, error=f"subject {stored!r} is not "
                         f"{self.events_template_of(tenant)}: one agent id token expected")
        return Route(stored, error=f"subject {stored!r} is not {self.events_template}: one "
                     "agent id token expected")

    def events_template_of(self, tenant: str) -> str:
        return f"{self.scope(tenant)}.events.{{agent_id}}"

    # Dead letters, announcements, request/reply -----------------------------------------------
    @property
    def dlq_all(self) -> str:
        return f"{self.prefix}.dlq.>"

    @property
    def dlq_subjects(self) -> list[str]:
        return [self.dlq_all, f"{self.prefix}.{TENANTS_TOKEN}.*.dlq.>"]

    def dlq(self, agent_token: str, tenant: str = LOCAL_TENANT) -> str:
        return f"{self.scope(tenant)}.dlq.{agent_token}"

    @property
    def dlq_template(self) -> str:
        return f"{self.prefix}.dlq.{{agent_id}}"

    def recorded(self, agent_id: str, tenant: str = LOCAL_TENANT) -> str:
        return f"{self.scope(tenant)}.recorded.{agent_id}"

    @property
    def recorded_template(self) -> str:
        return f"{self.prefix}.recorded.{{agent_id}}"

    @property
    def rpc_context(self) -> str:
        return f"{self.prefix}.rpc.context"

    @property
    def rpc_checkpoint(self) -> str:
        return f"{self.prefix}.rpc.checkpoint"

    @property
    def rpc_restore(self) -> str:
        return f"{self.prefix}.rpc.restore"

    def rpc(self, name: str, tenant: str = LOCAL_TENANT) -> str:
        """A request/reply subject (`context`, `checkpoint`, `restore`) of a tenant."""
        return f"{self.scope(tenant)}.rpc.{name}"

    def tenant_template(self, kind: str) -> str:
        """Every tenant's channel of a kind (`events`, `dlq`, `recorded`), as AsyncAPI names it."""
        return f"{self.prefix}.{TENANTS_TOKEN}.{{tenant}}.{kind}.{{agent_id}}"

    def tenant_rpc_template(self, name: str) -> str:
        """Every tenant's subject of that request, with the tenant as a path parameter."""
        return f"{self.prefix}.{TENANTS_TOKEN}.{{tenant}}.rpc.{name}"

    @property
    def rpc_queue(self) -> str:
        return f"{self.prefix}-rpc"


# Headers of the wire contract.
MSG_ID = "Nats-Msg-Id"
CTX_ERROR = "Ctx-Error"
CTX_ORIGINAL_SUBJECT = "Ctx-Original-Subject"
