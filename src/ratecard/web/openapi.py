"""GET /openapi.json: an OpenAPI 3.0 document generated from the route table and the very
pydantic models that validate requests (see routes.ROUTES), so it cannot drift from the code.

Pydantic emits JSON Schema 2020-12 (`anyOf: [X, {type: null}]`, `const`); `to_openapi30`
rewrites those few constructs into their OpenAPI 3.0 spelling (`nullable`, `enum`), the
dialect fuzzers and client generators support best.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify

from ratecard import __version__

blueprint = Blueprint("openapi", __name__)

_FLASK_PARAM = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>")
_REF_TEMPLATE = "#/components/schemas/{model}"
BEARER_SCHEME = "adminBearer"


@dataclass(frozen=True)
class RouteSpec:
    """One API route: what it validates and what it answers (model names from `schemas`)."""

    method: str
    rule: str  # Flask rule, e.g. /api/models/<path:model_id>
    endpoint: str
    summary: str
    query: str | None = None
    body: str | None = None
    responses: Mapping[int, str] = field(default_factory=dict)
    # Realistic values (a model every catalog serves), so that a client generator or a fuzzer
    # starts from a request that reaches the operation's logic rather than a 404.
    path_examples: Mapping[str, str] = field(default_factory=dict)
    body_example: Mapping[str, Any] | list[Any] | None = None
    # Named examples (OpenAPI `examples`), one per form of a body that takes several.
    body_examples: Mapping[str, Any] | None = None
    bearer: bool = False  # requires `Authorization: Bearer $RATECARD_ADMIN_TOKEN`
    # Media type per status when not JSON (the Atom feed); issue 14.
    media_types: Mapping[int, str] = field(default_factory=dict)

    @property
    def openapi_path(self) -> str:
        """The rule in OpenAPI spelling: /api/models/{model_id}."""
        return _FLASK_PARAM.sub(lambda m: "{" + m.group("name") + "}", self.rule)

    @property
    def path_params(self) -> list[str]:
        return [m.group("name") for m in _FLASK_PARAM.finditer(self.rule)]

    @property
    def int_path_params(self) -> set[str]:
        return {
            m.group("name") for m in _FLASK_PARAM.finditer(self.rule) if m.group("conv") == "int"
        }


View = TypeVar("View", bound=Callable[..., Any])


def route_registrar(
    blueprint: Blueprint, routes: list[RouteSpec]
) -> Callable[[RouteSpec], Callable[[View], View]]:
    """Return a `@route(spec)` decorator: register the view on `blueprint` (its url_prefix
    stripped from the documented rule) and list `spec` in `routes` for /openapi.json."""
    prefix = blueprint.url_prefix or ""

    def route(spec: RouteSpec) -> Callable[[View], View]:
        def register(view: View) -> View:
            routes.append(spec)
            blueprint.add_url_rule(
                spec.rule.removeprefix(prefix), spec.endpoint, view, methods=[spec.method]
            )
            return view

        return register

    return route


def schema_model(name: str) -> Any:
    """Return the pydantic model called `name` in api.schemas or changes.schemas (lazily)."""
    from ratecard.web.api import (
        change_schemas,  # issue 14
        schemas,
    )

    return getattr(schemas, name, None) or getattr(change_schemas, name)


def build_document(routes: Iterable[RouteSpec]) -> dict[str, Any]:
    """Generate the OpenAPI 3.0 document for `routes` from their pydantic models."""
    from pydantic.json_schema import models_json_schema

    routes = list(routes)
    names = sorted(
        {n for r in routes for n in (r.body, *r.responses.values()) if n is not None} | {"ErrorOut"}
    )
    mode = {n: "validation" if any(r.body == n for r in routes) else "serialization" for n in names}
    _, defs = models_json_schema(
        [(schema_model(n), mode[n]) for n in names],  # type: ignore[misc]
        ref_template=_REF_TEMPLATE,
    )
    components = {k: to_openapi30(v) for k, v in defs.get("$defs", {}).items()}
    paths: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ratecard",
            "version": __version__,
            "description": "AI model prices: exact decimal strings, USD per unit.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                BEARER_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The admin token (RATECARD_ADMIN_TOKEN)",
                }
            },
        },
    }


def _operation(route: RouteSpec) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": (
                {"type": "integer", "minimum": 0}
                if name in route.int_path_params
                else {"type": "string", "minLength": 1, "maxLength": 512}
            ),
            **({"example": route.path_examples[name]} if name in route.path_examples else {}),
        }
        for name in route.path_params
    ]
    if route.query is not None:
        parameters.extend(_query_parameters(schema_model(route.query)))
    operation: dict[str, Any] = {
        "operationId": route.endpoint,
        "summary": route.summary,
        "parameters": parameters,
        "responses": {
            str(status): {
                "description": _DESCRIPTIONS.get(status, "response"),
                "content": {
                    route.media_types.get(status, "application/json"): {
                        "schema": {"$ref": _ref(model)}
                    }
                },
            }
            # 414: a request line over gunicorn's limit, answered in JSON (gunicorn_worker).
            for status, model in sorted({**route.responses, 414: "ErrorOut"}.items())
        },
    }
    if route.bearer:
        operation["security"] = [{BEARER_SCHEME: []}]
    if route.body is not None:
        media: dict[str, Any] = {"schema": {"$ref": _ref(route.body)}}
        if route.body_examples is not None:
            media["examples"] = {
                name: {"value": value} for name, value in route.body_examples.items()
            }
        elif isinstance(route.body_example, list):
            media["example"] = list(route.body_example)
        elif route.body_example is not None:
            media["example"] = dict(route.body_example)
        operation["requestBody"] = {"required": True, "content": {"application/json": media}}
    return operation


def _query_parameters(model: Any) -> list[dict[str, Any]]:
    schema = to_openapi30(model.model_json_schema(ref_template=_REF_TEMPLATE))
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = {k: v for k, v in prop.items() if k not in ("title", "nullable")}
        params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    return params


def _ref(model: str) -> str:
    return _REF_TEMPLATE.format(model=model)


_DESCRIPTIONS = {
    200: "OK",
    201: "created",
    202: "accepted: started",
    400: "malformed request",
    401: "missing or wrong bearer token",
    403: "admin routes disabled (no RATECARD_ADMIN_TOKEN)",
    404: "not found",
    409: "conflict: already running or resolved",
    413: "body too large",
    414: "request line longer than 8190 bytes",
    415: "the body is not `Content-Type: application/json`",
    422: "invalid input: `field` names it",
    503: "catalog or a dependency (database, Redis) unavailable",
}


def to_openapi30(schema: Any) -> Any:
    """Rewrite JSON Schema 2020-12 constructs pydantic emits into OpenAPI 3.0 ones."""
    if isinstance(schema, list):
        return [to_openapi30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: to_openapi30(v) for k, v in schema.items()}
    any_of = out.get("anyOf")
    if isinstance(any_of, list) and {"type": "null"} in any_of:
        rest = [s for s in any_of if s != {"type": "null"}]
        del out["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            out.update(rest[0])
        elif len(rest) == 1:
            out["allOf"] = rest  # 3.0 ignores siblings of $ref
        else:
            out["anyOf"] = rest
        out["nullable"] = True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if out.get("default", 0) is None:
        del out["default"]
    return out


_document: dict[str, Any] | None = None
_document_lock = threading.Lock()


@blueprint.get("/openapi.json")
def openapi_document() -> Response:
    """Serve the generated document (built once per process, on first request)."""
    global _document
    if _document is None:
        with _document_lock:
            if _document is None:
                from ratecard.web.admin.endpoints import ADMIN_ROUTES
                from ratecard.web.api.models import ROUTES
                from ratecard.web.openapi_routes import change_routes  # issue 14

                _document = build_document([*ROUTES, *ADMIN_ROUTES, *change_routes()])
    return jsonify(_document)
