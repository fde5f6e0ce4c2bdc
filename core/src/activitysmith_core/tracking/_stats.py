"""What a sender did: its counts (for tests, benchmarks and logs), and how a failure is named."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SenderStats:
    """What a sender did, for tests, benchmarks and logs."""

    sent: int = 0
    updates: int = 0
    finals: int = 0
    pushes: int = 0
    skipped_updates: int = 0
    rate_limited: int = 0
    failures: int = 0
    kept: int = 0
    delivered_kept: int = 0
    slot_waits: int = 0
    """Times a new activity waited because the account already showed its 4 (then retried)."""


def failure_detail(exc: BaseException) -> str:
    """A failed request as signals and logs name it: the HTTP status, else the error's class."""
    status = getattr(exc, "status_code", None)
    return str(status) if isinstance(status, int) else type(exc).__name__
