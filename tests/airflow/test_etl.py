"""The example ETL DAG under dag.test(): the exact requests the sandbox recorded."""

from __future__ import annotations

from typing import Any

from activitysmith_core import stream_key

from .conftest import load_dag, pushes, stream_bodies


def test_etl_dag_run_as_live_activity(airflow_sandbox: Any) -> None:
    dag = load_dag("activitysmith_etl")
    dr = dag.test()
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    calls = stream_bodies(airflow_sandbox)
    keys = {
        r.path.rsplit("/", 1)[-1]
        for r in airflow_sandbox.requests
        if "/live-activity/stream/" in r.path
    }
    assert keys == {stream_key("airflow", "activitysmith_etl", dr.run_id)}
    methods = [m for m, _ in calls]
    assert methods[-1] == "DELETE" and methods.count("DELETE") == 1
    for _, cs in calls:
        assert cs["number_of_steps"] == 5
        assert cs["title"] == "Nightly ETL"
    steps = [cs["current_step"] for _, cs in calls]
    assert steps == sorted(steps), "the count never goes backwards"
    final = calls[-1][1]
    assert final["current_step"] == 5 and final["step_colors"] == ["green"] * 5
    assert final["badge"] == {"title": "Succeeded", "color": "green"}
    assert final["auto_dismiss_minutes"] == 2
    put = next(r for r in airflow_sandbox.requests if r.method == "PUT")
    assert put.body["action"]["url"] == (
        f"http://airflow.test:8080/dags/activitysmith_etl/runs/{dr.run_id.replace(':', '%3A').replace('+', '%2B')}"
    )
    (push,) = pushes(airflow_sandbox)  # push_on_success=True in the example
    assert push["title"] == "Nightly ETL succeeded" and push["message"] == "5/5 steps done"
    activity = airflow_sandbox.activities[stream_key("airflow", "activitysmith_etl", dr.run_id)]
    assert activity["status"] == "ended"
    # segments in topological order: both extracts, the mapped transform, load, report
    running = [cs["subtitle"] for m, cs in calls if m == "PUT"]
    assert any("transform" in s for s in running)
