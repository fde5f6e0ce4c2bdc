"""ActivitySmithNotifier: a push from any task or DAG callback, or from a Deadline Alert run by
the triggerer. Never raises into Airflow."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from ..hooks.activitysmith import ActivitySmithHook

if TYPE_CHECKING:
    from airflow.sdk import Context


def _deadline_of(context: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The ``(dag_run, deadline)`` dicts of a Deadline Alert's context, else None.

    Airflow (3.1 to 3.3 at least) gives a deadline callback a reduced context, built by the
    scheduler: ``{"dag_run": <the run as the REST API's DAGRunResponse, JSON>, "deadline": {"id",
    "deadline_time"}}``, with no ``dag``, ``ti`` or ``task``.
    """
    deadline, dag_run = context.get("deadline"), context.get("dag_run")
    if not isinstance(deadline, Mapping):
        return None
    return (dict(dag_run) if isinstance(dag_run, Mapping) else {}), dict(deadline)


def _utc(value: Any) -> datetime | None:
    """A datetime, ISO string or POSIX timestamp as an aware UTC datetime (None if not one)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return (
        value.replace(tzinfo=timezone.utc)
        if value.tzinfo is None
        else value.astimezone(timezone.utc)
    )


def _deadline_title(dag_run: Mapping[str, Any], deadline: Mapping[str, Any]) -> str:
    dag_id = dag_run.get("dag_id") or "A DAG run"
    when = _utc(deadline.get("deadline_time"))
    return f"{dag_id} missed its {when:%H:%M} deadline" if when else f"{dag_id} missed its deadline"


def _deadline_message(dag_run: Mapping[str, Any]) -> str | None:
    run_id = dag_run.get("dag_run_id") or dag_run.get("run_id")
    state = dag_run.get("state")
    if not run_id:
        return None
    return f"Run {run_id} is still {state}" if state else f"Run {run_id}"


def _deadline_redirection(dag_run: Mapping[str, Any]) -> str | None:
    dag_id, run_id = dag_run.get("dag_id"), dag_run.get("dag_run_id") or dag_run.get("run_id")
    if not (dag_id and run_id):
        return None
    from ..tracking import run_url, ui_base_url

    return run_url(ui_base_url(), str(dag_id), str(run_id))


def _default_title(context: Context) -> str:
    dag = context.get("dag")
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(dag, "dag_id", None) or getattr(ti, "dag_id", "DAG")
    task = context.get("task")
    if task is not None and getattr(ti, "task_id", None):
        state = getattr(ti, "state", None) or ""
        return f"{dag_id}.{ti.task_id} {state}".strip()  # type: ignore[union-attr]
    return f"{dag_id} {context.get('reason') or ''}".strip()


def _default_message(context: Context) -> str | None:
    exc = context.get("exception")
    if exc is None:
        return None
    line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {line}" if isinstance(exc, BaseException) else line


class ActivitySmithNotifier(BaseNotifier):
    """Send a push when a task or DAG run changes state.

    ``on_failure_callback=ActivitySmithNotifier(title="{{ dag.dag_id }} failed")``. Title, message,
    subtitle, redirection, channels and ``activitysmith_conn_id`` are templated with the callback's
    context; without a title it says which DAG/task and state, without a message the exception's
    first line.

    As a Deadline Alert callback (Airflow 3.1+), run by the triggerer:
    ``DeadlineAlert(reference=..., interval=..., callback=AsyncCallback(ActivitySmithNotifier,
    kwargs={"channels": ["ops"]}))``. Airflow builds the notifier with the kwargs and the
    deadline's context and awaits it; without a title it pushes "<dag_id> missed its HH:MM
    deadline" (the deadline in UTC), without a message "Run <run_id> is still <state>", and a tap
    opens the run in the Airflow UI.

    Errors are logged as warnings, never raised: a notification never fails a pipeline.
    """

    template_fields: Sequence[str] = (
        "title",
        "message",
        "subtitle",
        "redirection",
        "channels",
        "media",
        "actions",
        "activitysmith_conn_id",
    )

    def __init__(
        self,
        *,
        title: str | None = None,
        message: str | None = None,
        subtitle: str | None = None,
        redirection: str | None = None,
        media: str | None = None,
        actions: list[dict[str, Any]] | None = None,
        channels: list[str] | str | None = None,
        interruption_level: str | None = None,
        activitysmith_conn_id: str = ActivitySmithHook.default_conn_name,
        timeout: float = 10.0,
        context: Context | None = None,
    ) -> None:
        # ``context``: what Airflow passes when it builds the notifier for a Deadline Alert.
        super().__init__(context)
        self.title = title
        self.message = message
        self.subtitle = subtitle
        self.redirection = redirection
        self.media = media
        self.actions = actions
        self.channels = channels
        self.interruption_level = interruption_level
        self.activitysmith_conn_id = activitysmith_conn_id
        self.timeout = timeout

    @cached_property
    def hook(self) -> ActivitySmithHook:
        from activitysmith_core import RetryPolicy

        return ActivitySmithHook(
            activitysmith_conn_id=self.activitysmith_conn_id,
            timeout=min(5.0, self.timeout),
            retry=RetryPolicy(max_attempts=3, budget=self.timeout),
        )

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render as BaseNotifier does; where the callback's DAG cannot give a template
        environment (a serialized DAG in a DAG-level callback) use a sandboxed Jinja one, and
        never let a template problem stop the notification."""
        dag = context.get("dag")
        if jinja_env is None and not hasattr(dag, "get_template_env"):
            import jinja2.sandbox

            jinja_env = jinja2.sandbox.SandboxedEnvironment(cache_size=0)
        try:
            super().render_template_fields(context, jinja_env)
        except Exception as exc:
            self.log.warning("ActivitySmith notifier: templates not rendered: %s", exc)

    def __call__(self, *args: Any) -> None:
        try:
            super().__call__(*args)
        except Exception as exc:
            self.log.warning("ActivitySmith notification not sent: %s", exc)

    def __await__(self) -> Generator[Any, None, None]:
        """Awaited by the triggerer for a Deadline Alert: render the templates with the context
        Airflow gave, then :meth:`async_notify`; nothing raises into the triggerer."""
        return self._await_safely().__await__()

    async def _await_safely(self) -> None:
        try:
            context = self._update_context(self.context)
            self.render_template_fields(context)
            await self.async_notify(context)
        except Exception as exc:
            self.log.warning("ActivitySmith notification not sent: %s", exc)

    def _push(self, context: Context) -> dict[str, Any]:
        title, message, redirection = self.title, self.message, self.redirection
        missed = _deadline_of(context)
        if missed is not None:
            dag_run, deadline = missed
            title = title or _deadline_title(dag_run, deadline)
            message = message or _deadline_message(dag_run)
            redirection = redirection or _deadline_redirection(dag_run)
        push = {
            "title": title or _default_title(context),
            "message": message or _default_message(context),
            "subtitle": self.subtitle,
            "redirection": redirection,
            "media": self.media,
            "actions": self.actions,
            "channels": self.channels,
            "interruption_level": self.interruption_level,
        }
        return {k: v for k, v in push.items() if v not in (None, "")}

    def notify(self, context: Context) -> None:
        try:
            self.hook.get_conn().notifications.send(self._push(context))
        except Exception as exc:
            self.log.warning("ActivitySmith notification not sent: %s", exc)

    async def async_notify(self, context: Context) -> None:
        """Send the push with the core's async client (what the triggerer runs)."""
        try:
            hook = self.hook
            if "connection" not in vars(hook):
                # Fetched without blocking the event loop: in the triggerer a connection that is
                # not in the environment comes through the supervisor, asynchronously.
                hook.connection = await hook.aget_connection(self.activitysmith_conn_id)
            client = hook.get_async_conn()
            try:
                await client.notifications.send(self._push(context))
            finally:
                await client.aclose()
        except Exception as exc:
            self.log.warning("ActivitySmith notification not sent: %s", exc)


send_activitysmith_notification = ActivitySmithNotifier
