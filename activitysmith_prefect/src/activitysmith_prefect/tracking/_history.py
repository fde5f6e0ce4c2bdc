"""Reads from the Prefect API: one client per process, a fixed number of requests per flow run.

- on ``on_running`` (a background thread): the deployment's (else the flow's) last completed
  runs, one request (their median duration gives the time left), and the latest one's task
  runs, one request (at most 200: the expected steps, subflow calls included);
- at the run's end, only when the run's task runs were not all seen in a final state in the
  flow's process (tasks in other processes, a hook run by a Runner in another process): the
  flow run's task runs, one request per 200, within half of the ``deadline``, after this
  process's queued Prefect events are sent, and again while the server may still be
  recording them.
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

from ._changes import TaskRunChange, change_of
from ._states import task_name

log = logging.getLogger("activitysmith_prefect.tracking")

PAGE = 200

_client_lock = threading.Lock()
_clients: dict[str, Any] = {}


def prefect_client() -> Any:
    """One sync Prefect client per process and API URL (Prefect's client retries 429s with
    their Retry-After)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    url = str(get_current_settings().api.url)
    with _client_lock:
        client = _clients.get(url)
        if client is None:
            client = get_client(sync_client=True)
            client.__enter__()
            _clients[url] = client
        return client


def _is_subflow(task_run: Any) -> bool:
    details = getattr(getattr(task_run, "state", None), "state_details", None)
    return getattr(details, "child_flow_run_id", None) is not None


def read_history(
    flow_run: Any, *, steps: bool, runs: int
) -> tuple[float | None, list[tuple[str, str]]]:
    """The median duration of the last ``runs`` completed runs of the flow run's deployment
    (else its flow), one request; with ``steps``, the (task key, task) of the latest one's task
    runs and subflow calls in their order of first appearance (at most 200), one request."""
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterId,
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort

    client = prefect_client()
    completed = FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED]))
    deployment = getattr(flow_run, "deployment_id", None)
    if deployment is not None:
        found = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=completed, deployment_id=FlowRunFilterDeploymentId(any_=[deployment])
            ),
            sort=FlowRunSort.END_TIME_DESC,
            limit=runs,
        )
    else:
        found = client.read_flow_runs(
            flow_filter=FlowFilter(id=FlowFilterId(any_=[flow_run.flow_id])),
            flow_run_filter=FlowRunFilter(state=completed),
            sort=FlowRunSort.END_TIME_DESC,
            limit=runs,
        )
    found = [r for r in found if r.id != flow_run.id]
    durations = [r.total_run_time.total_seconds() for r in found if r.total_run_time]
    median = statistics.median(durations) if durations else None
    if not steps or not found:
        return median, []
    task_runs = client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[found[0].id])),
        sort=TaskRunSort.EXPECTED_START_TIME_ASC,
        limit=PAGE,
    )
    expected: list[tuple[str, str]] = []
    for task_run in task_runs:
        task = task_name(str(task_run.name), str(getattr(task_run, "dynamic_key", "") or ""))
        subflow = _is_subflow(task_run)  # one segment per call
        key = f"subflow|{task_run.id}" if subflow else str(getattr(task_run, "task_key", ""))
        expected.append((key, task))
    return median, expected


def read_task_runs(flow_run_id: object, timeout: float) -> list[TaskRunChange]:
    """The flow run's task runs and subflow calls as changes (their current states), in their
    order: one paged read in the background, waited for at most ``timeout`` seconds."""
    found: list[Any] = []

    def read() -> None:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
        from prefect.client.schemas.sorting import TaskRunSort

        client = prefect_client()
        offset = 0
        while True:
            page = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(str(flow_run_id))])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=PAGE,
                offset=offset,
            )
            found.extend(page)
            if len(page) < PAGE:
                return
            offset += PAGE

    within(timeout, read)
    changes = [change_of(task_run, getattr(task_run, "state", None)) for task_run in list(found)]
    return [change for change in changes if change is not None]


_sending_lock = threading.Lock()
_sending: threading.Event | None = None


def send_queued_events(timeout: float) -> bool:
    """Wait, at most ``timeout`` seconds, until this process's Prefect events workers have sent
    what they hold: the last states of task runs on its threads (and those a process pool
    forwarded) may still be queued when the flow's final hook runs. False if not done in time.

    One daemon thread waits for the workers at a time, whatever the number of runs ending: a
    worker that cannot send (its API unreachable) keeps that one thread, not one per run."""
    global _sending
    with _sending_lock:
        done = _sending
        if done is None:
            done = _sending = threading.Event()
            threading.Thread(
                target=_wait_for_events_workers,
                args=(done,),
                name="activitysmith-events-sent",
                daemon=True,
            ).start()
    return done.wait(timeout)


def _wait_for_events_workers(done: threading.Event) -> None:
    global _sending
    try:
        from prefect.events.worker import EventsWorker

        services = list(getattr(EventsWorker, "_instances", {}).values())  # Prefect's services
        for service in services:
            if isinstance(service, EventsWorker) and not getattr(service, "_stopped", False):
                service.wait_until_empty()
    except Exception as exc:
        log.debug("ActivitySmith: queued Prefect events not awaited (%r)", exc)
    finally:
        with _sending_lock:
            _sending = None
        done.set()


def within(seconds: float, fn: Callable[[], object]) -> bool:
    """Run ``fn`` on a daemon thread, waiting for it at most ``seconds``; False if it is still
    running then (it is left to finish on its own)."""
    done = threading.Event()

    def run() -> None:
        try:
            fn()
        except Exception as exc:
            log.warning("ActivitySmith: %s", exc)
        finally:
            done.set()

    threading.Thread(target=run, name="activitysmith-bounded", daemon=True).start()
    return done.wait(seconds)
