"""The API's quotas enforced by the sandbox (300 Live Activity requests and 60 pushes a minute):
big runs are paced and folded so that no request is refused, and the final state is right."""

from __future__ import annotations

from typing import Any

from activitysmith_core import stream_key

from .conftest import load_dag, pushes, stream_bodies


def _quota_sandbox(sandbox: Any) -> Any:
    sandbox.set_rate_limits({"live_activity": 300, "push": 60})
    return sandbox


def test_200_parallel_tasks_inside_the_quota(airflow_sandbox: Any) -> None:
    sandbox = _quota_sandbox(airflow_sandbox)
    dr = load_dag("t_wide200").test()
    assert [r.status for r in sandbox.requests].count(429) == 0
    calls = stream_bodies(sandbox)
    assert len(calls) < 40, f"{len(calls)} requests for 200 tasks: bounded by time, not tasks"
    steps = [cs["current_step"] for _, cs in calls]
    assert steps == sorted(steps)
    final = calls[-1][1]
    assert calls[-1][0] == "DELETE"
    # 200 tasks fold into the Lock Screen's 20 segments (max_segments), each all green.
    assert final["number_of_steps"] == final["current_step"] == 20
    assert final["step_colors"] == ["green"] * 20
    assert all(cs["number_of_steps"] == 20 for _, cs in calls)
    assert sandbox.activities[stream_key("airflow", "t_wide200", dr.run_id)]["status"] == "ended"


def test_1000_way_map_with_100_failures_inside_the_quota(airflow_sandbox: Any) -> None:
    sandbox = _quota_sandbox(airflow_sandbox)
    load_dag("t_map1000").test()
    statuses = [r.status for r in sandbox.requests]
    assert statuses.count(429) == 0, "nothing refused"
    calls = stream_bodies(sandbox)
    final = calls[-1][1]
    assert calls[-1][0] == "DELETE"
    assert final["number_of_steps"] == final["current_step"] == 2, "a mapped task is one segment"
    assert final["step_colors"] == ["red", "green"]
    sent = pushes(sandbox)
    # 100 failing instances fold into pushes (one per push_window), each naming them, never
    # more than the push quota in any minute.
    times = [r.time for r in sandbox.requests if r.path.endswith("/push-notification")]
    assert sent and max(sum(1 for t in times if s <= t < s + 60) for s in times) <= 60
    assert all(p["title"].startswith("t_map1000: shard ×") for p in sent if "×" in p["title"])
    folded = sum(int(p["title"].split("×")[1].split()[0]) if "×" in p["title"] else 1 for p in sent)
    assert folded == 100, "every failure is named once"
    assert all(p["message"].startswith("ValueError: shard ") for p in sent)
