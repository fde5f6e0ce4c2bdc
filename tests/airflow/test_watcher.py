"""The watcher's parts through their public seams: the failure log's rules, and the reads of a
tick against a real metadata database after real ``dag.test()`` runs."""

from __future__ import annotations

from typing import Any

from activitysmith_airflow._failures import FailureKey, FailureLog, MissedRetry
from activitysmith_airflow._reads import TaskRow

from .conftest import load_dag

WAIT = 3.0


def _row(state: str, tries: int, task: str = "t", index: int = -1) -> TaskRow:
    return TaskRow(task, index, state, tries)


def test_a_final_failure_is_one_event_per_task_instance() -> None:
    log = FailureLog()
    assert log.note([_row("failed", 1), _row("failed", 1, index=3)], 0.0) == []
    assert set(log.waiting) == {FailureKey.final("t", -1), FailureKey.final("t", 3)}
    log.note([_row("failed", 2)], 1.0)  # a later read shows another try number
    assert len(log.waiting) == 2
    assert log.due(1.0, WAIT) == [], "no error yet, not waited long enough"
    due = log.due(WAIT + 0.5, WAIT)
    assert sorted(d.key.map_index for d in due) == [-1, 3] and {d.error for d in due} == {None}
    log.note([_row("failed", 2)], 5.0)
    assert log.waiting == {} and len(log.reported) == 2
    assert FailureKey.final("t", -1).ident == "t|-1|-1|False"


def test_each_retry_is_its_own_event_with_its_error() -> None:
    log = FailureLog()
    log.add_error("t", -1, "local error")
    log.note([_row("up_for_retry", 1)], 0.0)
    log.note([_row("up_for_retry", 1)], 0.5)
    log.note([_row("up_for_retry", 2)], 1.0)
    assert list(log.waiting) == [FailureKey.retry("t", -1, 1), FailureKey.retry("t", -1, 2)]
    due = log.due(1.0, WAIT)
    assert [(d.key.try_number, d.error) for d in due] == [(1, "local error"), (2, "local error")]
    assert FailureKey.retry("t", -1, 2).ident == "t|-1|2|True"
    other = FailureLog()
    other.note([_row("up_for_retry", 1, task="u")], 0.0)
    (found,) = other.due(0.0, WAIT, {("u", -1): "from the XCom"})
    assert found.error == "from the XCom" and found.failure.retrying


def test_a_retry_between_two_reads_is_found_from_history() -> None:
    log = FailureLog()
    log.note([_row("running", 1)], 0.0)
    (miss,) = log.note([_row("running", 3)], 1.0)
    assert miss == MissedRetry("t", -1, 1, 3)
    log.note_history(miss, 1, 1.0)
    log.note_history(miss, 2, 1.0)
    log.note_history(miss, 3, 1.0)  # the try running now: not in between
    assert list(log.waiting) == [FailureKey.retry("t", -1, 1), FailureKey.retry("t", -1, 2)]
    seen = FailureLog()
    seen.note([_row("up_for_retry", 1)], 0.0)
    assert seen.note([_row("running", 2)], 1.0) == [], "the retry was seen"
    cleared = FailureLog()
    cleared.note([_row("success", 1)], 0.0)
    assert cleared.note([_row("running", 2)], 1.0) == [], "try 1 was seen ending: a clear"


def test_a_final_failure_cleared_and_failing_again_is_neither_a_retry_nor_a_second_final() -> None:
    log = FailureLog()
    log.note([_row("failed", 1)], 0.0)
    assert len(log.due(10.0, WAIT)) == 1
    assert log.note([_row("running", 2)], 11.0) == [], "after a failure: a clear"
    (miss,) = log.note([_row("running", 3)], 12.0)  # try 2 failed, cleared again in between
    log.note_history(miss, 2, 12.0)
    assert log.waiting == {}
    log.note([_row("failed", 3)], 13.0)
    assert log.waiting == {}, "one final failure per task instance"


def test_the_reads_of_a_tick_on_a_real_run(airflow_sandbox: Any) -> None:
    from airflow.utils.session import create_session

    from activitysmith_airflow import _reads

    retried = load_dag("t_retry_push").test()
    mapped = load_dag("t_runtime_mapped").test()
    failed = load_dag("t_operator_errors").test()
    runs = [(d.dag_id, d.run_id) for d in (retried, mapped, failed)]
    with create_session() as session:
        rows = _reads.run_rows(session, sorted(runs))
        tis = _reads.task_states(session, sorted(runs))
        errors = _reads.xcom_errors(session, sorted(runs))
        history = _reads.failed_tries(
            session, [(retried.dag_id, retried.run_id, "flaky", -1), (*runs[1], "make", -1)]
        )
        expected = _reads.history(session, retried.dag_id)
        deadline = _reads.deadline(session, rows[runs[0]].id)
    assert {k: _reads.value(r.state) for k, r in rows.items()} == dict(
        zip(runs, ["success", "success", "failed"], strict=True)
    )
    assert rows[runs[0]].clear_number == 0 and rows[runs[0]].start_date is not None
    assert tis[runs[0]] == [TaskRow("flaky", -1, "success", 2)]
    work = sorted(r.map_index for r in tis[runs[1]] if r.task_id == "work")
    assert work == [0, 1, 2, 3, 4]
    assert {r.task_id: r.state for r in tis[runs[2]]} == {
        "soft": "success",
        "hard": "failed",
        "invalid": "failed",
    }
    assert history == [((retried.dag_id, retried.run_id, "flaky", -1), 1)]
    assert expected is not None and expected > 0
    assert deadline is None
    assert runs[0] not in errors, "the failed try's error went with its retry"
    assert set(errors.get(runs[2], {})) <= {("hard", -1), ("invalid", -1)}
    assert all(isinstance(e, str) and e for e in errors.get(runs[2], {}).values())


def test_the_bar_from_counts_is_the_bar_from_instances() -> None:
    from types import SimpleNamespace

    from activitysmith_airflow.tracking import build_steps

    tasks = {
        "a": SimpleNamespace(upstream_task_ids=set(), task_group=None),
        "m": SimpleNamespace(upstream_task_ids={"a"}, task_group=None),
        "z": SimpleNamespace(upstream_task_ids={"m"}, task_group=None),
    }
    states = {"a": "success", "m_0": "running", "m_1": "running", "m_2": "deferred"}
    states |= {"m_3": "success", "m_4": "up_for_retry"}
    counts = {"a": {"success": 1}, "m": {"running": 2, "deferred": 1, "success": 1}}
    counts["m"]["up_for_retry"] = 1
    for granularity in ("task", "task_group"):
        by_instance = build_steps(tasks, states, granularity)  # type: ignore[arg-type]
        assert build_steps(tasks, {}, granularity, counts) == by_instance  # type: ignore[arg-type]
    (_, mapped, _) = build_steps(tasks, {}, "task", counts)
    assert mapped.active == 3, "the x3 of a mapped task: its running instances"


def test_a_tick_reads_by_task_and_change(airflow_sandbox: Any) -> None:
    """On a real run: the counts per task and state, the changed instances only after the
    first read, every instance of a task whose tries grew unseen, and a retry found."""
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from airflow.utils.session import create_session

    from activitysmith_airflow import _reads
    from activitysmith_airflow._runs import read_tasks

    mapped = load_dag("t_runtime_mapped").test()
    retried = load_dag("t_retry_push").test()
    pairs = [(mapped.dag_id, mapped.run_id), (retried.dag_id, retried.run_id)]
    with create_session() as session:
        counts = _reads.task_counts(session, pairs)
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        unchanged = _reads.task_changes(session, pairs, later)
        all_rows = _reads.task_changes(session, pairs, later - timedelta(days=1))
        runs = [
            SimpleNamespace(key=(*p, 0), dag_id=p[0], run_id=p[1], read_at=None, failures=None)
            for p in pairs
        ]
        from activitysmith_airflow._failures import FailureLog

        for run in runs:
            run.failures = FailureLog()
        read_tasks(session, runs, 0.0)  # type: ignore[arg-type]
        first = {(r.dag_id, r.run_id): dict(r.failures.tries) for r in runs}
        # As if try 1 of flaky had been seen running, and the read since then missed the change.
        log = runs[1].failures
        log.tries[("flaky", -1)] = (1, "running")
        log.try_sums["flaky"] = 1
        runs[1].read_at = later
        read_tasks(session, runs, 0.0)  # type: ignore[arg-type]
    assert {(c.task_id, c.state): (c.instances, c.tries) for c in counts[pairs[0]]} == {
        ("make", "success"): (1, 1),
        ("work", "success"): (5, 5),
        ("done", "success"): (1, 1),
    }
    assert [(c.task_id, c.state, c.tries) for c in counts[pairs[1]]] == [("flaky", "success", 2)]
    assert unchanged == {}, "nothing failed, nothing changed since"
    assert sum(len(v) for v in all_rows.values()) == 8
    assert len(first[pairs[0]]) == 7 and first[pairs[1]] == {("flaky", -1): (2, "success")}
    assert [k.try_number for k in log.waiting] == [1], "try 1's retry, found from history"
