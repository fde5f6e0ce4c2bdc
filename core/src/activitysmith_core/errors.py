"""Every exception the core raises, in one place."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError as PydanticValidationError

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "ActivitySmithError",
    "AuthenticationError",
    "BadRequestError",
    "BillingBlockedError",
    "ConfigurationError",
    "ConflictError",
    "ForbiddenError",
    "LiveActivityLimitError",
    "NoRecipientsError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "ValidationError",
    "error_for_response",
]

_FIELD_MSG = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\[\]]*): (.*)$", re.S)


class ActivitySmithError(Exception):
    """Base of every error raised by activitysmith_core."""


class ConfigurationError(ActivitySmithError, ValueError):
    """The client is set up wrongly (no API key, an insecure base URL, ...)."""


class ValidationError(ActivitySmithError, ValueError):
    """A request is invalid; raised before any network call. ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None, errors: list[str] | None = None):
        super().__init__(message)
        self.field = field
        self.errors = errors or [message]

    @classmethod
    def from_pydantic(
        cls,
        exc: PydanticValidationError,
        loc_to_path: Callable[[tuple[int | str, ...]], str],
        *,
        prefix: str = "",
    ) -> ValidationError:
        messages: list[str] = []
        first_field: str | None = None
        for err in exc.errors(include_url=False, include_input=False):
            path = loc_to_path(tuple(err["loc"]))
            msg = str(err["msg"]).removeprefix("Value error, ")
            if m := _FIELD_MSG.match(msg):
                sub, msg = m.groups()
                path = f"{path}.{sub}" if path else sub
            if prefix:
                path = f"{prefix}.{path}" if path else prefix
            first_field = first_field or path
            messages.append(f"{path}: {msg}" if path else msg)
        text = messages[0] if len(messages) == 1 else "; ".join(messages)
        return cls(text, field=first_field, errors=messages)


class APIError(ActivitySmithError):
    """The API answered with an error status."""

    def __init__(
        self,
        status_code: int,
        error: str | None,
        message: str | None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.error = error
        self.message = message
        self.body = body
        self.headers = headers or {}
        detail = ": ".join(p for p in (error, message) if p) or "no details"
        super().__init__(f"HTTP {status_code}: {detail}")


class BadRequestError(APIError):
    """400: the server rejected the request."""


class AuthenticationError(APIError):
    """401: missing or invalid API key."""


class BillingBlockedError(APIError):
    """402: the account's trial or billing blocks sending; see ``upgrade_url``."""

    @property
    def upgrade_url(self) -> str | None:
        return self.body.get("upgrade_url") if isinstance(self.body, dict) else None

    @property
    def trial_period(self) -> dict[str, Any] | None:
        return self.body.get("trial_period") if isinstance(self.body, dict) else None


class ForbiddenError(APIError):
    """403: the key may not target these channels or this activity."""


class NotFoundError(APIError):
    """404: unknown stream, activity, notification or metric."""


class ConflictError(APIError):
    """409: the notification cannot be replaced."""


class NoRecipientsError(APIError):
    """422 (404 on older servers): no device matched the target."""


class RateLimitError(APIError):
    """429: too many requests; ``retry_after`` is the server's Retry-After in seconds."""

    @property
    def retry_after(self) -> float | None:
        raw = {k.lower(): v for k, v in self.headers.items()}.get("retry-after")
        try:
            return max(0.0, float(raw)) if raw is not None else None
        except ValueError:
            return None


class LiveActivityLimitError(RateLimitError):
    """429: the account already has its maximum of concurrent Live Activities. Not retried."""

    @property
    def limit(self) -> int | None:
        return self.body.get("limit") if isinstance(self.body, dict) else None

    @property
    def active(self) -> int | None:
        return self.body.get("active") if isinstance(self.body, dict) else None


class ServerError(APIError):
    """5xx: the service failed."""


class TransportError(ActivitySmithError):
    """The request did not get an HTTP answer.

    ``maybe_delivered`` is true when the request may have reached the service (read timeout,
    dropped connection), which makes a retry unsafe for a non-idempotent call.
    """

    def __init__(self, message: str, *, maybe_delivered: bool = True) -> None:
        super().__init__(message)
        self.maybe_delivered = maybe_delivered


class APITimeoutError(TransportError):
    """The request timed out."""


class APIConnectionError(TransportError):
    """The connection failed or was dropped."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: BillingBlockedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: NoRecipientsError,
    429: RateLimitError,
}


def error_for_response(status: int, body: Any, headers: dict[str, str]) -> APIError:
    """Map an error response to the matching exception class."""
    error = message = None
    if isinstance(body, dict):
        error = body.get("error") if isinstance(body.get("error"), str) else None
        message = body.get("message") if isinstance(body.get("message"), str) else None
    cls: type[APIError]
    if status >= 500:
        cls = ServerError
    elif status == 429 and isinstance(body, dict) and "limit" in body and "active" in body:
        cls = LiveActivityLimitError
    elif status == 404 and "recipient" in f"{error} {message}".lower():
        cls = NoRecipientsError
    else:
        cls = _BY_STATUS.get(status, APIError)
    return cls(status, error, message, body, headers)
