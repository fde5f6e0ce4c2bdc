"""The block in a real Automation: the Prefect server's actions service loads the saved block and
calls ``notify`` (inside ``raise_on_failure``) when a matching event arrives."""

from __future__ import annotations

import time
import uuid
from typing import Any

from activitysmith_prefect import ActivitySmith


def test_send_a_notification_action_pushes(prefect_sandbox: Any) -> None:
    from prefect.automations import Automation
    from prefect.events import emit_event
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import EventTrigger, Posture

    name = f"phone-{uuid.uuid4().hex[:8]}"
    block_id = ActivitySmith(
        api_key=prefect_sandbox.api_key, base_url=prefect_sandbox.url, channels=["ops"]
    ).save(name, overwrite=True)
    marker = uuid.uuid4().hex[:8]
    automation = Automation(
        name=f"notify-{marker}",
        trigger=EventTrigger(
            expect={"activitysmith.test.ping"},
            match={"prefect.resource.id": f"activitysmith.test.{marker}"},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[
            SendNotification(
                block_document_id=block_id,
                subject="Automation {{ automation.name }}",
                body="{{ event.event }} from {{ event.resource.id }}",
            )
        ],
    ).create()
    try:
        deadline = time.monotonic() + 120
        while not prefect_sandbox.pushes:
            assert time.monotonic() < deadline, "the automation never sent the notification"
            emit_event(
                "activitysmith.test.ping",
                resource={"prefect.resource.id": f"activitysmith.test.{marker}"},
            )
            for _ in range(20):
                if prefect_sandbox.pushes:
                    break
                time.sleep(0.25)
        push = prefect_sandbox.pushes[0]
        assert push["title"] == f"Automation notify-{marker}"
        assert push["message"] == f"activitysmith.test.ping from activitysmith.test.{marker}"
        assert push["target"] == {"channels": ["ops"]}
    finally:
        automation.delete()
