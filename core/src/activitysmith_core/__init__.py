"""ActivitySmith core: typed sync/async client, run tracking and a local sandbox.

Attributes are imported lazily so that ``import activitysmith_core`` (for example from an Airflow
DAG file) does not pull in httpx or pydantic until a client is actually built.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._config import DEFAULT_BASE_URL, check_base_url, is_loopback, parse_flag, split_channels
from ._keys import stream_key

if TYPE_CHECKING:
    from ._client import ActivitySmith, AsyncActivitySmith
    from ._retry import RetryPolicy
    from .errors import ActivitySmithError, APIError, ConfigurationError, ValidationError

    __version__: str  # from the distribution's metadata, read on first access (see __getattr__)
__all__ = [
    "DEFAULT_BASE_URL",
    "APIError",
    "ActivitySmith",
    "ActivitySmithError",
    "AsyncActivitySmith",
    "ConfigurationError",
    "RetryPolicy",
    "ValidationError",
    "__version__",
    "check_base_url",
    "is_loopback",
    "parse_flag",
    "split_channels",
    "stream_key",
]

_LAZY = {
    "ActivitySmith": "._client",
    "AsyncActivitySmith": "._client",
    "RetryPolicy": "._retry",
    "ActivitySmithError": ".errors",
    "APIError": ".errors",
    "ConfigurationError": ".errors",
    "ValidationError": ".errors",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            globals()["__version__"] = found = version("activitysmith-core")
        except PackageNotFoundError:  # a source tree that is not installed
            found = "0+unknown"
        return found
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
