"""Whether psycopg can pipeline statements here: its pipeline mode needs libpq 14 or later
(the binary wheel's is; a system's may not be). Where it cannot, what pipelines statements
(a keep's part rows, a large batch's chunks) sends them one by one or as one statement."""

from __future__ import annotations

from psycopg import Pipeline

PIPELINES = Pipeline.is_supported()
