"""The Live Activity limit (4 per account) reached: a tracked run still gets its failure push and
a clear warning, and tracking resumes once a slot frees."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from activitysmith_core import ActivitySmith, stream_key

from .conftest import load_dag, pushes


def test_fifth_run_gets_its_push_and_resumes(
    airflow_sandbox: Any, capfd: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    client = ActivitySmith(airflow_sandbox.api_key, base_url=airflow_sandbox.url)
    for i in range(4):
        client.live_activities.stream(
            f"busy-{i}", content_state={"title": f"busy {i}", "type": "value", "value": i}
        )
    dr = load_dag("activitysmith_failing").test()
    key = stream_key("airflow", "activitysmith_failing", dr.run_id)
    assert key not in airflow_sandbox.activities, "no fifth activity"
    limited = [r for r in airflow_sandbox.requests if r.status == 429]
    assert limited and all(r.response["error"] == "Live Activity limit reached" for r in limited)
    assert len(pushes(airflow_sandbox)) == 1, "the failure push still goes out"
    out = capfd.readouterr()
    logged = caplog.text + out.out + out.err  # Airflow's log handlers may take the record
    assert "Live Activity limit reached (4 of 4 active)" in logged
    client.live_activities.end_stream("busy-0")
    dr2 = load_dag("activitysmith_failing").test()
    second = airflow_sandbox.activities[stream_key("airflow", "activitysmith_failing", dr2.run_id)]
    assert second["status"] == "ended" and second["content_state"]["badge"]["title"] == "Failed"
