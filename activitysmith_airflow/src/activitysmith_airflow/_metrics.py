"""The core's delivery signals as Airflow metrics (``Stats``: StatsD, OpenTelemetry, Datadog).

:func:`connect` subscribes once per process where tracking runs (a scheduler's watcher, ``dags
test``). The subscriber runs on the thread that emits (the sender's or the watcher's, never the
scheduler loop's) and only hands a number to ``Stats``, which sends over UDP or buffers for the
OTel exporter: nothing waits on the network. Names, with Airflow's ``[metrics]`` prefix before
them:

``activitysmith.sent.<kind>``, ``activitysmith.failed.<kind>`` (counters, ``kind`` one of
``update``, ``final``, ``push``), ``activitysmith.rate_limited``, ``activitysmith.kept``,
``activitysmith.replayed`` (counters, tag ``kind``), ``activitysmith.slot_waiting`` (gauge),
``activitysmith.flush`` (timer), ``activitysmith.account_problem``, ``activitysmith.account_ok``,
``activitysmith.lease_takeover`` (counters).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

log = logging.getLogger("activitysmith_airflow.tracking")

PREFIX = "activitysmith"
_BY_KIND = frozenset({"sent", "failed"})
_COUNTERS = {
    "rate_limited": "rate_limited",
    "kept": "kept",
    "replayed": "replayed",
    "account_problem": "account_problem",
    "account_ok": "account_ok",
    "lease_takeover": "lease_takeover",
}

_stats: Any = None


def stats() -> Any:
    """Airflow's ``Stats`` (the Task SDK's on 3.2+, ``airflow.stats`` on 3.1)."""
    global _stats
    if _stats is None:
        try:
            from airflow.sdk.observability.stats import Stats
        except ImportError:  # Airflow 3.1
            from airflow.stats import Stats
        _stats = Stats
    return _stats


def _tags(signal: Any) -> dict[str, str]:
    tags = {}
    if signal.kind:
        tags["kind"] = str(signal.kind)
    if signal.detail:
        tags["detail"] = str(signal.detail)
    return tags


def record(signal: Any) -> None:
    """Map one core signal to its metric."""
    target = stats()
    tags = _tags(signal)
    name = signal.name
    if name in _BY_KIND:
        target.incr(f"{PREFIX}.{name}.{signal.kind or 'other'}", tags=tags)
    elif name in _COUNTERS:
        target.incr(f"{PREFIX}.{_COUNTERS[name]}", int(signal.value or 1), tags=tags)
    elif name == "slot_wait":
        target.gauge(f"{PREFIX}.slot_waiting", float(signal.value), tags=tags)
    elif name == "flush":
        target.timing(f"{PREFIX}.flush", datetime.timedelta(seconds=float(signal.value)), tags=tags)


def connect() -> None:
    """Subscribe :func:`record` to the core's signals (idempotent)."""
    from activitysmith_core.tracking import subscribe

    subscribe(record)
