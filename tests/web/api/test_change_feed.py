"""GET /api/changes (cursor paging, filters, bad input) and GET /api/changes.atom (valid Atom).

The Atom documents parsed here are our own output (xml.etree, as the brief asks): S314's
untrusted-XML concern does not apply.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import update

from ratecard.schema import changes
from tests.support.changes_app import MODELS, ChangesApp, tiny_feed

ATOM = "{http://www.w3.org/2005/Atom}"


def test_every_change_is_listed_once_across_cursor_pages(changes_app: ChangesApp) -> None:
    changes_app.refresh()
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}, drop=("gpt-4o-mini",)))

    seen: list[dict] = []
    cursor = None
    for _ in range(10):
        url = "/api/changes?limit=2" + (f"&since={cursor}" if cursor else "")
        page = changes_app.client.get(url).get_json()
        assert page["next_cursor"], "a cursor to poll from is always given"
        if not page["items"]:
            break
        seen.extend(page["items"])
        cursor = page["next_cursor"]

    kinds = [(c["kind"], c["model"]) for c in seen]
    assert sorted(kinds[:4]) == sorted(("added", model) for model in MODELS)
    assert sorted(kinds[4:]) == [("changed", "gpt-4o"), ("removed", "gpt-4o-mini")]
    seqs = [c["seq"] for c in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) == 6
    # Polling from the last cursor returns nothing new, and the same cursor to poll again.
    tail = changes_app.client.get(f"/api/changes?since={cursor}").get_json()
    assert tail == {"items": [], "next_cursor": cursor}
    changed = next(c for c in seen if c["kind"] == "changed")
    assert (changed["old"]["input_per_token"], changed["new"]["input_per_token"]) == (
        "0.0000025",
        "0.000003",
    )


def test_filters_by_model_provider_source_and_kind(changes_app: ChangesApp) -> None:
    changes_app.refresh()
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))

    def models(query: str) -> list[tuple[str, str]]:
        items = changes_app.client.get(f"/api/changes?{query}").get_json()["items"]
        return [(c["kind"], c["model"]) for c in items]

    assert models("model=gpt-4o") == [("added", "gpt-4o"), ("changed", "gpt-4o")]
    assert models("kind=changed") == [("changed", "gpt-4o")]
    assert models("provider=anthropic") == [("added", "claude-3-haiku-20240307")]
    assert len(models("source=litellm")) == 5
    assert models("source=openrouter") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=abc", "since"),
        ("since=-1", "since"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("kind=renamed", "kind"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    changes_app: ChangesApp, query: str, field: str
) -> None:
    response = changes_app.client.get(f"/api/changes?{query}")
    assert response.status_code == 422
    assert response.get_json()["field"] == field


def test_atom_feed_is_valid_with_an_entry_per_change(changes_app: ChangesApp) -> None:
    changes_app.refresh()
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))

    response = changes_app.client.get("/api/changes.atom?limit=3")
    assert response.status_code == 200
    assert response.content_type.startswith("application/atom+xml")
    root = ET.fromstring(  # noqa: S314
        response.data
    )
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.findtext(f"{ATOM}{required}"), f"feed without <{required}>"
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    assert root.find(f"{ATOM}link[@rel='self']") is not None
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 3
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == 3 and all(i and i.startswith("tag:") for i in ids)
    for entry in entries:
        assert entry.findtext(f"{ATOM}title")
        assert entry.findtext(f"{ATOM}updated", "").endswith("Z")
    newest = entries[0]
    assert newest.findtext(f"{ATOM}title") == "gpt-4o (litellm): changed"
    assert "0.0000025 -> 0.000003" in newest.findtext(f"{ATOM}summary", "")
    assert root.findtext(f"{ATOM}updated") == newest.findtext(f"{ATOM}updated")


def test_atom_feed_of_an_empty_log_is_still_valid(changes_app: ChangesApp) -> None:
    root = ET.fromstring(  # noqa: S314
        changes_app.client.get("/api/changes.atom").data
    )
    assert root.findtext(f"{ATOM}id") and root.findtext(f"{ATOM}updated")
    assert root.findall(f"{ATOM}entry") == []


def test_the_feed_works_on_sqlite_too(build_changes_app: object) -> None:
    app: ChangesApp = build_changes_app("migrated_sqlite_url")  # type: ignore[operator]
    app.refresh()
    app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    page = app.client.get("/api/changes?since=4").get_json()
    assert [(c["seq"], c["kind"]) for c in page["items"]] == [(5, "changed")]
    assert page["next_cursor"] == "5"


def test_openapi_documents_the_feed_and_the_webhook_routes(changes_app: ChangesApp) -> None:
    document = changes_app.client.get("/openapi.json").get_json()
    paths = document["paths"]
    assert "/api/changes" in paths and "/api/changes.atom" in paths
    assert (
        "application/atom+xml" in paths["/api/changes.atom"]["get"]["responses"]["200"]["content"]
    )
    assert "post" in paths["/admin/webhooks"] and "get" in paths["/admin/webhooks"]
    assert "delete" in paths["/admin/webhooks/{webhook_id}"]
    assert "/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver" in paths
    assert "201" in paths["/admin/webhooks"]["post"]["responses"]


def test_a_cursor_beyond_the_head_is_brought_back_to_it(changes_app: ChangesApp) -> None:
    changes_app.refresh()
    page = changes_app.client.get("/api/changes?since=999999").get_json()
    assert page == {"items": [], "next_cursor": "4"}
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    again = changes_app.client.get(f"/api/changes?since={page['next_cursor']}").get_json()
    assert [c["kind"] for c in again["items"]] == ["changed"]


def href(root: ET.Element, path: str) -> str:
    found = root.find(path)
    assert found is not None, path
    return found.get("href") or ""


def test_atom_links_never_come_from_the_host_header(build_changes_app: Any) -> None:
    # A shared cache keeps the document one client asked for: links built from its Host
    # header would send every reader wherever that client said.
    relative = build_changes_app()
    relative.refresh()
    evil = relative.client.get("/api/changes.atom?limit=1", headers={"Host": "evil.example"})
    assert b"evil.example" not in evil.data
    root = ET.fromstring(evil.data)  # noqa: S314
    assert href(root, f"{ATOM}link[@rel='self']") == "/api/changes.atom?limit=1"
    assert href(root, f"{ATOM}entry/{ATOM}link").startswith("/api/models/")

    public = build_changes_app(public_url="https://prices.example.com")
    public.refresh()
    root = ET.fromstring(  # noqa: S314
        public.client.get("/api/changes.atom", headers={"Host": "evil.example"}).data
    )
    assert href(root, f"{ATOM}link[@rel='self']") == "https://prices.example.com/api/changes.atom"
    assert href(root, f"{ATOM}entry/{ATOM}link").startswith("https://prices.example.com/api/")


def test_atom_is_cached_a_minute_and_a_poll_that_changed_nothing_is_a_304(
    changes_app: ChangesApp,
) -> None:
    changes_app.refresh()
    first = changes_app.client.get("/api/changes.atom")
    assert first.headers["Cache-Control"] == "public, max-age=60"
    etag = first.headers["ETag"]
    again = changes_app.client.get("/api/changes.atom", headers={"If-None-Match": etag})
    assert (again.status_code, again.data) == (304, b"")
    changes_app.refresh(tiny_feed({"gpt-4o": "3e-06"}))
    moved = changes_app.client.get("/api/changes.atom", headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["ETag"] != etag


def test_a_control_character_logged_before_feeds_refused_them_keeps_atom_valid(
    changes_app: ChangesApp,
) -> None:
    changes_app.refresh()
    with changes_app.engine.begin() as conn:
        conn.execute(update(changes).where(changes.c.seq == 1).values(model_id="acme/bell\x07"))
    data = changes_app.client.get("/api/changes.atom").data
    titles = [e.findtext(f"{ATOM}title") for e in ET.fromstring(data)]  # noqa: S314
    assert "acme/bell\\u0007 (litellm): added" in titles
