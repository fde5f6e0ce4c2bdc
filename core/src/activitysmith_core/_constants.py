"""Constants that light modules (tracking, plugins at DAG-parse time) share without pydantic."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://activitysmith.com/api"

COLORS: tuple[str, ...] = (
    "lime",
    "green",
    "cyan",
    "blue",
    "purple",
    "magenta",
    "red",
    "orange",
    "yellow",
    "gray",
)
ACTIVITY_TYPES: tuple[str, ...] = (
    "segmented_progress",
    "progress",
    "metrics",
    "stats",
    "alert",
    "timer",
    "value",
)
