"""Price books in the database: books and every version of them, who may read them, and the
chain a cost request prices through.

`price_books` holds the books that exist (current version, public flag, the read key's
SHA-256); `price_book_versions` every version ever written, a deletion included (content null),
with a summary of what changed. A PUT whose content equals the current version's writes
nothing (`ratecard price-books apply` is idempotent). Each new version is handed to `record`
(the change log's `record_book_change`, passed in by the caller) in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ratecard.catalog.codec import json_value
from ratecard.costing.cost_requests import BookAnswer, CostRequest, ModelAt
from ratecard.costing.price_books import BookAccess, PriceBook, answer_with_books, parse_book
from ratecard.errors import (
    Conflict,
    Forbidden,
    NotFound,
    RatecardError,
    Unauthorized,
    ValidationFailed,
)
from ratecard.schema import price_book_versions, price_books

__all__ = [
    "BookLimits",
    "PutResult",
    "book_answerer",
    "delete_book",
    "get_book",
    "history",
    "list_books",
    "load_chain",
    "put_book",
    "rotate_read_key",
]

# (conn, price_book_versions.id, now): logs and announces the new version.
Recorder = Callable[[Connection, int, datetime], Any]


@dataclass(frozen=True)
class BookLimits:
    """RATECARD_PRICE_BOOK_MAX_RULES and RATECARD_PRICE_BOOK_MAX_CHAIN."""

    max_rules: int = 10_000
    max_chain: int = 5


@dataclass(frozen=True)
class PutResult:
    book: PriceBook
    created: bool  # the book did not exist
    changed: bool  # a new version was written
    read_key: str | None  # shown once: when the book is created


def put_book(
    conn: Connection,
    name: str,
    data: Any,
    now: datetime,
    *,
    limits: BookLimits,
    record: Recorder,
) -> PutResult:
    """Create or replace book `name` (a new version only when the content changes)."""
    book = parse_book(name, data, max_rules=limits.max_rules)
    # Serialize writers of one book: its row is locked until commit. Timeline it prevents: two
    # deploys apply the same file at once; both read version 3, both write version 4, and the
    # second fails on the unique (name, version) constraint with a 500 (or, without it, two
    # different contents share a number). With the lock the second waits, reads version 4,
    # finds its content equal and writes nothing. A book that does not exist yet has no row
    # to lock: the unique constraint refuses the second creation, reported as a 409.
    row = conn.execute(
        select(price_books).where(price_books.c.name == name).with_for_update()
    ).first()
    _check_chain(conn, book, limits.max_chain)
    if row is not None:
        before = _content(conn, name, int(row.version))
        if before == book.content:
            return PutResult(replace(book, version=int(row.version)), False, False, None)
    else:
        before = None
    version = _next_version(conn, name)
    summary = _summary(before, book.content)
    key: str | None = None
    try:
        version_id = _insert_version(conn, name, version, book.content, summary, book.public, now)
        if row is None:
            key = _new_key()
            conn.execute(
                insert(price_books).values(
                    name=name,
                    version=version,
                    public=book.public,
                    read_key_sha256=_sha(key),
                    created_at=now,
                    updated_at=now,
                )
            )
    except IntegrityError:
        # The creation race above: the other request's book stands; this one is told so.
        raise Conflict(
            f"price book {name!r} was written by another request at the same time: "
            "read it, and apply again if yours differs",
            field="name",
        ) from None
    if row is not None:
        conn.execute(
            update(price_books)
            .where(price_books.c.name == name)
            .values(version=version, public=book.public, updated_at=now)
        )
    record(conn, version_id, now)
    return PutResult(replace(book, version=version), row is None, True, key)


def delete_book(conn: Connection, name: str, now: datetime, *, record: Recorder) -> int:
    """Delete book `name` (its versions stay, a deletion recorded as the last); the version
    number of the deletion. A book another book is based on cannot be deleted (409)."""
    row = _book_row(conn, name, lock=True)
    dependants = [
        other for other in list_books(conn) if other["name"] != name and other["base"] == name
    ]
    if dependants:
        raise Conflict(
            f"price book {name!r} is the base of {', '.join(d['name'] for d in dependants)}",
            field="name",
        )
    version = _next_version(conn, name)
    summary = _summary(_content(conn, name, int(row.version)), None)
    version_id = _insert_version(conn, name, version, None, summary, bool(row.public), now)
    conn.execute(delete(price_books).where(price_books.c.name == name))
    record(conn, version_id, now)
    return version


def get_book(
    conn: Connection, name: str, access: BookAccess, version: int | None = None
) -> PriceBook:
    """Book `name` at `version` (default: the current one), if `access` may read it."""
    row = _book_row(conn, name)
    _check_access(row, access)
    wanted = int(row.version) if version is None else version
    content = _content(conn, name, wanted)
    if content is None:
        raise NotFound(f"price book {name!r} has no version {wanted}", field="price_book_version")
    return parse_book(name, content, version=wanted, max_rules=len(content["rules"]))


def load_chain(
    conn: Connection, name: str, access: BookAccess, version: int | None, max_chain: int
) -> list[PriceBook]:
    """The books a request priced with `name` goes through, the deepest base first: the asked
    book at `version` (default current) and each base at its current version. Reading the
    asked book needs access; its bases come with it (the book's owner chose them)."""
    book = get_book(conn, name, access, version)
    chain = [book]
    while chain[-1].base is not None:
        if len(chain) >= max_chain:
            raise ValidationFailed(
                f"price_book: the chain of bases is longer than {max_chain} "
                "(RATECARD_PRICE_BOOK_MAX_CHAIN)",
                field="price_book",
            )
        base = chain[-1].base
        if any(b.name == base for b in chain):
            raise ValidationFailed(
                f"price_book: the bases of {name!r} form a cycle", field="price_book"
            )
        chain.append(get_book(conn, base, BookAccess(admin=True)))
    return chain[::-1]


def list_books(conn: Connection) -> list[dict[str, Any]]:
    """Every book that exists: name, version, description, base, public, updated_at."""
    rows = conn.execute(
        select(price_books, price_book_versions.c.content)
        .join(
            price_book_versions,
            (price_book_versions.c.name == price_books.c.name)
            & (price_book_versions.c.version == price_books.c.version),
        )
        .order_by(price_books.c.name)
    )
    out = []
    for row in rows:
        content = json_value(row.content, {})
        out.append(
            {
                "name": row.name,
                "version": int(row.version),
                "description": content.get("description", ""),
                "base": content.get("base"),
                "unmatched": content.get("unmatched", "list"),
                "public": bool(row.public),
                "rules": len(content.get("rules", [])),
                "updated_at": row.updated_at,
            }
        )
    return out


def history(conn: Connection, name: str, access: BookAccess) -> list[dict[str, Any]]:
    """Every version of book `name`, newest first: version, time, what changed."""
    row = _book_row(conn, name)
    _check_access(row, access)
    rows = conn.execute(
        select(price_book_versions)
        .where(price_book_versions.c.name == name)
        .order_by(price_book_versions.c.version.desc())
    )
    return [
        {
            "version": int(r.version),
            "created_at": r.created_at,
            "summary": json_value(r.summary, {}),
        }
        for r in rows
    ]


def rotate_read_key(conn: Connection, name: str, now: datetime) -> str:
    """A new read key for book `name` (shown once); the old one stops working at commit."""
    _book_row(conn, name, lock=True)
    key = _new_key()
    conn.execute(
        update(price_books)
        .where(price_books.c.name == name)
        .values(read_key_sha256=_sha(key), updated_at=now)
    )
    return key


def book_answerer(
    with_connection: Callable[[Callable[[Connection], Any]], Any],
    access: BookAccess,
    max_chain: int,
) -> BookAnswer:
    """Price requests that name a price book, as `access` may (one HTTP request's
    credentials, or the CLI's own): each book's chain read once per name and version on a
    connection `with_connection` gives, a failure to read it (unknown, private) kept as the
    answer for that book, so a batch of a million lines reads each book once."""
    chains: dict[tuple[str, int | None], list[PriceBook] | RatecardError] = {}

    def answer(request: CostRequest, model: ModelAt, now: datetime) -> Any:
        name = request.price_book
        assert name is not None  # the pricer hands over only requests with one
        key = (name, request.price_book_version)
        chain = chains.get(key)
        if chain is None:
            try:
                chain = with_connection(
                    lambda conn: load_chain(
                        conn, name, access, request.price_book_version, max_chain
                    )
                )
            except RatecardError as exc:
                chain = exc
            chains[key] = chain
        if isinstance(chain, RatecardError):
            raise chain
        return answer_with_books(request, model, chain, now)

    return answer


# --- helpers ---------------------------------------------------------------------------------


def _book_row(conn: Connection, name: str, *, lock: bool = False) -> Any:
    query = select(price_books).where(price_books.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"no price book {name!r}", field="price_book")
    return row


def _check_access(row: Any, access: BookAccess) -> None:
    """A public book is anyone's; a private one needs the admin token or its read key."""
    if access.admin or row.public:
        return
    if access.key is None:
        raise Unauthorized(
            f"price book {row.name!r} is private: send its read key (or the admin token) as "
            "'Authorization: Bearer <key>'"
        )
    # Constant time, as for the admin token: the answer's time must not tell a near guess.
    if row.read_key_sha256 is None or not hmac.compare_digest(
        _sha(access.key), str(row.read_key_sha256)
    ):
        raise Forbidden(f"that key does not open price book {row.name!r}")


def _check_chain(conn: Connection, book: PriceBook, max_chain: int) -> None:
    """A base must exist, must not lead back to the book, and the chain must stay short."""
    seen = [book.name]
    base = book.base
    while base is not None:
        if base in seen:
            raise ValidationFailed(f"base: {' -> '.join([*seen, base])} is a cycle", field="base")
        seen.append(base)
        if len(seen) > max_chain:
            raise ValidationFailed(
                f"base: a chain of more than {max_chain} books (RATECARD_PRICE_BOOK_MAX_CHAIN)",
                field="base",
            )
        row = conn.execute(select(price_books.c.version).where(price_books.c.name == base)).first()
        if row is None:
            raise ValidationFailed(f"base: no price book {base!r}", field="base")
        base = (_content(conn, base, int(row.version)) or {}).get("base")


def _content(conn: Connection, name: str, version: int) -> dict[str, Any] | None:
    """Version `version` of book `name` as stored (None: no such version, or a deletion)."""
    found = conn.execute(
        select(price_book_versions.c.content).where(
            (price_book_versions.c.name == name) & (price_book_versions.c.version == version)
        )
    ).first()
    return json_value(found.content, None) if found is not None else None


def _next_version(conn: Connection, name: str) -> int:
    last = conn.execute(
        select(func.max(price_book_versions.c.version)).where(price_book_versions.c.name == name)
    ).scalar()
    return int(last or 0) + 1


def _insert_version(
    conn: Connection,
    name: str,
    version: int,
    content: Mapping[str, Any] | None,
    summary: Mapping[str, Any],
    public: bool,
    now: datetime,
) -> int:
    result = conn.execute(
        insert(price_book_versions)
        .values(
            name=name,
            version=version,
            content=content,
            summary=summary,
            public=public,
            created_at=now,
        )
        .returning(price_book_versions.c.id)
    )
    return int(result.scalar_one())


def _summary(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a new version changed: created, updated (which fields; rules added and removed,
    compared as whole rules) or deleted."""
    if after is None:
        return {"change": "deleted"}
    if before is None:
        return {"change": "created", "rules": {"added": len(after["rules"]), "removed": 0}}
    fields = sorted(k for k in after if k != "rules" and after.get(k) != before.get(k))
    old = Counter(json.dumps(r, sort_keys=True) for r in before.get("rules", []))
    new = Counter(json.dumps(r, sort_keys=True) for r in after["rules"])
    added, removed = sum((new - old).values()), sum((old - new).values())
    if added or removed or before.get("rules") != after["rules"]:
        fields.append("rules")
    return {"change": "updated", "fields": fields, "rules": {"added": added, "removed": removed}}


def _new_key() -> str:
    return "rcb_" + secrets.token_urlsafe(32)


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
