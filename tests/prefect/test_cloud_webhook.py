"""The Prefect Cloud path: Prefect's own Custom Webhook block, saved by
``create_activitysmith_webhook_block``, pushes through ActivitySmith from a real Automation,
with no ActivitySmith block class on the server."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from activitysmith_core.errors import ValidationError
from activitysmith_prefect import (
    acreate_activitysmith_webhook_block,
    create_activitysmith_webhook_block,
)
from tests.base_urls import BASE_URL_RULE

from .conftest import pushes


def _push_requests(sandbox: Any) -> list[Any]:
    return [r for r in sandbox.requests if r.path.endswith("/push-notification")]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_automation_on_a_failed_flow_run_pushes_through_the_webhook(prefect_sandbox: Any) -> None:
    from prefect import flow
    from prefect.automations import Automation
    from prefect.client.orchestration import get_client
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import EventTrigger, Posture

    block_id = create_activitysmith_webhook_block(
        _name("activitysmith-webhook"),
        prefect_sandbox.api_key,
        base_url=prefect_sandbox.url,
        channels=["ops"],
    )
    flow_name = _name("nightly-etl")

    @flow(name=flow_name, retries=0)
    def nightly_etl() -> None:
        raise ValueError('disk "warehouse" full')

    automation = Automation(
        name=_name("etl-failed"),
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": flow_name},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[
            SendNotification(
                block_document_id=block_id,
                subject="{{ flow.name }} failed",
                body="{{ flow_run.name }}: {{ flow_run.state.message }}",
            )
        ],
    ).create()
    runs: list[str] = []
    try:
        # the server's trigger service picks a new automation up within seconds: fail runs
        # until one of them is pushed
        deadline = time.monotonic() + 120
        while not prefect_sandbox.pushes:
            assert time.monotonic() < deadline, "the automation never sent the notification"
            state = nightly_etl(return_state=True)
            assert state.is_failed()
            with get_client(sync_client=True) as client:
                runs.append(client.read_flow_run(state.state_details.flow_run_id).name)
            for _ in range(40):
                if prefect_sandbox.pushes:
                    break
                time.sleep(0.25)
    finally:
        automation.delete()

    request = _push_requests(prefect_sandbox)[0]
    assert request.method == "POST" and request.path == "/api/push-notification"
    # the sandbox answers 401 unless Authorization is exactly "Bearer <key>" (its record keeps
    # every header but that one)
    assert request.status == 200, request.response
    assert "authorization" not in {k.lower() for k in request.headers}
    assert request.headers.get("user-agent") == "Prefect Notifications"  # Prefect's block sent it
    body = request.body
    assert body["title"] == f"{flow_name} failed"
    run_name, _, message = body["message"].partition(": ")
    assert run_name in runs
    assert "ValueError" in message and 'disk "warehouse" full' in message
    assert body["target"] == {"channels": ["ops"]}
    assert set(body) == {"title", "message", "target"}


def test_saved_block_keeps_the_key_secret_and_renders_subject_and_body(
    prefect_sandbox: Any,
) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.orchestration import get_client

    name = _name("activitysmith-webhook")
    create_activitysmith_webhook_block(name, prefect_sandbox.api_key, base_url=prefect_sandbox.url)

    with get_client(sync_client=True) as client:
        doc = client.read_block_document_by_name(name, "custom-webhook", include_secrets=False)
    assert prefect_sandbox.api_key not in str(doc.data)
    assert doc.data["headers"]["Authorization"] == "Bearer {{api_key}}"
    assert doc.data["url"] == f"{prefect_sandbox.url}/push-notification"
    assert doc.data["json_data"] == {"title": "{{subject}}", "message": "{{body}}"}
    assert doc.data["secrets"] != {"api_key": prefect_sandbox.api_key}

    block = CustomWebhookNotificationBlock.load(name)
    block.notify('line 1\nline "2" {not a template}', subject="Deploy ✅")
    assert pushes(prefect_sandbox) == [
        {"title": "Deploy ✅", "message": 'line 1\nline "2" {not a template}'}
    ]

    # overwrite=True replaces it: a wrong key now gets the API's 401
    create_activitysmith_webhook_block(
        name, "ask_wrong", base_url=prefect_sandbox.url, overwrite=True
    )
    with pytest.raises(Exception, match="401"):
        CustomWebhookNotificationBlock.load(name).notify("never delivered", subject="x")
    assert len(prefect_sandbox.pushes) == 1
    assert _push_requests(prefect_sandbox)[-1].status == 401


def test_existing_name_is_not_overwritten_by_default(prefect_sandbox: Any) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    name = _name("activitysmith-webhook")
    create_activitysmith_webhook_block(name, prefect_sandbox.api_key, base_url=prefect_sandbox.url)
    with pytest.raises(ValueError, match="overwrite=True"):
        create_activitysmith_webhook_block(name, "ask_other", base_url=prefect_sandbox.url)
    CustomWebhookNotificationBlock.load(name).notify("still the first key", subject="Kept")
    assert _push_requests(prefect_sandbox)[-1].status == 200


@pytest.mark.anyio
async def test_async_twin_saves_the_same_block(prefect_sandbox: Any) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    name = _name("activitysmith-webhook")
    block_id = await acreate_activitysmith_webhook_block(
        name, prefect_sandbox.api_key, base_url=prefect_sandbox.url + "/", channels="ops, data"
    )
    # the sync name dispatches to the async twin here, as Prefect's own methods do
    again = await create_activitysmith_webhook_block(
        name, prefect_sandbox.api_key, base_url=prefect_sandbox.url, overwrite=True
    )
    assert again == block_id
    block = await CustomWebhookNotificationBlock.aload(name)
    await block.anotify("from async", subject="Async")
    assert pushes(prefect_sandbox) == [{"title": "Async", "message": "from async"}]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "Phone"}, "name"),
        ({"name": "has space"}, "name"),
        ({"name": ""}, "name"),
        ({"api_key": ""}, "api_key"),
        ({"api_key": "ask_x\r\nX-Evil: 1"}, "api_key"),
        ({"api_key": "{{body}}"}, "api_key"),
        ({"api_key": None}, "api_key"),
        ({"base_url": "http://activitysmith.com/api"}, "base_url"),
        ({"base_url": "ftp://127.0.0.1/api"}, "base_url"),
        ({"base_url": "https://user:pw@activitysmith.com/api"}, "base_url"),
        ({"base_url": "activitysmith.com"}, "base_url"),
        ({"channels": []}, "channels"),
        ({"channels": ["ops", ""]}, "channels"),
        ({"channels": ["{{api_key}}"]}, "channels"),
        ({"channels": [3]}, "channels"),
        ({"chanels": ["ops"]}, "chanels"),
    ],
)
def test_bad_input_names_the_field_before_any_network_call(
    kwargs: dict[str, Any], field: str
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    args: dict[str, Any] = {"name": "activitysmith", "api_key": "ask_ok"} | kwargs
    name, api_key = args.pop("name"), args.pop("api_key")
    # no server answers here: any request would fail with a connection error instead
    with (
        temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}),
        pytest.raises(ValidationError, match=f"^{field}") as info,
    ):
        create_activitysmith_webhook_block(name, api_key, **args)
    assert info.value.field == field
    assert "ask_x" not in str(info.value)


@pytest.mark.parametrize(("url", "accepted"), BASE_URL_RULE)
def test_the_webhook_block_follows_the_one_base_url_rule(url: str, accepted: bool) -> None:
    from activitysmith_prefect.webhook import _webhook_block

    if accepted:
        block = _webhook_block("activitysmith", "ask_ok", url, "ops, data")
        assert block.url == f"{url}/push-notification"
        assert block.json_data["target"] == {"channels": ["ops", "data"]}
        return
    with pytest.raises(ValidationError, match="^base_url: ") as info:
        _webhook_block("activitysmith", "ask_ok", url, None)
    assert info.value.field == "base_url"
