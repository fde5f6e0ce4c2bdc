"""The API key appears in no log record, repr, exception text or kept file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from activitysmith_core import ActivitySmith, RetryPolicy
from activitysmith_core import errors as e
from activitysmith_core.sandbox import Faults
from activitysmith_core.tracking import Engine, RunState, RunStatus, Step, TrackerOptions


def test_key_never_leaks(sandbox: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    key = sandbox.api_key
    seen: list[str] = []
    client = ActivitySmith(
        key,
        base_url=sandbox.url,
        retry=RetryPolicy(max_attempts=2, initial_backoff=0.01, budget=3),
        timeout=0.5,
    )
    seen += [repr(client), str(vars(client).get("retry")), repr(client._http)]
    client.notifications.send(title="ok")
    client.live_activities.stream("k", content_state={"title": "t", "type": "value", "value": 1})
    for faults in (
        Faults(error_rate=1.0),
        Faults(rate_limit_burst=3, retry_after=0),
        Faults(drop_rate=1.0),
        Faults(hang_rate=1.0, hang_seconds=5),
    ):
        sandbox.set_faults(faults)
        with pytest.raises(e.ActivitySmithError) as info:
            client.live_activities.stream(
                "k", content_state={"title": "t", "type": "value", "value": 2}
            )
        seen += [
            str(info.value),
            repr(info.value),
            str(getattr(info.value, "body", "")),
            str(getattr(info.value, "headers", "")),
        ]
    sandbox.set_faults(Faults())
    with pytest.raises(e.ValidationError) as bad:
        client.notifications.send(title="t", media="http://x")
    seen.append(str(bad.value))
    engine = Engine(client, TrackerOptions(state_dir=str(tmp_path), deadline=1))
    sandbox.set_faults(Faults(error_rate=1.0))
    engine.finish(RunState("t", "p", "r", [Step("a")], status=RunStatus.FAILED))
    engine.flush()
    kept = [p.read_text() for p in tmp_path.rglob("*.json")]
    assert kept, "the final state and the failure push are kept"
    seen += kept
    assert len(seen) > 10
    for text in [*seen, caplog.text]:
        assert key not in text
    for rec in sandbox.requests:
        assert key not in str(rec.body) and key not in str(rec.headers)
