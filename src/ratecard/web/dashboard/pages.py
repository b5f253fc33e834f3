"""Dashboard routes: the page, its polled fragments, a model page, and the status JSON.

The page is rendered by Jinja on the server; `static/dashboard.js` re-fetches the live
sections as server-rendered fragments every few seconds and swaps them in, so there is one
renderer (the templates) and no inline script (the CSP forbids it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from ratecard.catalog import codec
from ratecard.catalog.identity import price_agreement
from ratecard.catalog.model import ModelPrice, dated_entry_at
from ratecard.errors import RatecardError
from ratecard.timetext import shown_time
from ratecard.web.auth import is_admin
from ratecard.web.dashboard.catalog_table import TableQuery, build_table, table_data
from ratecard.web.dashboard.chart import PricePoint, price_chart
from ratecard.web.dashboard.format import PRICE_LABELS, duration_words, per_million, shown_price
from ratecard.web.dashboard.source_panel import GATHERER, StatusGatherer
from ratecard.web.dashboard.status_page import build_status
from ratecard.web.state import get_state

# Deferred: a model page's history queries (SQLAlchemy) load with the first model page.

bp = Blueprint("dashboard", __name__)
bp.add_app_template_filter(per_million, "per_million")
bp.add_app_template_filter(duration_words, "duration")
bp.add_app_template_filter(shown_time, "when")  # a time to the second; the exact one in datetime=


@bp.app_template_filter("price")
def price_filter(exact: str | None) -> Markup | str:
    """A price cell's text: the short form, the exact text on hover when they differ."""
    shown = shown_price(exact)
    if shown is None:
        return "—"
    if shown == exact:
        return shown
    return Markup('<span class="rounded" title="exactly {}">{}</span>').format(exact, shown)


POLL_SECONDS = 3
MAX_MODEL_ID = 512  # the width of models.model_id


def plausible_model_id(model_id: str) -> bool:
    """Return whether `model_id` could name a model (printable, not longer than the column)."""
    return 0 < len(model_id) <= MAX_MODEL_ID and all(ch.isprintable() for ch in model_id)


def _gatherer() -> StatusGatherer:
    found: StatusGatherer = current_app.extensions[GATHERER]
    return found


def _status(admin: bool) -> dict[str, Any]:
    return build_status(_gatherer().inputs(), admin=admin)


def _table(query: TableQuery) -> Any:
    inputs = _gatherer().inputs()
    models = inputs.catalog.models if inputs.catalog is not None else ()
    return build_table(models, query)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
def index() -> Response:
    """Render the dashboard (public view: hosts appear once an admin token is entered)."""
    query = TableQuery.from_args(request.args)
    html = render_template(
        "dashboard.html",
        status=_status(admin=False),
        table=_table(query),
        query=query,
        poll_seconds=POLL_SECONDS,
    )
    return _no_store(Response(html, mimetype="text/html"))


@bp.get("/dashboard/live")
def live_fragment() -> Response:
    """Render the live sections (fleet, runs, held changes) for the page to swap in."""
    html = render_template("_live.html", status=_status(admin=is_admin()))
    return _no_store(Response(html, mimetype="text/html"))


@bp.get("/dashboard/catalog")
def catalog_fragment() -> Response:
    """Render the catalog table's rows and counts for a search, filter or sort."""
    query = TableQuery.from_args(request.args)
    html = render_template("_catalog_rows.html", table=_table(query), query=query)
    return _no_store(Response(html, mimetype="text/html"))


@bp.get("/dashboard/status.json")
def status_json() -> Response:
    """Return the status document (hosts and full error texts only for the admin token)."""
    return _no_store(jsonify(_status(admin=is_admin())))


@bp.get("/dashboard/catalog.json")
def catalog_json() -> Response:
    """Return the catalog table (filtered, sorted, cut) as JSON."""
    return _no_store(jsonify(table_data(_table(TableQuery.from_args(request.args)))))


@bp.get("/disagreements")
def disagreements_page() -> Response:
    """Render the linked models whose sources disagree (prices per million tokens)."""
    items: list[dict[str, Any]] = []
    linked_models, error = 0, None
    try:
        identity = get_state().need_catalog_cache().current().identity
    except Exception as exc:  # the page stays up and says what is missing
        error = f"catalog unavailable: {type(exc).__name__}"
    else:
        linked_models = len(identity.linked_models())
        items = disagreement_rows(identity.disagreements())
    html = render_template(
        "disagreements.html", items=items, linked_models=linked_models, error=error
    )
    return _no_store(Response(html, mimetype="text/html"))


def disagreement_rows(found: Iterable[Any]) -> list[dict[str, Any]]:
    """The disagreements as the page lists them: pairs that differ the same way merged into one
    row, so that a model a source lists under two ids with one price reads once.

    Merging is sound: two pairs with the same model, sources and field values say the same of
    every entry on each side (those entries give the very same prices for those fields).
    """
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for pair in found:
        fields = tuple(
            (
                PRICE_LABELS.get(d.field, d.field),
                d.a if d.field == "status" else per_million(d.a),
                d.b if d.field == "status" else per_million(d.b),
                d.ratio,
                pair.sides.get(d.field),  # (sources with a, sources with b, sources stating it)
            )
            for d in pair.differences
        )
        key = (pair.model, pair.a.source, pair.b.source, fields)
        row = rows.setdefault(
            key,
            {
                "model": pair.model,
                "a": {"source": pair.a.source, "ids": []},
                "b": {"source": pair.b.source, "ids": []},
                "fields": [
                    {"label": f[0], "a": f[1], "b": f[2], "ratio": f[3], "sides": f[4]}
                    for f in fields
                ],
            },
        )
        for side, entry in (("a", pair.a), ("b", pair.b)):
            if entry.model_id not in row[side]["ids"]:
                row[side]["ids"].append(entry.model_id)
    return list(rows.values())


@bp.get("/webhooks")
def webhooks_page() -> Response:
    """Render the webhook subscriptions shell; the list and actions need the admin token.

    Nothing private is rendered here: `static/dashboard.js` fills the page from /admin/webhooks
    with the token the operator entered (sent as a bearer header, never a cookie), so a visitor
    without the token sees only the notice that one is needed.
    """
    html = render_template("webhooks.html")
    return _no_store(Response(html, mimetype="text/html"))


@bp.get("/price-books")
def price_books_page() -> Response:
    """Render the price books shell; the books, their rules and prices need the admin token.

    As the webhooks page: nothing private is rendered here; `static/dashboard.js` fetches
    /admin/price-books with the token the operator entered and writes it as text."""
    html = render_template("price_books.html")
    return _no_store(Response(html, mimetype="text/html"))


@bp.get("/models/<path:model_id>")
def model_page(model_id: str) -> Response | WerkzeugResponse:
    """Render one model: its prices per source, any held change, and its price history."""
    state = get_state()
    if not plausible_model_id(model_id):
        # NUL and control characters: no feed uses them, and PostgreSQL refuses NUL in text.
        html = render_template("not_found.html", model_id=model_id[:MAX_MODEL_ID])
        return Response(html, status=404, mimetype="text/html")
    sections, error = _model_sections(state, model_id)
    if not sections and error is None:
        served_id = _resolved_id(state, model_id)
        if served_id is not None and served_id != model_id:
            # The name as people type it (GPT-4o, openai/gpt-4o): show the served id's page.
            return redirect(url_for("dashboard.model_page", model_id=served_id), code=302)
        html = render_template("not_found.html", model_id=model_id)
        return Response(html, status=404, mimetype="text/html")
    html = render_template("model.html", model_id=model_id, sections=sections, error=error)
    return _no_store(Response(html, mimetype="text/html"))


def _resolved_id(state: Any, model_id: str) -> str | None:
    """The served id `model_id` resolves to, or None (unknown, ambiguous, catalog down)."""
    try:
        snapshot = state.need_catalog_cache().current()
        return snapshot.identity.resolve(model_id).price.model_id
    except RatecardError:
        return None


def _model_sections(state: Any, model_id: str) -> tuple[list[dict[str, Any]], str | None]:
    from sqlalchemy.exc import SQLAlchemyError

    from ratecard.serving import queries

    error: str | None = None
    try:
        snapshot = state.need_catalog_cache().current()
    except Exception as exc:  # the page still shows history if only the cache failed
        snapshot, error = None, f"catalog unavailable: {type(exc).__name__}"
    served = {m.price.source: m for m in (snapshot.by_id.get(model_id, ()) if snapshot else ())}
    held = snapshot.held_by_model if snapshot else {}
    now = datetime.now(UTC)
    sections = []
    try:
        with state.engine.connect() as conn:
            sources = sorted(set(served) | set(queries.model_sources(conn, model_id)))
            for source in sources:
                rows = queries.load_history(conn, source, model_id)
                sections.append(
                    _section(source, served.get(source), rows, held.get((source, model_id)), now)
                )
    except SQLAlchemyError as exc:
        error = f"database unavailable: {type(exc).__name__}"
        sections = [_section(s, m, [], held.get((s, model_id)), now) for s, m in served.items()]
    for section in sections:
        section["chart"] = price_chart(section.pop("points"), now)
        price = section["price"]
        if snapshot is not None and price is not None and section["served"]:
            # How many linked sources state each price, and agree exactly (as the API's read).
            agreement = price_agreement(price, snapshot.identity.linked(price))
            for shown in section["prices"]:
                found = agreement.get(shown["field"])
                shown["agreement"] = found.to_json() if found is not None and found.of > 1 else None
    return sections, error


def _section(
    source: str, served: Any, history: list[Any], held: dict[str, Any] | None, now: datetime
) -> dict[str, Any]:
    price = served.price if served is not None else None
    prices = []
    if price is not None:
        for field, label in PRICE_LABELS.items():
            value = getattr(price, field)
            if value is not None:
                prices.append({"field": field, "label": label, "per_million": per_million(value)})
    entries = []
    points = []
    for row in history:  # newest first
        old, new = row.old or {}, row.new or {}
        entries.append(
            {
                "observed_at": shown_time(row.observed_at),
                "change": row.change,
                "run_id": row.run_id,
                "input_old": per_million(old.get("input_per_token")),
                "input_new": per_million(new.get("input_per_token")),
                "output_old": per_million(old.get("output_per_token")),
                "output_new": per_million(new.get("output_per_token")),
            }
        )
        points.append(
            PricePoint(
                at=row.observed_at or now,
                input=_million(new.get("input_per_token")),
                output=_million(new.get("output_per_token")),
            )
        )
    return {
        "source": source,
        "served": served is not None,
        "price": price,
        "prices": prices,
        "every_price": every_price(price) if price is not None else [],
        "dated": dated_rows(price, now) if price is not None else [],
        "last_observed_at": served.last_observed_at if served is not None else None,
        "stale": None
        if served is None
        else codec.stale_to_api(served.rejected_reason, served.rejected_since),
        "held": held,
        "history": entries,
        "points": points,
        "now": shown_time(now),
    }


def dated_rows(price: ModelPrice, now: datetime) -> list[dict[str, Any]]:
    """The source's dated price list, oldest first: each entry's period, input and output
    per million, and whether it is past, in force now or scheduled."""
    if not price.dated:
        return []
    current = dated_entry_at(price.dated, now)
    rows = []
    for index, entry in enumerate(price.dated):
        ends = price.dated[index + 1].starts if index + 1 < len(price.dated) else None
        state = "in force" if index == current else "scheduled" if index > current else "past"
        rows.append(
            {
                "starts": shown_time(entry.starts) if entry.starts else "—",
                "ends": shown_time(ends) if ends else "—",
                "input": per_million(entry.prices.input_per_token),
                "output": per_million(entry.prices.output_per_token),
                "state": state,
            }
        )
    return rows


def every_price(price: Any) -> list[dict[str, str]]:
    """Every price the model states, with its unit (`codec.stated_prices`)."""
    return [row.__dict__ for row in codec.stated_prices(price)]


def _million(value: str | None) -> Decimal | None:
    text = per_million(value)
    return None if text is None else Decimal(text)
