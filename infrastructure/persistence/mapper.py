"""The event mapper: eventsourcing's, with unreadable stored data reported as our own error.

eventsourcing wraps any failure to decrypt, decompress or decode in MapperDeserialisationError;
when the cause is one of ours (wrong key, missing dictionary, damaged frame) the user gets that
clear error, naming the stored event, as a ContextStoreError the adapters already handle.

With per-agent data keys (`use_data_keys`) the mapper encrypts and decrypts itself, with the
cipher of each event's originator (persistence.data_keys), and eventsourcing's own cipher step
is off; `store_cipher` stays the store key's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Cipher, Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic

from ctxstore.domain.aggregate import AgentContext
from ctxstore.infrastructure.persistence.data_keys import KeyRing
from ctxstore.infrastructure.persistence.fast_encode import encode_recorded
from ctxstore.infrastructure.persistence.zstd_compressor import StoredDataUnreadable

_RECORDED_TOPIC = get_topic(AgentContext.Recorded)


class ContextMapper(Mapper[UUID]):
    keys: KeyRing | None = None
    # What reads back a decoded event's or snapshot's content kept as parts
    # (application.part_content, set by ContextStore.use_parts); None: kept whole only.
    resolver: Callable[[Any], Any] | None = None

    def use_data_keys(self, keys: KeyRing) -> None:
        """Encrypt each agent's rows under its own data key from now on."""
        self.keys = keys
        self.cipher = None

    @property
    def store_cipher(self) -> Cipher | None:
        return self.keys.store_cipher if self.keys is not None else self.cipher

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        # Recorded events (nearly all writes) are encoded with orjson; see fast_encode.
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        cipher = self.cipher if self.keys is None else self.keys.cipher_for(originator_id)
        data = None
        if getattr(type(domain_event), "class_version", 1) == 1:
            data = encode_recorded(state, domain_event, self.transcoder)
        if data is None:
            stored_form = getattr(domain_event, "stored_form", None)
            if stored_form is not None:  # without what it keeps by reference
                domain_event = stored_form()
            stored = super().to_stored_event(domain_event)
            if self.keys is None:
                return stored
            return replace(stored, state=cipher.encrypt(stored.state))  # type: ignore[union-attr]
        if self.compressor:
            data = self.compressor.compress(data)
        if cipher:
            data = cipher.encrypt(data)
        # Made without the frozen dataclass's __init__ (0.61 against 0.25 µs): one per event.
        stored = object.__new__(StoredEvent)
        stored.__dict__.update(originator_id=originator_id,
                               originator_version=originator_version,
                               topic=get_topic(type(domain_event)), state=data)
        return stored

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        event = self.decoded(stored_event)
        resolver = self.resolver
        return resolver(event) if resolver is not None else event

    def _recorded(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID] | None:
        """A Recorded event made as eventsourcing's mapper makes it, without its generic
        steps (topic, id convertor, upcasting, a walk for tags): one per event folded on
        every replay. None for anything unexpected, undecryptable or damaged included: the
        generic path then decodes it or reports why not."""
        decode = getattr(self.transcoder, "decode_recorded", None)
        if decode is None:
            return None
        try:
            data = stored_event.state
            if self.cipher is not None:
                data = self.cipher.decrypt(data)
            if self.compressor is not None:
                data = self.compressor.decompress(data)
            state = decode(data)
        except Exception:  # noqa: BLE001 - the generic path says what is wrong
            return None
        if state is None:
            return None
        oid = stored_event.originator_id
        state["originator_id"] = oid if type(oid) is UUID else UUID(str(oid))
        state["originator_version"] = stored_event.originator_version
        event = object.__new__(AgentContext.Recorded)
        object.__setattr__(event, "__dict__", state)
        return event

    def decoded(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """The event as stored, its content not read back where it is kept by reference
        (a restore's reference then stands for it): what a reader of the history, which
        shows the content's hash alone, needs, without reading a whole context's parts."""
        try:
            if self.keys is not None:
                oid = stored_event.originator_id
                cipher = self.keys.cipher_for(oid if isinstance(oid, UUID) else UUID(oid))
                try:
                    state = cipher.decrypt(stored_event.state)
                except StoredDataUnreadable as e:
                    raise MapperDeserialisationError(str(e)) from e
                stored_event = replace(stored_event, state=state)
            if stored_event.topic == _RECORDED_TOPIC:
                recorded = self._recorded(stored_event)
                if recorded is not None:
                    return recorded
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
        return event
