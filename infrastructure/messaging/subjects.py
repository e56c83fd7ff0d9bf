"""Every NATS subject and stream name of DESIGN §5, derived from one prefix.

The contract's names use the prefix ``ctx`` (``ctx.events.<agent_id>``, stream ``CTX_EVENTS``);
tests and side-by-side deployments pick another prefix so their streams never meet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ctxstore.domain.agent_id import AGENT_ID_PATTERN

_AGENT_RE = re.compile(AGENT_ID_PATTERN)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]+$")
UNKNOWN_AGENT = "unknown"


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

    def __post_init__(self) -> None:
        if not _PREFIX_RE.match(self.prefix):
            raise ValueError(f"NATS prefix {self.prefix!r} must be one subject token "
                             "(letters, digits, '_' and '-')")
        if self.partitions < 1:
            raise ValueError("the number of partitions must be at least 1")
        if not 1 <= self.replicas <= 5:
            raise ValueError("stream replicas must be from 1 to 5")

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

    # Subjects agents publish on ---------------------------------------------------------------
    @property
    def events_all(self) -> str:
        return f"{self.prefix}.events.>"

    def events(self, agent_id: str) -> str:
        return f"{self.prefix}.events.{agent_id}"

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

    def original_subject(self, stored: str) -> tuple[str, str | None]:
        """The subject the agent published on, and its agent token (None when malformed)."""
        tokens = stored.split(".")
        if len(tokens) == 4 and tokens[1] == "part" and self.transformed:
            return self.events(tokens[3]), tokens[3]
        if len(tokens) == 3 and tokens[1] == "events":
            return stored, tokens[2]
        return stored, None

    # Dead letters, announcements, request/reply -----------------------------------------------
    @property
    def dlq_all(self) -> str:
        return f"{self.prefix}.dlq.>"

    def dlq(self, agent_token: str) -> str:
        return f"{self.prefix}.dlq.{agent_token}"

    @property
    def dlq_template(self) -> str:
        return f"{self.prefix}.dlq.{{agent_id}}"

    def recorded(self, agent_id: str) -> str:
        return f"{self.prefix}.recorded.{agent_id}"

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

    @property
    def rpc_queue(self) -> str:
        return f"{self.prefix}-rpc"


# Headers of the wire contract.
MSG_ID = "Nats-Msg-Id"
CTX_ERROR = "Ctx-Error"
CTX_ORIGINAL_SUBJECT = "Ctx-Original-Subject"
