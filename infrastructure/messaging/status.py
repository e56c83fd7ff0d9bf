"""Where ingest stands, per partition: who consumes it and how much waits (`ctxstore partitions`).

Read-only: it asks JetStream for each durable consumer's state and the leases bucket for each
partition's holder, and changes nothing, so it is safe beside running workers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from ctxstore.infrastructure.messaging.leases import lease_holders
from ctxstore.infrastructure.messaging.subjects import Subjects


@dataclass(frozen=True)
class PartitionStatus:
    # None: the consumer of malformed subjects or of other tenants' (they go with partition 0)
    partition: int | None
    consumer: str
    holder: str | None  # the worker holding the lease; None: nobody consumes it now
    waiting: int | None  # messages not yet delivered; None: the consumer does not exist yet
    unacknowledged: int | None  # delivered, not yet committed and acknowledged
    acknowledged_through: int | None  # stream sequence everything up to which is done

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def partition_status(js: JetStreamContext, subjects: Subjects) -> list[PartitionStatus]:
    holders = await lease_holders(js, subjects.leases_bucket, subjects.partitions)
    rows: list[tuple[int | None, str]] = [(p, subjects.durable(p))
                                          for p in range(subjects.partitions)]
    rows.append((None, subjects.stray_durable))
    rows.append((None, subjects.tenants_durable))
    result = []
    for partition, durable in rows:
        holder = holders.get(partition if partition is not None else 0)
        try:
            info = await js.consumer_info(subjects.events_stream, durable)
        except NotFoundError:
            result.append(PartitionStatus(partition, durable, holder, None, None, None))
            continue
        floor = info.ack_floor.stream_seq if info.ack_floor else None
        result.append(PartitionStatus(partition, durable, holder, info.num_pending,
                                      info.num_ack_pending, floor))
    return result
