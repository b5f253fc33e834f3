"""Request parsing for every blueprint: query strings and JSON bodies, validated by the pydantic
models the routes name, with one error shape (400 not JSON, 415 not sent as JSON, 422 naming
the field).

Module-level imports stay light (no pydantic): the models load on the first request that
needs them, and a query string that is empty needs none (web/empty_queries.py).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Collection
from typing import Any

from flask import request

from ratecard.errors import RatecardError, UnsupportedMediaType, ValidationFailed
from ratecard.json_keys import key_text, refuse_key_given_twice
from ratecard.web.empty_queries import empty_query
from ratecard.web.routes import schema_model


def parse_query(model_name: str) -> Any:
    """Validate the query string with a pydantic model; a bad value is a 422 naming it."""
    if not request.args and (defaults := empty_query(model_name)) is not None:
        # The common lookup has no query string: its defaults, one shared object per model,
        # without pydantic (views never mutate a query).
        return defaults
    from pydantic import ValidationError

    try:
        # An empty query string of a model with a required parameter comes here too: a 422.
        return schema_model(model_name).model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise _validation_failed(exc) from None


def build_query_model(model_name: str) -> None:
    """Import and build the pydantic model of a query (the warm-up calls it for every route's
    query, so no first request with a query string pays pydantic's import and build)."""
    from pydantic import ValidationError

    with contextlib.suppress(ValidationError):  # a model with a required field: built anyway
        schema_model(model_name).model_validate({})


def parse_body(model_name: str) -> Any:
    """Validate a JSON body strictly; malformed JSON is a 400, a wrong value a 422.

    The work spent on a bad body stays bounded by its size and stops at the first error: a
    1 MB body of ~90,000 unknown keys cost ~1.3 s of CPU when pydantic built (twice) an error
    per key. A plain parse (~30 ms per MB) and a look at the keys reject it first; pydantic
    then sees only bodies whose keys are all fields, so it has at most a few errors to build
    (bench/hostile.py measures it).
    """
    from pydantic import ValidationError

    model = schema_model(model_name)
    known = model.model_fields if model.model_config.get("extra") == "forbid" else None
    raw, _data = read_json_body(known)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise _validation_failed(exc) from None


def read_json_body(
    known: Collection[str] | None, read: Callable[[Any], Any] | None = None
) -> tuple[bytes, Any]:
    """Return the raw body and its value once it is JSON with no key twice and (when `known`
    is given) an object's top-level keys all in `known`; else the 415, 400 or 422 naming the
    fault. `read` (given the parsed value, returning what to return in its place) runs before
    the key-twice check, which parses the whole body again: a body that `read` refuses (a
    megabyte of unknown keys) costs one parse, not two."""
    if request.mimetype != "application/json":
        # text/plain, form and multipart bodies are "simple" requests a browser sends cross-site
        # without a CORS preflight; insisting on JSON makes every such POST a preflighted one.
        raise UnsupportedMediaType(
            "the body must be sent as Content-Type: application/json", field="Content-Type"
        )
    raw = request.get_data(cache=False)
    data = parse_json(raw)
    if isinstance(data, dict) and known is not None:
        unknown = next((key for key in data if key not in known), None)
        if unknown is not None:
            shown = key_text(unknown)
            raise ValidationFailed(f"{shown}: Extra inputs are not permitted", field=shown)
    if read is not None:
        data = read(data)
    # Only now the slower parse that sees duplicate keys (a plain dict keeps the last one).
    refuse_key_given_twice(raw)
    return raw, data


def parse_json(raw: bytes) -> Any:
    """Parse a body as JSON; anything else is a 400. NaN and Infinity parse: pydantic then
    refuses them with a 422 naming their field."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        # RecursionError: `[[[[...` nested deeper than the parser's stack, a 400 like any
        # other body that is not JSON we accept.
        raise RatecardError("the body is not valid JSON") from None


def _validation_failed(exc: Any) -> RatecardError:
    # One call, without the inputs or URLs: errors() builds every error, and only the first
    # is reported.
    first = exc.errors(include_url=False, include_context=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        return RatecardError("the body is not valid JSON")
    field = ".".join(str(part) for part in first["loc"]) or "body"
    message = first["msg"]
    if first["type"] == "model_type":
        field, message = "body", "the body must be a JSON object"
    return ValidationFailed(f"{field}: {message}", field=field)
