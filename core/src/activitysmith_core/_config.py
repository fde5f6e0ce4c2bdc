"""The settings rules every caller shares: the base URL (http only to loopback), channel lists
and on/off switches.

The client, the Airflow hook and the Prefect webhook block all call these, so the rule that keeps
the API key off plain http is written once. Light on purpose (no httpx, no pydantic): the Airflow
provider imports it at DAG-parse time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from ._constants import DEFAULT_BASE_URL
from .errors import ConfigurationError

__all__ = ["DEFAULT_BASE_URL", "check_base_url", "is_loopback", "parse_flag", "split_channels"]

_TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "f", "n", ""})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bare host name or IP address, brackets allowed) is this machine."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: Any, *, field: str = "base_url") -> str:
    """``url`` without its trailing slash, if it is https, or http to a loopback host.

    Raises ``ConfigurationError`` (its message starts with ``field``) otherwise, before anything
    is sent: the API key never travels over plain http to another machine.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"{field}: expected a string, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{field}: expected an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"{field}: refusing to send the API key over plain http to a non-loopback host "
            f"({parts.hostname}); use https"
        )
    return url.rstrip("/")


def split_channels(value: Any) -> list[Any] | None:
    """A channel list from a list or a comma-separated string; ``None`` stays ``None``.

    A string is split on commas and its blank pieces dropped (``"ops, data,"``); a list is taken
    as given, its strings stripped, so a blank or non-string entry reaches the caller's
    validation, which names it.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return [c.strip() for c in value.split(",") if c.strip()]
    if not isinstance(value, Iterable):
        return [value]
    return [c.strip() if isinstance(c, str) else c for c in value]


def parse_flag(value: str, *, field: str, source: str | None = None) -> bool:
    """An on/off setting: true/1/yes/on or false/0/no/off (any case; empty is off).

    Raises ``ConfigurationError`` (a ``ValueError``) whose message starts with ``field`` and
    ends with where the value came from (``source``), if given.
    """
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    where = f" ({source})" if source else ""
    raise ConfigurationError(
        f"{field}: {value!r} is not one of true, 1, yes, on, false, 0, no, off{where}"
    )
