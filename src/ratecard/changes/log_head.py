"""The change log's head: the counter seqs are drawn from, under its row's lock.

Why a locked row and not a database sequence: see `changelog` (seqs must become visible in
commit order, so that a cursor never skips an entry).
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from ratecard.schema import change_log_head


def draw_seqs(conn: Connection, count: int) -> int:
    """Reserve `count` seqs under the head row's lock (held until commit); return the last."""
    return int(
        conn.execute(
            update(change_log_head)
            .where(change_log_head.c.id == 1)
            .values(last_seq=change_log_head.c.last_seq + count)
            .returning(change_log_head.c.last_seq)
        ).scalar_one()
    )


def last_seq(conn: Connection) -> int:
    """Return the newest seq handed out (0 before the first change)."""
    value = conn.execute(select(change_log_head.c.last_seq).where(change_log_head.c.id == 1))
    return int(value.scalar() or 0)
