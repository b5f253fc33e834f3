"""A small registry of named periodic jobs: each has its own interval, slot fence and lease."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ratecard.coordination.context import JobContext


class Report(Protocol):
    """A job's richer result: its outcome and, optionally, whether it committed."""

    @property
    def outcome(self) -> str: ...


# A job returns its outcome ("success", "unchanged", "failed", ...) or a Report, or raises.
JobCallable = Callable[["JobContext"], str | Report]


@dataclass(frozen=True)
class Job:
    """A periodic job: its name (also its lease and job_state key), period and callable."""

    name: str
    interval: float
    run: JobCallable


class JobRegistry:
    """The jobs one coordinator runs, by name, in registration order."""

    def __init__(self, jobs: list[Job] | None = None) -> None:
        self._jobs: dict[str, Job] = {}
        for job in jobs or []:
            self.add(job)

    def add(self, job: Job) -> Job:
        """Register a job; names are unique and intervals positive."""
        if job.name in self._jobs:
            raise ValueError(f"job {job.name!r} is registered twice")
        if not job.interval > 0:
            raise ValueError(f"job {job.name!r} needs a positive interval, got {job.interval!r}")
        self._jobs[job.name] = job
        return job

    def get(self, name: str) -> Job:
        """Return the job called `name`, or raise KeyError naming the known ones."""
        try:
            return self._jobs[name]
        except KeyError:
            raise KeyError(f"unknown job {name!r} (known: {', '.join(self._jobs)})") from None

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)

    @property
    def names(self) -> list[str]:
        return list(self._jobs)
