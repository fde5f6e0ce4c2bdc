"""ActivitySmithHook: the core client, built from an Airflow connection of type ``activitysmith``.

Connection fields: *password* is the API key, *host* the base URL (default the real service;
``host:port/schema`` forms work too, plain http only for loopback), and the extras ``channels``
(comma-separated default channels), ``timeout``, ``max_attempts`` and ``retry_budget``.
"""

from __future__ import annotations

import uuid
from functools import cached_property
from importlib import import_module
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from activitysmith_airflow.get_provider_info import HIDDEN_FIELDS, RELABELING, placeholders
from activitysmith_core import DEFAULT_BASE_URL, check_base_url, is_loopback, split_channels

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from activitysmith_core import ActivitySmith, AsyncActivitySmith, RetryPolicy


def base_url_from(host: str | None, port: int | None = None, schema: str | None = None) -> str:
    """Turn a connection's host/port/schema into the API base URL, checked by the core's rule
    (``check_base_url``: plain http only to loopback, which a bare host also gets by default)."""
    if not host:
        return DEFAULT_BASE_URL
    host = host.strip().rstrip("/")
    if "://" not in host:
        name = urlsplit(f"//{host}").hostname or host
        scheme = "http" if is_loopback(name) else "https"
        netloc = f"{host}:{port}" if port else host
        host = f"{scheme}://{netloc}/{(schema or 'api').strip('/')}"
    return check_base_url(host)


class ActivitySmithHook(BaseHook):
    """Interact with ActivitySmith: ``get_conn()`` gives the sync client, ``get_async_conn()``
    the async one, both configured from the connection ``activitysmith_conn_id``."""

    conn_name_attr = "activitysmith_conn_id"
    default_conn_name = "activitysmith_default"
    conn_type = "activitysmith"
    hook_name = "ActivitySmith"

    def __init__(
        self,
        activitysmith_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.activitysmith_conn_id = activitysmith_conn_id
        self._timeout = timeout
        self._retry = retry

    def __repr__(self) -> str:
        return f"ActivitySmithHook(activitysmith_conn_id={self.activitysmith_conn_id!r})"

    @cached_property
    def connection(self) -> Connection:
        return self.get_connection(self.activitysmith_conn_id)  # type: ignore[return-value]

    def _extra(self, name: str) -> Any:
        extra = self.connection.extra_dejson or {}
        value = extra.get(name, extra.get(f"extra__activitysmith__{name}"))
        return None if value in ("", None) else value

    def _number(self, name: str, kind: type[Any], default: Any) -> Any:
        """A numeric field (a text field in the 3.1 form): a clear error naming it if bad."""
        raw = self._extra(name)
        if raw is None:
            return default
        try:
            value = kind(raw.strip() if isinstance(raw, str) else raw)
        except (TypeError, ValueError):
            value = None
        if value is None or isinstance(raw, bool) or not value > 0:
            what = "a whole number" if kind is int else "a number"
            raise ValueError(
                f"{name}: connection {self.activitysmith_conn_id!r} has {raw!r}, "
                f"expected {what} above 0"
            )
        return value

    @property
    def base_url(self) -> str:
        conn = self.connection
        return base_url_from(conn.host, conn.port, conn.schema)

    @property
    def channels(self) -> list[str] | None:
        return split_channels(self._extra("channels")) or None

    def _client_kwargs(self) -> dict[str, Any]:
        from activitysmith_core import RetryPolicy

        conn = self.connection
        key = conn.password
        if not key:
            raise ValueError(
                f"password: connection {self.activitysmith_conn_id!r} has no API key "
                "(put it in the password field)"
            )
        _mask(key)
        timeout = self._timeout or self._number("timeout", float, 10)
        retry = self._retry or RetryPolicy(
            max_attempts=self._number("max_attempts", int, 4),
            budget=self._number("retry_budget", float, 30),
        )
        return {
            "api_key": key,
            "base_url": self.base_url,
            "timeout": timeout,
            "retry": retry,
            "channels": self.channels,
        }

    def get_conn(self) -> ActivitySmith:
        """The sync client (built once per hook)."""
        return self._client

    @cached_property
    def _client(self) -> ActivitySmith:
        from activitysmith_core import ActivitySmith

        return ActivitySmith(**self._client_kwargs())

    def get_async_conn(self) -> AsyncActivitySmith:
        """A new async client; close it with ``await client.aclose()``."""
        from activitysmith_core import AsyncActivitySmith

        return AsyncActivitySmith(**self._client_kwargs())

    def test_connection(self) -> tuple[bool, str]:
        """Check the key and host without sending anything a person sees.

        The API has no harmless read endpoint, so this ends a random, never-started Live
        Activity stream: a valid key gets 404 "stream not found" (nothing exists, nothing is
        sent to any device); an invalid key gets 401.
        """
        from activitysmith_core import errors

        key = f"airflow-connection-test-{uuid.uuid4().hex[:12]}"
        try:
            url = self.base_url
        except errors.ConfigurationError as exc:
            return False, str(exc)
        try:
            self.get_conn().with_options(retry=_no_retry()).live_activities.end_stream(key)
        except errors.NotFoundError:
            return True, (
                f"Connection to {url} works: the API key was accepted (checked by "
                "ending a non-existent Live Activity stream; nothing was sent to any device)."
            )
        except errors.AuthenticationError:
            return False, f"{url} rejected the API key (HTTP 401)."
        except Exception as exc:
            return False, f"Could not reach ActivitySmith at {url}: {exc}"
        return True, f"Connection to {url} works (the API key was accepted)."

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields for the connection form (Airflow 3.1; 3.2+ reads ``conn-fields``)."""
        try:
            from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
            from flask_babel import lazy_gettext
            from wtforms import IntegerField, StringField
            from wtforms.validators import Optional
        except ImportError:  # no Flask UI: the 3.2+ form comes from provider info
            return {}

        def text(label: str, default: str = "") -> Any:
            # Airflow 3.1 drops FloatField from the form: seconds are text, checked on use.
            return StringField(lazy_gettext(label), widget=BS3TextFieldWidget(), default=default)

        return {
            "channels": text("Default channels"),
            "timeout": text("Request timeout (s)", "10"),
            "max_attempts": IntegerField(
                lazy_gettext("Attempts per call"), validators=[Optional()], default=4
            ),
            "retry_budget": text("Retry budget (s)", "30"),
        }

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hide irrelevant fields and relabel the rest (Airflow 3.1 form)."""
        return {
            "hidden_fields": list(HIDDEN_FIELDS),
            "relabeling": dict(RELABELING),
            "placeholders": placeholders(),
        }


def _mask(secret: str) -> None:
    """Register the key with Airflow's secrets masker(s): the task SDK's (which also tells the
    supervisor that writes the task log) and, where present, the CLI process's own copy, which
    ``airflow tasks test`` logs through."""
    for module in ("airflow.sdk.log", "airflow._shared.secrets_masker"):
        try:
            import_module(module).mask_secret(secret)
        except (ImportError, AttributeError):
            continue


def _no_retry() -> RetryPolicy:
    from activitysmith_core import RetryPolicy

    return RetryPolicy(max_attempts=1, budget=10)
