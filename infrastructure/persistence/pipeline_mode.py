"""Whether psycopg can pipeline statements here, and a transaction that pipelines its whole.

Pipeline mode needs libpq 14 or later (the binary wheel's is; a system's may not be). Where it
cannot, what pipelines statements (a keep's part rows, a large batch's chunks) sends them one by
one or as one statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from psycopg import Connection, Pipeline
from psycopg.pq import TransactionStatus

PIPELINES = Pipeline.is_supported()

_BEGIN = b"BEGIN"
_COMMIT = b"COMMIT"
_ROLLBACK = b"ROLLBACK"


@contextmanager
def pipelined_transaction(conn: Connection[Any]) -> Iterator[Pipeline]:
    """A transaction of an autocommit connection in one pipeline: BEGIN goes with the first
    statement whose result is read and COMMIT with the Sync that closes the pipeline, so the
    transaction costs no round trip of its own. psycopg's `transaction()` within a pipeline
    syncs on entering (BEGIN alone) and at each of its two nested pipelines' exits: a keep
    that reads one answer waited five times on the server where it needs two.

    On an error (the server's, raised where its result is read, or the block's), nothing
    commits: the pipeline is closed (the server skips what follows a failed statement up to
    the Sync) and the transaction rolled back; a ROLLBACK also clears psycopg's prepared
    statements, as its own transactions' rollbacks do.

    A connection that is not idle in autocommit (within a transaction: a savepoint of it) gets
    psycopg's own transaction in a pipeline, as before this existed."""
    if not conn.autocommit or conn.info.transaction_status != TransactionStatus.IDLE:
        with conn.pipeline() as pipeline, conn.transaction():
            yield pipeline
        return
    done = False
    try:
        with conn.pipeline() as pipeline:
            conn.execute(_BEGIN, prepare=False)
            try:
                yield pipeline
            except BaseException:
                # What is left of an aborted pipeline is read here, quietly: its exit would
                # log it as an error ignored, where the block's own is the news.
                with suppress(Exception):
                    pipeline.sync()
                raise
            conn.execute(_COMMIT, prepare=False)
        done = True
    finally:
        if not done and not conn.closed \
                and conn.info.transaction_status != TransactionStatus.IDLE:
            # A broken connection raises here too: what the block raised is the news.
            with suppress(Exception):
                conn.execute(_ROLLBACK, prepare=False)
