"""The event mapper: eventsourcing's, with unreadable stored data reported as our own error.

eventsourcing wraps any failure to decrypt, decompress or decode in MapperDeserialisationError;
when the cause is one of ours (wrong key, missing dictionary, damaged frame) the user gets that
clear error, naming the stored event, as a ContextStoreError the adapters already handle.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent

from infrastructure.persistence.compression import StoredDataUnreadable


class ContextMapper(Mapper[UUID]):
    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        try:
            return super().to_domain_event(stored_event)
        except MapperDeserialisationError as e:
            cause = e.__cause__
            if isinstance(cause, StoredDataUnreadable):
                kind = stored_event.topic.rsplit(":", 1)[-1]
                raise type(cause)(
                    f"{cause} ({kind} {stored_event.originator_id} "
                    f"version {stored_event.originator_version})"
                ) from None
            raise
