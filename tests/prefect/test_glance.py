"""A Live Activity worth glancing at, for Prefect: real flows on the real local Prefect server.

The expected steps from the latest completed run (the bar has its length from the first
update), the tasks' own names, folding above ``max_segments``, the time left from recent runs,
and ``expected_duration`` with its one deadline push.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, TypeVar

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

from activitysmith_prefect import activitysmith_hooks

from .conftest import pushes


def runs_of(sandbox: Any) -> list[list[tuple[str, dict[str, Any]]]]:
    """(method, content_state) of every stream request, one list per activity, in run order."""
    by_key: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for r in sandbox.requests:
        if "/live-activity/stream/" in r.path:
            state = (r.body or {}).get("content_state", {})
            by_key.setdefault(r.path, []).append((r.method, state))
    return list(by_key.values())


def updates(calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The updates sent while the run went on (not the final state, nor its 404 replay)."""
    return [cs for method, cs in calls if method == "PUT" and "badge" not in cs]


def recorded(state: Any, count: int, within: float = 30.0) -> None:
    """Wait until the server has recorded ``count`` final task runs of the run that ended in
    ``state``. Prefect records task-run states from events, a little after the run ends; a run
    started at once after it reads a partial history (docs/prefect.md, "At a glance")."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    run_id = state.state_details.flow_run_id
    finals: list[Any] = []
    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            task_runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])), limit=200
            )
            finals = [t for t in task_runs if t.state is not None and t.state.is_final()]
            if len(finals) >= count:
                return
            time.sleep(0.1)
    raise AssertionError(f"{len(finals)} of {count} task runs recorded after {within} s")


def final(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    assert calls and calls[-1][0] == "DELETE", calls
    return calls[-1][1]


def assert_never_all_done_early(calls: list[tuple[str, dict[str, Any]]]) -> None:
    for cs in updates(calls):
        assert cs["current_step"] < cs["number_of_steps"], f"N/N before the end: {cs}"
        assert not re.search(r"\b(\d+)/\1\b", cs["subtitle"]), cs["subtitle"]


T = TypeVar("T")


def _after(seconds: float, value: T) -> T:
    """``value``, ``seconds`` later: a task that takes its time."""
    time.sleep(seconds)
    return value


# -- 1. steps known from the start ---------------------------------------------------------


@task
def extract() -> int:
    return _after(0.3, 2)


@task
def transform(x: int) -> int:
    return _after(0.3, x * 10)


@task
def load(values: list[int]) -> int:
    return _after(0.3, sum(values))


@task
def report(total: int) -> int:
    return _after(0.3, total)


@flow(**activitysmith_hooks(interval=0.2, time_left=False))
def known_steps_flow() -> int:
    x = extract()
    values = transform.map([x, x, x]).result()
    return report(load(values))


def test_second_run_knows_its_steps_from_the_first_update(prefect_sandbox: Any) -> None:
    state = known_steps_flow(return_state=True)
    assert state.result() == 60
    recorded(state, 6)
    assert known_steps_flow() == 60
    first, second = runs_of(prefect_sandbox)
    for calls in (first, second):
        assert_never_all_done_early(calls)
        assert final(calls)["number_of_steps"] == final(calls)["current_step"] == 4
        assert final(calls)["step_colors"] == ["green"] * 4
    assert updates(first)[0]["number_of_steps"] < 4, "no history yet: the bar grows"
    totals = [cs["number_of_steps"] for cs in updates(second)]
    assert totals and set(totals) == {4}, f"the bar keeps its length: {totals}"
    print("first run totals:", [cs["number_of_steps"] for cs in updates(first)])
    print("second run totals:", totals)


@flow(**activitysmith_hooks(interval=0.2, total_steps=6, time_left=False))
def declared_steps_flow() -> int:
    return report(extract())


def test_declared_total_steps_wins_over_history(prefect_sandbox: Any) -> None:
    declared_steps_flow()
    declared_steps_flow()
    for calls in runs_of(prefect_sandbox):
        assert_never_all_done_early(calls)
        assert {cs["number_of_steps"] for _, cs in calls} == {6}


@task
def maybe(i: int) -> int:
    return _after(0.2, i)


@flow(**activitysmith_hooks(interval=0.2, time_left=False))
def growing_flow(n: int) -> int:
    return sum(maybe.with_options(name=f"part_{i}")(i) for i in range(n))


def test_a_longer_run_grows_the_bar_and_is_never_done_early(prefect_sandbox: Any) -> None:
    recorded(growing_flow(2, return_state=True), 2)
    growing_flow(4)  # two tasks more than the latest completed run
    first, second = runs_of(prefect_sandbox)
    assert updates(second)[0]["number_of_steps"] == 2, "the length known from history"
    for calls in (first, second):
        assert_never_all_done_early(calls)
    assert final(second)["number_of_steps"] == final(second)["current_step"] == 4


@flow(**activitysmith_hooks(interval=0.2, time_left=False, one_segment_per_task_run=True))
def per_task_run_flow() -> int:
    return sum(transform.map(range(5)).result()) + extract()


def test_one_segment_per_task_run_knows_its_count_too(prefect_sandbox: Any) -> None:
    per_task_run_flow()
    per_task_run_flow()
    first, second = runs_of(prefect_sandbox)
    for calls in (first, second):
        assert_never_all_done_early(calls)
        assert final(calls)["number_of_steps"] == final(calls)["current_step"] == 6
    assert {cs["number_of_steps"] for cs in updates(second)} == {6}


# -- 2. readable names ---------------------------------------------------------------------


@task(name="transform_customer_records_into_warehouse_rows")
def long_transform(i: int) -> int:
    return _after(0.8, i)


@task(name="extract_all_the_source_tables_from_postgres")
def long_extract() -> int:
    return _after(0.5, 1)


@flow(task_runner=ThreadPoolTaskRunner(max_workers=10), **activitysmith_hooks(interval=0.2))
def long_names_flow() -> int:
    first = long_extract.submit()
    mapped = long_transform.map(range(8))
    return first.result() + sum(mapped.result())


def test_task_names_and_counts_in_a_60_character_subtitle(prefect_sandbox: Any) -> None:
    assert long_names_flow() == 1 + sum(range(8))
    (calls,) = runs_of(prefect_sandbox)
    subtitles = [cs["subtitle"] for _, cs in calls]
    print(*subtitles, sep="\n")
    assert all(len(text) <= 60 for text in subtitles), subtitles
    counts = [int(n) for text in subtitles for n in re.findall(r"×(\d+)", text)]
    assert counts and max(counts) >= 2, f"several running runs of one task: {subtitles}"
    assert any("transform_customer_records" in text for text in subtitles)
    assert not any(re.search(r"-[0-9a-f]{3}\b", text) for text in subtitles), subtitles
    assert final(calls)["number_of_steps"] == 2


# -- 3. the ceiling ------------------------------------------------------------------------


def _step(i: int) -> int:
    return i


STEPS = [task(name=f"step_{i:02d}")(_step) for i in range(66)]


@flow(**activitysmith_hooks(interval=0.3, time_left=False))
def sixty_six_tasks_flow() -> int:
    return sum(step(i) for i, step in enumerate(STEPS))


def test_sixty_six_tasks_fold_into_at_most_max_segments(prefect_sandbox: Any) -> None:
    state = sixty_six_tasks_flow(return_state=True)
    assert state.result() == sum(range(66))
    recorded(state, 66)
    assert sixty_six_tasks_flow() == sum(range(66))
    first, second = runs_of(prefect_sandbox)
    for calls in (first, second):
        assert_never_all_done_early(calls)
        assert all(cs["number_of_steps"] <= 20 for _, cs in calls)
        done = final(calls)
        assert done["number_of_steps"] == done["current_step"] == 20
        assert done["step_colors"] == ["green"] * 20
    totals = [cs["number_of_steps"] for _, cs in second]
    assert set(totals) == {20}, f"folded from the first update: {totals}"
    sizes = [
        len(json.dumps(r.body, separators=(",", ":"), ensure_ascii=False).encode())
        for r in prefect_sandbox.requests
        if "/live-activity/stream/" in r.path
    ]
    print("stream request bodies (bytes):", sizes)
    assert max(sizes) < 1024, sizes


# -- 4. time left --------------------------------------------------------------------------


@task
def wait_for_estimate() -> float | None:
    """What the tracker learnt from the flow's recent runs (read while the run goes on)."""
    from prefect.runtime import flow_run

    from activitysmith_prefect.tracking import registry

    run = registry.runs[str(flow_run.id)]
    run.history.wait(5)
    time.sleep(0.6)
    return run.expected_seconds


@flow(**activitysmith_hooks(interval=0.2))
def timed_flow() -> float | None:
    extract()
    return wait_for_estimate()


def test_time_left_from_the_previous_run(prefect_sandbox: Any) -> None:
    started = time.monotonic()
    assert timed_flow() is None, "no history on the first run"
    took = time.monotonic() - started
    estimate = timed_flow()
    first, second = runs_of(prefect_sandbox)
    print(f"first run {took:.2f} s, estimate {estimate}")
    # the first run's body sleeps 0.9 s; its duration as Prefect measured it, not more than
    # the test waited for the whole call
    assert estimate is not None and 0.9 <= estimate <= took, (estimate, took)
    assert not any("left" in cs["subtitle"] for cs in updates(first))
    clocks = [cs["subtitle"] for cs in updates(second)]
    assert any(text.endswith(" · less than a minute left") for text in clocks), clocks
    assert all(len(text) <= 60 for text in clocks)


# -- 5. expected duration ------------------------------------------------------------------


@task
def sleepy() -> int:
    return _after(4, 1)


@flow(**activitysmith_hooks(interval=0.2, expected_duration=2))
def overdue_flow() -> int:
    return sleepy()


def test_expected_duration_counts_down_then_pushes_once(prefect_sandbox: Any) -> None:
    started = time.time()
    assert overdue_flow() == 1
    (calls,) = runs_of(prefect_sandbox)
    subtitles = [cs["subtitle"] for cs in updates(calls)]
    print(*subtitles, sep="\n")
    assert any(text.endswith("less than a minute left") for text in subtitles), subtitles
    assert subtitles[-1].endswith("running longer than usual"), subtitles
    done = final(calls)
    assert done["badge"]["title"] == "Succeeded" and done["current_step"] == 1
    (push,) = pushes(prefect_sandbox)
    match = re.search(r" missed its (\d\d:\d\d) deadline$", push["title"])
    assert match and push["title"].startswith("overdue-flow"), push
    due = started + 2
    assert match.group(1) in {time.strftime("%H:%M", time.gmtime(due + d)) for d in (-1, 0, 2)}
    assert push["message"].startswith("Still running")
