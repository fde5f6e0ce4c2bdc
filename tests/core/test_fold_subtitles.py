"""Subtitles under folding name the running tasks, never the folded buckets; a bucket reads
as what it holds."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitysmith_core import tracking as t
from activitysmith_core.tracking._render import bucket_label

S = t.StepStatus
NOW = 1_800_000_000.0


def _run(steps: list[t.Step], **kw: Any) -> t.RunState:
    return t.RunState("test", "fold31", "r1", steps, **kw)


def _fold31(running: dict[str, int], done: int = 0) -> list[t.Step]:
    """The 31 tasks of tests/airflow/dags/fold31.py: start, load_part_01..28, work (mapped),
    finish; the first ``done`` succeeded, ``running`` maps names to running instances."""
    names = ["start", *(f"load_part_{i:02d}" for i in range(1, 29)), "work", "finish"]
    steps = [t.Step(n, S.SUCCESS if i < done else S.PENDING) for i, n in enumerate(names)]
    for step in steps:
        if step.name in running:
            step.status, step.active = S.RUNNING, running[step.name]
    return steps


def _subtitle(steps: list[t.Step], **kw: Any) -> str:
    return str(t.content_state(_run(steps, **kw), t.TrackerOptions(), now=NOW)["subtitle"])


def test_31_steps_fold_into_20_buckets_labelled_by_what_they_hold() -> None:
    shown = t.segments(_run(_fold31({})), t.TrackerOptions())
    assert len(shown) == 20
    names = [s.name for s in shown]
    assert names[0] == "start"
    assert "load_part_01–02" in names and "load_part_27–28" in names, names
    assert names[-1] == "work–finish", "no useful common prefix: first–last"
    assert len(set(names)) == 20
    assert not any("+" in n for n in names), names


def test_running_loads_are_named_not_their_buckets() -> None:
    steps = _fold31({"load_part_15": 1, "load_part_16": 1}, done=15)
    assert _subtitle(steps) == "Running load_part_15, load_part_16"
    spread = _fold31({"load_part_01": 1, "load_part_21": 1, "load_part_27": 1, "work": 3})
    assert _subtitle(spread) == "Running load_part_01, load_part_21, load_part_27 +1"


def test_the_mapped_task_reads_work_times_n() -> None:
    assert _subtitle(_fold31({"work": 10}, done=29)) == "Running work ×10"
    assert _subtitle(_fold31({"work": 1}, done=29)) == "Running work"
    # Some instances done, none running right now: still the task, named once.
    between = _fold31({"work": 0}, done=29)
    assert _subtitle(between) == "Running work"
    cs = t.content_state(_run(_fold31({"work": 4}, done=29)), t.TrackerOptions(), now=NOW)
    assert cs["number_of_steps"] == 20 and cs["current_step"] == 19


def test_task_groups_keep_their_names_and_the_subtitle_names_tasks() -> None:
    steps = [t.Step(f"g{i % 4}.t{i:02d}", S.PENDING, group=f"g{i % 4}") for i in range(40)]
    steps[5].status = S.RUNNING
    steps[9] = t.Step("g1.work", S.RUNNING, group="g1", active=4)
    shown = t.segments(_run(steps), t.TrackerOptions())
    assert [s.name for s in shown] == ["g0", "g1", "g2", "g3"]
    assert shown[1].active == 4, "the running instances inside the group"
    assert _subtitle(steps) == "Running g1.t05, g1.work ×4"


def test_retrying_and_failed_tasks_are_named_through_folding() -> None:
    steps = _fold31({}, done=10)
    steps[10].status = S.RETRYING
    assert _subtitle(steps) == "Retrying load_part_10"
    steps[10].status = S.FAILED
    ended = _run(steps, status=t.RunStatus.FAILED).ended(t.RunStatus.FAILED)
    assert str(t.content_state(ended, t.TrackerOptions())["subtitle"]) == "Failed: load_part_10"


def test_long_names_are_shortened_within_60_characters_keeping_counts() -> None:
    long = [t.Step(f"transform_customer_records_into_warehouse_rows_{i:02d}") for i in range(31)]
    for step in long[:9]:
        step.status = S.RUNNING
    long[0].active = 4
    text = _subtitle(long, started_at=NOW - 60, expected_seconds=3600)
    assert len(text) <= t.SUBTITLE_MAX, text
    assert text.startswith("Running transform_customer_record"), text
    assert text.endswith("… ×4 +8 · about 59 min left"), text
    one = _subtitle([t.Step("x" * 200, S.RUNNING)])
    assert len(one) == t.SUBTITLE_MAX and one.endswith("…")


@pytest.mark.parametrize(
    ("names", "label"),
    [
        (["load_part_01", "load_part_02", "load_part_03"], "load_part_01–03"),
        (["t000", "t005", "t009"], "t000–009"),
        (["extract_orders", "extract_users"], "extract_orders–users"),
        (["loadPart01", "loadPart02"], "loadPart01–02"),
        (["extract", "transform", "load"], "extract–load"),
        (["export", "extract"], "export–extract"),
        (["load", "load_2"], "load–load_2"),
        (["only"], "only"),
    ],
)
def test_bucket_labels(names: list[str], label: str) -> None:
    assert bucket_label(names) == label


_NAME = st.text(alphabet="abcxyz_019", min_size=1, max_size=70)
_STATUS = st.sampled_from(list(t.StepStatus))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_NAME, _STATUS, st.integers(0, 1000)), min_size=1, max_size=80),
    st.integers(2, 25),
    st.sampled_from([None, NOW + 600, NOW - 1]),
    st.sampled_from(list(t.RunStatus)),
)
def test_a_subtitle_fits_and_never_counts_a_count(
    rows: list[tuple[str, t.StepStatus, int]],
    limit: int,
    deadline: float | None,
    status: t.RunStatus,
) -> None:
    steps = [t.Step(n, s, active=a if s is S.RUNNING else 0) for n, s, a in rows]
    run = _run(steps, deadline_at=deadline, status=status)
    cs = t.content_state(run, t.TrackerOptions(max_segments=limit), now=NOW)
    text = cs["subtitle"]
    assert len(text) <= t.SUBTITLE_MAX, text
    assert "+1 +1" not in text and not any(f"+{n} +" in text for n in range(1, 90)), text
    running = [s.name for s in steps if s.status is S.RUNNING]
    if status is t.RunStatus.RUNNING and running and not any(s.status is S.RETRYING for s in steps):
        assert text.startswith("Running ") and text[8:].startswith(running[0][:3]), (text, running)
    shown = t.segments(run, t.TrackerOptions(max_segments=limit))
    assert len(shown) <= limit
    if len(steps) > limit:
        assert len({s.name for s in shown}) == len(shown), "a segment's name is its identity"
