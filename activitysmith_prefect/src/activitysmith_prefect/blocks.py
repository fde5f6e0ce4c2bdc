"""The ActivitySmith block: credentials and defaults, and a Prefect NotificationBlock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prefect.blocks.abstract import NotificationBlock, NotificationError
from pydantic import Field, SecretStr

from activitysmith_core import DEFAULT_BASE_URL

if TYPE_CHECKING:
    from activitysmith_core import ActivitySmith as Client
    from activitysmith_core import AsyncActivitySmith as AsyncClient

try:
    from prefect._internal.compatibility.async_dispatch import async_dispatch
except ImportError:  # pragma: no cover - future Prefect may move it

    def async_dispatch(async_impl: Any) -> Any:  # type: ignore[no-redef,misc]
        return lambda sync_impl: sync_impl


class ActivitySmith(NotificationBlock):
    """Send iOS push notifications and Live Activities through ActivitySmith.

    Use it in Automations ("Send a notification"), from flows with ``notify()``, to build the
    core clients, and as the credentials of the flow-run tracker.
    """

    _block_type_name = "ActivitySmith"
    _block_type_slug = "activitysmith"
    _logo_url = "https://activitysmith.com/icon.png"  # type: ignore[assignment]
    _documentation_url = "https://activitysmith.com/docs"  # type: ignore[assignment]
    _description = (
        "iOS push notifications and Live Activities through ActivitySmith: credentials, "
        "defaults, and a notification block for Automations."
    )
    _code_example = """
```python
from activitysmith_prefect import ActivitySmith

block = ActivitySmith.load("BLOCK_NAME")
block.notify("Nightly ETL finished", subject="ETL")
client = block.get_client()
client.notifications.send(title="Deploy done", channels=["ops"])
```"""

    api_key: SecretStr = Field(
        default=..., title="API key", description="The ActivitySmith API key (ask_...)."
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        description="The API base URL; plain http is allowed only for loopback.",
    )
    channels: list[str] | None = Field(
        default=None,
        description="Default channel slugs to target; empty means every device the key may reach.",
    )
    default_title: str = Field(
        default="Prefect",
        description="Push title used when a notification comes without a subject.",
    )
    timeout: float = Field(default=10.0, gt=0, description="Seconds one request may take.")
    max_attempts: int = Field(default=4, ge=1, description="Attempts per call, the first included.")
    retry_budget: float = Field(
        default=30.0, gt=0, description="Seconds one call may take, retries included."
    )

    def _client_kwargs(self) -> dict[str, Any]:
        from activitysmith_core import RetryPolicy

        return {
            "api_key": self.api_key.get_secret_value(),
            "base_url": self.base_url,
            "timeout": self.timeout,
            "retry": RetryPolicy(max_attempts=self.max_attempts, budget=self.retry_budget),
            "channels": self.channels,
        }

    def get_client(self) -> Client:
        """A sync core client configured from this block (close it when done)."""
        from activitysmith_core import ActivitySmith as Client

        return Client(**self._client_kwargs())

    def get_async_client(self) -> AsyncClient:
        """An async core client configured from this block (``await client.aclose()``)."""
        from activitysmith_core import AsyncActivitySmith as AsyncClient

        return AsyncClient(**self._client_kwargs())

    def _push(self, body: str, subject: str | None) -> dict[str, Any]:
        return {"title": subject or self.default_title, "message": body}

    def _failed(self, exc: Exception) -> None:
        if self._raise_on_failure:
            raise NotificationError(str(exc)) from exc
        self.logger.warning("ActivitySmith notification not sent: %s", exc)

    async def anotify(self, body: str, subject: str | None = None) -> None:
        """Send ``body`` as a push titled ``subject`` (or ``default_title``)."""
        try:
            async with self.get_async_client() as client:
                await client.notifications.send(self._push(body, subject))
        except Exception as exc:
            self._failed(exc)

    @async_dispatch(anotify)
    def notify(self, body: str, subject: str | None = None) -> None:  # type: ignore[override]
        """Sync twin of :meth:`anotify`; from async code it dispatches to ``anotify``."""
        try:
            with self.get_client() as client:
                client.notifications.send(self._push(body, subject))
        except Exception as exc:
            self._failed(exc)
