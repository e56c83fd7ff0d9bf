"""PostgreSQL commits that do not wait for their WAL to reach the disk, and when that is safe.

`set_config('synchronous_commit', 'off', true)` (SET LOCAL as an expression) in a transaction
makes its COMMIT return before the WAL flush (for that transaction only: the pooled connection
goes back committing synchronously). An expression, it rides in a statement that does something
else too (a keep's guard, an operation row's RETURNING) and costs no statement of its own. Its
writes are visible at once, and reach the disk within wal_writer_delay or with the next
synchronous commit, whose flush covers every WAL record before its own (on a synchronous standby
too). So it is used only for writes that are either

- relied on solely by writes that commit after them synchronously: a part store keep, whose rows
  the event, snapshot or checkpoint naming its root then makes durable; a crash in between
  loses the keep together with nothing that refers to it; or
- figures about work whose own writes already committed synchronously: an operation's row in
  the operation log, recorded best effort.

Never for an agent's events, chain heads, catalogue rows, erasures or anything else a reader
must find after a crash once the writer was told it was written.
"""

from __future__ import annotations

WITHOUT_WAITING_FOR_DISK_CALL = "set_config('synchronous_commit', 'off', true)"
