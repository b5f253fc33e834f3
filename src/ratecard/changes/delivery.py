"""The delivery loop: whichever instance holds the `delivery` lease sends the outbox.

Every instance runs a `DeliveryWorker` thread (started after fork, like the coordinator). Only
the holder of the `delivery` lease (coordination's LeaseBackends: Redis, the database when
Redis is away) claims and sends messages; the others poll the lease and keep the backlog
gauges current. The lease is an efficiency device, as for refreshes: one instance polls the
outbox instead of all. Correctness does not rest on it but on the per-message claim (see
outbox.py): two instances that both believe they hold the lease (Redis flapping between
backends, a paused holder) still never POST the same message at the same time, and a result
recorded by a stale sender is refused and logged.

Timeline the lease alone would not survive, and the claim does:
    t=0   A holds `delivery`, claims msg_7 (until t=45) and POSTs; A is then paused
    t=10  A's lease expires; B acquires it and polls the outbox
    t=10+ B does not claim msg_7 (claimed until t=45): one POST in flight, not two
    t=12  A resumes, gets the receiver's 200 and records it under its claim token: msg_7 is
          delivered once; A's next renewal fails and A stops claiming

Why the lease is renewed by this loop and not by the sending threads: a POST may take up to
the delivery timeout, longer than a TTL/3 renewal period; the loop wakes at least every TTL/3
whatever the senders are doing. If a renewal fails, the loop stops claiming at once; messages
already claimed finish under their own claims, which a successor respects.

A slow receiver cannot stall the others: sends run on a bounded pool
(RATECARD_WEBHOOK_CONCURRENCY threads), each with its own timeout, and a subscription has at
most one message in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ratecard.changes.backoff import MAX_ATTEMPTS
from ratecard.changes.destinations import DestinationRefused, resolve_destination
from ratecard.changes.signing import signed_headers
from ratecard.coordination.lease import CoordinationUnavailable
from ratecard.metrics import count_webhook_attempt, set_lease_held, set_webhook_backlog
from ratecard.safe_text import escaped_text
from ratecard.vocabulary import DELIVERY_LEASE

if TYPE_CHECKING:
    import httpx
    from sqlalchemy import Engine

    from ratecard.changes.deadline_transport import Deadline
    from ratecard.changes.outbox import AttemptResult, Claimed
    from ratecard.coordination.backends import Acquired, LeaseBackends

# Deferred: the outbox's queries (SQLAlchemy, ~0.2 s) are imported by the first delivery pass,
# not by create_app, which builds this loop.

# The outbox (SQLAlchemy, the schema) is imported in the loop thread, never by create_app():
# the ORM must stay off the path to a worker's first ready answer (see gunicorn_conf).

log = logging.getLogger(__name__)

LEASE_NAME = DELIVERY_LEASE
MAX_RESPONSE_BYTES = 4096  # of a receiver's answer, read and kept (as an excerpt) at most
ERROR_EXCERPT = 200  # characters of a failed answer kept in last_error
GAUGE_PERIOD = 5.0  # seconds between backlog counts in instances that do not send


class DeliveryWorker:
    """Send due outbox messages while holding the `delivery` lease; start() after fork."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        backends: LeaseBackends,
        instance_id: str,
        *,
        poll_interval: float = 0.5,
        timeout: float = 10.0,
        concurrency: int = 8,
        max_attempts: int | None = None,
        allow_private: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self.backends = backends
        self.instance_id = instance_id
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.concurrency = concurrency
        self.max_attempts = max_attempts or MAX_ATTEMPTS
        self.allow_private = allow_private
        self.clock = clock
        # A claim outlives the longest send: a whole attempt is bounded by `timeout` (see
        # deadline_transport), the claim by four times that plus the settling transaction. A
        # successor never re-sends a message still in flight.
        self.claim_seconds = 4 * timeout + 5
        self.held: Acquired | None = None
        self.in_flight: dict[str, Future[None]] = {}
        self.stale_results = 0
        self._renewed_at = 0.0
        self._gauged_at = -GAUGE_PERIOD
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._client: httpx.Client | None = None
        self._deadline: Deadline | None = None

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop thread (once per process)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._open()
        self._thread = threading.Thread(target=self._run, name="ratecard-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming and release the lease; in-flight sends are not waited for.

        A send cut short by the exit keeps its claim: the next holder retries it once the
        claim runs out (same webhook-id), so an exit costs a late message, never a lost one.
        """
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._release()
        if self._client is not None:
            self._client.close()  # a send still running fails now: retried later, same id

    def _open(self) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="ratecard-webhook")
        if self._client is None:
            self._client = self._new_client()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no send is in flight (tests, bench); return whether that happened."""
        deadline = self.clock() + timeout
        for future in list(self.in_flight.values()):
            try:
                future.result(timeout=max(0.0, deadline - self.clock()))
            except Exception:
                return False
        self._reap()
        return not self.in_flight

    def notify(self) -> None:
        """Wake the loop now (a commit in this process has queued messages)."""
        self._wake.set()

    # --- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.step()
                if failing:
                    log.info("webhook delivery passes work again")
                failing = False
            except Exception as exc:
                # The loop must outlive any one bad pass (a database blip, a bug in a branch);
                # an outage is logged once, not twice a second.
                if not failing:
                    _log_failed_pass(exc)
                failing = True
            if self.held is not None:
                period = min(self.poll_interval, self.backends.ttl / 3)
            else:
                # A standby asks for the lease every TTL/2, not every poll: one Redis command
                # per 5 s per instance (at the default TTL) instead of two a second, and a
                # dead holder's lease is still taken over within 1.5 TTL.
                period = max(self.poll_interval, self.backends.ttl / 2)
            self._wake.wait(period)
            self._wake.clear()

    def step(self) -> int:
        """One pass: hold (or try) the lease, claim what is due and hand it to the pool."""
        self._open()
        self._reap()
        if not self._hold_lease():
            self._update_gauges(force=False)
            return 0
        free = self.concurrency - len(self.in_flight)
        if free <= 0:
            return 0
        from ratecard.changes import outbox

        engine = self._engine()
        with engine.begin() as conn:
            now = outbox.db_now(conn)
            claimed = outbox.claim_due(
                conn, now, free, self.claim_seconds, skip=list(self.in_flight)
            )
        for message in claimed:
            assert self._pool is not None
            self.in_flight[message.id] = self._pool.submit(self._deliver, message)
        self._update_gauges(force=not claimed)
        return len(claimed)

    def _reap(self) -> None:
        for message_id, future in list(self.in_flight.items()):
            if future.done():
                del self.in_flight[message_id]

    def _hold_lease(self) -> bool:
        now = self.clock()
        if self.held is not None:
            if now - self._renewed_at < self.backends.ttl / 3:
                return True
            try:
                if self.held.lease.renew(self.held.grant.token):
                    self._renewed_at = now
                    return True
                log.warning("delivery lease lost (taken over or expired): no more claims here")
            except CoordinationUnavailable as exc:
                log.warning("delivery lease renewal failed: %s", exc)
            self.held = None
            self._set_held(False)
            return False
        acquired = self.backends.acquire(LEASE_NAME, self.instance_id)
        if acquired is None:
            return False
        self.held = acquired
        self._renewed_at = now
        self._set_held(True)
        log.info("delivering webhooks (lease %s)", acquired.lease.backend)
        return True

    def _release(self) -> None:
        held, self.held = self.held, None
        if held is None:
            return
        try:
            held.lease.release(held.grant.token)
        except CoordinationUnavailable as exc:
            log.warning("delivery lease release failed (it will expire): %s", exc)
        self._set_held(False)

    def _set_held(self, held: bool) -> None:
        set_lease_held(LEASE_NAME, self.instance_id, held)

    def _update_gauges(self, force: bool) -> None:
        # `force`: the holder found nothing due, a cheap moment for a count (while it is busy
        # sending, counting after every pass would double its queries).
        now = self.clock()
        if now - self._gauged_at < (0.5 if force else GAUGE_PERIOD):
            return
        from ratecard.changes import outbox

        with self._engine().connect() as conn:
            set_webhook_backlog(outbox.backlog(conn))
        # Only once counted: a count that failed is tried again at the next pass, so an outage
        # keeps the passes failing (one warning) instead of alternating with "work again".
        self._gauged_at = now

    # --- one message --------------------------------------------------------------------------

    def _deliver(self, message: Claimed) -> None:
        from ratecard.changes import outbox

        try:
            result = self.send(message)
        except Exception as exc:  # a bug, or the client closed under us at shutdown
            log.exception("webhook %s: unexpected error while sending", message.id)
            result = outbox.AttemptResult(False, None, f"unexpected error: {type(exc).__name__}")
        try:
            with self._engine().begin() as conn:
                outcome = outbox.settle(
                    conn, message, result, outbox.db_now(conn), max_attempts=self.max_attempts
                )
        except Exception:
            # Never silent: an attempt whose result cannot be recorded is sent again once its
            # claim runs out, and an operator must hear why before it happens forever.
            log.exception(
                "webhook %s: the attempt's result could not be recorded (it is sent again "
                "after its claim expires)",
                message.id,
            )
            return
        count_webhook_attempt(outcome)
        if outcome == "stale":
            self.stale_results += 1
            log.warning(
                "webhook %s: result not recorded, its claim moved on (another sender took over)",
                message.id,
            )
        elif outcome != "delivered":
            log.info(
                "webhook %s to %s failed (attempt %d): %s -> %s",
                message.id,
                message.subscription.id,
                message.attempts,
                result.error,
                outcome,
            )
        self._wake.set()  # the subscription's next message may go now

    def send(self, message: Claimed) -> AttemptResult:
        """POST one message (signed) to its subscription's checked address; return how it went."""
        import httpx

        from ratecard.changes.outbox import AttemptResult

        assert self._client is not None
        try:
            dest = resolve_destination(message.subscription.url, allow_private=self.allow_private)
        except DestinationRefused as exc:
            return AttemptResult(False, None, f"refused: {exc}")
        now = datetime.now(UTC)
        headers = signed_headers(
            message.id, message.payload, message.subscription.signing_secrets(now), now
        )
        headers["host"] = dest.host_header
        headers["user-agent"] = "ratecard-webhooks"
        extensions = {"sni_hostname": dest.server_name} if dest.scheme == "https" else {}
        assert self._deadline is not None
        self._deadline.until = time.monotonic() + self.timeout
        try:
            with self._client.stream(
                "POST",
                dest.connect_url,
                content=message.payload.encode(),
                headers=headers,
                extensions=extensions,
            ) as response:
                if 200 <= response.status_code < 300:
                    # Accepted: the answer's body is not needed (and never read).
                    return AttemptResult(True, response.status_code, None)
                body = _read_capped(response, self.clock() + self.timeout, self.clock)
        except httpx.TimeoutException:
            return AttemptResult(False, None, f"timeout after {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return AttemptResult(False, None, f"{type(exc).__name__}: {_excerpt(str(exc))}")
        finally:
            self._deadline.until = None
        return AttemptResult(
            False, response.status_code, f"HTTP {response.status_code}: {_answer(response, body)}"
        )

    def _new_client(self) -> httpx.Client:
        from ratecard.changes.deadline_transport import Deadline, deadline_client

        self._deadline = Deadline()
        return deadline_client(self._deadline, self.timeout, self.concurrency * 2)


def _log_failed_pass(exc: Exception) -> None:
    """Log a failed pass: an unreachable database (or lease store) is a one-line warning, as
    the health checks already say it; anything else gets the traceback of the bug it is."""
    # Deferred: SQLAlchemy is loaded by the pass that failed; this only names its error.
    from sqlalchemy.exc import OperationalError

    if isinstance(exc, OperationalError | CoordinationUnavailable):
        cause = getattr(exc, "orig", None) or exc
        lines = str(cause).strip().splitlines()
        log.warning(
            "webhook delivery paused: database unavailable (%s: %s); retrying every poll",
            type(cause).__name__,
            lines[0] if lines else "",
        )
    else:
        log.exception("webhook delivery pass failed (retrying every poll)")


def _read_capped(response: httpx.Response, deadline: float, clock: Callable[[], float]) -> bytes:
    """Read at most MAX_RESPONSE_BYTES of a failed answer, for its excerpt, until `deadline`.

    A receiver answering gigabytes costs us 4 KB, and one dribbling its answer costs us one
    timeout: what arrived by then is the excerpt.
    """
    import httpx

    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_raw():
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_RESPONSE_BYTES or clock() > deadline:
                break
    except httpx.HTTPError:
        pass  # the status already says the attempt failed; the excerpt is a courtesy
    return b"".join(chunks)[:MAX_RESPONSE_BYTES]


def _answer(response: httpx.Response, body: bytes) -> str:
    """What a failed answer's body says, for last_error: its text, or what it is when it is
    not text (a compressed body's raw bytes mean nothing to an operator)."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        return f"({encoding}-encoded answer, not shown)"
    return _excerpt(body.decode("utf-8", "replace"))


def _excerpt(text: str) -> str:
    """A short, storable excerpt. Control characters are escaped: PostgreSQL text cannot hold
    NUL. Timeline this prevents: a receiver answers 503 with a binary body; saving last_error
    fails, the attempt is never settled, and the message is re-sent every claim period
    forever, attempts climbing, never dead-lettered, with nothing logged."""
    text = escaped_text(" ".join(text.split()))
    return text if len(text) <= ERROR_EXCERPT else text[:ERROR_EXCERPT] + "…"
