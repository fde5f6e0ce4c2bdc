"""Prefect tasks that send pushes, drive Live Activities and update widget metrics.

Each takes ``block`` (a saved block's name, a block, or None for ``ACTIVITYSMITH_API_KEY``) and
raises on an API error: a task that exists to send fails when it cannot (retry it with Prefect's
``retries``). Bad input raises ``ValidationError`` naming the field before any request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prefect import task

from .tracking import resolve_block

if TYPE_CHECKING:
    from activitysmith_core import ActivitySmith as Client
    from activitysmith_core import AsyncActivitySmith as AsyncClient


def _client(block: Any) -> Client:
    resolved = resolve_block(block)
    if resolved is not None:
        return resolved.get_client()
    from activitysmith_core import ActivitySmith

    return ActivitySmith()


def _async_client(block: Any) -> AsyncClient:
    resolved = resolve_block(block)
    if resolved is not None:
        return resolved.get_async_client()
    from activitysmith_core import AsyncActivitySmith

    return AsyncActivitySmith()


def _dump(response: Any) -> dict[str, Any]:
    return response.model_dump(mode="json", exclude_none=True)  # type: ignore[no-any-return]


@task(name="activitysmith-send-push", retries=0)
def send_push(title: str, block: Any = None, **fields: Any) -> dict[str, Any]:
    """Send a push notification; returns the API response (``notification_id`` included)."""
    with _client(block) as client:
        return _dump(client.notifications.send(title=title, **fields))


@task(name="activitysmith-stream")
def stream_live_activity(
    stream_key: str, content_state: dict[str, Any], block: Any = None, **fields: Any
) -> dict[str, Any]:
    """Start or update the Live Activity of ``stream_key`` (any of the seven types)."""
    with _client(block) as client:
        return _dump(
            client.live_activities.stream(stream_key, content_state=content_state, **fields)
        )


@task(name="activitysmith-end-stream")
def end_live_activity(
    stream_key: str, content_state: dict[str, Any] | None = None, block: Any = None, **fields: Any
) -> dict[str, Any]:
    """End the Live Activity of ``stream_key``, optionally with a final state."""
    with _client(block) as client:
        return _dump(
            client.live_activities.end_stream(stream_key, content_state=content_state, **fields)
        )


@task(name="activitysmith-update-metric")
def update_metric(key: str, value: float | int | str, block: Any = None) -> dict[str, Any]:
    """Set a widget metric's value."""
    with _client(block) as client:
        return _dump(client.metrics.update(key, value))


@task(name="activitysmith-send-push-async")
async def asend_push(title: str, block: Any = None, **fields: Any) -> dict[str, Any]:
    """Async :func:`send_push`."""
    async with _async_client(block) as client:
        return _dump(await client.notifications.send(title=title, **fields))


@task(name="activitysmith-stream-async")
async def astream_live_activity(
    stream_key: str, content_state: dict[str, Any], block: Any = None, **fields: Any
) -> dict[str, Any]:
    """Async :func:`stream_live_activity`."""
    async with _async_client(block) as client:
        return _dump(
            await client.live_activities.stream(stream_key, content_state=content_state, **fields)
        )


@task(name="activitysmith-end-stream-async")
async def aend_live_activity(
    stream_key: str, content_state: dict[str, Any] | None = None, block: Any = None, **fields: Any
) -> dict[str, Any]:
    """Async :func:`end_live_activity`."""
    async with _async_client(block) as client:
        return _dump(
            await client.live_activities.end_stream(
                stream_key, content_state=content_state, **fields
            )
        )


@task(name="activitysmith-update-metric-async")
async def aupdate_metric(key: str, value: float | int | str, block: Any = None) -> dict[str, Any]:
    """Async :func:`update_metric`."""
    async with _async_client(block) as client:
        return _dump(await client.metrics.update(key, value))
