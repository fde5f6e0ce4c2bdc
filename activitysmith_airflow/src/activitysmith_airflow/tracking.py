"""DAG runs as segmented_progress Live Activities.

``ActivitySmithDagRunTracker`` gives a DAG task and DAG callbacks; each callback recomputes the
run's absolute state from Airflow (``get_task_states`` over the whole run, mapped instances and
tasks that never ran included) and hands it to the core's ``RunReporter``. No counters are kept,
so tasks finishing in parallel on different workers can never make the count wrong.

The same functions serve the listener plugin (``activitysmith_airflow.listeners``), which tracks
every DAG carrying a tag without any code change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from activitysmith_core.tracking import (
    RunReporter,
    RunState,
    RunStatus,
    Step,
    StepStatus,
    TrackerOptions,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger("activitysmith_airflow.tracking")

Granularity = Literal["task", "task_group"]

_STATUS: dict[str, StepStatus] = {
    "success": StepStatus.SUCCESS,
    "failed": StepStatus.FAILED,
    "skipped": StepStatus.SKIPPED,
    "removed": StepStatus.SKIPPED,
    "upstream_failed": StepStatus.UPSTREAM_FAILED,
    "running": StepStatus.RUNNING,
    "deferred": StepStatus.RUNNING,
    "restarting": StepStatus.RUNNING,
    "up_for_reschedule": StepStatus.RUNNING,
    "up_for_retry": StepStatus.RETRYING,
}


def step_status(state: object) -> StepStatus:
    """An Airflow task-instance state (enum, string or None) as a step status."""
    value = getattr(state, "value", state)
    return _STATUS.get(str(value), StepStatus.PENDING) if value else StepStatus.PENDING


def aggregate(statuses: list[StepStatus]) -> StepStatus:
    """One status for several instances (a mapped task) or tasks (a task group)."""
    if not statuses:
        return StepStatus.PENDING
    if all(s.is_finished for s in statuses):
        for outcome in (StepStatus.FAILED, StepStatus.UPSTREAM_FAILED):
            if outcome in statuses:
                return outcome
        if all(s is StepStatus.SKIPPED for s in statuses):
            return StepStatus.SKIPPED
        return StepStatus.SUCCESS
    if StepStatus.RETRYING in statuses:
        return StepStatus.RETRYING
    if StepStatus.RUNNING in statuses or any(s.is_finished for s in statuses):
        return StepStatus.RUNNING
    return StepStatus.PENDING


def topological_order(tasks: dict[str, Any]) -> list[str]:
    """Task ids in a stable topological order: upstream first, ties in definition order."""
    position = {tid: i for i, tid in enumerate(tasks)}
    remaining = {
        tid: {u for u in getattr(t, "upstream_task_ids", ()) if u in tasks}
        for tid, t in tasks.items()
    }
    order: list[str] = []
    while remaining:
        ready = sorted((t for t, ups in remaining.items() if not ups), key=position.__getitem__)
        if not ready:  # a cycle cannot parse in Airflow; keep going rather than loop
            ready = sorted(remaining, key=position.__getitem__)[:1]
        for tid in ready:
            order.append(tid)
            del remaining[tid]
        for ups in remaining.values():
            ups.difference_update(ready)
    return order


def _group_of(task: Any, task_id: str) -> str:
    group = getattr(task, "task_group", None)
    while group is not None and getattr(group, "parent_group", None) is not None:
        if getattr(group.parent_group, "group_id", None) is None:
            break
        group = group.parent_group
    group_id = getattr(group, "group_id", None)
    if group_id:
        return str(group_id)
    return task_id.split(".", 1)[0] if "." in task_id else task_id


def build_steps(
    tasks: dict[str, Any], states: dict[str, Any], granularity: Granularity = "task"
) -> list[Step]:
    """Segments for a run: one per task (a mapped task being one) or per top-level task group.

    ``states`` is what ``get_task_states`` returns for the run: ``{task_id: state}`` with mapped
    instances as ``{task_id}_{map_index}``.
    """
    order = topological_order(tasks)
    per_task: dict[str, list[StepStatus]] = {tid: [] for tid in order}
    for key, state in states.items():
        if key in per_task:
            per_task[key].append(step_status(state))
            continue
        base, _, index = key.rpartition("_")
        if index.isdigit() and base in per_task:
            per_task[base].append(step_status(state))
    if granularity == "task":
        return [Step(tid, aggregate(per_task[tid])) for tid in order]
    groups: dict[str, list[StepStatus]] = {}
    for tid in order:
        statuses = per_task[tid] or [StepStatus.PENDING]
        groups.setdefault(_group_of(tasks[tid], tid), []).extend(statuses)
    return [Step(name, aggregate(statuses)) for name, statuses in groups.items()]


def fetch_states(dag_id: str, run_id: str) -> dict[str, Any]:
    """The run's task states from Airflow: through the task SDK where a supervisor answers
    (task processes, the DAG processor), else from the metadata database (``dags test``)."""
    try:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        result = RuntimeTaskInstance.get_task_states(dag_id=dag_id, run_ids=[run_id])
        return dict(result.get(run_id, {}))
    except (NameError, AttributeError, ImportError, RuntimeError) as exc:
        log.debug("get_task_states unavailable here (%s); reading the database", exc)
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        ).all()
    return {
        (tid if index is None or index < 0 else f"{tid}_{index}"): state
        for tid, index, state in rows
    }


def ui_base_url() -> str:
    try:
        from airflow.configuration import conf

        return str(conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")
    except Exception:  # pragma: no cover - config always loads inside Airflow
        return "http://localhost:8080"


def run_url(base: str, dag_id: str, run_id: str) -> str:
    return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def _format(template: str | None, **fields: Any) -> str | None:
    if template is None:
        return None

    class _Keep(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    return template.format_map(_Keep(fields))


class ActivitySmithDagRunTracker:
    """Track every run of a DAG as a segmented_progress Live Activity.

    One line turns it on::

        tracker = ActivitySmithDagRunTracker(channels=["data"])
        with DAG("etl", ..., **tracker.dag_kwargs()):      # or tracker.attach(dag)
            ...

    :param activitysmith_conn_id: the ``activitysmith`` connection
    :param channels: channels for the activity and pushes (default: the connection's)
    :param title: activity title; ``{dag_id}``, ``{run_id}`` and ``{logical_date}`` are filled in
        (default the DAG id)
    :param subtitle: subtitle template over ``{status}`` (the automatic text: what runs now),
        ``{done}``, ``{total}``, ``{dag_id}``, ``{run_id}``
    :param granularity: ``task`` (one segment per task, a mapped task being one) or
        ``task_group`` (one per top-level task group, for DAGs with many tasks)
    :param push_on_failure / push_on_retry / push_on_success: which events push; a task's final
        failure pushes by default, retries and a successful run only when asked
    :param auto_dismiss_minutes / auto_dismiss_seconds: how long the ended activity stays
    :param budget / final_budget: seconds one callback's update (and the final state) may take,
        retries included; a notification problem never fails or stalls a task
    :param ui_base_url: the Airflow UI for the "Open run" button and log links (default
        ``[api] base_url``)
    """

    def __init__(
        self,
        *,
        activitysmith_conn_id: str = "activitysmith_default",
        channels: list[str] | str | None = None,
        title: str | None = None,
        subtitle: str | None = None,
        granularity: Granularity = "task",
        success_color: str = "green",
        failed_color: str = "red",
        skipped_color: str = "gray",
        running_color: str = "blue",
        accent_color: str = "blue",
        icon: str | None = None,
        push_on_failure: bool = True,
        push_on_retry: bool = False,
        push_on_success: bool = False,
        auto_dismiss_minutes: int | None = None,
        auto_dismiss_seconds: int | None = None,
        budget: float = 10.0,
        final_budget: float = 30.0,
        ui_base_url: str | None = None,
    ) -> None:
        if granularity not in ("task", "task_group"):
            raise ValueError(f"granularity: must be 'task' or 'task_group', not {granularity!r}")
        self.activitysmith_conn_id = activitysmith_conn_id
        self.title = title
        self.subtitle = subtitle
        self.granularity: Granularity = granularity
        self.ui_base_url = ui_base_url.rstrip("/") if ui_base_url else None
        self.options = TrackerOptions(
            channels=channels,  # type: ignore[arg-type]
            success_color=success_color,  # type: ignore[arg-type]
            failed_color=failed_color,  # type: ignore[arg-type]
            skipped_color=skipped_color,  # type: ignore[arg-type]
            running_color=running_color,  # type: ignore[arg-type]
            accent_color=accent_color,  # type: ignore[arg-type]
            icon=icon,
            push_on_failure=push_on_failure,
            push_on_retry=push_on_retry,
            push_on_success=push_on_success,
            auto_dismiss_minutes=auto_dismiss_minutes,
            auto_dismiss_seconds=auto_dismiss_seconds,
            budget=budget,
            final_budget=final_budget,
            subtitle_template=subtitle,
        )

    def __repr__(self) -> str:
        return f"ActivitySmithDagRunTracker(conn_id={self.activitysmith_conn_id!r})"

    # -- wiring -------------------------------------------------------------------------------
    def task_callbacks(self) -> dict[str, Callable[[Context], None]]:
        return {
            "on_execute_callback": self.on_task_execute,
            "on_success_callback": self.on_task_success,
            "on_failure_callback": self.on_task_failure,
            "on_retry_callback": self.on_task_retry,
            "on_skipped_callback": self.on_task_skipped,
        }

    def default_args(self, default_args: dict[str, Any] | None = None) -> dict[str, Any]:
        """``default_args`` with the task callbacks added (existing callbacks are kept)."""
        merged = dict(default_args or {})
        for name, callback in self.task_callbacks().items():
            merged[name] = _add(merged.get(name), callback)
        return merged

    def dag_kwargs(
        self,
        default_args: dict[str, Any] | None = None,
        *,
        on_success_callback: Any = None,
        on_failure_callback: Any = None,
    ) -> dict[str, Any]:
        """Keyword arguments for ``DAG(...)`` / ``@dag(...)``: task and DAG callbacks, merged
        with your own ``default_args`` and DAG callbacks (a notifier, say)."""
        return {
            "default_args": self.default_args(default_args),
            "on_success_callback": _add(on_success_callback, self.on_dag_success),
            "on_failure_callback": _add(on_failure_callback, self.on_dag_failure),
        }

    def attach(self, dag: Any) -> Any:
        """Attach to an existing DAG object (every task and the DAG's own callbacks)."""
        for task in dag.tasks:
            for name, callback in self.task_callbacks().items():
                setattr(task, name, _add(getattr(task, name, None), callback))
        dag.on_success_callback = _add(dag.on_success_callback, self.on_dag_success)
        dag.on_failure_callback = _add(dag.on_failure_callback, self.on_dag_failure)
        return dag

    # -- building the run ---------------------------------------------------------------------
    def reporter(self) -> RunReporter:
        return RunReporter(lambda: _client_for(self.activitysmith_conn_id), self.options)

    def run_state(
        self,
        dag: Any,
        dag_id: str,
        run_id: str,
        *,
        logical_date: object = None,
        status: RunStatus = RunStatus.RUNNING,
        states: dict[str, Any] | None = None,
    ) -> RunState:
        """The absolute state of a run, recomputed from Airflow."""
        states = fetch_states(dag_id, run_id) if states is None else states
        base = self.ui_base_url or ui_base_url()
        title = _format(self.title, dag_id=dag_id, run_id=run_id, logical_date=logical_date)
        return RunState(
            orchestrator="airflow",
            pipeline_id=dag_id,
            run_id=run_id,
            steps=build_steps(dict(dag.task_dict), states, self.granularity),
            status=status,
            title=title or dag_id,
            url=run_url(base, dag_id, run_id),
        )

    def _task_run(self, context: Context) -> tuple[RunState, Any]:
        ti = context["ti"]
        dag = context.get("dag") or ti.task.dag
        run = self.run_state(dag, ti.dag_id, ti.run_id, logical_date=context.get("logical_date"))
        return run, ti

    def _log_url(self, ti: Any) -> str | None:
        url = getattr(ti, "log_url", None)
        if url and self.ui_base_url:
            return str(url).replace(ui_base_url(), self.ui_base_url, 1)
        return str(url) if url else None

    # -- task callbacks (each never raises) ---------------------------------------------------
    def _guard(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:
            log.warning("ActivitySmith tracker: %s skipped: %s", what, exc)

    def on_task_execute(self, context: Context) -> None:
        """Show the task running, without holding the task up: the update goes out on a
        background thread that the task's next callback joins, so updates stay in order."""
        try:
            run = self._task_run(context)[0]  # Airflow calls stay on the callback's thread
        except Exception as exc:
            log.warning("ActivitySmith tracker: update skipped: %s", exc)
            return
        thread = threading.Thread(
            target=self._guard,
            args=("update", lambda: self.reporter().update(run)),
            name="activitysmith-update",
            daemon=True,
        )
        _IN_FLIGHT.append(thread)
        thread.start()

    def on_task_success(self, context: Context) -> None:
        _join_in_flight(self.options.budget)
        self._guard("update", lambda: self.reporter().update(self._task_run(context)[0]))

    on_task_skipped = on_task_success

    def on_task_retry(self, context: Context) -> None:
        _join_in_flight(self.options.budget)

        def go() -> None:
            run, ti = self._task_run(context)
            reporter = self.reporter()
            reporter.update(run)
            if self.options.push_on_retry:
                reporter.push_retry(run, ti.task_id, context.get("exception"), self._log_url(ti))

        self._guard("retry update", go)

    def on_task_failure(self, context: Context) -> None:
        _join_in_flight(self.options.budget)

        def go() -> None:
            run, ti = self._task_run(context)
            reporter = self.reporter()
            reporter.update(run)
            if self.options.push_on_failure:
                reporter.push_failure(run, ti.task_id, context.get("exception"), self._log_url(ti))

        self._guard("failure update", go)

    # -- DAG callbacks ------------------------------------------------------------------------
    def finish(
        self, dag: Any, dag_id: str, run_id: str, status: RunStatus, logical_date: object = None
    ) -> None:
        """Send the run's final state (and the success push, if asked)."""

        def go() -> None:
            run = self.run_state(dag, dag_id, run_id, logical_date=logical_date, status=status)
            reporter = self.reporter()
            reporter.finish(run)
            if status is RunStatus.SUCCESS and self.options.push_on_success:
                reporter.push_success(run)

        self._guard("final state", go)

    def _dag_finish(self, context: Context, status: RunStatus) -> None:
        dag_run = context["dag_run"]
        reason = str(context.get("reason") or "")
        if status is RunStatus.FAILED and "time" in reason.lower():
            status = RunStatus.TIMED_OUT
        self.finish(
            context["dag"], dag_run.dag_id, dag_run.run_id, status, context.get("logical_date")
        )

    def on_dag_success(self, context: Context) -> None:
        self._dag_finish(context, RunStatus.SUCCESS)

    def on_dag_failure(self, context: Context) -> None:
        self._dag_finish(context, RunStatus.FAILED)


_IN_FLIGHT: list[threading.Thread] = []
_CLIENTS: dict[tuple[str, str, str], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _join_in_flight(timeout: float) -> None:
    while _IN_FLIGHT:
        _IN_FLIGHT.pop(0).join(timeout)


def _client_for(conn_id: str) -> Any:
    """One client per connection and process: building an httpx client costs milliseconds
    (its TLS context), and callbacks of one task process share it."""
    import hashlib

    from .hooks.activitysmith import ActivitySmithHook

    hook = ActivitySmithHook(activitysmith_conn_id=conn_id)
    conn = hook.connection
    fingerprint = hashlib.sha256(f"{conn.password}|{conn.extra}".encode()).hexdigest()
    key = (conn_id, hook.base_url, fingerprint)
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = hook.get_conn()
        return _CLIENTS[key]


def _add(existing: Any, callback: Callable[..., Any]) -> Any:
    if existing is None:
        return callback
    callbacks = list(existing) if isinstance(existing, (list, tuple)) else [existing]
    if callback not in callbacks:
        callbacks.append(callback)
    return callbacks


def tracked_by_callbacks(tasks: Iterable[Any]) -> bool:
    """True when a DAG's tasks already carry a tracker's callbacks (the listener then stays out)."""
    for task in tasks:
        callbacks = getattr(task, "on_execute_callback", None) or []
        if not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        if any(
            isinstance(getattr(cb, "__self__", None), ActivitySmithDagRunTracker)
            for cb in callbacks
        ):
            return True
    return False
