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


# What notices a network gone silent when the URL says nothing of it: an idle connection's
# peer probed after 30 s and given up after 3 unanswered probes 10 s apart, and bytes left
# unacknowledged for 60 s ending the connection. libpq's own defaults leave the first probe to
# the OS (two hours on Linux) and unacknowledged bytes to TCP's retransmissions (about 15
# minutes): a statement, or a worker's shutdown waiting on one, waited that long. A peer's
# kernel acknowledges and answers probes whatever load its server is under, so a slow
# statement is never cut by these. Ignored for Unix-domain sockets.
SILENT_NETWORK_DEFAULTS = {"keepalives": "1", "keepalives_idle": "30",
                           "keepalives_interval": "10", "keepalives_count": "3",
                           "tcp_user_timeout": "60000"}


def libpq_options(query: str) -> dict[str, str]:
    """The connection parameters of a URL's query string (``keepalives_idle=30&...``), over
    SILENT_NETWORK_DEFAULTS (the URL's own values win).

    The eventsourcing datastore connects with host, port, user, password and database only;
    these carry the rest, above all the ones that notice a silent network (``keepalives``,
    ``keepalives_idle``, ``keepalives_interval``, ``keepalives_count``, ``tcp_user_timeout``).
    libpq checks the names.
    """
    return {**SILENT_NETWORK_DEFAULTS, **dict(parse_qsl(query, keep_blank_values=True))}


def store_dsn(url: str) -> str:
    """The store's own connection string for connections made apart from the pool (schema
    set-up, the dictionary catalog): the URL (`libpq_dsn`) with SILENT_NETWORK_DEFAULTS for
    what it does not set, as the pool's connections get them (`libpq_options`)."""
    # Imported here: a SQLite store never needs psycopg (persistence.pg_lazy).
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(libpq_dsn(url))
    return make_conninfo("", **{**SILENT_NETWORK_DEFAULTS, **params})
