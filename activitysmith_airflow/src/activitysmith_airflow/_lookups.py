"""What a watcher looks up once and reuses, bounded: a DAG version's DAG and how it is tracked,
a DAG's median duration, and the API client of each connection."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from . import _reads
from ._runs import Bounded
from .tracking import TrackingSpec, spec_of

log = logging.getLogger("activitysmith_airflow.tracking")

DAG_CACHE = 128
"""DAG versions whose tracking decision (and, if tracked, DAG) a watcher keeps."""
HISTORY_TTL = 600.0
"""Seconds a DAG's median duration is reused before it is read again (sooner after a run of it
succeeded here)."""
HISTORY_CACHE = 256
_CLIENT_TTL = 300.0

_CLIENTS: dict[str, tuple[float, Any]] = {}
_CLIENTS_LOCK = threading.Lock()


def client_for(conn_id: str) -> Any:
    """One client per connection and process, rebuilt every few minutes (a rotated key)."""
    from .hooks.activitysmith import ActivitySmithHook

    with _CLIENTS_LOCK:
        cached = _CLIENTS.get(conn_id)
        if cached and time.monotonic() - cached[0] < _CLIENT_TTL:
            return cached[1]
        client = ActivitySmithHook(activitysmith_conn_id=conn_id).get_conn()
        _CLIENTS[conn_id] = (time.monotonic(), client)
        return client


def new_session() -> Any:
    """A session of its own (not the scoped one of the thread's caller)."""
    from airflow.utils.session import create_session

    try:
        return create_session(scoped=False)
    except TypeError:  # pragma: no cover - older signature
        return create_session()


def latest_dag(dag_id: str) -> Any:
    """The DAG's latest serialized version."""
    from airflow.models.serialized_dag import SerializedDagModel

    with new_session() as session:
        return SerializedDagModel.get_dag(dag_id, session=session)


class Lookups:
    """The bounded caches of one watcher."""

    def __init__(self) -> None:
        self._dags: Bounded = Bounded(DAG_CACHE)
        self._history: Bounded = Bounded(HISTORY_CACHE)

    def forget_history(self, dag_id: str) -> None:
        """A run of the DAG succeeded: its next run reads the new median."""
        self._history.pop(dag_id, None)

    def dag_of(self, session: Any, dag_id: str, version: Any) -> tuple[Any, TrackingSpec | None]:
        """The run's DAG (its own version) and how it is tracked, from a bounded cache."""
        cache_key = (dag_id, str(version))
        found = self._dags.get_fresh(cache_key)
        if found is not None:
            return tuple(found)  # type: ignore[return-value]
        from airflow.models.serialized_dag import SerializedDagModel
        from sqlalchemy import select

        dag = None
        if version is not None:
            model = session.scalar(
                select(SerializedDagModel).where(SerializedDagModel.dag_version_id == version)
            )
            dag = model.dag if model is not None else None
        if dag is None:
            dag = SerializedDagModel.get_dag(dag_id, session=session)
        spec = spec_of(dag)
        value = (dag if spec else None, spec)
        if dag is not None:
            self._dags.put(cache_key, value)
        return value

    def expected(self, session: Any, dag_id: str) -> float | None:
        cached = self._history.get_fresh(dag_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < HISTORY_TTL:
            return cached[1]  # type: ignore[no-any-return]
        try:
            value = _reads.history(session, dag_id)
        except Exception as exc:
            log.debug("ActivitySmith: no run history for %s (%s)", dag_id, exc)
            value = None
        self._history.put(dag_id, (now, value))
        return value
