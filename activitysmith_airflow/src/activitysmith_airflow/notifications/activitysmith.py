"""ActivitySmithNotifier: a push from any task or DAG callback. Never raises into Airflow."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from ..hooks.activitysmith import ActivitySmithHook

if TYPE_CHECKING:
    from airflow.sdk import Context


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
    ) -> None:
        super().__init__()
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

    def _push(self, context: Context) -> dict[str, Any]:
        push = {
            "title": self.title or _default_title(context),
            "message": self.message or _default_message(context),
            "subtitle": self.subtitle,
            "redirection": self.redirection,
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
        try:
            client = self.hook.get_async_conn()
            try:
                await client.notifications.send(self._push(context))
            finally:
                await client.aclose()
        except Exception as exc:
            self.log.warning("ActivitySmith notification not sent: %s", exc)


send_activitysmith_notification = ActivitySmithNotifier
