"""A group of runs as one activity: windows, segments per run, the time left from the previous
window, no pushes; drawn through the real engine against the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from activitysmith_core import ActivitySmith
from activitysmith_core import tracking as t

R = t.RunStatus


def _m(name: str, start: float, end: float | None = None, status: R = R.SUCCESS) -> t.GroupMember:
    if end is None:
        status = R.RUNNING
    return t.GroupMember(name, f"{name}-{start}", status, start, end)


def test_runs_that_follow_within_linger_share_a_window() -> None:
    night = [_m("etl", 0, 100), _m("warehouse", 50, 400), _m("report", 450, 500)]
    next_night = [_m("etl", 86_400, 86_500)]
    found = t.windows(night + next_night, linger=300)
    assert [len(w.members) for w in found] == [3, 1]
    assert found[0].duration == 500
    # Still running: a run that starts much later joins the open window.
    open_window = t.windows([_m("etl", 0), _m("late", 5_000)], linger=300)
    assert len(open_window) == 1


def test_the_current_window_closes_after_linger() -> None:
    members = [_m("etl", 0, 100), _m("warehouse", 10, 200)]
    shown, before = t.current_window(members, now=250, linger=300)
    assert shown is not None and before is None
    shown, before = t.current_window(members, now=600, linger=300)
    assert shown is None and before is not None and len(before.members) == 2


def test_a_window_draws_one_segment_per_run_and_knows_its_length_from_the_last() -> None:
    last = t.windows([_m(n, i * 10, 600 + i) for i, n in enumerate("abcdefghij")])[0]
    tonight = t.windows(
        [_m("etl", 86_400, 86_460, R.FAILED), _m("warehouse", 86_410), _m("etl", 86_470)]
    )[0]
    run = t.group_state("airflow", "nightly", tonight, last, title="Nightly")
    assert [s.name for s in run.steps] == ["etl", "warehouse", "etl #2"]
    assert run.total_steps == 10
    assert run.expected_seconds == last.duration
    assert run.key == t.group_state("airflow", "nightly", tonight, None).key
    assert tonight.outcome is R.FAILED


def test_a_group_activity_through_the_engine(sandbox: Any, tmp_path: Path) -> None:
    options = t.group_options(
        t.TrackerOptions(interval=0.05, state_dir=str(tmp_path), push_window=0.0)
    )
    engine = t.Engine(ActivitySmith(sandbox.api_key, base_url=sandbox.url), options)
    previous = t.windows([_m(f"dag{i}", i, 1_000 + i) for i in range(6)])[0]
    now = 1_000_000.0
    members = [_m("etl", now), _m("warehouse", now + 1), _m("report", now + 2)]
    window = t.windows(members)[0]
    engine.update(t.group_state("airflow", "nightly", window, previous))
    assert engine.flush()
    members[1] = _m("warehouse", now + 1, now + 30, R.FAILED)
    members[0] = _m("etl", now, now + 40)
    members[2] = _m("report", now + 2, now + 50)
    window = t.windows(members)[0]
    engine.finish(t.group_state("airflow", "nightly", window, previous, status=window.outcome))
    assert engine.flush()
    key = t.group_state("airflow", "nightly", window).key
    activity = sandbox.activities[key]
    assert activity["status"] == "ended"
    state = activity["content_state"]
    assert state["number_of_steps"] == 3
    assert state["step_colors"] == ["red", "green", "green"]
    first = next(r.body for r in sandbox.requests if r.method == "PUT")
    assert first["content_state"]["number_of_steps"] == 6  # the previous night's count
    assert "etl" in first["content_state"]["subtitle"]
    assert not [r for r in sandbox.requests if r.path.endswith("/push-notification")]


def test_a_grouped_run_pushes_its_failures_without_an_activity_of_its_own(
    sandbox: Any, tmp_path: Path
) -> None:
    from activitysmith_core.tracking import RunState, Step, StepStatus

    options = t.TrackerOptions(
        group="nightly", interval=0.05, push_window=30.0, state_dir=str(tmp_path)
    )
    assert not options.shows_run
    assert t.TrackerOptions(group="nightly", own_activity=True).shows_run
    engine = t.Engine(ActivitySmith(sandbox.api_key, base_url=sandbox.url), options)
    run = RunState("airflow", "etl", "r1", [Step("load", StepStatus.FAILED)])
    engine.update(run)
    engine.step_failed(run, "load", "disk full")
    engine.finish(RunState("airflow", "etl", "r1", run.steps, status=R.FAILED))
    assert engine.flush(5.0)
    assert not [r for r in sandbox.requests if "/live-activity/" in r.path]
    pushes = [r.body for r in sandbox.requests if r.path.endswith("/push-notification")]
    assert [p["message"] for p in pushes] == ["disk full"]


def test_group_options_are_checked() -> None:
    import pytest

    with pytest.raises(ValueError, match="^group: "):
        t.TrackerOptions(group="")
    with pytest.raises(ValueError, match="^own_activity: "):
        t.TrackerOptions(own_activity="yes")  # type: ignore[arg-type]


def test_a_group_of_thirty_runs_costs_requests_by_time_not_runs(
    sandbox: Any, tmp_path: Path
) -> None:
    """Thirty runs starting and ending every 0.1 s for 6 s: the group's activity is paced by
    `interval` (1 s), so it costs about one request a second, whatever the number of runs, and
    stays inside the API's quotas (enforced here: 300 a minute)."""
    import time

    sandbox.set_rate_limits({"live_activity": 300, "push": 60})
    options = t.group_options(t.TrackerOptions(interval=1.0, state_dir=str(tmp_path)))
    engine = t.Engine(ActivitySmith(sandbox.api_key, base_url=sandbox.url), options)
    base = 2_000_000.0
    members = [_m(f"dag{i:02d}", base + i * 0.1) for i in range(30)]
    started = time.monotonic()
    for tick in range(60):
        if tick % 2 == 0 and tick // 2 < 30:
            i = tick // 2
            members[i] = _m(f"dag{i:02d}", base + i * 0.1, base + 10 + tick, R.SUCCESS)
        engine.update(t.group_state("airflow", "big", t.windows(members)[0]))
        time.sleep(0.1)
    window = t.windows(members)[0]
    engine.finish(t.group_state("airflow", "big", window, status=window.outcome))
    assert engine.flush()
    elapsed = time.monotonic() - started
    stream = [r for r in sandbox.requests if "/live-activity/stream/" in r.path]
    assert all(r.status == 200 for r in stream)
    puts = [r for r in stream if r.method == "PUT"]
    assert len(puts) <= elapsed / options.interval + 2, (len(puts), elapsed)
    final = sandbox.activities[t.group_state("airflow", "big", window).key]["content_state"]
    # Thirty runs fold into max_segments (20) segments, like steps.
    assert final["number_of_steps"] == 20 and final["step_colors"] == ["green"] * 20


def test_a_window_whose_runs_all_ended_reads_done_for_the_whole_linger() -> None:
    """Twelve runs, the last one just ended, the linger not over: every segment coloured and
    "12/12 done" (not 11/12 until the DELETE), whatever the previous night's count; a run
    joining within the linger grows the bar again."""
    from activitysmith_core.tracking import content_state

    options = t.group_options(t.TrackerOptions())
    last_night = t.windows([_m(f"n{i}", i, 100 + i) for i in range(14)])[0]
    runs = [_m(f"d{i:02d}", 10_000 + i, 10_050 + i) for i in range(11)]
    running = [*runs, _m("d11", 10011)]
    shown, before = t.current_window(running, now=10_070, linger=300)
    assert shown is not None
    state = content_state(t.group_state("airflow", "nightly", shown, last_night), options)
    assert state["current_step"] == 11 and state["number_of_steps"] == 14
    ended = [*runs, _m("d11", 10011, 10080, R.FAILED)]
    shown, before = t.current_window(ended, now=10_081, linger=300)
    assert shown is not None and before is None  # still open: the linger lasts
    run = t.group_state("airflow", "nightly", shown, last_night, title="Nightly")
    assert run.status is R.RUNNING and run.settled
    state = content_state(run, options, now=10_081)
    assert state["number_of_steps"] == state["current_step"] == 12
    assert state["step_colors"] == ["green"] * 11 + ["red"]
    assert state["subtitle"] == "12/12 done"
    joined = [*ended, _m("late", 10200)]
    shown, _ = t.current_window(joined, now=10_201, linger=300)
    assert shown is not None
    again = content_state(t.group_state("airflow", "nightly", shown, last_night), options)
    assert again["current_step"] == 12 and again["number_of_steps"] == 14
    assert again["subtitle"].startswith("Running late")
