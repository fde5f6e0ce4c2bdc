"""What a sender did: its counts (for tests, benchmarks and logs), and how a failure is named."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SenderStats:
    """What a sender did, for tests, benchmarks and logs."""

    sent: int = 0
    """API requests sent, of every kind (an end that met a 404 counts 3: end, start, end)."""
    updates: int = 0
    """Updates shown (a ``PUT`` of a run's state)."""
    finals: int = 0
    """Activities ended with their final state."""
    pushes: int = 0
    """Push notifications sent."""
    skipped_updates: int = 0
    """Updates not sent: folded into a newer one, already shown, or dropped while refused."""
    rate_limited: int = 0
    """429 answers (the job waited for the quota and was sent again)."""
    failures: int = 0
    """Requests that failed, whatever happened to the job after."""
    kept: int = 0
    """Final states and pushes written to disk because a flush ran out of time."""
    delivered_kept: int = 0
    """Kept final states and pushes a later sender of the same account delivered."""
    slot_waits: int = 0
    """Times a new activity waited because the account already showed its 4 (then retried)."""


def failure_detail(exc: BaseException) -> str:
    """A failed request as signals and logs name it: the HTTP status, else the error's class."""
    status = getattr(exc, "status_code", None)
    return str(status) if isinstance(status, int) else type(exc).__name__
