"""A Live Activity worth glancing at: folded segments, append-only colours, readable names,
subtitles that fit a Lock Screen line, time left and deadlines."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from activitysmith_core import ActivitySmith
from activitysmith_core import tracking as t
from tests.records import push_bodies, stream_states

S = t.StepStatus
NOW = 1_800_000_000.0


def _run(steps: list[t.Step], **kw: Any) -> t.RunState:
    return t.RunState("test", "etl", "r1", steps, **kw)


def test_200_steps_fold_into_contiguous_buckets_coloured_by_the_worst() -> None:
    steps = [t.Step(f"t{i:03d}", S.SUCCESS) for i in range(200)]
    steps[15].status = S.FAILED
    steps[42].status = S.SKIPPED
    steps[199].status = S.RUNNING
    cs = t.content_state(_run(steps), t.TrackerOptions())
    assert cs["number_of_steps"] == 20
    assert cs["current_step"] == 19
    assert cs["step_colors"][1] == "red", "t010..t019 holds the failure"
    assert cs["step_colors"][4] == "green", "one skip among successes is still a success"
    assert cs["subtitle"] == "Running t199", "the running task, not its bucket (t190–199)"
    assert t.segments(_run(steps), t.TrackerOptions())[19].name == "t190–199"
    assert len(json.dumps(cs)) < 600, "the request body stays small"


def test_task_groups_fold_first() -> None:
    steps = [t.Step(f"g{i % 5}.t{i}", S.SUCCESS, group=f"g{i % 5}") for i in range(60)]
    shown = t.segments(_run(steps), t.TrackerOptions(max_segments=10))
    assert [s.name for s in shown] == ["g0", "g1", "g2", "g3", "g4"]
    assert all(s.status is S.SUCCESS for s in shown)


def test_a_1000_way_map_is_one_segment_named_with_its_count() -> None:
    cs = t.content_state(
        _run([t.Step("extract", S.SUCCESS), t.Step("transform", S.RUNNING, active=4)]),
        t.TrackerOptions(),
    )
    assert cs["subtitle"] == "Running transform ×4"
    assert cs["number_of_steps"] == 2 and cs["current_step"] == 1


def test_subtitles_fit_a_lock_screen_line() -> None:
    long = [t.Step(f"a_really_long_task_name_number_{i}", S.RUNNING) for i in range(8)]
    cs = t.content_state(_run(long), t.TrackerOptions())
    assert len(cs["subtitle"]) <= t.SUBTITLE_MAX
    assert cs["subtitle"].startswith("Running a_really_long_task_name_number_0")
    assert cs["subtitle"].endswith("+7")
    failed = t.content_state(
        _run([t.Step("x" * 80, S.FAILED)], status=t.RunStatus.FAILED), t.TrackerOptions()
    )
    assert len(failed["subtitle"]) <= t.SUBTITLE_MAX and failed["subtitle"].endswith("…")


@pytest.mark.parametrize(
    ("started", "expected", "text"),
    [
        (NOW - 60, 300, "about 4 min left"),
        (NOW - 290, 300, "less than a minute left"),
        (NOW - 400, 300, "running longer than usual"),
        (NOW - 60, None, None),
    ],
)
def test_time_left_from_history(started: float, expected: float | None, text: str | None) -> None:
    run = _run(
        [t.Step("a", S.SUCCESS), t.Step("b", S.RUNNING), t.Step("c")],
        started_at=started,
        expected_seconds=expected,
    )
    cs = t.content_state(run, t.TrackerOptions(), now=NOW)
    assert cs["subtitle"] == (f"Running b · {text}" if text else "Running b")
    done = t.content_state(
        _run(
            [t.Step("a", S.SUCCESS)],
            started_at=started,
            expected_seconds=expected,
            status=t.RunStatus.SUCCESS,
        ),
        t.TrackerOptions(),
        now=NOW,
    )
    assert "left" not in done["subtitle"] and "usual" not in done["subtitle"]


def test_expected_duration_option_and_deadlines() -> None:
    run = _run([t.Step("a", S.SUCCESS), t.Step("b", S.PENDING)], started_at=NOW - 120)
    cs = t.content_state(run, t.TrackerOptions(expected_duration=900), now=NOW)
    assert cs["subtitle"] == "1/2 · about 13 min left"
    run.deadline_at = NOW + 12 * 60
    assert (
        t.content_state(run, t.TrackerOptions(), now=NOW)["subtitle"] == "1/2 · deadline in 12 min"
    )
    run.deadline_at = NOW - 1
    assert t.content_state(run, t.TrackerOptions(), now=NOW)["subtitle"] == "1/2 · deadline passed"


def test_drawn_segments_never_change(sandbox: Any, tmp_path: Path) -> None:
    """Parallel steps finishing out of their topological order: each update only appends."""
    engine = t.Engine(
        ActivitySmith(sandbox.api_key, base_url=sandbox.url),
        t.TrackerOptions(interval=0.01, state_dir=str(tmp_path)),
    )
    names = ["a", "b", "c", "d"]
    finishing = [("c", S.FAILED), ("a", S.SUCCESS), ("d", S.SKIPPED), ("b", S.SUCCESS)]
    status = dict.fromkeys(names, S.RUNNING)
    for name, outcome in finishing:
        status[name] = outcome
        engine.update(_run([t.Step(n, status[n]) for n in names]))
        assert engine.flush()
    engine.finish(_run([t.Step(n, status[n]) for n in names], status=t.RunStatus.FAILED))
    assert engine.flush()
    drawn = [cs["step_colors"] for _, cs in stream_states(sandbox)]
    for before, after in itertools.pairwise(drawn):
        assert after[: len(before)] == before, drawn
    assert drawn[-1] == ["red", "green", "gray", "green"]


def test_a_missed_deadline_pushes_once(sandbox: Any, tmp_path: Path) -> None:
    engine = t.Engine(
        ActivitySmith(sandbox.api_key, base_url=sandbox.url),
        t.TrackerOptions(state_dir=str(tmp_path)),
    )
    run = _run([t.Step("a", S.RUNNING)], deadline_at=NOW)
    engine.deadline_missed(run)
    engine.deadline_missed(run)
    assert engine.flush()
    [push] = push_bodies(sandbox)
    assert push["title"] == "etl missed its 08:00 deadline"
