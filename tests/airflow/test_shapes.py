"""Runtime mapping, branches, task groups, and the no-code tag listener."""

from __future__ import annotations

from typing import Any

from .conftest import load_dag, pushes, stream_bodies


def _final(sandbox: Any) -> dict[str, Any]:
    calls = stream_bodies(sandbox)
    assert calls and calls[-1][0] == "DELETE"
    assert [m for m, _ in calls].count("DELETE") == 1
    steps = [cs["current_step"] for _, cs in calls]
    assert steps == sorted(steps)
    return calls[-1][1]


def test_mapped_count_known_only_at_run_time(airflow_sandbox: Any) -> None:
    load_dag("t_runtime_mapped").test()
    calls = stream_bodies(airflow_sandbox)
    assert {cs["number_of_steps"] for _, cs in calls} == {3}, "a mapped task is one segment"
    mapped_running = [cs for _, cs in calls if cs["subtitle"] == "Running work"]
    assert mapped_running and all(cs["current_step"] == 1 for cs in mapped_running)
    final = _final(airflow_sandbox)
    assert final["current_step"] == 3 and final["step_colors"] == ["green"] * 3


def test_branch_skips_are_counted_in_gray(airflow_sandbox: Any) -> None:
    load_dag("t_branch").test()
    final = _final(airflow_sandbox)
    assert final["number_of_steps"] == 5 and final["current_step"] == 5
    # in the order they finished, join last; the branch task writes its skips while it still
    # runs, so the skipped segment may come before its own (CI, Airflow 3.1: 20 ms earlier)
    assert final["step_colors"][-1] == "green"
    assert sorted(final["step_colors"]) == ["gray", "gray", "green", "green", "green"]
    assert final["badge"]["title"] == "Succeeded" and final["color"] == "blue"


def test_task_group_granularity(airflow_sandbox: Any) -> None:
    load_dag("t_groups").test()
    calls = stream_bodies(airflow_sandbox)
    assert {cs["number_of_steps"] for _, cs in calls} == {3}
    final = _final(airflow_sandbox)
    assert final["current_step"] == 3 and final["step_colors"] == ["green"] * 3
    assert any(cs["subtitle"] == "Running extract" for _, cs in calls)


def test_tag_listener_tracks_without_code(airflow_sandbox: Any) -> None:
    dr = load_dag("t_tagged").test()
    assert str(getattr(dr.state, "value", dr.state)) == "failed"
    final = _final(airflow_sandbox)
    assert final["number_of_steps"] == 2 and final["step_colors"] == ["green", "red"]
    assert final["badge"]["title"] == "Failed"
    sent = pushes(airflow_sandbox)
    assert len(sent) == 1 and sent[0]["message"] == "RuntimeError: tagged failure"


def test_attach_tracks_an_existing_dag(airflow_sandbox: Any) -> None:
    dr = load_dag("t_attached").test()
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    final = _final(airflow_sandbox)
    assert final["title"] == "Attached t_attached"
    assert final["number_of_steps"] == final["current_step"] == 2
