"""The change log's record types: an entry, and the filter the change feed reads entries by."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ratecard.timetext import instant_text


@dataclass(frozen=True)
class Change:
    """One entry of the change log, with the prices before and after (snapshots, exact text)."""

    seq: int
    run_id: int | None
    kind: str
    source: str
    model_id: str | None
    provider: str | None
    observed_at: datetime
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # held: reason; released: status

    def to_json(self) -> dict[str, Any]:
        """The entry as the feed and webhook payloads show it."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "source": self.source,
            "model": self.model_id,
            "provider": self.provider,
            "observed_at": instant_text(self.observed_at),
            "run_id": self.run_id,
            "old": self.old,
            "new": self.new,
            **self.detail,
        }


# --- writing (inside the committing transaction) -----------------------------------------------


@dataclass(frozen=True)
class ChangeFilter:
    """Equality filters of the change feed (and its Atom form); None means any."""

    model: str | None = None
    provider: str | None = None
    source: str | None = None
    kind: str | None = None
    # Whether private price books' entries are included (the admin token's feed only).
    private: bool = False
