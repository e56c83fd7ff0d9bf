"""The event mapper: eventsourcing's, with unreadable stored data reported as our own error.

eventsourcing wraps any failure to decrypt, decompress or decode in MapperDeserialisationError;
when the cause is one of ours (wrong key, missing dictionary, damaged frame) the user gets that
clear error, naming the stored event, as a ContextStoreError the adapters already handle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic

from ctxstore.infrastructure.persistence.fast_encode import encode_recorded
from ctxstore.infrastructure.persistence.zstd_compressor import StoredDataUnreadable


class ContextMapper(Mapper[UUID]):
    # What reads back a decoded event's or snapshot's content kept as parts
    # (application.part_content, set by ContextStore.use_parts); None: kept whole only.
    resolver: Callable[[Any], Any] | None = None

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        # Recorded events (nearly all writes) are encoded with orjson; see fast_encode.
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        data = None
        if getattr(type(domain_event), "class_version", 1) == 1:
            data = encode_recorded(state, domain_event, self.transcoder)
        if data is None:
            stored_form = getattr(domain_event, "stored_form", None)
            if stored_form is not None:  # without what it keeps by reference
                domain_event = stored_form()
            return super().to_stored_event(domain_event)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(originator_id=originator_id, originator_version=originator_version,
                           topic=get_topic(type(domain_event)), state=data)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        try:
            event = super().to_domain_event(stored_event)
        except MapperDeserialisationError as e:
            cause = e.__cause__
            if isinstance(cause, StoredDataUnreadable):
                kind = stored_event.topic.rsplit(":", 1)[-1]
                raise type(cause)(
                    f"{cause} ({kind} {stored_event.originator_id} "
                    f"version {stored_event.originator_version})"
                ) from None
            raise
        resolver = self.resolver
        return resolver(event) if resolver is not None else event
