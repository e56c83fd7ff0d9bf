"""PostgreSQL URLs as libpq (psycopg) takes them: settings accept SQLAlchemy-style schemes too."""

from __future__ import annotations

from urllib.parse import parse_qsl


def libpq_dsn(url: str) -> str:
    """The URL in a form psycopg accepts (``postgresql+psycopg://`` becomes ``postgresql://``)."""
    scheme, sep, rest = url.partition("://")
    if sep and "+" in scheme:
        scheme = scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return f"{scheme}{sep}{rest}"


def libpq_options(query: str) -> dict[str, str]:
    """The connection parameters of a URL's query string (``keepalives_idle=30&...``).

    The eventsourcing datastore connects with host, port, user, password and database only;
    these carry the rest, above all the ones that notice a silent network (``keepalives``,
    ``keepalives_idle``, ``keepalives_interval``, ``keepalives_count``, ``tcp_user_timeout``):
    without them a connection whose peer vanished waits for ever. libpq checks the names.
    """
    return dict(parse_qsl(query, keep_blank_values=True))
