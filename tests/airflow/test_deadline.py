"""ActivitySmithNotifier as an Airflow Deadline Alert callback (Airflow 3.1+), run by the
triggerer.

Airflow builds the notifier from the ``AsyncCallback``'s kwargs plus ``context`` (a reduced one,
made by the scheduler: the run as the REST API shows it and the deadline) and awaits it. Checked
three ways: awaiting it directly; through Airflow's own callback trigger with its kwargs
serialized and decrypted as the trigger row stores them; and under a real scheduler, DAG
processor and triggerer on PostgreSQL with a DAG that misses its deadline.
"""

from __future__ import annotations

import asyncio
import importlib
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from activitysmith_airflow import ActivitySmithNotifier
from activitysmith_core import stream_key

from . import _cluster
from ._cluster import AIRFLOW, cli, query, start
from .conftest import AIRFLOW_32, load_dag

HERE = Path(__file__).parent
NOTIFIER_PATH = "activitysmith_airflow.notifications.activitysmith.ActivitySmithNotifier"


def _context(
    deadline_time: Any, dag_id: str = "nightly_etl", run_id: str = "scheduled__2026-01-01"
) -> dict[str, Any]:
    """What the scheduler hands a missed deadline's callback (Deadline.handle_miss)."""
    return {
        "dag_run": {
            "dag_id": dag_id,
            "dag_run_id": run_id,
            "state": "running",
            "queued_at": "2026-01-01T05:00:00.123456Z",
            "run_type": "scheduled",
        },
        "deadline": {
            "id": str(uuid.uuid4()) if AIRFLOW_32 else uuid.uuid4(),
            "deadline_time": deadline_time,
        },
    }


def _pushes(sandbox: Any, n: int, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while len(sandbox.pushes) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    return list(sandbox.pushes)


# -- the notifier, awaited as the triggerer awaits it -------------------------------------------


@pytest.mark.parametrize(
    "deadline_time",
    [
        datetime(2026, 1, 1, 6, 0, 30, tzinfo=timezone.utc),
        datetime(2026, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=2))),  # shown in UTC
        "2026-01-01T06:00:00+00:00",  # as JSON
    ],
)
def test_async_notify_says_which_dag_missed_which_deadline(
    airflow_sandbox: Any, deadline_time: Any
) -> None:
    asyncio.run(_await(ActivitySmithNotifier(context=_context(deadline_time))))
    [push] = _pushes(airflow_sandbox, 1)
    assert push["title"] == "nightly_etl missed its 06:00 deadline"
    assert push["message"] == "Run scheduled__2026-01-01 is still running"
    assert push["redirection"] == (
        "http://airflow.test:8080/dags/nightly_etl/runs/scheduled__2026-01-01"
    )


async def _await(notifier: ActivitySmithNotifier) -> None:
    await notifier


def test_async_notify_directly_with_a_deadline_context(airflow_sandbox: Any) -> None:
    notifier = ActivitySmithNotifier(channels=["ops"], interruption_level="time-sensitive")
    asyncio.run(notifier.async_notify(_context(datetime(2026, 1, 1, 23, 59, tzinfo=timezone.utc))))  # type: ignore[arg-type]
    [push] = _pushes(airflow_sandbox, 1)
    assert push["title"] == "nightly_etl missed its 23:59 deadline"
    assert push["target"] == {"channels": ["ops"]}
    assert push["interruption_level"] == "time-sensitive"


def test_explicit_fields_win_and_templates_see_the_deadline_context(airflow_sandbox: Any) -> None:
    notifier = ActivitySmithNotifier(
        title="{{ dag_run.dag_id }} is late",
        message="run {{ dag_run.dag_run_id }}",
        redirection="https://status.example.com",
        context=_context(datetime(2026, 1, 1, 6, 0, tzinfo=timezone.utc)),
    )
    asyncio.run(_await(notifier))
    [push] = _pushes(airflow_sandbox, 1)
    assert push["title"] == "nightly_etl is late"
    assert push["message"] == "run scheduled__2026-01-01"
    assert push["redirection"] == "https://status.example.com"


def test_a_context_without_the_deadline_time_still_names_the_dag(airflow_sandbox: Any) -> None:
    context = _context(None)
    del context["deadline"]["deadline_time"]
    asyncio.run(_await(ActivitySmithNotifier(context=context)))
    [push] = _pushes(airflow_sandbox, 1)
    assert push["title"] == "nightly_etl missed its deadline"


def test_never_raises_into_the_triggerer(
    airflow_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing connection and a failing API: a warning, no exception. A broken template: a
    warning, and the push goes out with the text as written."""
    from activitysmith_core.sandbox import Faults

    warnings: list[str] = []

    class _Log:
        def warning(self, msg: str, *args: Any) -> None:
            warnings.append(msg % args)

        def __getattr__(self, name: str) -> Any:
            return lambda *a, **k: None

    monkeypatch.setattr(ActivitySmithNotifier, "log", property(lambda self: _Log()))
    context = _context(datetime(2026, 1, 1, 6, 0, tzinfo=timezone.utc))
    asyncio.run(_await(ActivitySmithNotifier(activitysmith_conn_id="nope", context=context)))
    asyncio.run(_await(ActivitySmithNotifier(title="{{ dag_run.dag_id", context=context)))
    assert [p["title"] for p in _pushes(airflow_sandbox, 1)] == ["{{ dag_run.dag_id"]
    airflow_sandbox.set_faults(Faults(error_rate=1.0))
    asyncio.run(_await(ActivitySmithNotifier(timeout=1, context=context)))
    assert [w.split(":")[0] for w in warnings] == [
        "ActivitySmith notification not sent",  # no connection "nope"
        "ActivitySmith notifier",  # templates not rendered
        "ActivitySmith notification not sent",  # HTTP 500
    ], warnings


# -- through Airflow's own callback trigger -----------------------------------------------------


def _airflow_trigger(kwargs: dict[str, Any]) -> Any:
    """Airflow's trigger for an AsyncCallback, built as the scheduler builds it and read back as
    the triggerer reads it (kwargs serialized and encrypted in the trigger row)."""
    from airflow.models.trigger import Trigger
    from airflow.sdk.definitions.deadline import AsyncCallback

    callback = AsyncCallback(ActivitySmithNotifier, kwargs=kwargs)
    assert callback.path == NOTIFIER_PATH
    if AIRFLOW_32:
        from airflow.triggers.callback import CallbackTrigger as TriggerClass
    else:
        from airflow.triggers.deadline import (  # type: ignore[no-redef]
            DeadlineCallbackTrigger as TriggerClass,
        )
    context = _context(datetime(2026, 1, 1, 6, 0, tzinfo=timezone.utc))
    trigger = TriggerClass(
        callback_path=callback.path,
        callback_kwargs=dict(callback.kwargs or {}) | {"context": context},
    )
    classpath, stored = trigger.serialize()
    stored = Trigger._decrypt_kwargs(Trigger.encrypt_kwargs(stored))
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**stored)


async def _events(trigger: Any) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def test_airflows_callback_trigger_runs_the_notifier(airflow_sandbox: Any) -> None:
    events = asyncio.run(_events(_airflow_trigger({"channels": ["ops"]})))
    assert [getattr(e["state"], "value", e["state"]) for e in events] == ["running", "success"]
    [push] = _pushes(airflow_sandbox, 1)
    assert push["title"] == "nightly_etl missed its 06:00 deadline"
    assert push["target"] == {"channels": ["ops"]}


def test_airflows_callback_trigger_succeeds_even_when_the_push_fails(airflow_sandbox: Any) -> None:
    events = asyncio.run(_events(_airflow_trigger({"activitysmith_conn_id": "missing"})))
    assert [getattr(e["state"], "value", e["state"]) for e in events] == ["running", "success"]
    assert airflow_sandbox.pushes == []


def test_a_sync_callback_on_an_executor_pushes_too(airflow_sandbox: Any) -> None:
    """Airflow 3.2+ also takes ``SyncCallback(ActivitySmithNotifier, ...)``, run on an executor
    by Airflow's ``execute_callback``: the notifier is built with the context, then called."""
    supervisor = pytest.importorskip("airflow.sdk.execution_time.callback_supervisor")
    import structlog

    context = _context(datetime(2026, 1, 1, 6, 0, tzinfo=timezone.utc))
    ok, error = supervisor.execute_callback(
        NOTIFIER_PATH,
        {"channels": ["ops"], "context": context},
        "deadline_dag.py",
        None,
        structlog.get_logger(),
    )
    assert (ok, error) == (True, None)
    [push] = _pushes(airflow_sandbox, 1)
    assert push["title"] == "nightly_etl missed its 06:00 deadline"


# -- a real scheduler, DAG processor and triggerer on PostgreSQL --------------------------------

needs_postgres = _cluster.needs_postgres()


def _with_deadline_dag(cluster: dict) -> None:
    shutil.copy(HERE / "deadline_dags" / "deadline_dag.py", cluster["home"] / "dags")


@pytest.fixture(scope="module")
def deadline_cluster(sandbox_module: Any) -> Iterator[dict]:
    with _cluster.cluster(
        sandbox_module, prefix="airflow-deadline-", before_migrate=_with_deadline_dag
    ) as found:
        start(found, "triggerer", [*AIRFLOW, "triggerer"], found["env"])
        yield found


@needs_postgres
def test_a_missed_deadline_pushes_from_the_triggerer(
    deadline_cluster: dict, sandbox_module: Any
) -> None:
    """late_etl's task sleeps 25 s; its Deadline Alerts fire 5 and 6 s after the run is queued.
    The scheduler sees them missed, the triggerer runs the notifier: two pushes while the run is
    still going, the default one naming the DAG and the deadline's time in UTC.

    ``make test-airflow-min`` deselects it: that environment (Airflow 3.1) has no PostgreSQL
    driver (psycopg2), as for test_concurrency_postgres.py. The same DAG was run by hand under
    Airflow 3.1.8's scheduler and triggerer on SQLite and pushed the same two notifications."""
    dag_id, root = "late_etl", deadline_cluster["root"]
    env = deadline_cluster["env"]
    until = time.monotonic() + 120
    while not query(deadline_cluster, "SELECT 1 FROM dag WHERE dag_id = %s", dag_id):
        assert time.monotonic() < until, f"the DAG processor never parsed {dag_id}; see {root}"
        time.sleep(1)
    run_id = f"deadline__{int(time.time())}"
    cli(env, "dags", "unpause", dag_id)
    cli(env, "dags", "trigger", dag_id, "--run-id", run_id)

    pushes = _pushes(sandbox_module, 2, timeout=60)
    assert len(pushes) == 2, f"{pushes}; logs in {root}"
    ((deadline_time,),) = query(
        deadline_cluster,
        "SELECT min(d.deadline_time) FROM deadline d JOIN dag_run r ON r.id = d.dagrun_id "
        "WHERE r.run_id = %s",
        run_id,
    )
    by_title = {p["title"]: p for p in pushes}
    default = by_title[
        f"late_etl missed its {deadline_time.astimezone(timezone.utc):%H:%M} deadline"
    ]
    assert default["message"] in (f"Run {run_id} is still running", f"Run {run_id} is still queued")
    assert default["target"] == {"channels": ["ops"]}
    assert default["redirection"].endswith(f"/dags/late_etl/runs/{run_id}")
    assert by_title["late_etl is late"]["message"] == run_id

    (state,) = query(deadline_cluster, "SELECT state FROM dag_run WHERE run_id = %s", run_id)[0]
    assert state in ("queued", "running"), "the pushes came only after the run had ended"
    until = time.monotonic() + 90
    while state not in ("success", "failed"):
        assert time.monotonic() < until, f"{dag_id} still {state}; logs in {root}"
        time.sleep(1)
        (state,) = query(deadline_cluster, "SELECT state FROM dag_run WHERE run_id = %s", run_id)[0]
    assert state == "success"
    assert len(sandbox_module.pushes) == 2
    # The tracked run's activity showed the deadline while it ran, then ended.
    key = stream_key("airflow", dag_id, run_id)
    until = time.monotonic() + 30
    while sandbox_module.activities.get(key, {}).get("status") not in ("ended", "dismissed"):
        assert time.monotonic() < until, "the tracked run's final state never arrived"
        time.sleep(0.5)
    reqs = sandbox_module.stream_requests(key)
    subtitles = [r.body["content_state"]["subtitle"] for r in reqs if r.method == "PUT"]
    assert any("deadline" in s for s in subtitles), subtitles
    triggerer_log = (root / "triggerer.log").read_text(errors="replace")
    assert "not sent" not in triggerer_log


def test_the_dag_file_parses_with_its_deadline_alerts() -> None:
    """The DAG file as a DAG author writes it parses on this Airflow version (3.1 and 3.3)."""
    dag = load_dag("late_etl", HERE / "deadline_dags")
    assert len(dag.deadline) == 2
    assert {alert.callback.path for alert in dag.deadline} == {NOTIFIER_PATH}
