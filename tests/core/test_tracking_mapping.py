"""The one orchestrator-free mapping from a run to its Live Activity and pushes."""

from __future__ import annotations

import pytest

from activitysmith_core import ActivitySmith
from activitysmith_core import tracking as t

S = t.StepStatus


def run(
    *statuses: t.StepStatus, status: t.RunStatus = t.RunStatus.RUNNING, **kw: object
) -> t.RunState:
    steps = [t.Step(f"t{i}", s) for i, s in enumerate(statuses)]
    return t.RunState("airflow", "etl", "manual__1", steps, status=status, **kw)  # type: ignore[arg-type]


def test_counts_and_colours_follow_outcomes() -> None:
    cs = t.content_state(
        run(S.SUCCESS, S.FAILED, S.SKIPPED, S.UPSTREAM_FAILED, S.RUNNING, S.PENDING),
        t.TrackerOptions(),
    )
    assert cs["type"] == "segmented_progress"
    assert cs["number_of_steps"] == 6
    assert cs["current_step"] == 4
    assert cs["step_colors"] == ["green", "red", "gray", "gray"]
    assert cs["color"] == "red"
    assert cs["step_color"] == "blue"
    assert cs["subtitle"] == "Running t4"
    assert "badge" not in cs


def test_running_and_retrying_subtitles() -> None:
    cs = t.content_state(run(S.RUNNING, S.RUNNING, S.RUNNING, S.PENDING), t.TrackerOptions())
    assert cs["subtitle"] == "Running t0, t1, t2"
    many = t.content_state(run(*[S.RUNNING] * 9), t.TrackerOptions())
    assert many["subtitle"] == "Running t0, t1, t2 +6"
    assert cs["color"] == "blue" and cs["current_step"] == 0 and cs["step_colors"] == []
    retry = t.content_state(run(S.SUCCESS, S.RETRYING), t.TrackerOptions())
    assert retry["subtitle"] == "Retrying t1" and retry["step_color"] == "orange"
    assert t.content_state(run(S.PENDING), t.TrackerOptions())["subtitle"] == "Starting"


def test_declared_total_and_custom_colours() -> None:
    opts = t.TrackerOptions(success_color="lime", accent_color="purple", title="Nightly")
    cs = t.content_state(run(S.SUCCESS, total_steps=10), opts)
    assert cs["number_of_steps"] == 10 and cs["current_step"] == 1
    assert cs["step_colors"] == ["lime"] and cs["color"] == "purple" and cs["title"] == "Nightly"


@pytest.mark.parametrize(
    ("status", "badge", "subtitle"),
    [
        (t.RunStatus.SUCCESS, ("Succeeded", "green"), "Succeeded · 2/2 done"),
        (t.RunStatus.FAILED, ("Failed", "red"), "Failed: t1"),
        (t.RunStatus.CRASHED, ("Crashed", "red"), "Crashed: t1"),
        (t.RunStatus.CANCELLED, ("Cancelled", "gray"), "Cancelled: t1"),
        (t.RunStatus.TIMED_OUT, ("Timed out", "orange"), "Timed out: t1"),
    ],
)
def test_final_states_are_distinct(
    status: t.RunStatus, badge: tuple[str, str], subtitle: str
) -> None:
    second = S.SUCCESS if status is t.RunStatus.SUCCESS else S.FAILED
    body = t.end_request(
        run(S.SUCCESS, second, status=status), t.TrackerOptions(auto_dismiss_seconds=5)
    )
    cs = body["content_state"]
    assert cs["badge"] == {"title": badge[0], "color": badge[1]}
    assert cs["subtitle"] == subtitle
    assert cs["auto_dismiss_seconds"] == 5
    assert cs["color"] == ("blue" if status is t.RunStatus.SUCCESS else "red")


def test_requests_are_valid_api_requests() -> None:
    client = ActivitySmith("ask_x", base_url="https://api.test/api")
    r = run(S.SUCCESS, S.FAILED, S.RUNNING, url="http://localhost:8080/dags/etl/runs/manual__1")
    opts = t.TrackerOptions(channels="ops,data", icon="airplane")
    put = client._build.stream(r.key, t.stream_request(r, opts), {})
    assert put.body is not None
    assert put.body["channels"] == ["ops", "data"]
    assert put.body["action"]["url"].endswith("/runs/manual__1")
    assert put.body["content_state"]["icon"] == {"symbol": "airplane"}
    delete = client._build.end_stream(r.key, t.end_request(r, opts), {})
    assert delete.body is not None and "channels" not in delete.body
    push = client._build.push_send(
        t.failure_push(r, [t.Failure("t1", t.first_line(ValueError("bad row\ntrace")))], opts), {}
    )
    assert push.body == {
        "title": "etl: t1 failed",
        "subtitle": "Run manual__1",
        "message": "ValueError: bad row",
        "redirection": r.url,
        "target": {"channels": ["ops", "data"]},
    }


def test_no_url_no_action_and_options_validated() -> None:
    assert "action" not in t.stream_request(run(S.PENDING), t.TrackerOptions())
    with pytest.raises(ValueError, match="^failed_color: unknown colour 'crimson'"):
        t.TrackerOptions(failed_color="crimson")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^auto_dismiss_minutes: "):
        t.TrackerOptions(auto_dismiss_minutes=-1)
    with pytest.raises(ValueError, match="^deadline: "):
        t.TrackerOptions(deadline=0)
