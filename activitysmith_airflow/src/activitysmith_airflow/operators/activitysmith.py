"""Operators that send ActivitySmith pushes and drive Live Activities from a DAG.

They exist to send, so an API error fails the task by default; ``fail_on_error=False`` logs it as
a warning and lets the task succeed. Bad input always fails the task, naming the field, before any
network call.

``activitysmith_conn_id`` is templated on every operator (``"{{ var.value.phone_conn }}"`` picks
the connection per environment), and dict fields render as JSON in the UI.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from ..hooks.activitysmith import ActivitySmithHook

if TYPE_CHECKING:
    from airflow.sdk import Context

    from activitysmith_core import ActivitySmith


class _ActivitySmithOperator(BaseOperator):
    """Shared plumbing: the hook, error policy, the fields every request carries (``tags``,
    ``metadata``) and what goes to XCom."""

    request_fields: ClassVar[tuple[str, ...]] = ("tags", "metadata")
    """The attributes sent as the request's fields (those not None)."""
    template_fields: Sequence[str] = ("activitysmith_conn_id", *request_fields)
    template_fields_renderers: ClassVar[dict[str, str]] = {"metadata": "json"}

    def __init_subclass__(
        cls,
        *,
        fields: tuple[str, ...] = (),
        untemplated: tuple[str, ...] = (),
        templated: tuple[str, ...] = (),
        json: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        """Declare a subclass's fields once: ``fields`` join the request (templated unless in
        ``untemplated``), ``templated`` are other templated attributes, ``json`` render as JSON."""
        super().__init_subclass__(**kwargs)
        cls.request_fields = (*fields, *cls.request_fields)
        cls.template_fields = (
            *templated,
            *(f for f in fields if f not in untemplated),
            *cls.template_fields,
        )
        cls.template_fields_renderers = {
            **cls.template_fields_renderers,
            **dict.fromkeys(json, "json"),
        }

    ui_color = "#1c1c1e"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        activitysmith_conn_id: str = ActivitySmithHook.default_conn_name,
        fail_on_error: bool = True,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.activitysmith_conn_id = activitysmith_conn_id
        self.fail_on_error = fail_on_error
        self.tags = tags
        self.metadata = metadata

    @cached_property
    def hook(self) -> ActivitySmithHook:
        """The hook of the (rendered) ``activitysmith_conn_id``; built when first used."""
        return ActivitySmithHook(activitysmith_conn_id=self.activitysmith_conn_id)

    def _call(self, client: ActivitySmith, fields: dict[str, Any]) -> Any:
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any] | None:
        from activitysmith_core import errors

        fields = {
            name: value
            for name in self.request_fields
            if (value := getattr(self, name)) is not None
        }
        try:
            response = self._call(self.hook.get_conn(), fields)
        except errors.ValidationError:
            raise
        except errors.ActivitySmithError as exc:
            if self.fail_on_error:
                raise
            self.log.warning("ActivitySmith call failed, continuing (fail_on_error=False): %s", exc)
            return None
        result: dict[str, Any] = response.model_dump(mode="json", exclude_none=True)
        self.log.info("ActivitySmith: %s", {k: result[k] for k in sorted(result) if k in _LOGGED})
        return result


_LOGGED = {
    "operation",
    "stream_key",
    "activity_id",
    "notification_id",
    "devices_notified",
    "success",
}


class ActivitySmithPushOperator(
    _ActivitySmithOperator,
    fields=(
        "title",
        "message",
        "subtitle",
        "icon",
        "media",
        "redirection",
        "actions",
        "channels",
        "interruption_level",
        "payload",
        "badge",
        "sound",
    ),
    untemplated=("interruption_level", "badge", "sound"),
    json=("actions", "payload"),
):
    """Send a push notification; returns the API response (``notification_id`` included).

    :param title: the notification's title (templated)
    :param message: body text (templated)
    :param subtitle: second line (templated)
    :param media: https URL of an image/audio/video preview; not with ``actions``
    :param redirection: URL opened on tap (templated), e.g. the task's log
    :param actions: up to 4 buttons: ``{"title", "type": "open_url"|"webhook", "url", ...}``
    :param channels: channel slugs (list or comma-separated string); default the connection's
    :param interruption_level: ``passive``, ``active`` or ``time-sensitive``
    :param icon, payload, badge, sound, tags, metadata: as in the API
    :param activitysmith_conn_id: the connection (templated), default ``activitysmith_default``
    :param fail_on_error: ``False`` logs an API error as a warning and succeeds
    """

    def __init__(
        self,
        *,
        title: str,
        message: str | None = None,
        subtitle: str | None = None,
        icon: str | None = None,
        media: str | None = None,
        redirection: str | None = None,
        actions: list[dict[str, Any]] | None = None,
        channels: list[str] | str | None = None,
        interruption_level: str | None = None,
        payload: dict[str, Any] | None = None,
        badge: int | None = None,
        sound: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.message = message
        self.subtitle = subtitle
        self.icon = icon
        self.media = media
        self.redirection = redirection
        self.actions = actions
        self.channels = channels
        self.interruption_level = interruption_level
        self.payload = payload
        self.badge = badge
        self.sound = sound

    def _call(self, client: ActivitySmith, fields: dict[str, Any]) -> Any:
        return client.notifications.send(fields)


class _LiveActivityOperator(
    _ActivitySmithOperator,
    fields=("content_state", "action", "secondary_action", "alert"),
    json=("content_state", "action", "secondary_action", "alert"),
):
    def __init__(
        self,
        *,
        content_state: dict[str, Any] | None = None,
        action: dict[str, Any] | None = None,
        secondary_action: dict[str, Any] | None = None,
        alert: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.content_state = content_state
        self.action = action
        self.secondary_action = secondary_action
        self.alert = alert


class ActivitySmithStreamOperator(_LiveActivityOperator, templated=("stream_key", "channels")):
    """Start or update the Live Activity of ``stream_key`` (idempotent; any of the 7 types).

    :param stream_key: ``^[A-Za-z0-9_-]{1,255}$`` (templated); ``activitysmith_core.stream_key``
        builds one from any text
    :param content_state: the state, e.g. ``{"title": ..., "type": "metrics", "metrics": [...]}``
        (templated)
    :param channels: channel slugs for a new activity (templated)
    :param action, secondary_action, alert, tags, metadata: as in the API (templated)
    """

    def __init__(
        self,
        *,
        stream_key: str,
        content_state: dict[str, Any],
        channels: list[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(content_state=content_state, **kwargs)
        self.stream_key = stream_key
        self.channels = channels

    def _call(self, client: ActivitySmith, fields: dict[str, Any]) -> Any:
        if self.channels is not None:
            fields["channels"] = self.channels
        return client.live_activities.stream(self.stream_key, fields)


class ActivitySmithEndStreamOperator(_LiveActivityOperator, templated=("stream_key",)):
    """End the Live Activity of ``stream_key``, optionally with a final state.

    :param auto_dismiss_minutes / auto_dismiss_seconds: how long the ended activity stays
    """

    def __init__(
        self,
        *,
        stream_key: str,
        auto_dismiss_minutes: int | None = None,
        auto_dismiss_seconds: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stream_key = stream_key
        self.auto_dismiss_minutes = auto_dismiss_minutes
        self.auto_dismiss_seconds = auto_dismiss_seconds

    def _call(self, client: ActivitySmith, fields: dict[str, Any]) -> Any:
        dismiss = {
            "auto_dismiss_minutes": self.auto_dismiss_minutes,
            "auto_dismiss_seconds": self.auto_dismiss_seconds,
        }
        dismiss = {k: v for k, v in dismiss.items() if v is not None}
        if dismiss:
            if "content_state" not in fields:
                raise ValueError(
                    "content_state: required to set auto_dismiss_* (its title at least)"
                )
            fields["content_state"] = {**fields["content_state"], **dismiss}
        return client.live_activities.end_stream(self.stream_key, fields)


class ActivitySmithStartOperator(_LiveActivityOperator, templated=("channels",)):
    """Legacy lifecycle: start a Live Activity; its ``activity_id`` goes to XCom (key
    ``activity_id`` and the returned dict) for the Update and End operators."""

    def __init__(
        self,
        *,
        content_state: dict[str, Any],
        channels: list[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(content_state=content_state, **kwargs)
        self.channels = channels

    def _call(self, client: ActivitySmith, fields: dict[str, Any]) -> Any:
        if self.channels is not None:
            fields["channels"] = self.channels
        return client.live_activities.start(fields)

    def execute(self, context: Context) -> dict[str, Any] | None:
        result = super().execute(context)
        if result is not None:
            context["ti"].xcom_push(key="activity_id", value=result["activity_id"])
        return result


class _ByIdOperator(_LiveActivityOperator, fields=("activity_id",)):
    def __init__(self, *, activity_id: str, content_state: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(content_state=content_state, **kwargs)
        self.activity_id = activity_id


class ActivitySmithUpdateOperator(_ByIdOperator):
    """Legacy lifecycle: update the activity ``activity_id`` (templated, e.g.
    ``"{{ ti.xcom_pull(task_ids='start', key='activity_id') }}"``)."""

    def _call(self, client: ActivitySmith, fields: dict[str, Any]) -> Any:
        return client.live_activities.update(fields)


class ActivitySmithEndOperator(_ByIdOperator):
    """Legacy lifecycle: end the activity ``activity_id`` with a final state."""

    def _call(self, client: ActivitySmith, fields: dict[str, Any]) -> Any:
        return client.live_activities.end(fields)
