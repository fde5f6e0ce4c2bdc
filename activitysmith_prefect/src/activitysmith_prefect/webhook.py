"""ActivitySmith pushes from Automations without this package on the server (Prefect Cloud).

Prefect Cloud cannot load a third-party block class in an Automation (PrefectHQ/prefect#14418),
so this saves Prefect's own ``CustomWebhookNotificationBlock`` configured for
``POST {base_url}/push-notification``: the rendered subject becomes the push title, the body its
message, and the API key lives in the block's ``secrets`` (sent as ``Bearer {{api_key}}``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.types import SecretDict
from pydantic import SecretStr

from activitysmith_core.errors import ValidationError

try:
    from prefect._internal.compatibility.async_dispatch import async_dispatch
except ImportError:  # pragma: no cover - future Prefect may move it

    def async_dispatch(async_impl: Any) -> Any:  # type: ignore[no-redef,misc]
        return lambda sync_impl: sync_impl


__all__ = ["acreate_activitysmith_webhook_block", "create_activitysmith_webhook_block"]

DEFAULT_BASE_URL = "https://activitysmith.com/api"
_BLOCK_NAME = re.compile(r"^[a-z0-9-]+$")
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]|\{\{|\}\}")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: Any) -> str:
    if not isinstance(base_url, str):
        raise ValidationError("base_url: expected a string", field="base_url")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"base_url: expected an http(s) URL, got {base_url!r}", field="base_url"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError(
            "base_url: must not contain credentials, a query or a fragment", field="base_url"
        )
    if _UNSAFE.search(base_url):
        raise ValidationError(
            "base_url: must not contain whitespace or template braces", field="base_url"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValidationError(
            "base_url: refusing to send the API key over plain http to a non-loopback host "
            f"({parts.hostname}); use https",
            field="base_url",
        )
    return base_url.rstrip("/")


def _check_channels(channels: Any) -> list[str] | None:
    if channels is None:
        return None
    if isinstance(channels, str):
        channels = [c.strip() for c in channels.split(",")]
    if not isinstance(channels, Sequence) or not channels:
        raise ValidationError(
            "channels: expected a non-empty list of channel slugs, or None for every device",
            field="channels",
        )
    for i, channel in enumerate(channels):
        if not isinstance(channel, str) or not channel.strip() or _UNSAFE.search(channel):
            raise ValidationError(
                f"channels[{i}]: expected a channel slug, got {channel!r}", field="channels"
            )
    return list(channels)


def _webhook_block(
    name: Any, api_key: Any, base_url: Any, channels: Any
) -> CustomWebhookNotificationBlock:
    """The unsaved block, every input checked (no network call)."""
    if not isinstance(name, str) or not _BLOCK_NAME.match(name):
        raise ValidationError(
            f"name: a block name is lowercase letters, numbers and dashes, got {name!r}",
            field="name",
        )
    key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    if not isinstance(key, str) or not key:
        raise ValidationError("api_key: expected a non-empty string", field="api_key")
    if _UNSAFE.search(key):
        raise ValidationError(
            "api_key: must not contain whitespace, control characters or template braces",
            field="api_key",
        )
    url = _check_base_url(base_url)
    slugs = _check_channels(channels)
    payload: dict[str, Any] = {"title": "{{subject}}", "message": "{{body}}"}
    if slugs:
        payload["target"] = {"channels": slugs}
    return CustomWebhookNotificationBlock(
        name="ActivitySmith",
        url=f"{url}/push-notification",
        method="POST",
        json_data=payload,
        headers={"Authorization": "Bearer {{api_key}}", "Accept": "application/json"},
        cookies=None,
        secrets=SecretDict({"api_key": key}),
    )


async def acreate_activitysmith_webhook_block(
    name: str,
    api_key: str | SecretStr,
    *,
    base_url: str = DEFAULT_BASE_URL,
    channels: Sequence[str] | None = None,
    overwrite: bool = False,
) -> UUID:
    """Save a Custom Webhook block that sends an ActivitySmith push; returns its document id.

    Inputs are checked first (``ValidationError`` naming the field, before any network call).
    Use the id (or the block's name) in an Automation's "Send a notification" action.
    """
    block = _webhook_block(name, api_key, base_url, channels)
    return await block.asave(name, overwrite=overwrite)


@async_dispatch(acreate_activitysmith_webhook_block)
def create_activitysmith_webhook_block(
    name: str,
    api_key: str | SecretStr,
    *,
    base_url: str = DEFAULT_BASE_URL,
    channels: Sequence[str] | None = None,
    overwrite: bool = False,
) -> UUID:
    """Sync twin of :func:`acreate_activitysmith_webhook_block` (from async code it dispatches
    to it, so ``await`` it there)."""
    block = _webhook_block(name, api_key, base_url, channels)
    return block.save(name, overwrite=overwrite, _sync=True)  # type: ignore[call-arg,return-value]
