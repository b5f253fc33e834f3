"""JobContext: what a coordinated run is told (RunControl) and how it is stopped or fenced."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ratecard.coordination.fence import advance_slot, commit_manual
from ratecard.coordination.lease import LeaseLost
from ratecard.vocabulary import SCHEDULED_TRIGGERS

if TYPE_CHECKING:
    from sqlalchemy import Connection


# Checks, inside the committing transaction, that the lease is still ours (see claim()).
ConfirmLease = Callable[["Connection"], bool]  # quoted: no SQLAlchemy import at run time


class JobContext:
    """A run's identity (job, slot, fence, instance, trigger) and its cooperative stop switch.

    `cancel()` may be called from any thread (the renewer when a renewal fails, stop() on
    SIGTERM); the job notices at its next `checkpoint()` or at `claim()`.
    """

    def __init__(
        self,
        job: str,
        slot: int,
        fence: int | None,
        instance_id: str,
        trigger: str,
        generation: int,
        confirm_lease: ConfirmLease | None = None,
    ) -> None:
        self.job = job
        self.slot: int | None = slot
        self.fence = fence
        self.instance_id = instance_id
        self.trigger = trigger
        self.generation = generation  # job_state.generation when the run started
        self._confirm_lease = confirm_lease
        self._cancelled = threading.Event()
        self._reason = ""
        self.claimed = False

    @property
    def scheduled(self) -> bool:
        """Whether this run is fenced by its slot (else by generation: a manual run)."""
        return self.trigger in SCHEDULED_TRIGGERS

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def cancel_reason(self) -> str:
        return self._reason

    def cancel(self, reason: str) -> None:
        """Ask the run to stop at its next checkpoint (first reason wins)."""
        if not self._cancelled.is_set():
            self._reason = reason
            self._cancelled.set()

    def checkpoint(self) -> None:
        """Raise LeaseLost if the run was cancelled."""
        if self._cancelled.is_set():
            raise LeaseLost(self.job, self._reason)

    def claim(self, conn: Connection, run_id: int | None) -> None:
        """Inside the committing transaction: check the lease, then advance the fence."""
        self.checkpoint()
        # The renewer notices a lost lease only every TTL/3; a runner resumed after a pause
        # could reach its commit before then. Asking the lease store now narrows that window
        # to this statement (and to nothing for the database lease, which is checked in this
        # very transaction). The fence below closes it for good.
        if self._confirm_lease is not None and not self._confirm_lease(conn):
            self.cancel("the lease is held by someone else")
            self.checkpoint()
        assert self.slot is not None
        if self.scheduled:
            advance_slot(conn, self.job, self.slot, run_id)
        else:
            commit_manual(conn, self.job, self.generation, self.slot, run_id)
        self.claimed = True
