"""/openapi.json as a client generator reads it: every reference resolves, every operation is
grouped under a described tag with a one-line summary, nullable enums admit null, and the
document is a valid OpenAPI 3.0 document."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from ratecard.web.openapi import build_document


@pytest.fixture
def document(make_app: Callable[..., Flask]) -> dict[str, Any]:
    response = make_app().test_client().get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_reference_names_a_component(document: dict[str, Any]) -> None:
    referenced = set(re.findall(r"#/components/schemas/(\w+)", json.dumps(document)))
    assert {"CostBatchOut", "CostBatchRequest", "CostOut"} <= referenced
    assert referenced - set(document["components"]["schemas"]) == set()


def test_a_model_only_aliased_is_refused_not_left_dangling() -> None:
    from ratecard.web.routes import RouteSpec

    spec = RouteSpec("GET", "/x", "x", "x", responses={200: "ModelListOut"})
    assert "ModelListOut" in build_document([spec])["components"]["schemas"]
    with pytest.raises(LookupError, match="no schema module"):
        build_document([RouteSpec("GET", "/x", "x", "x", responses={200: "NoSuchModel"})])


def test_operations_are_grouped_under_described_tags_with_one_line_summaries(
    document: dict[str, Any],
) -> None:
    tags = {tag["name"]: tag["description"] for tag in document["tags"]}
    assert set(tags) == {"models", "cost", "changes", "admin", "webhooks", "price books"}
    assert all(tags.values())
    for path, method, operation in operations(document):
        assert len(operation["tags"]) == 1 and operation["tags"][0] in tags, (method, path)
        summary = operation["summary"]
        assert 0 < len(summary) <= 80 and "\n" not in summary, (method, path, summary)
    cost = document["paths"]["/api/cost"]["post"]
    assert cost["tags"] == ["cost"] and "422" in cost["description"]
    assert document["paths"]["/admin/webhooks"]["post"]["tags"] == ["webhooks"]
    assert document["paths"]["/admin/price-books/{name}"]["put"]["tags"] == ["price books"]


def test_the_document_names_its_own_instance_as_the_server(document: dict[str, Any]) -> None:
    assert document["servers"] == [{"url": "/", "description": "this ratecard instance"}]


def test_a_nullable_enum_admits_null(document: dict[str, Any]) -> None:
    """A flat-count answer has `format: null`: a generated client checks it against the enum."""
    schema = document["components"]["schemas"]["CostOut"]["properties"]["format"]
    assert schema["nullable"] is True and None in schema["enum"]
    assert "openai.chat" in schema["enum"]

    def nullable_enums(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if node.get("nullable") and "enum" in node:
                yield node
            for value in node.values():
                yield from nullable_enums(value)
        elif isinstance(node, list):
            for value in node:
                yield from nullable_enums(value)

    found = list(nullable_enums(document))
    assert found and all(None in node["enum"] for node in found)


def test_the_docs_page_uses_only_the_packages_own_files(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/swagger-ui/swagger-ui-bundle.js" in assets and "/openapi.json" in assets
    assert not [a for a in assets if "//" in a], "no file from another host (offline, CSP)"
    for asset in assets:
        if asset.startswith("/static/"):
            assert client.get(asset).status_code == 200, asset
    assert "<script>" not in html, "the CSP allows no inline script"
    dashboard = client.get("/").get_data(as_text=True)
    assert 'href="/docs"' in dashboard, "the dashboard links the docs page"


def test_the_document_is_a_valid_openapi_30_document(document: dict[str, Any]) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    validate(document)  # raises on any error: a dangling $ref, a bad schema, a missing field
    # The validator is not one that passes anything: each fault below is caught.
    dangling = json.loads(json.dumps(document))
    dangling["paths"]["/api/cost"]["post"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] = {"$ref": "#/components/schemas/NoSuchModel"}
    with pytest.raises(Exception, match="NoSuchModel"):
        validate(dangling)
    unanswered = json.loads(json.dumps(document))
    del unanswered["paths"]["/api/cost"]["post"]["responses"]
    with pytest.raises(OpenAPIValidationError):
        validate(unanswered)
