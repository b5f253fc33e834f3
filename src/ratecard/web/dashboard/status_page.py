"""The dashboard's status document: fleet, lease, runs per source, held changes, catalog.

Built by one pure function from what the coordinator, the database and the catalog cache
report, for two audiences:
- the public (anyone who can open `/`): instance ids, versions, start times, run outcomes and
  counts, error texts with URLs, paths and host names masked (`host-1a2b3c`, keyed so it
  cannot be reversed; a `host:pid` id is masked whole), never a pid or a secret;
- an admin (the request carries the bearer token): the same plus hosts, pids and full error
  texts (passwords and the token are still removed from any text).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ratecard.catalog.codec import price_moves
from ratecard.timetext import shown_time
from ratecard.vocabulary import PROBLEM_OUTCOMES, JobName
from ratecard.web.dashboard.format import PRICE_LABELS, duration_words, snapshot_per_million
from ratecard.web.redaction import alias_key, public_text

# Per source and run, the first few things the feed got wrong (the run record keeps more).
PROBLEMS_SHOWN = 5


@dataclass(frozen=True)
class StatusInputs:
    """Everything the status document is built from (each part may be missing)."""

    served_by: Mapping[str, Any]
    coordination: Mapping[str, Any] | None = None
    coordination_error: str | None = None
    runs: Sequence[Mapping[str, Any]] = ()
    runs_error: str | None = None
    held: Sequence[Any] = ()
    catalog: Any = None  # a CatalogSnapshot
    catalog_error: str | None = None
    catalog_origin: str | None = None
    now: float = 0.0
    secrets: Sequence[str] = ()
    webhooks: Mapping[str, int] | None = None  # the webhook outbox's backlog; None: unknown
    extra_hosts: Sequence[str] = field(default_factory=lambda: (socket.gethostname(),))
    # The host alias key (`alias_key(admin_token)`); by default this process's random one.
    alias_key: bytes = field(default_factory=lambda: alias_key(None))


def build_status(inputs: StatusInputs, admin: bool) -> dict[str, Any]:
    """Return the status document for the public (admin=False) or an admin."""
    coordination = dict(inputs.coordination or {})
    instances = list(coordination.get("instances") or ())
    hosts = [str(i.get("host")) for i in instances if i.get("host")] + list(inputs.extra_hosts)

    def text(value: Any) -> str | None:
        return public_text(
            None if value is None else str(value),
            secrets=inputs.secrets,
            hosts=hosts,
            admin=admin,
            key=inputs.alias_key,
        )

    job = (coordination.get("jobs") or {}).get(JobName.REFRESH) or {}
    lease = job.get("lease") or {}
    holder = lease.get("holder")
    return {
        "generated_at": shown_time(inputs.now),
        "admin": admin,
        "served_by": {
            "id": text(inputs.served_by.get("id")),
            "version": inputs.served_by.get("version"),
        },
        "coordination": _coordination(coordination, job, lease, inputs, text),
        "instances": [_instance(i, holder, admin, text) for i in instances],
        "runs": [_run(r, text) for r in inputs.runs],
        "runs_error": inputs.runs_error,
        "timeline": _timeline(inputs.runs, text),
        "last_error": _last_error(inputs.runs, text),
        "held": [_held(row, text) for row in inputs.held],
        "catalog": _catalog(inputs),
        "webhooks": dict(inputs.webhooks) if inputs.webhooks is not None else None,
    }


def _coordination(
    data: Mapping[str, Any],
    job: Mapping[str, Any],
    lease: Mapping[str, Any],
    inputs: StatusInputs,
    text: Any,
) -> dict[str, Any]:
    coordinator = data.get("coordinator") or {}
    problem = inputs.coordination_error or coordinator.get("problem") or data.get("backend_problem")
    return {
        "available": inputs.coordination is not None,
        "backend": data.get("backend"),
        "problem": text(problem),
        "coordinator_alive": coordinator.get("alive"),
        "lease_holder": text(lease.get("holder")),
        "lease_store": lease.get("store"),
        "lease_fence": lease.get("fence"),
        "lease_expires_in": lease.get("expires_in"),
        "interval": job.get("interval"),
        "last_completed_slot": job.get("last_completed_slot"),
        "next_due_at": shown_time(job.get("next_due_at")),
        "next_due_in": job.get("next_due_in"),
        "running_here": job.get("running_here"),
    }


def _instance(
    item: Mapping[str, Any], holder: str | None, admin: bool, text: Any
) -> dict[str, Any]:
    out = {
        "id": text(item.get("id")),
        "version": item.get("version"),
        "role": item.get("role"),
        "started_at": shown_time(item.get("started_at")),
        "store": item.get("store"),
        "holds_lease": holder is not None and str(item.get("id")) == str(holder),
    }
    if admin:
        out["host"] = item.get("host")
        out["pid"] = item.get("pid")
    return out


def _run(run: Mapping[str, Any], text: Any) -> dict[str, Any]:
    return {
        "id": run.get("id"),
        "trigger": run.get("trigger"),
        "instance_id": text(run.get("instance_id")),
        "outcome": run.get("outcome"),
        "started_at": shown_time(run.get("started_at")),
        "finished_at": shown_time(run.get("finished_at")),
        "duration": run.get("duration"),
        "duration_words": duration_words(run.get("duration")),
        "error": text(run.get("error")),
        "catalog_version": run.get("catalog_version"),
        "sources": [_source(s, text) for s in run.get("sources") or ()],
    }


def _source(entry: Mapping[str, Any], text: Any) -> dict[str, Any]:
    out = {k: entry.get(k) for k in ("source", "outcome", "fetched", "added", "changed")}
    out.update({k: entry.get(k) for k in ("removed", "held", "rejected", "duration")})
    out["duration_words"] = duration_words(entry.get("duration"))
    out["error"] = text(entry.get("error"))
    out["problems"] = [
        {"model_id": text(p.get("model_id")), "field": p.get("field"), "reason": text(p["reason"])}
        for p in (entry.get("problems") or ())[:PROBLEMS_SHOWN]
    ]
    return out


def _timeline(runs: Sequence[Mapping[str, Any]], text: Any) -> list[dict[str, Any]]:
    """Group the runs by source, oldest first (the timeline reads left to right)."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for run in reversed(runs):
        for entry in run.get("sources") or ():
            item = _source(entry, text)
            item["run_id"] = run.get("id")
            item["started_at"] = shown_time(run.get("started_at"))
            by_source.setdefault(str(entry.get("source")), []).append(item)
    return [{"source": name, "runs": items} for name, items in sorted(by_source.items())]


def _last_error(runs: Iterable[Mapping[str, Any]], text: Any) -> dict[str, Any] | None:
    """Return the newest error among runs and their sources, in words."""
    for run in runs:  # newest first
        for entry in run.get("sources") or ():
            if entry.get("error"):
                return {
                    "run_id": run.get("id"),
                    "source": entry.get("source"),
                    "outcome": entry.get("outcome"),
                    "at": shown_time(run.get("started_at")),
                    "text": text(entry.get("error")),
                }
        if run.get("error") or run.get("outcome") in PROBLEM_OUTCOMES:
            return {
                "run_id": run.get("id"),
                "source": None,
                "outcome": run.get("outcome"),
                "at": shown_time(run.get("started_at")),
                "text": text(run.get("error") or f"run {run.get('outcome')}"),
            }
    return None


def _held(row: Any, text: Any) -> dict[str, Any]:
    old, proposed = row.old or {}, row.proposed or {}
    changes = []
    # Every stored price that moves (tiers and units too); the prices the change leaves
    # alone are noise here. Base token prices read per million, the others per unit.
    for move in price_moves(old, proposed):
        name = move["field"]
        if name in PRICE_LABELS:
            before = snapshot_per_million(old, name)
            after = snapshot_per_million(proposed, name)
            changes.append({"price": PRICE_LABELS[name], "old": before, "new": after})
        else:
            changes.append({"price": name, "old": move["old"], "new": move["new"]})
    return {
        "id": row.id,
        "kind": row.kind,
        "source": row.source,
        "model_id": row.model_id,
        "reason": text(row.reason),
        "factor": row.factor,
        "detected_at": shown_time(row.detected_at),
        "old_status": old.get("status"),
        "new_status": proposed.get("status"),
        "changes": changes,
    }


def _catalog(inputs: StatusInputs) -> dict[str, Any]:
    snapshot = inputs.catalog
    if snapshot is None:
        return {"available": False, "error": inputs.catalog_error or "not loaded"}
    sources = [
        {
            "source": s.get("source"),
            "outcome": s.get("outcome"),
            "finished_at": s.get("finished_at"),
            "snapshot_date": s.get("snapshot_date"),
        }
        for s in snapshot.sources
    ]
    return {
        "available": True,
        "version": snapshot.version,
        "updated_at": snapshot.updated_at,
        "models": len(snapshot.models),
        "counts": snapshot.counts_by_status,
        "sources": sources,
        "loaded_from": inputs.catalog_origin,
    }
