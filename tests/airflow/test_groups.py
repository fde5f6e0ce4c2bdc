"""Groups and the four Live Activity slots under a real deployment (PostgreSQL, the API server,
the DAG processor and a scheduler with LocalExecutor), the sandbox enforcing the API's limit of
four activities at once and recording every request.

- Twelve DAGs of one group triggered together: one activity for the group (never a second,
  never more than four active), one segment per run coloured by its outcome, the failed run's
  own push, and the group ends after its last run and the linger.
- Six tracked runs of no group at once: the two the account has no slot for wait and are shown
  as soon as slots free, in the order they began waiting; each ends right; nothing is dropped.
- A backfill of 8 days of a tracked DAG: one activity of 8 segments (the failed day red), ended
  once, the failed run's own push, no activity per run.
- A scheduler stopped gracefully (SIGTERM) while it writes a group's window and its runs: a
  second scheduler takes the window over as it takes the runs, at its next lease pass, not once
  the stopped one's lease expired. (Last: it leaves the deployment with the second scheduler.)
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from activitysmith_core import stream_key
from tests.records import ActivePeak

from . import _cluster

pytestmark = _cluster.needs_postgres()

ENV = _cluster.api_env(
    core__parallelism=16, activitysmith__group_linger=10, activitysmith__interval=0.5
)
NIGHT = [f"night_{i:02d}" for i in range(12)]
SLOTS = [f"slot_{i}" for i in range(6)]
RELAY = ["relay_0", "relay_1"]
BACKFILLED = "backfilled"


@pytest.fixture(scope="module")
def cluster(sandbox_module: Any) -> Iterator[dict]:
    with _cluster.driven(
        sandbox_module,
        unpaused=[*NIGHT, *SLOTS, *RELAY, BACKFILLED],
        timeout=240,
        prefix="airflow-groups-",
        dags=("groups.py",),
        extra_env=ENV,
    ) as found:
        yield found


def _trigger(cluster: dict, dag_ids: list[str]) -> dict[str, str]:
    return {dag_id: _cluster.trigger(cluster, dag_id) for dag_id in dag_ids}


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


def _run_state(cluster: dict, dag_id: str, run_id: str) -> str:
    reply = cluster["client"].get(f"/dags/{dag_id}/dagRuns/{run_id}")
    reply.raise_for_status()
    return str(reply.json()["state"])


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def _ended(cluster: dict, sandbox: Any, key: str, what: str) -> list[Any]:
    """The accepted requests of ``key`` once it ended (90 s at most): one DELETE, the last."""
    _wait(
        lambda: sandbox.activities[key]["status"] == "ended",
        90,
        f"{what} never ended; logs in {cluster['root']}",
    )
    reqs = [r for r in sandbox.stream_requests(key) if r.status == 200]
    assert [r.method for r in reqs].count("DELETE") == 1 and reqs[-1].method == "DELETE"
    return reqs


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
    # The last run's end is drawn at once, not by the DELETE a linger later: a PUT shows the bar
    # full, every segment coloured, "12/12 done", before the end.
    full = [
        r
        for r in reqs
        if r.method == "PUT"
        and r.body["content_state"]["current_step"] == 12
        and len(r.body["content_state"]["step_colors"]) == 12
    ]
    assert full, [r.body["content_state"]["current_step"] for r in reqs]
    assert full[0].body["content_state"]["subtitle"] == "12/12 done"
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
    # Served strictly in the order they began waiting (the scheduler logs each waiter once, as
    # it begins): the first to wait is the first of the waiting ones shown.
    log = (cluster["root"] / "scheduler.log").read_text(errors="replace")
    began = {k: log.find(f"{k} waits for a free slot") for k in keys.values()}
    waiters = sorted((at, k) for k, at in began.items() if at >= 0)
    assert len(waiters) >= 2, began
    shown = {
        k: min(r.time for r in sandbox.stream_requests(k) if r.status == 200) for _, k in waiters
    }
    assert [k for _, k in waiters] == sorted(shown, key=shown.__getitem__), (waiters, shown)


def test_a_backfill_is_one_activity_of_a_segment_per_run(
    cluster: dict, sandbox_module: Any
) -> None:
    sandbox = sandbox_module
    _cluster.cli(
        cluster["env"],
        "backfill",
        "create",
        "--dag-id",
        BACKFILLED,
        "--from-date",
        "2026-01-01",
        "--to-date",
        "2026-01-08",
    )

    def backfill_runs() -> list[tuple[Any, ...]]:
        return _cluster.query(
            cluster,
            "SELECT run_id, state FROM dag_run WHERE dag_id = %s AND backfill_id IS NOT NULL",
            BACKFILLED,
        )

    _wait(
        lambda: (
            len(backfill_runs()) == 8
            and all(state in ("success", "failed") for _, state in backfill_runs())
        ),
        300,
        f"backfill runs still going: {backfill_runs()}; logs in {cluster['root']}",
    )
    states = dict(backfill_runs())
    assert sorted(states.values()) == ["failed"] + ["success"] * 7, states

    def group_keys() -> list[str]:
        return [k for k in sandbox.activities if "group-backfill" in k]

    _wait(lambda: group_keys(), 60, f"no backfill activity; logs in {cluster['root']}")
    [key] = group_keys()
    reqs = _ended(cluster, sandbox, key, "the backfill's activity")
    steps = [r.body["content_state"]["current_step"] for r in reqs]
    assert steps == sorted(steps), steps
    final = sandbox.activities[key]["content_state"]
    assert final["number_of_steps"] == 8
    assert sorted(final["step_colors"]) == ["green"] * 7 + ["red"]
    assert final["title"] == "backfilled backfill 2026-01-01–2026-01-08", final["title"]
    # The bar is the backfill's length from its first update, not the runs seen so far.
    assert reqs[0].body["content_state"]["number_of_steps"] == 8
    own = [stream_key("airflow", BACKFILLED, r) for r in states]
    assert not [k for k in own if k in sandbox.activities]
    pushes = [r.body for r in sandbox.requests if r.path.endswith("/push-notification")]
    assert any("no partition" in p["message"] for p in pushes), pushes


def _leases(cluster: dict, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return _cluster.query(cluster, sql, *args)


def test_a_stopped_scheduler_hands_its_group_windows_over_with_its_runs(
    cluster: dict, sandbox_module: Any
) -> None:
    """Scheduler A writes the "relay" group's window and both its runs; B starts; A gets
    SIGTERM. B holds the window and the runs at its next lease pass: before A's last lease on
    the window would have expired (A released it), and B's log says it writes the window."""
    from activitysmith_airflow import _lease

    sandbox = sandbox_module
    [a] = [p for p in cluster["schedulers"] if p.poll() is None]
    runs = _trigger(cluster, RELAY)

    def window() -> tuple[str, float] | None:
        rows = _leases(
            cluster, "SELECT owner, expires_at FROM activitysmith_group_lease WHERE grp = 'relay'"
        )
        return (rows[0][0], float(rows[0][1])) if rows else None

    def run_owners() -> set[str]:
        rows = _leases(
            cluster,
            "SELECT owner FROM activitysmith_run_lease WHERE dag_id IN ('relay_0', 'relay_1')",
        )
        return {r[0] for r in rows} if len(rows) == 2 else set()

    def group_key() -> str | None:
        found = [k for k in sandbox.activities if "group-relay" in k]
        return found[0] if found else None

    _wait(lambda: window() is not None and group_key() is not None, 120, "A never wrote relay")
    owner_a = window()[0]  # type: ignore[index]
    _wait(lambda: run_owners() == {owner_a}, 60, f"A does not hold both runs: {run_owners()}")
    # A run pass never sees a window: no run lease row for a group.
    assert not _leases(
        cluster, "SELECT 1 FROM activitysmith_run_lease WHERE dag_id LIKE 'group:%%'"
    )
    b = _cluster.start_scheduler(cluster)
    _wait(
        lambda: (
            _leases(
                cluster,
                "SELECT count(*) FROM job WHERE job_type = 'SchedulerJob' AND state = 'running' "
                "AND latest_heartbeat > now() - interval '5 seconds'",
            )[0][0]
            >= 2
        ),
        120,
        f"the second scheduler never ran; logs in {cluster['root']}",
    )
    time.sleep(2 * _lease.RENEW)  # B's watcher has made its passes: it holds nothing
    assert window()[0] == owner_a and run_owners() == {owner_a}  # type: ignore[index]
    assert all(_run_state(cluster, d, r) == "running" for d, r in runs.items())
    os.kill(a.pid, signal.SIGTERM)
    stopped_at, stopped_mono = time.time(), time.monotonic()
    expiry = 0.0  # A's last lease on the window while A held it
    taken: dict[str, float] = {}
    deadline = time.monotonic() + 180
    while "window" not in taken or "runs" not in taken:
        found = window()
        now = time.time()
        if found is not None and found[0] == owner_a and found[1] > 0:
            expiry = found[1]
        if found is not None and found[0] != owner_a and "window" not in taken:
            taken["window"] = now
        owners = run_owners()
        if owners and owner_a not in owners and "runs" not in taken:
            taken["runs"] = now
        assert time.monotonic() < deadline, f"no takeover {taken}; logs in {cluster['root']}"
        time.sleep(0.25)
    a.wait(timeout=60)
    print(
        f"after SIGTERM: window taken over in {taken['window'] - stopped_at:.1f} s, "
        f"runs in {taken['runs'] - stopped_at:.1f} s; A's window lease ran to "
        f"{expiry - stopped_at:.1f} s"
    )
    assert expiry > 0
    assert taken["window"] < expiry, "the window waited for A's lease to expire"
    assert all(_run_state(cluster, d, r) == "running" for d, r in runs.items()), "runs ended"
    log_b = (cluster["root"] / f"scheduler-{len(cluster['schedulers'])}.log").read_text(
        errors="replace"
    )
    assert "group relay: writing its window" in log_b
    assert b.poll() is None
    states = _wait_runs(cluster, runs)
    assert set(states.values()) == {"success"}
    key = group_key()
    assert key is not None
    reqs = _ended(cluster, sandbox, key, "the group")
    assert [r for r in reqs if r.time > stopped_mono and r.method == "PUT"], "B drew nothing"
    assert sandbox.activities[key]["content_state"]["step_colors"] == ["green"] * 2
