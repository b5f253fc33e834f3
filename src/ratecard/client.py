"""ratecard in the process that got the response: `Pricer` prices requests exactly as
`POST /api/cost` does, from a copy of a ratecard service's catalog kept current in the
background, with no network call per cost.

    from ratecard.client import Pricer

    pricer = Pricer.connect("http://ratecard.internal:8000")
    cost = pricer.cost(openai_response)       # a dict, JSON text or bytes, or an SDK object
    cost.total                                # Decimal("0.00314250")
    cost.to_dict()                            # what POST /api/cost answers, key for key

Library side only: the catalog and costing packages, httpx and orjson; none of the service's
packages (Flask, SQLAlchemy, redis, ...). The copy comes from `GET /api/catalog/copy`
(compact, gzip, conditional: an unchanged catalog costs a 304). Pricing is the service's own
code (`costing.cost_requests`) over the same snapshot type (`catalog.snapshot`), so an answer
is the service's answer on the same catalog version, errors included: an unknown model, an
ambiguous one, a missing price or bad usage raise the RatecardError the API turns into its
4xx, with the same message (`exc.detail`, `exc.status`, `exc.extra`).

Failure modes. The first `connect` loads the catalog before returning: from the service, else
from `cache_dir` (the last copy it wrote there), else it raises CatalogUnavailable. After that
the sync thread replaces the copy only with a complete, readable newer one: with the service
down the pricer keeps pricing from its last copy (`last_sync_error` says why,
`catalog_age()` how old it is) and picks the service up again when it answers. A cost with
`at` (prices at a past instant) is the one call that goes to the service, whose history it
needs (`POST /api/cost`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson

from ratecard.catalog import codec
from ratecard.catalog.identity import UnknownModel
from ratecard.catalog.model import ModelPrice
from ratecard.catalog.snapshot import COPY_FORMAT, CatalogSnapshot
from ratecard.costing.cost import Component
from ratecard.costing.cost_batch import BatchPricer
from ratecard.costing.cost_requests import ModelAt, catalog_resolver, parse_cost_request
from ratecard.errors import (
    Conflict,
    RatecardError,
    ServiceUnavailable,
    ValidationFailed,
)
from ratecard.ingest.bundled import BUNDLED_DATE, bundled_snapshot
from ratecard.ingest.feeds import parse_feed
from ratecard.json_keys import refuse_key_given_twice
from ratecard.settings import Source
from ratecard.vocabulary import FeedKind

__all__ = ["CatalogUnavailable", "Cost", "CostComponent", "Pricer"]

COPY_PATH = "/api/catalog/copy"


class CatalogUnavailable(ServiceUnavailable):
    """No catalog could be loaded: the service did not answer and no cached copy exists."""


# One priced dimension of a cost, the engine's own record (a NamedTuple): `quantity` of `name`
# at `price` per `unit`, `price_name` the stored price used, and `cost`.
CostComponent = Component


class Cost:
    """The cost of one request: `total` and its components as exact Decimals, and the API's
    answer itself (`to_dict()`, equal key for key to what `POST /api/cost` returns).

    Built from the answer's JSON text, which is read whole only when more than the total is
    asked for: most callers record the total alone, and reading the rest costs as much as
    pricing did.
    """

    __slots__ = ("_answer", "_text", "total")

    def __init__(self, text: bytes) -> None:
        self._text = text
        self._answer: dict[str, Any] | None = None
        # The answer's first `"total":"` is its own key: a model id or source holding those
        # characters is written with its quotes escaped (`\"total\"`), so it can't match.
        start = text.index(b'"total":"') + 9
        self.total = Decimal(text[start : text.index(b'"', start)].decode())

    @property
    def answer(self) -> dict[str, Any]:
        """The answer as decoded JSON (read once, on first use)."""
        answer = self._answer
        if answer is None:
            answer = self._answer = orjson.loads(self._text)
        return answer

    @property
    def model(self) -> str:
        return str(self.answer["model"])

    @property
    def source(self) -> str:
        return str(self.answer["source"])

    @property
    def price_version(self) -> int | None:
        version = self.answer["price_version"]
        return None if version is None else int(version)

    @property
    def components(self) -> tuple[CostComponent, ...]:
        """Each priced dimension, its decimals exact (read from the answer's text)."""
        return tuple(
            CostComponent(
                c["name"],
                c["quantity"] if isinstance(c["quantity"], int) else Decimal(c["quantity"]),
                c["unit"],
                Decimal(c["price"]),
                c["price_name"],
                Decimal(c["cost"]),
            )
            for c in self.answer["components"]
        )

    def to_dict(self) -> dict[str, Any]:
        """The answer as `POST /api/cost` gives it (a new dict each call: changing it changes
        nothing here)."""
        copied: dict[str, Any] = orjson.loads(self._text)
        return copied

    def __repr__(self) -> str:
        return f"Cost(model={self.model!r}, source={self.source!r}, total=Decimal('{self.total}'))"


class _Catalog:
    """One catalog copy as priced from: the snapshot, the source order, its ETag, when it was
    loaded (monotonic seconds), and the batch pricer its costs go through."""

    __slots__ = ("_batch", "etag", "loaded_at", "preferred", "snapshot")

    def __init__(
        self,
        snapshot: CatalogSnapshot,
        preferred: tuple[str, ...],
        etag: str | None,
        loaded_at: float,
    ) -> None:
        self.snapshot = snapshot
        self.preferred = preferred
        self.etag = etag
        self.loaded_at = loaded_at
        self._batch: BatchPricer | None = None

    def refreshed(self) -> _Catalog:
        """The same copy, loaded again now (a 304), keeping what its pricer learned."""
        again = _Catalog(self.snapshot, self.preferred, self.etag, time.monotonic())
        again._batch = self._batch
        return again

    def batch(self, now: datetime | None = None) -> BatchPricer:
        """The batch pricer of this copy: the service's own cost path, which writes each
        token-count answer from its model's text serialized once (costing.cost_batch), and
        every other answer as answer_cost does. Kept across cost() calls; replaced past
        _KEEP_RESOLVED entries (model ids as typed are the caller's to vary). `now` asks
        for one of its own, priced at that instant (cost_many)."""
        if now is not None:
            return BatchPricer(self.resolve, now)
        batch = self._batch
        if batch is None or batch.kept > _KEEP_RESOLVED:
            batch = self._batch = BatchPricer(self.resolve)
        return batch

    def resolve(self, model_id: str, source: str | None, at: datetime | None) -> ModelAt:
        """A model as the API's resolver resolves it for now (costing.catalog_resolver, the
        one serving.prices_at builds on)."""
        return catalog_resolver(self.snapshot, self.preferred, _history_not_here)(
            model_id, source, at
        )


def _history_not_here(model_id: str, source: str | None, at: datetime) -> ModelAt:
    # Never called: a request with `at` goes to the service (Pricer._priced_by_service).
    raise AssertionError("prices at an instant are the service's to give")


# Resolved models and answer texts a copy's pricer keeps before it starts afresh.
_KEEP_RESOLVED = 50_000


class Pricer:
    """Prices requests in-process; thread-safe (the catalog is an immutable snapshot, swapped
    whole by the sync thread)."""

    def __init__(
        self,
        catalog: _Catalog,
        *,
        source: str | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._catalog = catalog
        self._source = source
        self._http = http
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cache_file: Path | None = None
        self.last_sync_error: str | None = None

    # --- construction -----------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        base_url: str,
        *,
        refresh_every: float = 60.0,
        timeout: float = 5.0,
        cache_dir: str | os.PathLike[str] | None = None,
        source: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Pricer:
        """Load the catalog from the ratecard service at `base_url` and keep it current every
        `refresh_every` seconds in a daemon thread (a conditional request; 304 when nothing
        moved). `source` prices with that source by default; `headers` go with every request
        (a proxy's credentials). With `cache_dir`, each copy is also written there and a start
        with the service down prices from the last one. Raises CatalogUnavailable when neither
        the service nor a cached copy gives a catalog."""
        if refresh_every <= 0:
            raise ValueError("refresh_every must be positive")
        http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers=dict(headers or {})
        )
        cache_file = _cache_file(cache_dir, base_url)
        try:
            catalog, body = _fetch(http, None)
        except (httpx.HTTPError, _BadCopy) as exc:
            error = _describe(exc)
            cached = _read_cache(cache_file) if cache_file is not None else None
            if cached is None:
                http.close()
                raise CatalogUnavailable(
                    f"no catalog from {base_url}: {error}"
                    + ("" if cache_file is None else f"; no cached copy in {cache_file.parent}")
                ) from None
            pricer = cls(cached, source=source, http=http)
            pricer.last_sync_error = error
        else:
            pricer = cls(catalog, source=source, http=http)
            if cache_file is not None and body is not None:
                _write_cache(cache_file, body)
        pricer._cache_file = cache_file
        pricer._start(refresh_every)
        return pricer

    @classmethod
    def bundled(cls, *, source: str | None = None) -> Pricer:
        """A pricer over the LiteLLM snapshot shipped inside the package (its date is the
        catalog's `updated_at`, its version None): offline, never updated."""
        feed, body, _ = bundled_snapshot(Source(FeedKind.LITELLM, "", FeedKind.LITELLM))
        parsed = parse_feed(feed, body)
        data = {
            "version": None,
            "updated_at": f"{BUNDLED_DATE}T00:00:00Z",
            "models": [codec.to_item(price) for price in parsed.models.values()],
        }
        return cls(_catalog(data, (FeedKind.LITELLM,), None), source=source)

    # --- what it serves ---------------------------------------------------------------------

    @property
    def catalog_version(self) -> int | None:
        """The version of the catalog this pricer prices from (the service's run id)."""
        return self._catalog.snapshot.version

    @property
    def catalog_updated_at(self) -> str | None:
        """When that version was committed (RFC 3339), as the service says."""
        return self._catalog.snapshot.updated_at

    def catalog_age(self) -> float:
        """Seconds since this pricer last loaded a catalog (a 304 counts: it is current)."""
        return time.monotonic() - self._catalog.loaded_at

    def model(self, model_id: str, *, source: str | None = None) -> ModelPrice:
        """The model `model_id` resolves to, as `GET /api/models/<id>` resolves it (raises
        NotFound or Conflict as the API answers 404 or 409)."""
        return self._catalog.resolve(model_id, source or self._source, None).price

    # --- costs ------------------------------------------------------------------------------

    def cost(
        self,
        response: Any = None,
        *,
        model: str | None = None,
        usage: Any = None,
        format: str | None = None,
        at: datetime | str | None = None,
        service_tier: str | None = None,
        region: str | None = None,
        price_book: str | None = None,
        price_book_version: int | None = None,
        **counts: Any,
    ) -> Cost:
        """The cost of one request in any of `POST /api/cost`'s forms: a whole `response`, a
        `usage` block (with its `format`, detected when omitted) and `model`, or `model` and
        flat counts (`input_tokens=...`). Raises the API's errors (RatecardError).

        `price_book` prices with a price book on the service (its rules and read keys are the
        service's; send the key in `connect(headers=...)`), as a cost `at` a past instant is."""
        data = counts  # a new dict each call: the request is built in it
        if model is not None:
            data["model"] = model
        if response is not None:
            data["response"] = _body(response, "response")
        if usage is not None:
            data["usage"] = _body(usage, "usage")
        if format is not None:
            data["format"] = format
        if service_tier is not None:
            data["service_tier"] = service_tier
        if region is not None:
            data["region"] = region
        if at is not None:
            data["at"] = at.isoformat() if isinstance(at, datetime) else at
        if price_book is not None:
            data["price_book"] = price_book
        if price_book_version is not None:
            data["price_book_version"] = price_book_version
        return self._price(data, self._catalog.batch(), datetime.now(UTC))

    def cost_many(self, requests: Iterable[Any]) -> list[Cost | RatecardError]:
        """Price each request (a dict in `POST /api/cost`'s form, as a batch line is) against
        one catalog version at one instant: a Cost, or the error that request raised (one bad
        request never fails the others)."""
        now = datetime.now(UTC)
        batch = self._catalog.batch(now)
        out: list[Cost | RatecardError] = []
        for data in requests:
            try:
                out.append(self._price(data, batch, now))
            except RatecardError as exc:
                out.append(exc)
        return out

    def _price(self, data: Any, batch: BatchPricer, now: datetime) -> Cost:
        if isinstance(data, dict):
            if self._source is not None and "source" not in data:
                data = {**data, "source": self._source}
            if data.get("at") is not None or data.get("price_book") is not None:
                parse_cost_request(data)  # a bad request is refused here, as the API would
                return self._priced_by_service(data)
        text = batch.answer(data, now)
        if text.startswith(b'{"line":'):  # the batch path's error object, line-numbered
            error = orjson.loads(text)
            raise _error_of(error.pop("status"), error)
        return Cost(text)

    def _priced_by_service(self, data: Mapping[str, Any]) -> Cost:
        """`POST /api/cost` on the service: prices at a past instant need its history, and a
        price book its rules and access."""
        field = "price_book" if data.get("price_book") is not None else "at"
        if self._http is None:
            raise ValidationFailed(
                f"{field}: the bundled catalog has no price history nor price books; connect "
                "to a ratecard service to price with them",
                field=field,
            )
        try:
            answer = self._http.post("/api/cost", json=data)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"{field}: the service did not answer: {_describe(exc)}"
            ) from None
        if answer.status_code == 200:
            return Cost(orjson.dumps(answer.json()))
        raise _error_of(answer.status_code, _json_or_none(answer))

    # --- sync -------------------------------------------------------------------------------

    def _start(self, every: float) -> None:
        self._thread = threading.Thread(
            target=self._sync_loop, args=(every,), name="ratecard-pricer-sync", daemon=True
        )
        self._thread.start()

    def _sync_loop(self, every: float) -> None:
        while not self._stop.wait(every):
            self.sync()

    def sync(self) -> bool:
        """Fetch the catalog now if it moved; return whether a new version was adopted. Never
        raises for a service that is down or answers garbage: the copy in hand stays."""
        if self._http is None:
            return False
        held = self._catalog
        try:
            fresh, body = _fetch(self._http, held)
        except (httpx.HTTPError, _BadCopy) as exc:
            self.last_sync_error = _describe(exc)
            return False
        self.last_sync_error = None
        self._catalog = fresh  # one reference swap: a cost() in flight keeps its snapshot
        if body is None:  # a 304: the copy in hand is current
            return False
        if self._cache_file is not None:
            _write_cache(self._cache_file, body)
        return True

    def close(self) -> None:
        """Stop the sync thread and close the connection pool."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> Pricer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- pricing ----------------------------------------------------------------------------------


def _body(value: Any, field: str) -> Any:
    """A response or usage block as the API would read it from the JSON a client posts."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str | bytes | bytearray):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            raise ValidationFailed(f"{field}: not valid JSON", field=field) from None
        # As the API reads a body: a key given twice is refused, never the last one taken.
        refuse_key_given_twice(bytes(value) if isinstance(value, bytearray) else value)
        return parsed
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        # An SDK object (OpenAI, Anthropic, google-genai: pydantic models): the body as the
        # provider sent it, with its wire names (google-genai's camelCase aliases) and only
        # the fields the body had.
        try:
            dumped = dump(mode="json", by_alias=True, exclude_unset=True)
        except TypeError:
            dumped = dump()
        return json.loads(json.dumps(dumped, default=str))
    raise ValidationFailed(
        f"{field}: give a dict, JSON text or bytes, or an object with model_dump()",
        field=field,
    )


# An ambiguous model is raised as a Conflict (AmbiguousModel's own constructor takes the
# candidates as models; the error's `candidates` are in `extra` as the API gives them).
_ERRORS: dict[int, type[RatecardError]] = {
    404: UnknownModel,
    409: Conflict,
    422: ValidationFailed,
}


def _error_of(status: int, body: Any) -> RatecardError:
    """An error as the API renders it (the service's answer, or a batch line's error object)
    as the RatecardError it was raised as."""
    if not isinstance(body, dict) or not isinstance(body.get("detail"), str):
        return ServiceUnavailable(f"the service answered {status} without a JSON error")
    extra = {k: v for k, v in body.items() if k not in ("error", "status", "detail", "line")}
    kind = _ERRORS.get(status, RatecardError if 400 <= status < 500 else ServiceUnavailable)
    return kind(body["detail"], **extra)


# --- the catalog copy -------------------------------------------------------------------------


class _BadCopy(Exception):
    """The service answered, but not with a catalog copy this client can read."""


def _fetch(http: httpx.Client, held: _Catalog | None) -> tuple[_Catalog, bytes | None]:
    """The service's catalog copy and its JSON as received; `held` again (re-dated) and no
    bytes when it answers 304."""
    headers = {"If-None-Match": held.etag} if held is not None and held.etag else {}
    answer = http.get(COPY_PATH, headers=headers)
    if answer.status_code == 304 and held is not None:
        return held.refreshed(), None
    if answer.status_code != 200:
        raise _BadCopy(f"GET {COPY_PATH} answered {answer.status_code}")
    return _catalog_of(_json_or_none(answer), answer.headers.get("ETag")), answer.content


def _catalog_of(data: Any, etag: str | None) -> _Catalog:
    if not isinstance(data, dict) or data.get("format") != COPY_FORMAT:
        shape = data.get("format") if isinstance(data, dict) else None
        raise _BadCopy(f"not a catalog copy this client reads (format {shape!r})")
    try:
        return _catalog(data, tuple(data["preferred"]), etag)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise _BadCopy(f"unreadable catalog copy: {type(exc).__name__}: {exc}") from None


def _catalog(data: Mapping[str, Any], preferred: tuple[str, ...], etag: str | None) -> _Catalog:
    snapshot = CatalogSnapshot.from_data(data)
    snapshot.identity  # noqa: B018 - built here, in the sync thread, not by the next cost()
    return _Catalog(snapshot, preferred, etag, time.monotonic())


def _json_or_none(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _cache_file(cache_dir: str | os.PathLike[str] | None, base_url: str) -> Path | None:
    if cache_dir is None:
        return None
    name = hashlib.blake2b(base_url.rstrip("/").encode(), digest_size=8).hexdigest()
    return Path(cache_dir) / f"ratecard-catalog-{name}.json"


def _write_cache(path: Path, body: bytes) -> None:
    """Write the copy as the service sent it, atomically (a reader never sees half a file); a
    failure is not fatal."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.partial")
        partial.write_bytes(body)
        os.replace(partial, path)
    except OSError:
        pass  # a read-only or full disk costs the cache, never the pricing


def _read_cache(path: Path) -> _Catalog | None:
    try:
        data = json.loads(path.read_bytes())
        # No ETag: the first sync after the service is back fetches the whole copy.
        return _catalog_of(data, None)
    except (OSError, ValueError, _BadCopy):
        return None
