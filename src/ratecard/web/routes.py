"""Route specs: each route declared once, registering its view and describing it for OpenAPI.

Each area declares its routes with `route_registrar(blueprint, schemas=...)`; registering the
blueprint on an app records the specs in that app's route table (`routes_of(app)`), which is
where /openapi.json reads them. No area imports another's routes, and the document lists
exactly the routes the app serves.

Request and response models are named by text (`body="CostRequest"`) and looked up in the
schema modules the areas declared, on first use: pydantic and the models stay out of start-up.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from flask import Blueprint
from flask.blueprints import BlueprintSetupState
from flask.sansio.app import App

_FLASK_PARAM = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>")
# app.extensions keys of the app's route table and of its tags' descriptions.
ROUTE_TABLE = "ratecard.routes"
TAG_TABLE = "ratecard.route_tags"
# The modules holding the models routes name; each area adds its own (see route_registrar).
_SCHEMA_MODULES: list[str] = []


@dataclass(frozen=True)
class RouteSpec:
    """One API route: what it validates and what it answers (model names from `schemas`)."""

    method: str
    rule: str  # Flask rule, e.g. /api/models/<path:model_id>
    endpoint: str
    summary: str  # one short line (a client generator's method comment, a docs page's menu)
    description: str = ""  # what the summary leaves out: forms, limits, errors
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
    # Media type per status when not JSON (the Atom feed).
    media_types: Mapping[int, str] = field(default_factory=dict)
    tag: str = ""  # the group it is listed under, set by its registrar
    # Answers carry an ETag and a matching If-None-Match gets a 304 (web/cached_answers.py).
    conditional: bool = False

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
    blueprint: Blueprint, *, schemas: str, tag: str, tag_description: str
) -> Callable[[RouteSpec], Callable[[View], View]]:
    """Return a `@route(spec)` decorator: register the view on `blueprint` (its url_prefix
    stripped from the documented rule) and the spec, listed under `tag`, in the route table of
    every app the blueprint is registered on. `schemas` is the module holding the models the
    specs name. Several registrars may share a blueprint (one per tag)."""
    prefix = blueprint.url_prefix or ""
    specs: list[RouteSpec] = []
    if schemas not in _SCHEMA_MODULES:
        _SCHEMA_MODULES.append(schemas)

    def record(setup: BlueprintSetupState) -> None:
        # Read when the blueprint is registered, after its module has declared every route.
        routes_of(setup.app).extend(specs)
        tags_of(setup.app).setdefault(tag, tag_description)

    blueprint.record(record)

    def route(spec: RouteSpec) -> Callable[[View], View]:
        def register(view: View) -> View:
            specs.append(replace(spec, tag=tag))
            blueprint.add_url_rule(
                spec.rule.removeprefix(prefix), spec.endpoint, view, methods=[spec.method]
            )
            return view

        return register

    return route


def routes_of(app: App) -> list[RouteSpec]:
    """The specs of every route registered on `app`, in registration order."""
    table: list[RouteSpec] = app.extensions.setdefault(ROUTE_TABLE, [])
    return table


def tags_of(app: App) -> dict[str, str]:
    """The tags the routes of `app` are listed under, with their descriptions, in order."""
    table: dict[str, str] = app.extensions.setdefault(TAG_TABLE, {})
    return table


def schema_model(name: str) -> Any:
    """Return the pydantic model called `name` in the schema modules the areas declared."""
    for module in _SCHEMA_MODULES:
        found = getattr(importlib.import_module(module), name, None)
        if found is not None:
            return found
    raise LookupError(f"no schema module declares a model {name!r}")
