"""Every migration, in order: the schema version is the number of the last one applied.

A new step is a new `mNNN_<what>.py` module with its `MIGRATION`, appended here.
"""

from __future__ import annotations

from ctxstore.infrastructure.persistence.migrations import (
    m001_tenant_keys,
    m002_body_parts,
    m003_part_refs,
    m004_event_chain,
    m005_data_keys,
)
from ctxstore.infrastructure.persistence.migrations.step import Migration

MIGRATIONS: tuple[Migration, ...] = (
    m001_tenant_keys.MIGRATION,
    m002_body_parts.MIGRATION,
    m003_part_refs.MIGRATION,
    m004_event_chain.MIGRATION,
    m005_data_keys.MIGRATION,
)
LATEST = len(MIGRATIONS)
assert all(m.number == n for n, m in enumerate(MIGRATIONS, 1)), "migrations numbered 1, 2, …"
