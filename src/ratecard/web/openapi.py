"""GET /openapi.json and /docs: an OpenAPI 3.0 document generated from the app's route table and the
pydantic models that validate requests (see `ratecard.web.routes`), so it cannot drift from the
code: it lists exactly the routes the app registered.

Pydantic emits JSON Schema 2020-12 (`anyOf: [X, {type: null}]`, `const`); `to_openapi30`
rewrites those few constructs into their OpenAPI 3.0 spelling (`nullable`, `enum`), the
dialect fuzzers and client generators support best.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template

from ratecard import __version__
from ratecard.web.routes import RouteSpec, routes_of, schema_model, tags_of

blueprint = Blueprint("openapi", __name__)

# app.extensions key of the document, built on first request from the app's route table.
DOCUMENT = "ratecard.openapi"
_REF_TEMPLATE = "#/components/schemas/{model}"
BEARER_SCHEME = "adminBearer"


def build_document(
    routes: Iterable[RouteSpec], tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Generate the OpenAPI 3.0 document for `routes` (listed under `tags`, name ->
    description) from their pydantic models."""
    from pydantic.json_schema import models_json_schema

    routes = list(routes)
    names = sorted(
        {n for r in routes for n in (r.body, *r.responses.values()) if n is not None} | {"ErrorOut"}
    )
    mode = {n: "validation" if any(r.body == n for r in routes) else "serialization" for n in names}
    keys: dict[str, Any] = {n: (schema_model(n), mode[n]) for n in names}
    tops, defs = models_json_schema(list(keys.values()), ref_template=_REF_TEMPLATE)
    components = {k: to_openapi30(v) for k, v in defs.get("$defs", {}).items()}
    # Every model a route names is a component under that name (pydantic names it after its
    # class: a model that is only an alias, `X = RootModel[...]`, would dangle).
    dangling = [n for n in names if tops[keys[n]].get("$ref") != _ref(n)]
    if dangling:
        raise LookupError(f"models named by routes but not defined as classes: {dangling}")
    paths: dict[str, Any] = {}
    # Grouped by tag (in the order the areas registered them), then by path: a docs page and
    # a generated client list them so, whatever order the modules happened to be imported in.
    rank = {tag: i for i, tag in enumerate(tags or {})}
    for route in sorted(routes, key=lambda r: (rank.get(r.tag, len(rank)), r.openapi_path)):
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ratecard",
            "version": __version__,
            "description": "AI model prices and the exact cost of a request: decimal strings, "
            "USD per unit. The documents each instance serves are this one's.",
        },
        # Relative: the document is served by the instance it describes, behind any proxy.
        "servers": [{"url": "/", "description": "this ratecard instance"}],
        "tags": [{"name": name, "description": text} for name, text in (tags or {}).items()],
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
        **({"description": route.description} if route.description else {}),
        **({"tags": [route.tag]} if route.tag else {}),
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
            # 414: a request line over gunicorn's limit, answered in JSON (gunicorn_worker);
            # 408: a body slower than the pace rule (client_pace), on routes that take one.
            for status, model in sorted(
                {
                    **route.responses,
                    414: "ErrorOut",
                    **({408: "ErrorOut"} if route.body is not None else {}),
                }.items()
            )
        },
    }
    if route.conditional:
        _add_conditional(operation)
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


def _add_conditional(operation: dict[str, Any]) -> None:
    """Document the ETag a 200 may carry, If-None-Match, and the 304 it earns."""
    operation["parameters"].append(
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": (
                "An ETag of an earlier answer: 304 while the answer is unchanged; "
                "any other value is ignored and the answer is sent"
            ),
            # No length limit: a value that names no current ETag is not an error (RFC 9110
            # §13.1.2), so a schema limit would document a refusal the service never makes.
            "schema": {"type": "string"},
        }
    )
    etag = {
        "description": "The answer's entity tag (a digest of its bytes), for If-None-Match.",
        "schema": {"type": "string"},
    }
    operation["responses"]["200"]["headers"] = {"ETag": etag}
    operation["responses"]["304"] = {
        "description": "not modified: the answer If-None-Match names is still current",
        "headers": {"ETag": etag},
    }
    operation["responses"] = dict(sorted(operation["responses"].items()))


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
    408: "the body arrived slower than RATECARD_UPLOAD_TIMEOUT and RATECARD_UPLOAD_MIN_RATE allow",
    409: "conflict: already running or resolved",
    413: "body too large",
    414: "request line longer than 8190 bytes",
    415: "the body is not `Content-Type: application/json`",
    422: "invalid input: `field` names it",
    503: "catalog or a dependency (database, Redis) unavailable",
}


# What `{"type": "null"}` becomes (below); in an anyOf it makes the others nullable instead.
_NULL = {"nullable": True, "enum": [None]}


def to_openapi30(schema: Any) -> Any:
    """Rewrite JSON Schema 2020-12 constructs pydantic emits into OpenAPI 3.0 ones."""
    if isinstance(schema, list):
        return [to_openapi30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: to_openapi30(v) for k, v in schema.items()}
    any_of = out.get("anyOf")
    if isinstance(any_of, list) and _NULL in any_of:
        rest = [s for s in any_of if s != _NULL]
        del out["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            out.update(rest[0])
        elif len(rest) == 1:
            out["allOf"] = rest  # 3.0 ignores siblings of $ref
        else:
            out["anyOf"] = rest
        out["nullable"] = True
    if out.get("type") == "null":
        # A field that may only be null (a request shape excluding another's key): 3.0 has no
        # null type, so it is a nullable enum whose one value is null.
        del out["type"]
        out["nullable"] = True
        out["enum"] = [None]
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if out.get("nullable") and isinstance(out.get("enum"), list) and None not in out["enum"]:
        # OpenAPI 3.0: `nullable` does not widen an enum, so null must be one of its values.
        out["enum"] = [*out["enum"], None]
    if out.get("default", 0) is None:
        del out["default"]
    return out


_document_lock = threading.Lock()


def init_app(app: Flask) -> None:
    """Serve /openapi.json for the routes registered on `app` (register it after them)."""
    app.register_blueprint(blueprint)


def document_of(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of `app`'s routes (built once per app, on first use)."""
    document: dict[str, Any] | None = app.extensions.get(DOCUMENT)
    if document is None:
        with _document_lock:
            document = app.extensions.get(DOCUMENT)
            if document is None:
                document = build_document(routes_of(app), tags_of(app))
                app.extensions[DOCUMENT] = document
    return document


@blueprint.get("/openapi.json")
def openapi_document() -> Response:
    """Serve the generated document."""
    return jsonify(document_of(current_app))


@blueprint.get("/docs")
def docs_page() -> Response:
    """The API reference: Swagger UI over /openapi.json, from the package's own files."""
    return Response(render_template("docs.html"), mimetype="text/html")
