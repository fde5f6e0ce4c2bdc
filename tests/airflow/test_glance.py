"""What a person on call sees at a glance: the time left once the DAG has history."""

from __future__ import annotations

from typing import Any

from .conftest import load_dag, stream_bodies


def test_the_estimate_appears_on_the_second_run(airflow_sandbox: Any) -> None:
    dag = load_dag("t_estimate")
    dag.test()
    first = [cs["subtitle"] for m, cs in stream_bodies(airflow_sandbox) if m == "PUT"]
    assert first and not any("left" in s or "usual" in s for s in first), first
    before = len(airflow_sandbox.requests)
    dag.test()
    second = [
        r.body["content_state"]["subtitle"]
        for r in airflow_sandbox.requests[before:]
        if r.method == "PUT" and "/live-activity/stream/" in r.path
    ]
    # The first run took about 3 s: the estimate is under a minute, never negative.
    timed = [s for s in second if "·" in s]
    assert timed, second
    assert all(s.endswith(("less than a minute left", "running longer than usual")) for s in timed)
