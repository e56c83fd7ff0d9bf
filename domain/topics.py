"""How stored events and snapshots name their classes, now and in stores made before.

eventsourcing keeps each stored event's class as a topic ("module:Class.Event"). Until version
0.1.0 the layers were top-level packages, so stores made then hold topics such as
`domain.aggregate:AgentContext.Recorded`; the layers now live in `ctxstore`, and those rows must
still read back. eventsourcing resolves a registered module prefix to its new home, so the old
`domain` prefix is registered once for `ctxstore.domain` (the only layer whose classes are
stored). Code that compares topics as strings (reads that decode nothing) compares with
`topics_of`, which knows both spellings.
"""

from __future__ import annotations

from eventsourcing.utils import get_topic, register_topic

import ctxstore.domain

_PACKAGE = "ctxstore."
LEGACY_PREFIX = "domain"  # the stored classes' package before it moved into ctxstore


def register_legacy_topics() -> None:
    """Old topics resolve to the moved classes (idempotent: registering again is a no-op)."""
    register_topic(LEGACY_PREFIX, ctxstore.domain)


def topics_of(cls: type) -> frozenset[str]:
    """Every topic a stored row of `cls` may carry: today's and the pre-ctxstore one."""
    topic = get_topic(cls)
    return frozenset({topic, topic.removeprefix(_PACKAGE)})
