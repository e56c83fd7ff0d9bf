"""The store's schema version and its numbered migrations (DESIGN §4).

`schema.py` reads and stamps the version and runs the steps; each `mNNN_*.py` is one step;
`steps.py` lists them in order. A step changes tables made by an older release into the shape
the next release's recorders create; new tables need no step (the recorders create what is
missing), only changes to tables that may already hold rows do.
"""

from ctxstore.infrastructure.persistence.migrations.schema import (
    SchemaError,
    SchemaStatus,
    StoreSchema,
)
from ctxstore.infrastructure.persistence.migrations.steps import LATEST, MIGRATIONS

__all__ = ["LATEST", "MIGRATIONS", "SchemaError", "SchemaStatus", "StoreSchema"]
