"""The change log: what subscribers hear, recorded in the transaction that commits the change.

`record_changes(conn, run_id, ...)` is called inside the committing transaction of a refresh
(after its fence claim) and of an admin decision on a held change. It indexes what that
transaction wrote to `price_history` and `held_changes` (the source of truth for prices: an
entry points at its row, nothing is copied), draws a `seq` for each entry, and writes the
webhook outbox rows for the same entries (`outbox.enqueue`). So either the prices, their log
entries and the messages announcing them all commit, or none does: a fenced run leaves no
entry behind, and a committed change is never without its entry.

Why seqs come from a locked counter row and not from a sequence: a sequence hands out numbers
at INSERT time, not at COMMIT time. Timeline it prevents:

    t=0  a refresh (T1) inserts entries and gets seq 10..12, then spends 2 s publishing
    t=1  an admin accept (T2) gets seq 13 and commits
    t=1  a poller reads `since=9`, sees 13, and continues from cursor 13
    t=2  T1 commits 10..12: below the poller's cursor, never seen by it

`UPDATE change_log_head SET last_seq = last_seq + n` takes that row's lock until commit, so
T2 waits for T1: seqs become visible in order, and a cursor never skips an entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from ratecard.catalog.codec import json_value
from ratecard.catalog.identity import link_key
from ratecard.catalog.model import ModelPrice
from ratecard.changes import outbox
from ratecard.changes.log_head import draw_seqs
from ratecard.changes.records import Change, ChangeFilter
from ratecard.db import bulk_insert
from ratecard.schema import changes, held_changes, models, price_book_versions, price_history
from ratecard.vocabulary import ChangeKind, ChangeLogKind, HeldStatus, PriceStatus

KINDS = tuple(ChangeLogKind)
# price_history.change -> the feed's kind ("restored": the model is served again).
HISTORY_KINDS = {
    ChangeKind.ADDED: ChangeLogKind.ADDED,
    ChangeKind.RESTORED: ChangeLogKind.ADDED,
    ChangeKind.CHANGED: ChangeLogKind.CHANGED,
    ChangeKind.REMOVED: ChangeLogKind.REMOVED,
}
# held_changes statuses that end a hold (the change applied, or dismissed).
RELEASED_STATUSES = (HeldStatus.CONFIRMED, HeldStatus.ACCEPTED, HeldStatus.REJECTED)


def record_changes(
    conn: Connection,
    run_id: int,
    now: datetime,
    *,
    released: Sequence[int] = (),
) -> list[Change]:
    """Log what run `run_id` wrote (history, new holds, released holds) and enqueue webhooks.

    `released` names held rows this transaction resolved other than by the run's own guard
    (an admin accept or reject). Call it inside the transaction that commits them.
    """
    history = _history_entries(conn, run_id)
    pending = history + _coverage_entries(conn, history) + _held_entries(conn, run_id, released)
    if not pending:
        return []
    first = draw_seqs(conn, len(pending)) - len(pending) + 1
    entries = [Change(seq=first + i, **fields) for i, (fields, _) in enumerate(pending)]
    # COPY, not an INSERT executemany: a full load logs ~3,000 entries (measured ~250 ms as
    # executemany, a fifth of that as COPY).
    bulk_insert(
        conn,
        changes,
        [
            {
                "seq": c.seq,
                "run_id": c.run_id,
                "kind": c.kind,
                "source": c.source,
                "model_id": c.model_id,
                "provider": c.provider,
                "observed_at": c.observed_at,
                "history_id": ref.get("history_id"),
                "held_id": ref.get("held_id"),
            }
            for c, (_, ref) in zip(entries, pending, strict=True)
        ],
    )
    outbox.enqueue(conn, entries, now)
    return entries


# (the Change's fields but seq, the row it points at)
_Pending = tuple[dict[str, Any], dict[str, int]]


def _history_entries(conn: Connection, run_id: int) -> list[_Pending]:
    query = (
        select(
            price_history.c.id,
            price_history.c.model_pk,
            price_history.c.change,
            price_history.c.observed_at,
            price_history.c.old,
            price_history.c.new,
            models.c.source,
            models.c.model_id,
            models.c.provider,
            models.c.alias_target,
        )
        .join(models, models.c.id == price_history.c.model_pk)
        .where(price_history.c.run_id == run_id)
        .order_by(price_history.c.id)
    )
    return [
        (
            {
                "run_id": run_id,
                "kind": HISTORY_KINDS.get(row.change, ChangeLogKind.CHANGED),
                "source": row.source,
                "model_id": row.model_id,
                "provider": row.provider,
                "observed_at": row.observed_at,
                "old": row.old,
                "new": row.new,
            },
            {"history_id": row.id, "model_pk": row.model_pk, "change": row.change,
             "alias_target": row.alias_target},
        )
        for row in conn.execute(query)
    ]  # fmt: skip


_PRICED_STATUSES = (PriceStatus.PRICED, PriceStatus.FREE)


def _coverage_entries(conn: Connection, history: list[_Pending]) -> list[_Pending]:
    """`appeared` and `priced` entries for the run's history rows (each beside the row's own
    `added` or `changed` entry, pointing at the same row).

    appeared: an `added` (not restored) model whose id, and whose linked identity (the same
    model under another source's id: `openai/gpt-4o` and `gpt-4o`), no row of any source held
    before this run. Nothing appears on the catalog's first load: every model would, and the
    `added` entries say it already. Two sources adding a new model in one run: the first
    listed appears.
    priced: a model listed before without a price (unpriced, dynamic) whose row now states a
    price, for the first time in its history. A model added with its prices is not `priced`
    (its `added` entry carries them).
    """
    added = [(f, ref) for f, ref in history if ref["change"] == ChangeKind.ADDED]
    first_priced = [
        (f, ref)
        for f, ref in history
        if ref["change"] == ChangeKind.CHANGED
        and (f["new"] or {}).get("status") in _PRICED_STATUSES
        and (f["old"] or {}).get("status") not in _PRICED_STATUSES
    ]
    out: list[_Pending] = []
    if added:
        since = min(f["observed_at"] for f, _ in added)
        known = _known_names(conn, since)
        if known:
            for fields, ref in added:
                names = _names(fields, ref)
                if not names & known:
                    out.append(_coverage(ChangeLogKind.APPEARED, fields, ref))
                known |= names
    if first_priced:
        priced_before = _priced_before(conn, [ref for _, ref in first_priced])
        out += [
            _coverage(ChangeLogKind.PRICED, fields, ref)
            for fields, ref in first_priced
            if ref["model_pk"] not in priced_before
        ]
    return out


def _coverage(kind: str, fields: dict[str, Any], ref: dict[str, Any]) -> _Pending:
    return {**fields, "kind": kind}, ref


def _names(fields: dict[str, Any], ref: dict[str, Any]) -> set[Any]:
    """A model's id, and its link key when it has one (what "the same model" means)."""
    entry = ModelPrice(
        source=fields["source"],
        model_id=fields["model_id"],
        status=PriceStatus.UNPRICED,
        provider=fields["provider"],
        alias_target=ref.get("alias_target"),
    )
    key = link_key(entry)
    return {("id", fields["model_id"])} | ({("key", key)} if key is not None else set())


def _known_names(conn: Connection, since: datetime) -> set[Any]:
    """The names of every model row of any source first seen before `since`."""
    query = select(
        models.c.source, models.c.model_id, models.c.provider, models.c.alias_target
    ).where(models.c.first_seen_at < since)
    known: set[Any] = set()
    for row in conn.execute(query):
        fields = {"source": row.source, "model_id": row.model_id, "provider": row.provider}
        known |= _names(fields, {"alias_target": row.alias_target})
    return known


def _priced_before(conn: Connection, refs: list[dict[str, Any]]) -> set[int]:
    """Of these rows' models, those with an earlier history row (before this run's) stating a
    price."""
    row_of = {ref["model_pk"]: ref["history_id"] for ref in refs}
    query = select(price_history.c.id, price_history.c.model_pk, price_history.c.new).where(
        price_history.c.model_pk.in_(list(row_of))
    )
    found: set[int] = set()
    for row in conn.execute(query):
        new = json_value(row.new, {})
        earlier = row.id < row_of[row.model_pk]
        if earlier and isinstance(new, dict) and new.get("status") in _PRICED_STATUSES:
            found.add(row.model_pk)
    return found


def _held_entries(conn: Connection, run_id: int, released: Sequence[int]) -> list[_Pending]:
    resolved_here = or_(
        held_changes.c.resolved_by == f"run:{run_id}",
        held_changes.c.id.in_(list(released)),
    )
    rows = conn.execute(
        select(held_changes)
        .where(or_(held_changes.c.run_id == run_id, resolved_here))
        .order_by(held_changes.c.id)
    ).all()
    # The guard holds a still-suspicious change again each run (the old row is superseded by
    # this run, a new one inserted): that is the same hold, not news.
    rehold = {
        (r.source, r.model_id, _canonical(r.proposed))
        for r in rows
        if r.status == HeldStatus.SUPERSEDED and r.resolved_by == f"run:{run_id}"
    }
    providers = _providers(conn, {(r.source, r.model_id) for r in rows if r.model_id})
    out = []
    for row in rows:
        if row.run_id == run_id and row.status == HeldStatus.PENDING:
            if (row.source, row.model_id, _canonical(row.proposed)) in rehold:
                continue
            kind, detail, when = ChangeLogKind.HELD, {"reason": row.reason}, row.detected_at
        elif row.status in RELEASED_STATUSES and (
            row.resolved_by == f"run:{run_id}" or row.id in released
        ):
            kind, detail, when = (
                ChangeLogKind.RELEASED,
                {"resolution": row.status},
                row.resolved_at,
            )
        else:
            continue
        fields = {
            "run_id": run_id,
            "kind": kind,
            "source": row.source,
            "model_id": row.model_id,
            "provider": providers.get((row.source, row.model_id)),
            "observed_at": when,
            "old": row.old,
            "new": row.proposed,
            "detail": {"held_id": row.id, **detail},
        }
        out.append((fields, {"held_id": row.id}))
    return out


def _providers(conn: Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Return the provider of each (source, model id) among `keys` (held rows do not say)."""
    if not keys:
        return {}
    query = select(models.c.source, models.c.model_id, models.c.provider).where(
        models.c.model_id.in_({model_id for _, model_id in keys})
    )
    return {
        (row.source, row.model_id): row.provider
        for row in conn.execute(query)
        if (row.source, row.model_id) in keys and row.provider is not None
    }


def _canonical(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)


# --- reading (the feed, Atom) ------------------------------------------------------------------


def read_changes(
    conn: Connection,
    *,
    since: int = 0,
    limit: int = 100,
    where: ChangeFilter | None = None,
    newest_first: bool = False,
) -> list[Change]:
    """Return up to `limit` entries after seq `since`, oldest first (or the newest ones)."""
    query = _select_entries().where(changes.c.seq > since)
    query = _filtered(query, where or ChangeFilter())
    order = changes.c.seq.desc() if newest_first else changes.c.seq
    return [_entry(row) for row in conn.execute(query.order_by(order).limit(limit))]


# The `source` of a price book's entries: not a feed (no feed may be named so).
BOOK_SOURCE = "price_books"


def record_book_change(conn: Connection, version_id: int, now: datetime) -> Change:
    """Log a price book's new version (row `version_id` of price_book_versions) and enqueue
    it for the subscriptions that ask for kind `price_book`, in the caller's transaction (the
    one that writes the version: both commit, or neither)."""
    seq = draw_seqs(conn, 1)
    conn.execute(
        changes.insert().values(
            seq=seq,
            run_id=None,
            kind=ChangeLogKind.PRICE_BOOK,
            source=BOOK_SOURCE,
            model_id=None,
            provider=None,
            observed_at=now,
            book_version_id=version_id,
        )
    )
    entry = _entry(conn.execute(_select_entries().where(changes.c.seq == seq)).one())
    outbox.enqueue(conn, [entry], now)
    return entry


def _select_entries() -> Any:
    return select(
        changes,
        price_history.c.old.label("h_old"),
        price_history.c.new.label("h_new"),
        held_changes.c.old.label("held_old"),
        held_changes.c.proposed.label("held_new"),
        held_changes.c.reason.label("held_reason"),
        held_changes.c.status.label("held_status"),
        price_book_versions.c.name.label("book_name"),
        price_book_versions.c.version.label("book_version"),
        price_book_versions.c.summary.label("book_summary"),
        price_book_versions.c.public.label("book_public"),
    ).select_from(
        changes.outerjoin(price_history, price_history.c.id == changes.c.history_id)
        .outerjoin(held_changes, held_changes.c.id == changes.c.held_id)
        .outerjoin(price_book_versions, price_book_versions.c.id == changes.c.book_version_id)
    )


def _filtered(query: Any, where: ChangeFilter) -> Any:
    conditions = []
    if not where.private:
        # Without the admin token: a private book's entries are not there at all.
        conditions.append(
            or_(changes.c.book_version_id.is_(None), price_book_versions.c.public.is_(True))
        )
    if where.model is not None:
        conditions.append(changes.c.model_id == where.model)
    if where.provider is not None:
        conditions.append(changes.c.provider == where.provider)
    if where.source is not None:
        conditions.append(changes.c.source == where.source)
    if where.kind is not None:
        conditions.append(changes.c.kind == where.kind)
    return query.where(and_(*conditions)) if conditions else query


def _entry(row: Any) -> Change:
    if row.history_id is not None:
        old, new, detail = row.h_old, row.h_new, {}
    elif row.book_version_id is not None:
        old, new = None, None
        summary = json_value(row.book_summary, {})
        detail = {"price_book": {"name": row.book_name, "version": row.book_version, **summary}}
    else:
        old, new = row.held_old, row.held_new
        detail = {"held_id": row.held_id}
        if row.kind == ChangeLogKind.HELD:
            detail["reason"] = row.held_reason
        else:
            detail["resolution"] = row.held_status
    return Change(
        seq=int(row.seq),
        run_id=row.run_id,
        kind=row.kind,
        source=row.source,
        model_id=row.model_id,
        provider=row.provider,
        observed_at=row.observed_at,
        old=old,
        new=new,
        detail=detail,
    )
