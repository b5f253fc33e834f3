"""The change feed as Atom 1.0 (RFC 4287): one entry per change, newest first.

Links are built from the configured public URL, or are relative (RFC 4287 takes IRI
references, resolved against the feed's own URL), never from a request's Host header: a
shared cache would otherwise keep, and serve to everyone, a document whose links point
wherever one client's Host said. Every text goes through escaped_text: a control character
in a model id (a change logged before feeds refused them) is not allowed in XML 1.0 and would
make the whole document unreadable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from ratecard.changes.records import Change
from ratecard.safe_text import escaped_text
from ratecard.timetext import instant_text

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

# Deferred, in each function below: xml.etree and its parser (~2 ms) load with the first feed
# asked for, not at every start (the app's modules are imported before any worker answers).

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_ID = "tag:ratecard,2026:changes"


def entry_id(change: Change) -> str:
    """A permanent id for a change: its seq never changes nor is reused."""
    return f"{FEED_ID}:{change.seq}"


def render_atom(entries: Sequence[Change], base_url: str, self_url: str) -> bytes:
    """Return the Atom document for `entries` (newest first) as UTF-8 XML; `base_url` is the
    public URL ("" for links relative to the feed's), `self_url` the feed's own link."""
    from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

    register_namespace("", ATOM_NS)
    feed = Element(f"{{{ATOM_NS}}}feed")
    _text(feed, "id", FEED_ID)
    _text(feed, "title", "ratecard: AI model price changes")
    newest = max((c.observed_at for c in entries), default=datetime.now(UTC))
    _text(feed, "updated", instant_text(newest))
    author = SubElement(feed, f"{{{ATOM_NS}}}author")
    _text(author, "name", "ratecard")
    SubElement(feed, f"{{{ATOM_NS}}}link", rel="self", href=self_url)
    for change in entries:
        feed.append(_entry(change, base_url))
    return tostring(feed, encoding="utf-8", xml_declaration=True)


def _entry(change: Change, base_url: str) -> Element:
    from xml.etree.ElementTree import Element, SubElement

    entry = Element(f"{{{ATOM_NS}}}entry")
    _text(entry, "id", entry_id(change))
    subject = change.model_id or f"feed {change.source}"
    _text(entry, "title", f"{subject} ({change.source}): {change.kind}")
    _text(entry, "updated", instant_text(change.observed_at))
    if change.model_id:
        href = f"{base_url}/api/models/{quote(change.model_id)}?source={quote(change.source)}"
        SubElement(entry, f"{{{ATOM_NS}}}link", rel="alternate", href=href)
    SubElement(entry, f"{{{ATOM_NS}}}category", term=change.kind)
    summary = SubElement(entry, f"{{{ATOM_NS}}}summary", type="text")
    summary.text = escaped_text(describe(change))
    return entry


def describe(change: Change) -> str:
    """One line a person can read: which prices moved, old -> new (USD per token)."""
    if change.kind == "held":
        return f"held for review: {change.detail.get('reason') or 'suspicious change'}"
    if change.kind == "released":
        return f"hold released: {change.detail.get('resolution')}"
    old, new = change.old or {}, change.new or {}
    names = sorted({*old, *new} - {"tiers", "units"})
    parts = [
        f"{name}: {old.get(name, '-')} -> {new.get(name, '-')}"
        for name in names
        if old.get(name) != new.get(name)
    ]
    return f"{change.kind}; " + ("; ".join(parts) if parts else "no per-token price moved")


def _text(parent: Element, tag: str, value: str) -> Element:
    from xml.etree.ElementTree import SubElement

    element = SubElement(parent, f"{{{ATOM_NS}}}{tag}")
    element.text = escaped_text(value)
    return element
