"""GET /api/changes (cursor-paged JSON) and GET /api/changes.atom, read from the change log.

The cursor is the seq of the last change returned: opaque to clients, and always present, so
a poller keeps `next_cursor` and asks again; seqs become visible in commit order (see
changelog), so polling with it never skips a change.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ratecard.changes.atom import render_atom
from ratecard.changes.records import ChangeFilter
from ratecard.web.auth import is_admin
from ratecard.web.request_parsing import parse_query
from ratecard.web.routes import RouteSpec, route_registrar
from ratecard.web.state import database_call, get_state

# Deferred: the change log's queries (SQLAlchemy) load with the first read of the feed.

blueprint = Blueprint("changes", __name__, url_prefix="/api")
route = route_registrar(
    blueprint,
    schemas="ratecard.web.api.change_schemas",
    tag="changes",
    tag_description="Every change to what is served, in commit order: a cursor-paged JSON "
    "feed and Atom.",
)
_ERRORS = {422: "ErrorOut", 503: "ErrorOut"}


def _filter(query: Any) -> Any:
    # A private price book's entries are the admin's to read: without the token they are
    # not in the feed at all (not even as a gap a cursor would reveal by its numbers alone).
    return ChangeFilter(query.model, query.provider, query.source, query.kind, is_admin())


@route(
    RouteSpec(
        "GET",
        "/api/changes",
        "list_changes",
        "Price changes after a cursor, oldest first; poll again with since=next_cursor.",
        query="ChangesQuery",
        responses={200: "ChangesOut", **_ERRORS},
    )
)
def list_changes() -> Response:
    from ratecard.changes.changelog import read_changes
    from ratecard.changes.log_head import last_seq

    query = parse_query("ChangesQuery")
    since = int(query.since)

    def page(conn: Any) -> tuple[list[Any], int]:
        entries = read_changes(conn, since=since, limit=query.limit, where=_filter(query))
        # Nothing new: answer the cursor to poll from, never one beyond the log's head (a
        # cursor from a database restored from an older backup would otherwise skip the
        # changes made since the restore until the log caught up with it).
        return entries, entries[-1].seq if entries else min(since, last_seq(conn))

    entries, position = database_call(page)
    next_cursor = str(position)
    return jsonify({"items": [c.to_json() for c in entries], "next_cursor": next_cursor})


ATOM_MAX_AGE = 60  # seconds


@route(
    RouteSpec(
        "GET",
        "/api/changes.atom",
        "changes_atom",
        "The newest price changes as an Atom 1.0 feed, one entry per change.",
        query="AtomQuery",
        responses={200: "AtomText", **_ERRORS},
        media_types={200: "application/atom+xml"},
        conditional=True,
    )
)
def changes_atom() -> Response:
    from ratecard.changes.changelog import read_changes

    query = parse_query("AtomQuery")
    entries = database_call(
        lambda conn: read_changes(conn, limit=query.limit, where=_filter(query), newest_first=True)
    )
    base = get_state().settings.public_url or ""
    body = render_atom(entries, base, base + request.full_path.rstrip("?"))
    response = Response(body, content_type="application/atom+xml; charset=utf-8")
    # Feed readers poll: a minute's caching, and a 304 for a poll that changed nothing. A
    # change lands at most once a refresh or a review, so a minute late is never stale news.
    response.cache_control.public = True
    response.cache_control.max_age = ATOM_MAX_AGE
    # The admin's feed holds private price books' entries: a shared cache keys on the header.
    response.vary.add("Authorization")
    response.add_etag()
    response.make_conditional(request)  # a 304 in place when If-None-Match names this ETag
    return response
