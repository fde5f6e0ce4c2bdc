"""When and how long to retry: the policy, shared by the sync and async clients."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import (
    APIConnectionError,
    APITimeoutError,
    LiveActivityLimitError,
    RateLimitError,
    ServerError,
)

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["RetryPolicy"]

_GATEWAY = {502, 503, 504}


@dataclass(frozen=True)
class RetryPolicy:
    """Retries for 429 (honouring Retry-After), 5xx and connection failures.

    ``budget`` bounds the whole call, waits and attempts included; ``max_attempts`` counts the
    first try. A non-idempotent call (push send, legacy start) is retried only when the request
    cannot have reached the service (connect failure, 429, 502/503/504) unless
    ``retry_non_idempotent`` is set.
    """

    max_attempts: int = 4
    budget: float = 30.0
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    jitter: float = 0.5
    retry_non_idempotent: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts: must be >= 1")
        if self.budget <= 0:
            raise ValueError("budget: must be > 0")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter: must be between 0 and 1")

    def should_retry(self, exc: BaseException, *, idempotent: bool) -> bool:
        safe = idempotent or self.retry_non_idempotent
        if isinstance(exc, LiveActivityLimitError):
            return False
        if isinstance(exc, RateLimitError):
            return True
        if isinstance(exc, ServerError):
            return safe or exc.status_code in _GATEWAY
        if isinstance(exc, (APIConnectionError, APITimeoutError)):
            return safe or not exc.maybe_delivered
        return False

    def backoff(self, attempt: int, exc: BaseException | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            return float(exc.retry_after)
        ceiling = min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1))
        return ceiling * (1 - self.jitter * random.random())

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self.backoff(state.attempt_number, exc)


NO_RETRY = RetryPolicy(max_attempts=1)
