"""Groups and the four Live Activity slots under a real deployment (PostgreSQL, the API server,
the DAG processor and a scheduler with LocalExecutor), the sandbox enforcing the API's limit of
four activities at once and recording every request.

- Twelve DAGs of one group triggered together: one activity for the group (never a second,
  never more than four active), one segment per run coloured by its outcome, the failed run's
  own push, and the group ends after its last run and the linger.
- Six tracked runs of no group at once: the two the account has no slot for wait and are shown
  as soon as slots free; each ends right; nothing is dropped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from activitysmith_core import stream_key
from tests.records import ActivePeak

from . import _cluster
from ._cluster import PG

pytestmark = pytest.mark.skipif(
    PG is None and not os.environ.get("CI"),
    reason="PostgreSQL not installed (apt-get install postgresql)",
)

ENV = {
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    "AIRFLOW__CORE__PARALLELISM": "16",
    "AIRFLOW__ACTIVITYSMITH__GROUP_LINGER": "10",
    "AIRFLOW__ACTIVITYSMITH__INTERVAL": "0.5",
}
NIGHT = [f"night_{i:02d}" for i in range(12)]
SLOTS = [f"slot_{i}" for i in range(6)]


@pytest.fixture(scope="module")
def cluster(sandbox_module: Any) -> Iterator[dict]:
    with _cluster.cluster(
        sandbox_module, prefix="airflow-groups-", dags=("groups.py",), extra_env=ENV
    ) as found:
        client = _cluster.api(found)
        found["client"] = client
        for dag_id in NIGHT + SLOTS:
            deadline = time.monotonic() + 240
            while client.get(f"/dags/{dag_id}").status_code != 200:
                assert time.monotonic() < deadline, f"{dag_id} never parsed: {found['root']}"
                time.sleep(1)
            client.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        yield found
        client.close()


def _trigger(cluster: dict, dag_ids: list[str]) -> dict[str, str]:
    runs = {}
    for dag_id in dag_ids:
        reply = cluster["client"].post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
        reply.raise_for_status()
        runs[dag_id] = str(reply.json()["dag_run_id"])
    return runs


def _wait_runs(cluster: dict, runs: dict[str, str], timeout: float = 300) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while len(states) < len(runs):
        for dag_id, run_id in runs.items():
            reply = cluster["client"].get(f"/dags/{dag_id}/dagRuns/{run_id}")
            state = str(reply.json()["state"])
            if state in ("success", "failed"):
                states[dag_id] = state
        assert time.monotonic() < deadline, f"runs still going: {states}; {cluster['root']}"
        time.sleep(1)
    return states


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def test_twelve_runs_of_a_group_share_one_activity(cluster: dict, sandbox_module: Any) -> None:
    sandbox = sandbox_module
    peak = ActivePeak(sandbox)
    runs = _trigger(cluster, NIGHT)
    states = _wait_runs(cluster, runs)
    assert states == {d: "failed" if d == "night_05" else "success" for d in NIGHT}

    def group_keys() -> list[str]:
        return [k for k in sandbox.activities if "group" in k]

    _wait(lambda: group_keys(), 60, f"no group activity; logs in {cluster['root']}")
    key = group_keys()[0]
    _wait(
        lambda: sandbox.activities[key]["status"] == "ended",
        90,
        f"the group never ended; logs in {cluster['root']}",
    )
    most = peak.stop()
    assert len(group_keys()) == 1, group_keys()
    assert most <= 4
    # The runs of the group have no activity of their own.
    own = [stream_key("airflow", d, r) for d, r in runs.items()]
    assert not [k for k in own if k in sandbox.activities]
    reqs = [r for r in sandbox.stream_requests(key) if r.status == 200]
    assert [r.method for r in reqs][-1] == "DELETE"
    steps = [r.body["content_state"]["current_step"] for r in reqs]
    assert steps == sorted(steps), steps
    running = [r.body["content_state"] for r in reqs if r.method == "PUT"]
    assert running and any("Running" in (cs.get("subtitle") or "") for cs in running)
    final = sandbox.activities[key]["content_state"]
    assert final["number_of_steps"] == 12
    assert sorted(final["step_colors"]) == ["green"] * 11 + ["red"]
    pushes = [r.body for r in sandbox.requests if r.path.endswith("/push-notification")]
    assert any("night_05" in p["title"] and "partition" in p["message"] for p in pushes), pushes


def test_runs_beyond_four_wait_for_a_slot_and_are_never_dropped(
    cluster: dict, sandbox_module: Any
) -> None:
    sandbox = sandbox_module
    peak = ActivePeak(sandbox)
    runs = _trigger(cluster, SLOTS)
    keys = {d: stream_key("airflow", d, r) for d, r in runs.items()}
    states = _wait_runs(cluster, runs)
    assert set(states.values()) == {"success"}
    for dag_id, key in keys.items():
        _wait(
            lambda key=key: sandbox.activities.get(key, {}).get("status") == "ended",
            60,
            f"{dag_id} never ended; logs in {cluster['root']}",
        )
    most = peak.stop()
    assert most <= 4
    for key in keys.values():
        final = sandbox.activities[key]["content_state"]
        assert final["step_colors"] == ["green"] * 3, final
    # Two of them found no slot: each is shown once a slot frees (within one retry), while it
    # still runs, not dropped nor only drawn by its end.
    first = sorted(
        min(r.time for r in sandbox.stream_requests(k) if r.status == 200) for k in keys.values()
    )
    ends = sorted(
        r.time
        for k in keys.values()
        for r in sandbox.stream_requests(k)
        if r.method == "DELETE" and r.status == 200
    )
    assert first[4] > ends[0], "no run had to wait: the test did not fill the four slots"
    for waited, freed in zip(first[4:], ends[:2], strict=True):
        assert waited - freed < 10, (waited, freed)
    assert sum(any(r.status == 429 for r in sandbox.stream_requests(k)) for k in keys.values())
    log = (cluster["root"] / "scheduler.log").read_text(errors="replace")
    assert "waits for a free slot" in log
