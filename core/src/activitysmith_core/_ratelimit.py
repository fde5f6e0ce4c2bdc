"""The API's rate-limit headers (IETF draft-8 ``RateLimit`` / ``RateLimit-Policy``), parsed.

Every answer carries, per named policy (``push``, ``live_activity``, ``metric``, ``badge``, ...)::

    RateLimit: "live_activity";r=250;t=42            # r: requests remaining, t: seconds to reset
    RateLimit-Policy: "live_activity";q=300;w=60     # q: quota, w: window in seconds

Both are structured-field lists (RFC 8941): comma-separated items, each a quoted string (or a
token) with ``;key=value`` parameters. Parsing never raises: a header that is not a valid list is
ignored, as RFC 8941 asks, and a policy without a usable ``r`` is skipped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["RateLimitStatus", "parse_rate_limit"]


@dataclass(frozen=True)
class RateLimitStatus:
    """One policy's state as of one response.

    ``remaining`` requests are left; ``reset`` seconds after ``observed_at`` (a
    ``time.monotonic()`` reading taken when the response was parsed) the quota frees up again.
    ``quota`` and ``window`` come from ``RateLimit-Policy`` and are None when it did not name the
    policy.
    """

    policy: str
    remaining: int
    reset: float
    quota: int | None = None
    window: float | None = None
    observed_at: float = field(default_factory=time.monotonic)

    @property
    def reset_at(self) -> float:
        """When the quota resets, on the ``time.monotonic()`` clock."""
        return self.observed_at + self.reset


_Param = int | float | str | bool
_Item = tuple[str, dict[str, _Param]]

_OWS = " \t"
_TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*")
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")


class _Malformed(ValueError):
    pass


def _string(text: str, i: int) -> tuple[str, int]:
    """A quoted sf-string starting at ``text[i] == '"'``; returns (value, index after it)."""
    out: list[str] = []
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text) or text[i + 1] not in '"\\':
                raise _Malformed("bad escape")
            out.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        elif not " " <= ch <= "~":
            raise _Malformed("non-ASCII in string")
        else:
            out.append(ch)
            i += 1
    raise _Malformed("unterminated string")


def _bare(text: str, i: int) -> tuple[_Param, int]:
    """A bare item: number, string, token, byte sequence or boolean."""
    if i >= len(text):
        raise _Malformed("missing value")
    if text[i] == '"':
        return _string(text, i)
    if text[i] == ":":  # a byte sequence (e.g. a partition key): kept as its base64 text
        if octets := _BYTES.match(text, i):
            return octets.group(1), octets.end()
        raise _Malformed("bad byte sequence")
    if text[i] == "?":
        if text[i + 1 : i + 2] in ("0", "1"):
            return text[i + 1] == "1", i + 2
        raise _Malformed("bad boolean")
    if number := _NUMBER.match(text, i):
        raw = number.group()
        return (float(raw) if "." in raw else int(raw)), number.end()
    if token := _TOKEN.match(text, i):
        return token.group(), token.end()
    raise _Malformed("bad value")


def _parse_list(text: str) -> list[_Item]:
    """An RFC 8941 list of items whose values are strings or tokens, with parameters."""
    items: list[_Item] = []
    i, n = 0, len(text)
    while i < n and text[i] in _OWS:
        i += 1
    while i < n:
        if text[i] == '"':
            name, i = _string(text, i)
        elif token := _TOKEN.match(text, i):
            name, i = token.group(), token.end()
        else:
            raise _Malformed("bad item")
        params: dict[str, _Param] = {}
        while i < n and text[i] == ";":
            i += 1
            while i < n and text[i] == " ":
                i += 1
            key = _KEY.match(text, i)
            if key is None:
                raise _Malformed("bad parameter key")
            i = key.end()
            value: _Param = True
            if i < n and text[i] == "=":
                value, i = _bare(text, i + 1)
            params[key.group()] = value
        items.append((name, params))
        while i < n and text[i] in _OWS:
            i += 1
        if i == n:
            break
        if text[i] != ",":
            raise _Malformed("expected a comma")
        i += 1
        while i < n and text[i] in _OWS:
            i += 1
        if i == n:
            raise _Malformed("trailing comma")
    return items


def _header(headers: Mapping[str, str] | Iterable[tuple[str, str]], name: str) -> str | None:
    """Every field line called ``name`` (any case), joined with commas as HTTP allows."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    values = [str(v) for k, v in pairs if isinstance(k, str) and k.lower() == name]
    return ", ".join(values) if values else None


def _items(headers: Mapping[str, str] | Iterable[tuple[str, str]], name: str) -> list[_Item]:
    raw = _header(headers, name)
    if raw is None:
        return []
    try:
        return _parse_list(raw)
    except _Malformed:
        return []


def _count(value: _Param | None) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value)


def _seconds(value: _Param | None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return float(value)


def parse_rate_limit(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    *,
    observed_at: float | None = None,
) -> dict[str, RateLimitStatus]:
    """The policies of one response's ``RateLimit`` / ``RateLimit-Policy`` headers, by name.

    ``headers`` is any mapping (``httpx.Headers``, a dict; names in any case) or a list of
    (name, value) pairs. Never raises: anything it cannot read gives fewer entries, or ``{}``.
    """
    try:
        now = time.monotonic() if observed_at is None else observed_at
        policies: dict[str, tuple[int | None, float | None]] = {}
        for name, params in _items(headers, "ratelimit-policy"):
            policies[name] = (_count(params.get("q")), _seconds(params.get("w")))
        found: dict[str, RateLimitStatus] = {}
        for name, params in _items(headers, "ratelimit"):
            remaining = _count(params.get("r"))
            if remaining is None:
                continue
            quota, window = policies.get(name, (None, None))
            found[name] = RateLimitStatus(
                policy=name,
                remaining=remaining,
                reset=_seconds(params.get("t")) or 0.0,
                quota=quota,
                window=window,
                observed_at=now,
            )
        return found
    except Exception:  # tolerant by contract: a header is never worth an exception
        return {}
