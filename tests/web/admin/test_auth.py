"""The admin bearer token: refused when missing, wrong or malformed; 403 when unconfigured."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ratecard.errors import Forbidden, Unauthorized
from ratecard.web.auth import check_bearer
from tests.web.admin.conftest import TOKEN, AdminApp, bearer, js

ADMIN_ROUTES = [
    ("POST", "/admin/refresh"),
    ("GET", "/admin/worker"),
    ("POST", "/admin/held/1/accept"),
    ("POST", "/admin/held/1/reject"),
]


@pytest.mark.parametrize(
    ("expected", "header", "error"),
    [
        (None, f"Bearer {TOKEN}", Forbidden),
        ("", f"Bearer {TOKEN}", Forbidden),
        (TOKEN, None, Unauthorized),
        (TOKEN, "", Unauthorized),
        (TOKEN, "Bearer", Unauthorized),
        (TOKEN, "Bearer ", Unauthorized),
        (TOKEN, f"Basic {TOKEN}", Unauthorized),
        (TOKEN, TOKEN, Unauthorized),
        (TOKEN, f"Bearer {TOKEN} extra", Unauthorized),
        (TOKEN, f"Bearer {TOKEN[:-1]}", Unauthorized),
        (TOKEN, f"Bearer {TOKEN}x", Unauthorized),
        (TOKEN, "Bearer ünïcödé", Unauthorized),
        (TOKEN, f"Bearer {TOKEN}", None),
        (TOKEN, f"bearer {TOKEN}", None),  # the scheme is case-insensitive (RFC 7235)
        (TOKEN, f"  Bearer   {TOKEN}  ", None),
    ],
)
def test_check_bearer(expected: str | None, header: str | None, error: type | None) -> None:
    if error is None:
        check_bearer(expected, header)
    else:
        with pytest.raises(error):
            check_bearer(expected, header)


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_every_admin_route_answers_403_when_no_token_is_configured(
    build_app: Callable[..., AdminApp], method: str, path: str
) -> None:
    client = build_app(admin_token=None).client
    for headers in ({}, bearer(), bearer("anything")):
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 403, (path, headers, response.data)
        assert response.is_json and js(response)["error"] == "forbidden"


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Basic YWRtaW46YWRtaW4=", "Bearer", TOKEN, f"Token {TOKEN}"],
)
def test_refused_credentials_get_401_json_with_a_bearer_challenge(
    admin_app: AdminApp, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = admin_app.client.open(path, method=method, headers=headers)
    assert response.status_code == 401, response.data
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.is_json and js(response)["error"] == "unauthorized"
    assert TOKEN not in response.get_data(as_text=True)


def test_the_right_token_reads_the_worker_status(admin_app: AdminApp) -> None:
    response = admin_app.client.get("/admin/worker", headers=bearer())
    assert response.status_code == 200, response.data
    data = js(response)
    assert data["backend"] == "database"  # no Redis configured in this app
    assert "refresh" in data["jobs"]
    assert response.headers["Cache-Control"] == "no-store"
    assert TOKEN not in response.get_data(as_text=True)


def test_a_cookie_carrying_the_token_is_not_a_credential(admin_app: AdminApp) -> None:
    # A browser sends cookies cross-site by itself; only the header may authenticate.
    admin_app.client.set_cookie("Authorization", f"Bearer {TOKEN}")
    admin_app.client.set_cookie("token", TOKEN)
    response = admin_app.client.post("/admin/refresh")
    assert response.status_code == 401
