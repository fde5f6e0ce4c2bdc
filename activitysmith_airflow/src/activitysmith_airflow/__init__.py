"""ActivitySmith provider for Apache Airflow: iOS pushes and Live Activities for DAG runs.

Everything is imported lazily: a DAG file that uses the tracker or the notifier does not import
httpx or pydantic until a callback actually sends something. ``__version__`` is read from the
installed distribution's metadata on first access.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .hooks.activitysmith import ActivitySmithHook
    from .notifications.activitysmith import (
        ActivitySmithNotifier,
        send_activitysmith_notification,
    )
    from .operators.activitysmith import (
        ActivitySmithEndOperator,
        ActivitySmithEndStreamOperator,
        ActivitySmithPushOperator,
        ActivitySmithStartOperator,
        ActivitySmithStreamOperator,
        ActivitySmithUpdateOperator,
    )
    from .tracking import ActivitySmithDagRunTracker

    __version__: str  # from the distribution's metadata, read on first access

__all__ = [
    "ActivitySmithDagRunTracker",
    "ActivitySmithEndOperator",
    "ActivitySmithEndStreamOperator",
    "ActivitySmithHook",
    "ActivitySmithNotifier",
    "ActivitySmithPushOperator",
    "ActivitySmithStartOperator",
    "ActivitySmithStreamOperator",
    "ActivitySmithUpdateOperator",
    "__version__",
    "send_activitysmith_notification",
]

_LAZY = {
    "ActivitySmithHook": ".hooks.activitysmith",
    "ActivitySmithNotifier": ".notifications.activitysmith",
    "send_activitysmith_notification": ".notifications.activitysmith",
    "ActivitySmithDagRunTracker": ".tracking",
    **{
        name: ".operators.activitysmith"
        for name in (
            "ActivitySmithPushOperator",
            "ActivitySmithStreamOperator",
            "ActivitySmithEndStreamOperator",
            "ActivitySmithStartOperator",
            "ActivitySmithUpdateOperator",
            "ActivitySmithEndOperator",
        )
    },
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from .get_provider_info import _version

        globals()["__version__"] = version = _version()
        return version
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
