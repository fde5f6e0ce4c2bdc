"""ActivitySmith pushes from Automations without this package on the server (Prefect Cloud).

Prefect Cloud cannot load a third-party block class in an Automation (PrefectHQ/prefect#14418),
so this saves Prefect's own ``CustomWebhookNotificationBlock`` configured for
``POST {base_url}/push-notification``: the rendered subject becomes the push title, the body its
message, and the API key lives in the block's ``secrets`` (sent as ``Bearer {{api_key}}``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any, TypedDict
from urllib.parse import urlsplit
from uuid import UUID

from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.types import SecretDict
from pydantic import SecretStr

from activitysmith_core import DEFAULT_BASE_URL, check_base_url, split_channels
from activitysmith_core.errors import ConfigurationError, ValidationError

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover
    from typing_extensions import Unpack

try:
    from prefect._internal.compatibility.async_dispatch import async_dispatch
except ImportError:  # pragma: no cover - future Prefect may move it

    def async_dispatch(async_impl: Any) -> Any:  # type: ignore[no-redef,misc]
        return lambda sync_impl: sync_impl


_BLOCK_NAME = re.compile(r"^[a-z0-9-]+$")
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]|\{\{|\}\}")

__all__ = [
    "WebhookOptions",
    "acreate_activitysmith_webhook_block",
    "create_activitysmith_webhook_block",
]


def _check_base_url(base_url: Any) -> str:
    """The core's rule (https, or http only to loopback), then no credentials, query, fragment,
    whitespace or template braces: the URL is pasted into a template."""
    try:
        url = check_base_url(base_url)
    except ConfigurationError as exc:
        raise ValidationError(str(exc), field="base_url") from None
    parts = urlsplit(url)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError(
            "base_url: must not contain credentials, a query or a fragment", field="base_url"
        )
    if _UNSAFE.search(url):
        raise ValidationError(
            "base_url: must not contain whitespace or template braces", field="base_url"
        )
    return url


def _check_channels(channels: Any) -> list[str] | None:
    slugs = split_channels(channels)
    if slugs is None:
        return None
    if not slugs:
        raise ValidationError(
            "channels: expected a non-empty list of channel slugs, or None for every device",
            field="channels",
        )
    for i, channel in enumerate(slugs):
        if not isinstance(channel, str) or not channel or _UNSAFE.search(channel):
            raise ValidationError(
                f"channels[{i}]: expected a channel slug, got {channel!r}", field="channels"
            )
    return slugs


def _webhook_block(
    name: Any,
    api_key: Any,
    base_url: Any = DEFAULT_BASE_URL,
    channels: Any = None,
    **unknown: Any,
) -> CustomWebhookNotificationBlock:
    """The unsaved block, every input checked (no network call)."""
    if unknown:
        field = sorted(unknown)[0]
        raise ValidationError(f"{field}: not an option of the webhook block", field=field)
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


class WebhookOptions(TypedDict, total=False):
    """The keyword options of :func:`create_activitysmith_webhook_block` and its async twin."""

    base_url: str
    """The API's base URL (default ``DEFAULT_BASE_URL``): https, or http only to loopback."""
    channels: Sequence[str] | str | None
    """Channel slugs the push goes to (default every device of the account)."""
    overwrite: bool
    """Replace a saved block of the same name (default ``False``)."""


async def acreate_activitysmith_webhook_block(
    name: str, api_key: str | SecretStr, **options: Unpack[WebhookOptions]
) -> UUID:
    """Save a Custom Webhook block that sends an ActivitySmith push; returns its document id.

    Inputs are checked first (``ValidationError`` naming the field, an unknown option too,
    before any network call). Use the id (or the block's name) in an Automation's "Send a
    notification" action.
    """
    overwrite = options.pop("overwrite", False)
    block = _webhook_block(name, api_key, **options)
    return await block.asave(name, overwrite=overwrite)


@async_dispatch(acreate_activitysmith_webhook_block)
def create_activitysmith_webhook_block(
    name: str, api_key: str | SecretStr, **options: Unpack[WebhookOptions]
) -> UUID:
    """Sync twin of :func:`acreate_activitysmith_webhook_block` (from async code it dispatches
    to it, so ``await`` it there)."""
    overwrite = options.pop("overwrite", False)
    block = _webhook_block(name, api_key, **options)
    return block.save(name, overwrite=overwrite, _sync=True)  # type: ignore[call-arg,return-value]
