"""Every example DAG run for real with dag.test() against the sandbox."""

from __future__ import annotations

from typing import Any

from activitysmith_core import stream_key

from .conftest import load_dag, pushes, stream_bodies


def _state(dr: Any) -> str:
    return str(getattr(dr.state, "value", dr.state))


def test_failing_dag_pushes_once_after_retries(airflow_sandbox: Any) -> None:
    dr = load_dag("activitysmith_failing").test()
    assert _state(dr) == "failed"
    sent = pushes(airflow_sandbox)
    assert len(sent) == 1, "retries do not push; the final failure pushes once"
    push = sent[0]
    assert push["title"] == "activitysmith_failing: validate failed"
    # The listener gets the exception on every supported Airflow (3.1's dag.test() does not
    # hand it to failure callbacks, but does to listeners).
    assert push["message"] == "ValueError: 3 rows had no id"
    assert push["subtitle"] == f"Run {dr.run_id}"
    assert "/dags/activitysmith_failing/runs/" in push["redirection"]
    assert push["redirection"].split("/tasks/")[1].startswith("validate")
    calls = stream_bodies(airflow_sandbox)
    assert [m for m, _ in calls].count("DELETE") == 1 and calls[-1][0] == "DELETE"
    retrying = [cs for m, cs in calls if cs.get("subtitle", "").startswith("Retrying")]
    assert retrying and all(cs["step_color"] == "orange" for cs in retrying)
    final = calls[-1][1]
    assert final["number_of_steps"] == 3 and final["current_step"] == 3
    assert final["step_colors"] == ["green", "red", "gray"]
    assert final["color"] == "red"
    assert final["badge"] == {"title": "Failed", "color": "red"}
    assert final["auto_dismiss_minutes"] == 5
    steps = [cs["current_step"] for _, cs in calls]
    assert steps == sorted(steps)


def test_server_health_streams_metrics(airflow_sandbox: Any) -> None:
    dr = load_dag("activitysmith_server_health").test()
    assert _state(dr) == "success"
    (put,) = [r for r in airflow_sandbox.requests if r.method == "PUT"]
    assert put.path.endswith("/live-activity/stream/server-health-web-1")
    cs = put.body["content_state"]
    assert cs["type"] == "metrics"
    assert [m["label"] for m in cs["metrics"]] == ["CPU", "MEM"]
    assert all(isinstance(m["value"], float) for m in cs["metrics"])
    assert cs["metrics"][1]["value"] == 41.5


def test_upload_reports_progress_then_ends(airflow_sandbox: Any) -> None:
    dr = load_dag("activitysmith_upload").test()
    assert _state(dr) == "success"
    reqs = [r for r in airflow_sandbox.requests if "/live-activity/stream/" in r.path]
    assert [r.method for r in reqs] == ["PUT"] * 4 + ["DELETE"]
    assert [r.body["content_state"].get("value") for r in reqs[:4]] == [1, 2, 3, 4]
    assert len({r.path for r in reqs}) == 1, "the end operator found the same stream"
    assert reqs[-1].body["content_state"]["auto_dismiss_seconds"] == 30
    assert all(r.status == 200 for r in reqs)


def test_every_operator_and_the_notifier(airflow_sandbox: Any) -> None:
    dr = load_dag("activitysmith_operators").test()
    assert _state(dr) == "success"
    reqs = [(r.method, r.path.split("/api", 1)[1], r.status) for r in airflow_sandbox.requests]
    ds = dr.logical_date.strftime("%Y%m%d") if dr.logical_date else None
    assert [m for m, _, _ in reqs] == ["POST", "PUT", "DELETE", "POST", "POST", "POST", "POST"]
    assert all(status == 200 for _, _, status in reqs)
    push, final = pushes(airflow_sandbox)
    assert push["title"] == "Deploy of activitysmith_operators"
    assert push["interruption_level"] == "time-sensitive"
    assert push["redirection"].startswith("https://example.com/runs/manual__")
    assert final == {
        "title": "activitysmith_operators finished",
        "message": f"Run {dr.run_id} succeeded",
    }
    assert reqs[1][1] == f"/live-activity/stream/deploy-{ds}" or ds is None
    start, update, end = (
        r
        for r in airflow_sandbox.requests
        if r.path.split("/api", 1)[1].startswith("/live-activity/") and r.method == "POST"
    )
    aid = start.response["activity_id"]
    assert update.body["activity_id"] == aid and end.body["activity_id"] == aid
    assert airflow_sandbox.activities[aid]["status"] == "ended"
    assert stream_key  # imported for readers: example stream keys are written by hand here
