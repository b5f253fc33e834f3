"""Why a feed could not be used: one error type carrying the source and a short reason."""

from __future__ import annotations


class FeedError(Exception):
    """A feed could not be fetched or parsed; nothing from it may reach what is served.

    `reason` is short and safe to record and show (never a URL with credentials):
    "HTTP 503 after 3 attempts", "body is HTML, not JSON", "truncated JSON at byte 12345".
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason

    def __reduce__(self) -> tuple[type[FeedError], tuple[str, str]]:
        # Keep the two-argument constructor picklable (errors cross process boundaries).
        return (type(self), (self.source, self.reason))
