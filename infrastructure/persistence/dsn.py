"""PostgreSQL URLs as libpq (psycopg) takes them: settings accept SQLAlchemy-style schemes too."""

from __future__ import annotations


def libpq_dsn(url: str) -> str:
    """The URL in a form psycopg accepts (``postgresql+psycopg://`` becomes ``postgresql://``)."""
    scheme, sep, rest = url.partition("://")
    if sep and "+" in scheme:
        scheme = scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return f"{scheme}{sep}{rest}"


