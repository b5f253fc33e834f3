"""Many cost requests in one go: NDJSON lines or a JSON array in, one result each, in order.

Shared by `POST /api/cost/batch` and `ratecard cost`. Each request is parsed, resolved and
priced exactly as `POST /api/cost` does it (`cost_requests`); a bad one gets its own error
object `{"line": N, "error", "status", "detail", "field", ...}` (N counted from 1) and the
others are priced. What makes a million lines cheap, and stays honest:
- orjson parses and writes each line (the standard library's json is ~10x slower here);
- each distinct (model, source, at) is resolved once per batch (an unknown model's error too);
- a whole batch is priced at one instant (`now`, taken when it starts), so the lines without
  `at` cannot straddle a time-of-day price change;
- no per-line logging, metrics or pydantic; the common line (a model and whole counts) is
  parsed by a few type checks;
- a line of token quantities (no `at`, no region) is written from its model's answer text,
  serialized once (_Answers), in exact integer arithmetic: the bytes answer_cost gives;
- the API prices a large NDJSON body on two cores (cost_batch_child).
No memo of answers: real logs rarely repeat a line exactly, and hashing each line to find out
cost more (~10% of a line's time) than the rare repeat saved.

Blank lines (only whitespace) in NDJSON are skipped, as the NDJSON spec allows: they give no
result, but line numbers count them (N is the line an editor shows). A line longer than
POST /api/cost's 1 MiB gets a 413 error object and is never held in memory.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from ratecard.catalog.money import EXACT, decimal_text
from ratecard.costing.cost import (
    TOKEN_QUANTITIES,
    TokenPlan,
    threshold_crossed,
    tier_above,
    tier_thresholds,
    token_counts,
    token_plan,
)
from ratecard.costing.cost_requests import (
    FORMATS,
    MAX_MODEL,
    MAX_QUANTITY,
    BookAnswer,
    CostRequest,
    ModelAt,
    Resolver,
    answer_cost,
    error_fields,
    parse_cost_request,
    parse_instant,
    per_million_of,
)
from ratecard.costing.usage import QUANTITY_UNITS, Usage
from ratecard.errors import RatecardError, ValidationFailed
from ratecard.json_keys import first_key_twice
from ratecard.safe_text import writable_text

__all__ = ["BatchPricer", "numbered_batches"]

_NOT_JSON = {"error": "bad_request", "status": 400, "field": "body"}
_TWICE = {"error": "validation_failed", "status": 422}
# The longest line priced: the body limit of POST /api/cost.
MAX_LINE = 1024 * 1024


class _NeverRaised(Exception):
    """What BatchPricer.lines leaves to its caller by default: nothing."""


class BatchPricer:
    """Price the requests of one batch, each distinct model resolved once."""

    def __init__(
        self,
        resolve: Resolver,
        now: datetime | None = None,
        books: BookAnswer | None = None,
        default_book: dict[str, Any] | None = None,
    ) -> None:
        self._resolve = resolve
        self._books = books  # prices lines with a price_book (None: such lines are refused)
        # `price_book` (and `price_book_version`) for lines that name none (`ratecard cost
        # --price-book`).
        self._default_book = default_book
        self.now = now or datetime.now(UTC)  # the one instant the whole batch is priced at
        # (model as typed, source, at) -> the resolved model, or its error's fields.
        self._models: dict[tuple[Any, ...], ModelAt | dict[str, Any]] = {}
        # (model as typed, source, service tier) -> its answers' fixed text (see _Answers).
        self._answers: dict[tuple[Any, ...], _Answers | None] = {}
        # (id of a ModelAt at some instant, service tier) -> it and its answers (_answers_then).
        self._then: dict[tuple[int, str], tuple[ModelAt, _Answers | None]] = {}
        # (model as typed, source) -> the history's prices last resolved for it, and the span
        # of instants they answer for (_answers_then).
        self._spans: dict[tuple[str, str | None], tuple[ModelAt, datetime, datetime | None]] = {}
        self.failed = 0  # lines answered with an error so far
        self.written = 0  # lines written from a model's fixed text so far (_written)

    def result(self, number: int, data: Any) -> Any:
        """The answer to one decoded request, or its error object naming line `number`."""
        if self._default_book is not None:
            data = self._with_book(data)
        try:
            request = parse_cost_request(data)
        except RatecardError as exc:
            return self._error(number, error_fields(exc))
        return self._priced(number, request)

    def answer(self, data: Any, now: datetime | None = None) -> bytes:
        """The result line of one decoded request, as line() writes it for line 1: what the
        in-process client (ratecard.client) prices with, one request at a time. `now` (None:
        the batch's instant) prices it when it has no `at`: a long-lived pricer passes the
        time of each call, so a time-of-day price applies when the call is made."""
        if now is not None:
            self.now = now
        return self._decoded(1, data)

    @property
    def kept(self) -> int:
        """How many resolved models and answer texts this pricer keeps (a long-lived one is
        replaced past a bound: ids as typed are the caller's to vary)."""
        return len(self._models) + len(self._answers)

    def refused(self, number: int, error: RatecardError) -> Any:
        """The error object of line `number`, refused before it could be read (a CSV row that
        is not UTF-8)."""
        return self._error(number, error_fields(error))

    def line(self, number: int, raw: bytes | None) -> bytes:
        """The NDJSON result line (newline included) of one raw input line (None: too long)."""
        if raw is None:
            detail = f"line {number} is longer than {MAX_LINE} bytes (POST /api/cost's limit)"
            error = {"error": "payload_too_large", "status": 413, "detail": detail, "field": None}
            return orjson.dumps(self._error(number, error), option=orjson.OPT_APPEND_NEWLINE)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            data = _read_as_single(raw)
            if data is _UNREAD:
                detail = f"line {number} is not valid JSON: {exc.msg}"
                result = self._error(number, {**_NOT_JSON, "detail": detail})
                return orjson.dumps(result, option=orjson.OPT_APPEND_NEWLINE)
            # The standard parser's own check: orjson cannot re-encode what it refused.
            twice = first_key_twice(raw)
        else:
            twice = _key_given_twice(raw, data)
        if twice is None:
            return self._decoded(number, data)
        detail = f"{twice[:100]}: given twice"
        result = self._error(number, {**_TWICE, "detail": detail, "field": twice[:100]})
        return orjson.dumps(result, option=orjson.OPT_APPEND_NEWLINE)

    def ndjson(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The result lines of an NDJSON body read in `chunks`, joined per chunk read."""
        for batch in numbered_batches(chunks):
            yield self.lines(batch)[0]

    def lines(
        self, numbered: Iterable[tuple[int, bytes | None]], leave: type[Exception] = _NeverRaised
    ) -> tuple[bytes, int]:
        """The result lines of (line number, raw line) pairs, joined, in one compiled loop (no
        interpreted call per line); a raw line that is None or empty was too long to keep. A
        line whose pricing raises `leave` gets an empty line instead, left to the caller
        (cost_batch_child's child leaves `at` lines to the worker). Also how many were left."""
        out: list[bytes] = []
        left = 0
        for number, raw in numbered:
            try:
                out.append(self.line(number, raw or None))
            except leave:
                out.append(b"\n")
                left += 1
        return b"".join(out), left

    def array(self, items: list[Any]) -> list[Any]:
        """The results of a JSON array of requests, item N (from 1) as line N."""
        return [self.result(number, item) for number, item in enumerate(items, start=1)]

    def _model(self, model_id: str, source: str | None, at: datetime | None) -> Any:
        key = (model_id, source, at)
        found = self._models.get(key)
        if found is None:
            try:
                found = self._resolve(model_id, source, at)
            except RatecardError as exc:
                found = error_fields(exc)
            self._models[key] = found
        return found

    def _with_book(self, data: Any) -> Any:
        if type(data) is dict and self._default_book is not None and "price_book" not in data:
            return {**data, **self._default_book}
        return data

    def _decoded(self, number: int, data: Any) -> bytes:
        """The result line of one decoded request, parsed once: written from its model's
        fixed text where that prices it (_written), else answered as result() answers."""
        if self._default_book is not None:
            data = self._with_book(data)
        if type(data) is dict and data.keys() <= _FLAT_TOKEN_KEYS_AT:
            # The commonest line, `model` and token counts (and maybe `at`), read in one pass
            # (_flat_quantities skips the keys that are not counts).
            model_id = data.get("model")
            # Not ASCII: parse_cost_request checks it is text UTF-8 can carry.
            if type(model_id) is str and 0 < len(model_id) <= MAX_MODEL and model_id.isascii():
                quantities = _flat_quantities(data)
                at = _instant(data.get("at"))
                if quantities is not None and at is not _UNKNOWN:
                    written = self._written(model_id, None, "standard", None, quantities, at)
                    if written is not None:
                        return written
            # An error, or a model the fixed text cannot price: parse_cost_request's own flat
            # check is as cheap as this one.
            result = self.result(number, data)
        else:
            try:
                request = parse_cost_request(data)
            except RatecardError as exc:
                result = self._error(number, error_fields(exc))
            else:
                usage = request.usage
                # A body's notes or stated multipliers, or a price book, change the answer
                # beyond the fixed text: the general path writes those lines.
                if (
                    request.region is None
                    and request.price_book is None
                    and not request.notes
                    and not request.uplifts
                    and usage[_TOKENS:] == _NO_UNITS
                ):
                    quantities = [(i, q) for i, q in enumerate(token_counts(usage)) if q]
                    written = self._written(
                        request.model, request.source, request.service_tier, request.format,
                        quantities, request.at,
                    )  # fmt: skip
                    if written is not None:
                        return written
                result = self._priced(number, request)
        return orjson.dumps(result, option=orjson.OPT_APPEND_NEWLINE)

    def _priced(self, number: int, request: CostRequest) -> Any:
        """The general path's answer to a parsed request, or its error object."""
        model = self._model(request.model, request.source, request.at)
        if isinstance(model, dict):
            return self._error(number, model)
        try:
            if request.price_book is not None:
                if self._books is None:
                    raise ValidationFailed(
                        "price_book: price books are priced by the service, not here",
                        field="price_book",
                    )
                return self._books(request, model, self.now)
            return answer_cost(request, model, now=self.now)
        except RatecardError as exc:
            return self._error(number, error_fields(exc))

    def _written(
        self,
        model_id: str,
        source: str | None,
        tier: str,
        form: str | None,
        quantities: list[tuple[int, int]],
        at: datetime | None = None,
    ) -> bytes | None:
        """The result line of token `quantities` (no region) of `model_id` at `at` (None: now),
        written from its fixed text; None where that does not price them (the general path
        then answers, or says why not)."""
        if at is None:
            answers = self._answers.get((model_id, source, tier, None), _UNKNOWN)
            if answers is _UNKNOWN:
                answers = self._answers_of(model_id, source, tier, None)
        else:
            answers = self._answers_then(model_id, source, tier, at, 0)
        if answers is not None and answers.thresholds:
            # The prompt's long-context tier picks the prices (price_usage's own rule).
            prompt = sum([quantity for index, quantity in quantities if index in _PROMPT])
            above = threshold_crossed(answers.thresholds, answers.inclusive, prompt)
            if above != answers.tier_above:
                if at is None:
                    answers = self._answers_of(model_id, source, tier, prompt, above)
                else:
                    answers = self._answers_then(model_id, source, tier, at, prompt)
        written = None if answers is None else answers.line(quantities, form)
        if written is not None:
            self.written += 1
        return written

    def _answers_of(
        self,
        model_id: str,
        source: str | None,
        tier: str,
        prompt: int | None,
        above: int | None = None,
    ) -> _Answers | None:
        """The answers of a model at `tier` for a prompt of `prompt` tokens, whose long-context
        tier is `above` (None: none crossed; `prompt` None: not known yet, read as 0)."""
        key = (model_id, source, tier, above)
        answers = self._answers.get(key, _UNKNOWN)
        if answers is _UNKNOWN:
            model = self._model(model_id, source, None)
            answers = None if isinstance(model, dict) else _Answers.of(model, tier, prompt or 0)
            self._answers[key] = answers
        return answers

    def _answers_then(
        self, model_id: str, source: str | None, tier: str, at: datetime, prompt: int
    ) -> _Answers | None:
        """The answers of a model at `tier` with the prices in force at `at`. Lines each at
        their own instant share a price's fixed text (_Answers.of keeps it per price object
        and version), so they are written as fast as lines of now; the resolver reads each
        model's history once per batch (serving.prices_at.history_resolver). Not kept per
        instant here: a batch of distinct instants would keep one entry per line."""
        # Lines of a model at instants under one history row take its prices without asking
        # the resolver again: the row answers for every instant of its span (resolution does
        # not depend on the instant, and the row in force is the last one observed by then).
        span = self._spans.get((model_id, source))
        if span is not None and span[1] <= at and (span[2] is None or at < span[2]):
            model = span[0]
        else:
            try:
                model = self._resolve(model_id, source, at)
            except RatecardError:
                return None  # the general path answers with the error
            if model.valid_from is not None:
                self._spans[model_id, source] = (model, model.valid_from, model.valid_until)
        if prompt:
            return _Answers.of(model, tier, prompt)
        # A resolver answers lines under the same price row with the same ModelAt (as
        # history_resolver does): kept by that object, whose reference held here keeps its id
        # from being reused by another while the batch lasts.
        key = (id(model), tier)
        kept = self._then.get(key)
        if kept is not None and kept[0] is model:
            return kept[1]
        answers = _Answers.of(model, tier, 0)
        self._then[key] = (model, answers)
        return answers

    def _error(self, number: int, fields: dict[str, Any]) -> dict[str, Any]:
        self.failed += 1
        # An error names what the line sent, which may hold a lone surrogate (`{"\\ud800": 1}`):
        # orjson refuses to write one, so it is written as its escape, as the single route does.
        return {
            "line": number,
            **{k: writable_text(v) if type(v) is str else v for k, v in fields.items()},
        }


_UNKNOWN: Any = object()


_FLAT_TOKEN_KEYS = frozenset(("model", *TOKEN_QUANTITIES))
_FLAT_TOKEN_KEYS_AT = _FLAT_TOKEN_KEYS | {"at"}


def _instant(value: Any) -> Any:
    """A flat line's `at` as parse_cost_request reads it; _UNKNOWN when it is not a valid
    time (the general path then names the field)."""
    try:
        return parse_instant(value)
    except RatecardError:
        return _UNKNOWN


# Each token quantity's place in TOKEN_QUANTITIES (its component's place in an answer).
_INDEX = {name: index for index, name in enumerate(TOKEN_QUANTITIES)}
# The places of the quantities Usage.prompt_tokens adds up (what long-context tiers compare).
_PROMPT = frozenset(
    i for i, name in enumerate(TOKEN_QUANTITIES) if Usage(**{name: 1}).prompt_tokens
)
assert set(Usage._fields[: len(TOKEN_QUANTITIES)]) == set(TOKEN_QUANTITIES), "tokens first"
_TOKENS = len(TOKEN_QUANTITIES)
_NO_UNITS = (0,) * (len(Usage._fields) - _TOKENS)
# More digits than any real price has: such a price is left to price_usage.
_MAX_DIGITS = 60


class _Answers:
    """The answer lines of one resolved model at one service tier, for requests of token
    quantities only, as `orjson.dumps(answer_cost(...))` writes them.

    Everything but the counts, costs and total is the same on every line of the model
    (model, source, version, resolution, each price and its name), so it is serialized once,
    as a %-template per set of components a line has (and format read): a line is one
    `template % (total, quantity, cost, ...)`. Built only where the prices hold for every such
    request (cost.token_plan). The arithmetic is exact, in integers: every price is an
    integer number of 10^-scale dollars, so a cost is quantity x that integer and the total
    their sum, the very values price_usage adds up in Decimal (written as decimal_text
    writes them: no exponent, no trailing zero). tests/costing/test_cost_batch_answers.py
    checks the lines against answer_cost over many random requests.
    """

    __slots__ = (
        "head",
        "inclusive",
        "parts",
        "prices",
        "scale",
        "tails",
        "templates",
        "thresholds",
        "tier_above",
    )

    def __init__(self, model: ModelAt, plan: TokenPlan, scale: int) -> None:
        price = model.price
        service_tier = plan.service_tier
        self.scale = scale  # prices and costs are whole numbers of 10^-scale dollars
        self.tier_above = plan.tier_above_tokens
        # The long-context thresholds a prompt of this tier can cross (other prompts may be
        # in another long-context tier: _answer checks each line's).
        self.thresholds, self.inclusive = tier_thresholds(price, service_tier)
        # Per token quantity (TOKEN_QUANTITIES order): its price in 10^-scale dollars, or
        # None where the model lacks it (the line goes to price_usage, which says so).
        self.prices: tuple[int | None, ...] = tuple(
            None if found is None else int(found[0].scaleb(scale, context=EXACT))
            for found in plan.prices
        )
        # Per token quantity: its component's template (quantity and cost left as %d, %s).
        self.parts: tuple[str | None, ...] = tuple(
            None if found is None else _component_template(name, found[0], found[1])
            for name, found in zip(TOKEN_QUANTITIES, plan.prices, strict=True)
        )
        fixed = {"model": price.model_id, "source": price.source}
        self.head = (
            _escaped(orjson.dumps(fixed)[:-1].decode())
            + ',"total":"%s","currency":"USD","service_tier":'
            + _escaped(_text(service_tier))
            + ',"components":['
        )
        rest: dict[str, Any] = {
            "tier_above_tokens": self.tier_above,
            "window": None,
            "region": None,
            "format": None,
            "notes": [],
            "price_version": model.version,
            "priced_at": model.priced_at,
            "resolved": model.resolution.to_json(),
        }
        # The text after the components, per format read (None: flat counts).
        self.tails: dict[str | None, str] = {}
        for form in (None, *FORMATS):
            rest["format"] = form
            self.tails[form] = "]," + _escaped(orjson.dumps(rest)[1:].decode()) + "\n"
        # (the places of a line's components, format) -> its template (see _template).
        self.templates: dict[tuple[int, str | None], bytes] = {}

    @classmethod
    def of(cls, model: ModelAt, service_tier: str, prompt: int) -> _Answers | None:
        """The answers of `model` at `service_tier` for a prompt of `prompt` tokens (and every
        prompt in its long-context tier), or None where token_plan has no plan.

        Kept across batches: each is a pure function of the (frozen) price object and the
        resolution's text, so the next batch of the same catalog does not serialize its
        ~2,000 models again. Keyed by id() with a weak reference (ModelPrice holds dicts, so
        is not hashable): a reused id of a dropped model is seen as a miss, never a hit.
        """
        price = model.price
        above = tier_above(price, prompt, service_tier)
        key = (id(price), model.version, model.priced_at, *model.resolution.to_json().values())
        cached = _KEPT.get((key, service_tier, above))
        if cached is not None and cached[0]() is price:
            return cached[1]
        plan = token_plan(price, service_tier, prompt)
        scale = None if plan is None else _scale(plan.prices)
        answers = None if plan is None or scale is None else cls(model, plan, scale)
        if len(_KEPT) >= _KEEP:
            _KEPT.clear()  # a new catalog's models replace the old ones
        _KEPT[key, service_tier, above] = (weakref.ref(price), answers)
        return answers

    def line(self, quantities: list[tuple[int, int]], form: str | None) -> bytes | None:
        """The answer line of the non-zero token `quantities` ((place in TOKEN_QUANTITIES,
        count), in that order) read in format `form` (None: flat counts), or None unless this
        prices every quantity given."""
        prices = self.prices
        scale = self.scale
        total = 0
        places = 0  # a bit per component: which template
        values: list[Any] = [""]  # the total's text first, filled in below
        for index, quantity in quantities:
            price = prices[index]
            if price is None or type(quantity) is not int:
                return None
            cost = quantity * price
            total += cost
            places |= 1 << index
            values.append(quantity)
            values.append(_money(cost, scale))
        template = self.templates.get((places, form))
        if template is None:
            template = self._template(places, form)
            if template is None:
                return None
        values[0] = _money(total, scale)
        return template % tuple(values)

    def _template(self, places: int, form: str | None) -> bytes | None:
        """The template of lines with the components at `places` (bits) read in `form`."""
        tail = self.tails.get(form)
        if tail is None:
            return None
        parts = [part for index, part in enumerate(self.parts) if places >> index & 1]
        template = (self.head + ",".join(p for p in parts if p is not None) + tail).encode()
        self.templates[places, form] = template
        return template


# Answers kept across batches: (price id, version, priced_at, requested, by, tier) -> (a weak
# reference to the price, its answers or None). Bounded: cleared when full.
_KEPT: dict[tuple[Any, ...], tuple[weakref.ref[Any], _Answers | None]] = {}
_KEEP = 50_000


def _flat_quantities(data: dict[str, Any]) -> list[tuple[int, int]] | None:
    """The non-zero token counts of a flat request (`model` and TOKEN_QUANTITIES keys only)
    as (place in TOKEN_QUANTITIES, count), in that order; None unless each is a whole number
    in range (what parse_cost_request accepts; anything else goes to it, which names the
    field)."""
    quantities = []
    for name, quantity in data.items():
        index = _INDEX.get(name)
        if index is None:
            continue  # `model`
        if type(quantity) is not int or not 0 <= quantity <= MAX_QUANTITY:
            return None
        if quantity:
            quantities.append((index, quantity))
    quantities.sort()
    return quantities


def _scale(prices: tuple[Any, ...]) -> int | None:
    """The fewest decimals that write every price as an integer, or None if one is negative,
    not finite or longer than _MAX_DIGITS (price_usage prices those)."""
    scale = 0
    for found in prices:
        if found is None:
            continue
        sign, digits, exponent = found[0].as_tuple()
        if sign or not isinstance(exponent, int) or len(digits) + abs(exponent) > _MAX_DIGITS:
            return None
        scale = max(scale, -exponent)
    return scale


def _money(amount: int, scale: int) -> bytes:
    """`amount` (>= 0) x 10^-scale dollars as decimal_text writes it (no exponent, no trailing
    zero): its digits with a point put `scale` from the right (zeros put before where it has
    fewer), trailing zeros and a bare point dropped: 150 at scale 2 -> "1.5", 300 -> "3".
    Slicing its digits, not dividing: about twice as fast as divmod and a format."""
    text = b"%d" % amount
    if not scale:
        return text
    if len(text) <= scale:
        text = b"0" * (scale + 1 - len(text)) + text
    whole, fraction = text[:-scale], text[-scale:].rstrip(b"0")
    return whole + b"." + fraction if fraction else whole


def _component_template(name: str, price: Decimal, price_name: str) -> str:
    """A component's text, its quantity and cost left as `%d` and `%s`."""
    unit, price_text = _text(QUANTITY_UNITS[name]), _text(decimal_text(price))
    million = per_million_of(QUANTITY_UNITS[name], price)
    million_text = "null" if million is None else _text(million)
    return (
        _escaped(f'{{"name":{_text(name)},"quantity":')
        + "%d"
        + _escaped(
            f',"unit":{unit},"price":{price_text},"price_per_million":{million_text},'
            f'"price_name":{_text(price_name)},"cost":"'
        )
        + '%s"}'
    )


def _escaped(text: str) -> str:
    """Fixed text inside a %-template (a model named "50%-off" stays itself)."""
    return text.replace("%", "%%")


def _text(value: str) -> str:
    """`value` as a JSON string, as orjson writes it."""
    return orjson.dumps(value).decode()


def _key_given_twice(raw: bytes, data: Any) -> str | None:
    """A key some object of the line names twice, or None.

    orjson keeps the last of `{"input_tokens": 1, "input_tokens": 1000000000}` silently; the
    single route refuses it (a proxy that checked one value must not see us price the other),
    and so does a batch line. Cleared by counting: every key the line writes is followed by
    its own colon, so if the line has no more colons than its parsed objects have keys, it
    wrote no key twice (a colon inside a string only adds to the count). Nor did a line that
    is the compact JSON of what was parsed (what orjson, JavaScript's JSON.stringify and Go
    write): those bytes read back as the same pairs, and the parsed object has each key once.
    Nor did a line without a backslash whose colons are exactly one per key and those inside
    its keys and texts (a time in `at`): a key written twice adds its colon and its dropped
    value's, and only an escape (`\\u003a`) could hide a colon of a text to make up for them.
    Any other line is re-read by the standard parser, which sees every pair.
    """
    if type(data) is not dict:
        return None
    colons = raw.count(b":")
    if colons == len(data) or colons == _keys_in(data) or raw == orjson.dumps(data):
        return None
    if b"\\" not in raw and colons == _written_colons(data):
        return None
    twice = first_key_twice(raw)
    return None if twice is None else twice[:100]


def _keys_in(value: dict[str, Any]) -> int:
    """How many keys the objects in a parsed JSON object have, nested ones included."""
    keys = 0
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if type(item) is dict:
            keys += len(item)
            item = item.values()
        for inner in item:
            if type(inner) is dict or type(inner) is list:
                pending.append(inner)
    return keys


def _written_colons(value: dict[str, Any]) -> int:
    """The colons a JSON text of `value` holds when it writes each key once, with no escape:
    one after each key (nested ones included) and those inside its keys and texts."""
    colons = 0
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if type(item) is dict:
            colons += len(item)
            for key in item:
                colons += key.count(":")
            item = item.values()
        for inner in item:
            if type(inner) is str:
                colons += inner.count(":")
            elif type(inner) is dict or type(inner) is list:
                pending.append(inner)
    return colons


_UNREAD = object()


def _read_as_single(raw: bytes) -> Any:
    """A line orjson refuses, read as POST /api/cost reads a body (the standard parser), or
    _UNREAD. orjson refuses what the standard parser takes: integers beyond 64 bits, NaN, lone
    surrogates, a UTF-8 byte order mark (which Windows editors and spreadsheet exports write
    before line 1). Without this a line answered 400 "not valid JSON" where the same request
    alone (or in a JSON array) answers 422 naming its field."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return _UNREAD


def numbered_batches(chunks: Iterable[bytes]) -> Iterator[list[tuple[int, bytes | None]]]:
    """Split a byte stream into (line number from 1, line) pairs, skipping blank lines: one
    list per chunk read (the lines it ends), numbered and sorted out in one comprehension.

    A line longer than MAX_LINE (what POST /api/cost takes) comes as None and is not kept:
    a body that is one 100 MB line costs a pass over it, not 100 MB of memory (nor the
    quadratic copying of gluing each chunk to a growing remainder).
    """
    limit = MAX_LINE
    number = 0
    pending: list[bytes] = []  # the start of the line the last chunk left open
    pending_size = 0
    for chunk in chunks:
        lines = chunk.split(b"\n")
        if len(lines) == 1:  # no line ends in this chunk
            pending_size += len(chunk)
            if pending_size <= limit:
                pending.append(chunk)
            continue
        last = lines.pop()
        batch: list[tuple[int, bytes | None]] = []
        if pending_size:
            opened = lines[0]
            lines[0] = b"".join(pending) + opened if pending_size <= limit else b""
            overlong = pending_size + len(opened) > limit
            pending.clear()
            pending_size = 0
            number += 1
            if overlong:
                batch.append((number, None))
            elif lines[0].strip():
                batch.append((number, lines[0]))
            lines = lines[1:]
        # Blank (whitespace only) lines give nothing; an overlong one gives None.
        batch += [
            (at, raw if len(raw) <= limit else None)
            for at, raw in enumerate(lines, number + 1)
            if len(raw) > limit or raw.strip()
        ]
        number += len(lines)
        if batch:
            yield batch
        pending_size = len(last)
        if last:
            pending.append(last)
    if pending_size > limit:
        yield [(number + 1, None)]
    elif pending_size and (rest := b"".join(pending)).strip():
        yield [(number + 1, rest)]
