"""What tracking costs the scheduler's own loop: Airflow's ``scheduler.scheduler_loop_duration``
received by a StatsD listener on loopback, while 10 runs of a 200-way mapped task are alive
(their instances held in a pool of no slots, so that no task process competes for the CPU),
untracked, then tracked, then untracked again (one deployment, one run of this script: compare
the ratio, not the milliseconds). PostgreSQL, the API server, one scheduler (LocalExecutor)
and the DAG processor, as in tests/airflow/_cluster.py.

    .venv-airflow/bin/python bench/scheduler_loop.py      # BENCH_RUNS=10 BENCH_WINDOW=60
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _airflow

from tests.airflow import _cluster

RUNS = int(os.environ.get("BENCH_RUNS", "10"))
WINDOW = float(os.environ.get("BENCH_WINDOW", "60"))
WIDTH = 200
METRIC = "airflow.scheduler.scheduler_loop_duration"


class StatsdListener:
    """A StatsD server on loopback that keeps the timings of one metric."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = int(self.sock.getsockname()[1])
        self.values: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except OSError:
                continue
            for line in data.decode("utf-8", "replace").splitlines():
                name, _, rest = line.partition(":")
                if name == self.name:
                    self.values.append((time.monotonic(), float(rest.split("|", 1)[0])))

    def between(self, start: float, end: float) -> list[float]:
        return [v for at, v in self.values if start <= at <= end]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def instances(cluster: dict, dag_id: str) -> int:
    ((count,),) = _cluster.query(
        cluster,
        "SELECT count(*) FROM task_instance ti JOIN dag_run r ON r.dag_id = ti.dag_id "
        "AND r.run_id = ti.run_id WHERE ti.dag_id = %s AND ti.task_id = 'work' "
        "AND r.state = 'running'",
        dag_id,
    )
    return int(count)


def phase(cluster: dict, listener: StatsdListener, dag_id: str) -> list[float]:
    """Loop durations (ms) over ``WINDOW`` seconds while ``RUNS`` runs of ``dag_id`` live with
    all their mapped instances created."""
    runs = [_cluster.trigger(cluster, dag_id) for _ in range(RUNS)]
    deadline = time.monotonic() + 600
    while instances(cluster, dag_id) < RUNS * WIDTH:
        assert time.monotonic() < deadline, f"{dag_id}: instances never all created"
        time.sleep(1)
    time.sleep(5)  # claims, history and deadline reads settle
    began = time.monotonic()
    time.sleep(WINDOW)
    values = listener.between(began, time.monotonic())
    assert instances(cluster, dag_id) == RUNS * WIDTH, "a run ended inside the window"
    for run_id in runs:
        cluster["client"].patch(f"/dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"})
    time.sleep(15)
    return values


def _summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    q = statistics.quantiles(values, n=20) if len(values) >= 20 else [max(values)] * 19
    return (
        f"median {statistics.median(values):7.1f} ms  mean {statistics.fmean(values):7.1f} ms  "
        f"p95 {q[18]:7.1f} ms  ({len(values)} loops)"
    )


def main() -> None:
    listener = StatsdListener(METRIC)
    env = _cluster.api_env(
        core__parallelism=4,
        core__max_active_tasks_per_dag=4,
        logging__logging_level="WARNING",
        metrics__statsd_on=True,
        metrics__statsd_host="127.0.0.1",
        metrics__statsd_port=listener.port,
        metrics__statsd_prefix="airflow",
    )
    try:
        with _airflow.deployment("loop", env) as (_, cluster):
            cluster["client"].post(
                "/pools", json={"name": "bench_loop_closed", "slots": 0}
            ).raise_for_status()
            plain_1 = phase(cluster, listener, "loop_plain")
            tracked = phase(cluster, listener, "loop_tracked")
            plain_2 = phase(cluster, listener, "loop_plain")
            plain = plain_1 + plain_2
            print(
                f"Airflow {_version()}, PostgreSQL, 1 scheduler (LocalExecutor), {RUNS} runs x "
                f"{WIDTH} mapped instances alive, {WINDOW:g} s windows, {METRIC}:"
            )
            print(f"  untracked (before)  {_summary(plain_1)}")
            print(f"  tracked             {_summary(tracked)}")
            print(f"  untracked (after)   {_summary(plain_2)}")
            if plain and tracked:
                ratio = statistics.median(tracked) / statistics.median(plain)
                spread = statistics.median(plain_2) / statistics.median(plain_1)
                print(
                    f"  tracked / untracked median: {ratio:.2f}  "
                    f"(untracked after / before: {spread:.2f}, the noise)"
                )
    finally:
        listener.close()


def _version() -> str:
    import airflow

    return str(airflow.__version__)


if __name__ == "__main__":
    main()
