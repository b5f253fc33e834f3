"""Answers kept as bytes per catalog version, sent with an ETag and answered 304 when unchanged.

A model's answer changes only when the catalog version does, and reads of the same few models
far outnumber versions: serializing once per version (and hashing once, for the ETag) leaves
a read the catalog look-up, the bytes and the headers — less work than a bare Flask view that
serializes a dict on every request (bench/api.py compares the two). The bytes live in the
snapshot's memo, so they go with the snapshot when a new version is adopted: a stale answer
can't outlive its version.

The ETag is a digest of the bytes: it names exactly what was sent, whichever path built it (a
kept answer or one serialized for a single request), and it moves with every version, as the
answers name their `catalog_version`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, request

from ratecard.catalog.snapshot import CatalogSnapshot


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A JSON answer's bytes and their entity tag (quoted, as the header carries it)."""

    body: bytes
    etag: str


def cached_answer(
    snapshot: CatalogSnapshot, key: Hashable, build: Callable[[], Any], *, keep: bool = True
) -> CachedAnswer:
    """Return the answer `build()` makes, serialized once per snapshot under `key`.

    `keep=False` serializes without keeping: for keys a client can vary without bound (a
    model id typed in any case), which would otherwise grow the memo with every spelling.
    Two threads missing at once both build it and one's bytes win: they are equal, and a
    lock here would serialize every first read of a new version behind one serializer.
    """
    memo = snapshot.memo
    found: CachedAnswer | None = memo.get(key)
    if found is None:
        found = serialized(build())
        if keep:
            memo[key] = found
    return found


def serialized(document: Any) -> CachedAnswer:
    """`document` as jsonify writes it (key order, separators, trailing newline) and its ETag:
    a kept answer is byte for byte what the uncached view would send."""
    response = current_app.json.response(document)
    assert isinstance(response, Response)  # Flask's own class (typed as werkzeug's sansio one)
    body = response.get_data()
    return CachedAnswer(body, f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"')


def conditional_response(answer: CachedAnswer) -> Response:
    """200 with the bytes and their ETag, or 304 when If-None-Match names that ETag."""
    headers = dict(validator_headers(answer))
    if matches_etag(request.headers.get("If-None-Match"), answer.etag):
        return Response(status=304, headers=headers)
    return Response(answer.body, mimetype="application/json", headers=headers)


def validator_headers(answer: CachedAnswer) -> tuple[tuple[str, str], ...]:
    """The ETag and cache headers a kept answer is sent with (a 200 or a 304)."""
    # Revalidate every time: the catalog may move at any moment, and a 304 costs little.
    return (("ETag", answer.etag), ("Cache-Control", "no-cache"))


def matches_etag(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, RFC 9110 §13.1.2)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))
