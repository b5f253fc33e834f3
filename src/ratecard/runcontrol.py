"""How a coordinated job is told to stop or refused its commit (a layer below prices and
coordination, so that neither needs to know the other).

The coordinator hands a job an object satisfying `RunControl`. The job calls `checkpoint()`
between steps (fetch, parse, store) and `claim(conn)` inside the transaction that commits its
results; either raises `RunCancelled` (the lease was lost) or `RunFenced` (the slot was already
completed by someone else), and the job must then roll back and stop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ratecard.vocabulary import JobName, Trigger

if TYPE_CHECKING:
    from sqlalchemy import Connection


class RunCancelled(Exception):
    """The run must stop now and commit nothing (e.g. its lease could not be renewed)."""


class RunFenced(RunCancelled):
    """The run's slot is already completed (or newer): its transaction must roll back."""


class RunControl(Protocol):
    """What a job knows about the run it is part of."""

    job: str
    slot: int | None
    fence: int | None
    instance_id: str
    trigger: str

    def checkpoint(self) -> None:
        """Raise RunCancelled if the run must stop (call between steps)."""
        ...

    def claim(self, conn: Connection, run_id: int | None) -> None:
        """Inside the committing transaction: advance the slot fence or raise RunFenced."""
        ...


class UncoordinatedRun:
    """A run outside the coordinator (e.g. `ratecard prices refresh`): no slot, no fence."""

    job: str = JobName.REFRESH
    slot: int | None = None
    fence: int | None = None

    def __init__(self, instance_id: str, trigger: str = Trigger.CLI) -> None:
        self.instance_id = instance_id
        self.trigger = trigger

    def checkpoint(self) -> None:
        return None

    def claim(self, conn: Connection, run_id: int | None) -> None:
        return None
