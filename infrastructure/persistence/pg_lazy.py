"""psycopg's SQL composition, imported when first used: modules shared by the SQLite and
PostgreSQL stores compose PostgreSQL statements only on the PostgreSQL path, and importing
psycopg (libpq and its TLS libraries with it) took 0.19-0.25 s, about a third of a CLI
command on the embedded SQLite store, which never uses it.

Each name is the psycopg class to the type checker; at run time a call makes one of those
objects, importing psycopg then. Being functions at run time, they are not for `isinstance`;
annotations name psycopg's classes under TYPE_CHECKING."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg.sql import SQL, Identifier, Literal
else:
    def SQL(obj: Any) -> Any:  # noqa: N802 - stands for the class
        from psycopg.sql import SQL as made
        return made(obj)

    def Identifier(*strings: str) -> Any:  # noqa: N802
        from psycopg.sql import Identifier as made
        return made(*strings)

    def Literal(obj: Any) -> Any:  # noqa: N802
        from psycopg.sql import Literal as made
        return made(obj)

__all__ = ["SQL", "Identifier", "Literal"]
