"""DAG runs as segmented_progress Live Activities: the Airflow side of the core's engine.

A DAG is tracked when it carries the configured tag (``[activitysmith] tag``) or was declared
with :class:`ActivitySmithDagRunTracker` (which writes its options into the DAG's
``default_args``, where they survive serialization). The provider's listener then does the rest:
one watcher per scheduler (the run's single writer) reads the run's task states from the
metadata database off the scheduler loop's thread and hands the absolute state to the engine;
task processes send nothing, they only record a failed task's error for the watcher's push.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from activitysmith_core.tracking import Step, StepStatus, TrackerOptions, aggregate

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


def group_of(task: Any, task_id: str) -> str:
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
    tasks: dict[str, Any],
    states: dict[str, Any],
    granularity: Granularity = "task",
    counts: dict[str, dict[str, int]] | None = None,
) -> list[Step]:
    """Segments for a run: one per task (a mapped task being one) or per top-level task group.

    ``states`` is what ``get_task_states`` returns for the run: ``{task_id: state}`` with mapped
    instances as ``{task_id}_{map_index}``; ``counts`` gives the same by task instead,
    ``{task_id: {state: number of instances}}`` (what a watcher reads), and adds to ``states``.
    """
    order = topological_order(tasks)
    per_task: dict[str, Counter[StepStatus]] = {tid: Counter() for tid in order}
    for key, state in states.items():
        if key in per_task:
            per_task[key][step_status(state)] += 1
            continue
        base, _, index = key.rpartition("_")
        if index.isdigit() and base in per_task:
            per_task[base][step_status(state)] += 1
    for tid, by_state in (counts or {}).items():
        if tid in per_task:
            for state, number in by_state.items():
                if number > 0:
                    per_task[tid][step_status(state)] += number

    if granularity == "task":
        # Each task keeps its top-level group: where the engine folds a DAG with more tasks
        # than segments, it folds task groups first.
        return [
            Step(
                tid,
                aggregate(list(per_task[tid])),
                group_of(tasks[tid], tid),
                per_task[tid][StepStatus.RUNNING],
            )
            for tid in order
        ]
    groups: dict[str, Counter[StepStatus]] = {}
    for tid in order:
        statuses = per_task[tid] or Counter({StepStatus.PENDING: 1})
        groups.setdefault(group_of(tasks[tid], tid), Counter()).update(statuses)
    return [
        Step(name, aggregate(list(st)), name, st[StepStatus.RUNNING]) for name, st in groups.items()
    ]


def ui_base_url() -> str:
    try:
        from airflow.configuration import conf

        return str(conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")
    except Exception:  # pragma: no cover - config always loads inside Airflow
        return "http://localhost:8080"


def run_url(base: str, dag_id: str, run_id: str) -> str:
    return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def format_title(template: str | None, **fields: Any) -> str | None:
    if template is None:
        return None

    class _Keep(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    return template.format_map(_Keep(fields))


def log_url(
    base: str, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int
) -> str:
    """The task instance's log in the UI (what ``TaskInstance.log_url`` gives, on ``base``)."""
    mapped = f"/mapped/{map_index}" if map_index is not None and map_index >= 0 else ""
    tried = f"?try_number={try_number}" if try_number and try_number > 0 else ""
    return f"{run_url(base, dag_id, run_id)}/tasks/{quote(task_id, safe='')}{mapped}{tried}"


MARKER = "activitysmith"
"""The ``default_args`` key under which a tracker's options travel with the DAG."""
ERROR_XCOM_KEY = "activitysmith_error"
"""The XCom in which a failed task process leaves its error's first line for the watcher."""


def conf_value(key: str, default: str) -> str:
    """An option of the ``[activitysmith]`` configuration section."""
    try:
        from airflow.configuration import conf

        return str(conf.get("activitysmith", key, fallback=default) or default)
    except Exception:  # pragma: no cover - config always loads inside Airflow
        return default


@dataclass(repr=False)
class TrackingSpec:
    """How one DAG is tracked: the connection, the segment granularity, the title template,
    the UI base URL and the core's :class:`TrackerOptions`. Plain values, so it serializes."""

    conn_id: str = "activitysmith_default"
    granularity: Granularity = "task"
    title: str | None = None
    ui_base_url: str | None = None
    options: TrackerOptions = field(default_factory=TrackerOptions)
    explicit: dict[str, Any] = field(init=False)
    """The options given (the rest take the deployment's ``[activitysmith]`` values)."""

    def __post_init__(self) -> None:
        if self.granularity not in ("task", "task_group"):
            raise ValueError(
                f"granularity: must be 'task' or 'task_group', not {self.granularity!r}"
            )
        if not isinstance(self.conn_id, str) or not self.conn_id:
            raise ValueError(
                f"activitysmith_conn_id: must be a connection id, not {self.conn_id!r}"
            )
        self.ui_base_url = self.ui_base_url.rstrip("/") if self.ui_base_url else None
        self.explicit = self.options.to_mapping()

    def __repr__(self) -> str:
        return f"TrackingSpec(conn_id={self.conn_id!r}, granularity={self.granularity!r})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "conn_id": self.conn_id,
            "granularity": self.granularity,
            "title": self.title,
            "ui_base_url": self.ui_base_url,
            "options": self.explicit,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackingSpec:
        """A tracker's spec; options it leaves at their defaults take the deployment's
        ``[activitysmith]`` values (``deadline``, ``interval``, ``push_window``)."""
        return cls(
            conn_id=data.get("conn_id") or "activitysmith_default",
            granularity=data.get("granularity") or "task",
            title=data.get("title"),
            ui_base_url=data.get("ui_base_url"),
            options=TrackerOptions.from_mapping(
                {**_configured_options(), **dict(data.get("options") or {})}
            ),
        )

    @classmethod
    def from_config(cls) -> TrackingSpec:
        """The spec of DAGs tracked by tag: the ``[activitysmith]`` section."""
        granularity = conf_value("granularity", "task")
        return cls(
            conn_id=conf_value("conn_id", "activitysmith_default"),
            granularity=granularity if granularity in ("task", "task_group") else "task",  # type: ignore[arg-type]
            options=TrackerOptions.from_mapping(_configured_options()),
        )


def _configured_options() -> dict[str, float]:
    values: dict[str, float] = {}
    for name in ("deadline", "interval", "push_window", "group_linger"):
        raw = conf_value(name, "")
        if raw:
            try:
                values[name] = float(raw)
            except ValueError:
                log.warning("[activitysmith] %s: not a number (%r); default used", name, raw)
    return values


def spec_of(dag: Any) -> TrackingSpec | None:
    """How ``dag`` is tracked, or None: declared with a tracker, or carrying the tag."""
    if dag is None:
        return None
    marker = (getattr(dag, "default_args", None) or {}).get(MARKER)
    if isinstance(marker, dict):
        try:
            return TrackingSpec.from_dict(marker)
        except (TypeError, ValueError) as exc:
            log.warning(
                "ActivitySmith: %s: bad tracker options (%s)", getattr(dag, "dag_id", "?"), exc
            )
            return None
    tags = set(getattr(dag, "tags", None) or ())
    tag = conf_value("tag", "activitysmith")
    prefix = f"{tag}-group:"
    groups = sorted(t[len(prefix) :] for t in tags if t.startswith(prefix) and t != prefix)
    if tag in tags or groups:
        spec = TrackingSpec.from_config()
        if groups:
            from dataclasses import replace

            spec.options = replace(spec.options, group=groups[0])
            spec.explicit = spec.options.to_mapping()
        return spec
    return None


class ActivitySmithDagRunTracker:
    """Track every run of a DAG as a segmented_progress Live Activity.

    One line turns it on::

        tracker = ActivitySmithDagRunTracker(channels=["data"])
        with DAG("etl", ..., **tracker.dag_kwargs()):      # or tracker.attach(dag)
            ...

    The options travel with the DAG (in its ``default_args``), and the provider's listener —
    loaded by every Airflow component from the package's plugin entry point — does the work
    off the scheduler's and the tasks' paths. Nothing here sends anything.

    :param activitysmith_conn_id: the ``activitysmith`` connection
    :param granularity: ``task`` (one segment per task, a mapped task being one) or
        ``task_group`` (one per top-level task group, for DAGs with many tasks)
    :param title: activity title template over ``{dag_id}``, ``{run_id}`` and
        ``{logical_date}`` (default the DAG id)
    :param ui_base_url: the Airflow UI for the "Open run" button and log links (default
        ``[api] base_url``)
    :param options: a :class:`~activitysmith_core.tracking.TrackerOptions`, or its fields as
        keyword arguments (``channels``, ``push_on_failure``, ``push_on_retry``,
        ``push_on_success``, ``deadline``, ``interval``, ``push_window``, colours,
        ``auto_dismiss_minutes`` ...); an unknown or bad option fails here, naming it
    """

    def __init__(
        self,
        *,
        activitysmith_conn_id: str = "activitysmith_default",
        granularity: Granularity = "task",
        title: str | None = None,
        ui_base_url: str | None = None,
        options: TrackerOptions | None = None,
        **option_values: Any,
    ) -> None:
        if options is not None and option_values:
            raise ValueError(
                f"{sorted(option_values)[0]}: give options either as TrackerOptions or as "
                "keyword arguments, not both"
            )
        if "subtitle" in option_values:
            option_values["subtitle_template"] = option_values.pop("subtitle")
        self.spec = TrackingSpec(
            conn_id=activitysmith_conn_id,
            granularity=granularity,
            title=title,
            ui_base_url=ui_base_url,
            options=options or TrackerOptions.from_mapping(option_values),
        )
        if options is None:
            # What was given, defaults included: the deployment's [activitysmith] values
            # fill in only the options a DAG author left out.
            self.spec.explicit = dict(option_values)

    @property
    def options(self) -> TrackerOptions:
        return self.spec.options

    @property
    def activitysmith_conn_id(self) -> str:
        return self.spec.conn_id

    def __repr__(self) -> str:
        return f"ActivitySmithDagRunTracker(conn_id={self.spec.conn_id!r})"

    def default_args(self, default_args: dict[str, Any] | None = None) -> dict[str, Any]:
        """A copy of ``default_args`` that carries this tracker's options."""
        return {**(default_args or {}), MARKER: self.spec.to_dict()}

    def dag_kwargs(
        self,
        default_args: dict[str, Any] | None = None,
        *,
        on_success_callback: Any = None,
        on_failure_callback: Any = None,
    ) -> dict[str, Any]:
        """Keyword arguments for ``DAG(...)`` / ``@dag(...)``: your ``default_args`` (copied,
        never changed) with the tracker's options, and your own DAG callbacks passed through."""
        kwargs: dict[str, Any] = {"default_args": self.default_args(default_args)}
        if on_success_callback is not None:
            kwargs["on_success_callback"] = on_success_callback
        if on_failure_callback is not None:
            kwargs["on_failure_callback"] = on_failure_callback
        return kwargs

    def attach(self, dag: Any) -> Any:
        """Track an existing DAG object (before it is serialized, i.e. in the DAG file)."""
        dag.default_args = self.default_args(getattr(dag, "default_args", None))
        return dag
