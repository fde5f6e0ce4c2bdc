"""What a watcher tick's reads cost as runs get wider: PostgreSQL on loopback (as in
tests/airflow/_cluster.py), migrated with ``airflow db migrate``, filled with synthetic runs.

Each run has a task ``start``, a mapped ``work`` of N instances (a third succeeded, a third
running, a third scheduled, one up for retry) and ``end``; between two ticks 5 instances of each
run change. "before" is the per-instance read the watcher did (every task instance of every run,
each fed to the failure log and the bar); "after" is the watcher's own reads (``_reads``, by task
and state plus the instances failed, retrying or changed). Printed: CPU seconds per tick
(``time.process_time``, client side) and rows fetched per tick.

    .venv-airflow/bin/python bench/watcher_reads.py            # BENCH_TICKS=5
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.airflow import _cluster

TICKS = int(os.environ.get("BENCH_TICKS", "5"))
WIDTHS = (10, 100, 1000)
RUN_COUNTS = (1, 10, 50)
CHANGES = 5


def _before(session: Any, runs: list[Any], now: float) -> None:
    """The watcher's read before: every task instance, each fed to the failure log and bar."""
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import select, tuple_

    from activitysmith_airflow import _reads
    from activitysmith_airflow._reads import TaskRow
    from activitysmith_airflow.tracking import build_steps

    pairs = _reads.pairs(r.key for r in runs)
    _reads.run_rows(session, pairs)
    tis: dict[tuple[str, str], list[TaskRow]] = {}
    for dag_id, run_id, task_id, index, state, tries in session.execute(
        select(TI.dag_id, TI.run_id, TI.task_id, TI.map_index, TI.state, TI.try_number).where(
            tuple_(TI.dag_id, TI.run_id).in_(pairs)
        )
    ).all():
        row = TaskRow(task_id, index if index is not None else -1, _reads.value(state), tries)
        tis.setdefault((dag_id, run_id), []).append(row)
    for run in runs:
        rows = tis.get((run.dag_id, run.run_id), [])
        run.failures.note(rows, now)
        states = {
            (r.task_id if r.map_index < 0 else f"{r.task_id}_{r.map_index}"): r.state for r in rows
        }
        build_steps(TASKS, states)


def _after(session: Any, runs: list[Any], now: float) -> None:
    from activitysmith_airflow import _reads
    from activitysmith_airflow._runs import read_tasks
    from activitysmith_airflow.tracking import build_steps

    _reads.run_rows(session, _reads.pairs(r.key for r in runs))
    counts = read_tasks(session, runs, now)
    for run in runs:
        by_task: dict[str, dict[str, int]] = {}
        for c in counts.get((run.dag_id, run.run_id), []):
            by_task.setdefault(c.task_id, {})[c.state] = c.instances
        build_steps(TASKS, {}, "task", by_task)


TASKS = {
    "start": SimpleNamespace(upstream_task_ids=set(), task_group=None),
    "work": SimpleNamespace(upstream_task_ids={"start"}, task_group=None),
    "end": SimpleNamespace(upstream_task_ids={"work"}, task_group=None),
}


def _fill(session: Any, dag_id: str, runs: int, width: int) -> list[tuple[str, str, int]]:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import insert

    now = datetime.now(timezone.utc) - timedelta(hours=1)
    keys = []
    for r in range(runs):
        run_id = f"bench_{width}_{r}"
        session.execute(
            insert(DagRun.__table__).values(
                dag_id=dag_id,
                run_id=run_id,
                run_type="manual",
                state="running",
                start_date=now,
                clear_number=0,
                run_after=now,
            )
        )
        rows = [dict(task_id="start", map_index=-1, state="success", try_number=1)]
        for i in range(width):
            state = ("success", "running", "scheduled")[i % 3]
            rows.append(dict(task_id="work", map_index=i, state=state, try_number=1))
        rows[-1].update(state="up_for_retry")
        rows.append(dict(task_id="end", map_index=-1, state=None, try_number=0))
        session.execute(
            insert(TI.__table__),
            [
                dict(
                    row,
                    dag_id=dag_id,
                    run_id=run_id,
                    pool="default_pool",
                    pool_slots=1,
                    queue="default",
                    priority_weight=1,
                    max_tries=1,
                    updated_at=now,
                )
                for row in rows
            ],
        )
        keys.append((dag_id, run_id, 0))
    session.commit()
    return keys


def _change(session: Any, keys: list[tuple[str, str, int]], tick: int) -> None:
    """Between two ticks: a few instances of each run start or finish."""
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import update

    for dag_id, run_id, _ in keys:
        for i in range(CHANGES):
            index = (tick * CHANGES + i) % max(1, int(run_id.split("_")[1]) - 1)
            session.execute(
                update(TI)
                .where(TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == "work")
                .where(TI.map_index == index)
                .values(state="success", updated_at=datetime.now(timezone.utc))
            )
    session.commit()


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="bench-watcher-")
    os.chmod(tmp, 0o777)  # the postgres user must reach it
    with _cluster.postgres(Path(tmp)) as port:
        home = Path(tmp) / "home"
        home.mkdir()
        os.environ.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=(
                f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
            ),
        )
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True
        )
        from airflow import settings
        from sqlalchemy import event

        from activitysmith_airflow._failures import FailureLog
        from activitysmith_airflow._lookups import new_session

        fetched = [0]

        @event.listens_for(settings.engine, "after_cursor_execute")
        def _count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                fetched[0] += max(cursor.rowcount, 0)

        print(f"{'instances':>9} {'runs':>4} | {'rows/tick':>19} | {'CPU ms/tick':>19}")
        print(f"{'per run':>9} {'':>4} | {'before':>9} {'after':>9} | {'before':>9} {'after':>9}")
        cpu: dict[tuple[int, int], tuple[float, float]] = {}
        for width in WIDTHS:
            for runs in RUN_COUNTS:
                dag_id = f"bench_{width}_{runs}"
                with new_session() as session:
                    keys = _fill(session, dag_id, runs, width)
                figures = []
                for read in (_before, _after):
                    held = [
                        SimpleNamespace(
                            key=k, dag_id=k[0], run_id=k[1], read_at=None, failures=FailureLog()
                        )
                        for k in keys
                    ]
                    with new_session() as session:
                        read(session, held, time.monotonic())  # the first read: every instance
                    spent, rows = 0.0, 0
                    for tick in range(TICKS):
                        with new_session() as session:
                            _change(session, keys, tick)
                        fetched[0] = 0
                        began = time.process_time()
                        with new_session() as session:
                            read(session, held, time.monotonic())
                        spent += time.process_time() - began
                        rows += fetched[0]
                    figures.append((rows / TICKS, spent / TICKS * 1000))
                (rb, cb), (ra, ca) = figures
                cpu[(width, runs)] = (cb, ca)
                print(f"{width:>9} {runs:>4} | {rb:>9.0f} {ra:>9.0f} | {cb:>9.1f} {ca:>9.1f}")
        for runs in RUN_COUNTS:
            (b10, a10), (b1k, a1k) = cpu[(10, runs)], cpu[(1000, runs)]
            print(
                f"{runs} runs, 10 -> 1,000 instances: CPU per tick x{b1k / b10:.1f} before, "
                f"x{a1k / a10:.1f} after (goal <= 1.5)"
            )


if __name__ == "__main__":
    main()
