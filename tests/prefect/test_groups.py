"""A group of Prefect flow runs, each in a process of its own, on a real Prefect server: one
activity for the group, written by one process at a time (the group's lease, a Prefect global
concurrency limit), handed over when its writer's run ends first, a segment per run coloured
by its outcome, ended with the last run; each run's own failure push; no activity of its own
unless asked for. The sandbox enforces the API's four activities at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from activitysmith_prefect.tracking._group import limit_name
from activitysmith_prefect.tracking._states import group_of
from tests.records import ActivePeak

from .conftest import pushes

SERVED = Path(__file__).resolve().parent / "served"

# name, seconds, how it joins, fails: the first ends long before the others (its process
# writes the group first, then hands over); one fails; one keeps its own activity too.
RUNS = [
    ("ingest", 4, "option", False),
    ("orders", 18, "tag", False),
    ("billing", 10, "option", True),
    ("ledger", 14, "own", False),
    ("events", 12, "option", False),
    ("reports", 16, "tag", False),
]


def _start(name: str, seconds: float, mode: str, fail: bool, logs: Path) -> subprocess.Popen[bytes]:
    log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, str(SERVED / "group_flow.py"), name, str(seconds), mode, str(int(fail))],
        cwd=SERVED,
        env=dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _group_keys(sandbox: Any) -> set[str]:
    return {
        r.path.rsplit("/", 1)[-1]
        for r in sandbox.requests
        if "/live-activity/stream/" in r.path
        and r.method == "PUT"
        and (r.body or {}).get("content_state", {}).get("title") == "nightly"
    }


def test_a_group_of_runs_in_separate_processes_shares_one_activity(
    prefect_sandbox: Any, tmp_path: Path
) -> None:
    sandbox = prefect_sandbox
    peak = ActivePeak(sandbox)
    procs = {RUNS[0][0]: _start(*RUNS[0], tmp_path)}
    time.sleep(1.0)  # the first run starts first: its process takes the group's lease
    for run in RUNS[1:]:
        procs[run[0]] = _start(*run, tmp_path)
    ended: dict[str, float] = {}
    deadline = time.monotonic() + 150
    while len(ended) < len(procs):
        for name, proc in procs.items():
            if name not in ended and proc.poll() is not None:
                ended[name] = time.monotonic()
        assert time.monotonic() < deadline, f"flows still running; logs in {tmp_path}"
        time.sleep(0.2)
    logs = {name: (tmp_path / f"{name}.log").read_text(errors="replace") for name in procs}
    for name, proc in procs.items():
        assert proc.returncode == 0, logs[name]
        expected = "FAILED" if name == "billing" else "COMPLETED"
        assert f"final state: {expected}" in logs[name], logs[name]
    most = peak.stop()

    keys = _group_keys(sandbox)
    assert len(keys) == 1, f"one activity for the group, not {keys}"
    (key,) = keys
    reqs = [r for r in sandbox.stream_requests(key) if r.status == 200]
    assert reqs and reqs[-1].method == "DELETE", [r.method for r in reqs]
    assert sum(r.method == "DELETE" for r in reqs) == 1
    # Every state drawn is consistent and never goes back.
    steps = [r.body["content_state"]["current_step"] for r in reqs]
    assert steps == sorted(steps), steps
    running = [r.body["content_state"] for r in reqs if r.method == "PUT"]
    assert any("Running" in (cs.get("subtitle") or "") for cs in running), running
    final = sandbox.activities[key]
    assert final["status"] == "ended"
    assert final["content_state"]["number_of_steps"] == len(RUNS)
    assert sorted(final["content_state"]["step_colors"]) == ["green"] * 5 + ["red"]
    # Ended once every run had ended (their end times as the Prefect server has them).
    runs = httpx.post(
        f"{os.environ['PREFECT_API_URL']}/flow_runs/filter",
        json={"flow_runs": {"tags": {"all_": ["activitysmith-group:nightly"]}}},
    ).json()
    assert len(runs) == len(RUNS) and all(r["end_time"] for r in runs), runs
    last_end = max(datetime.fromisoformat(r["end_time"].replace("Z", "+00:00")) for r in runs)
    deleted = datetime.fromisoformat(reqs[-1].wall.replace("Z", "+00:00"))
    assert deleted >= last_end, (deleted, last_end)
    assert reqs[-1].time <= max(ended.values())
    # One writer at a time: each process that wrote the group but the last handed it over
    # when its run ended (the first run ends long before the others).
    writers = [n for n, text in logs.items() if "this process writes its activity" in text]
    handed = [n for n, text in logs.items() if "handing its window over" in text]
    assert len(writers) >= 2 and len(handed) == len(writers) - 1, (writers, handed)
    assert "pass skipped" not in "".join(logs.values())

    # Runs have no activity of their own, but for the one that asked; the failure pushes.
    own = {
        r.path.rsplit("/", 1)[-1]
        for r in sandbox.requests
        if "/live-activity/stream/" in r.path and r.path.rsplit("/", 1)[-1] != key
    }
    assert len(own) == 1, own
    (ledger,) = own
    ledger_final = sandbox.activities[ledger]
    assert ledger_final["status"] == "ended"
    assert ledger_final["content_state"]["step_colors"] == ["green", "green"]
    assert most <= 4
    bodies = pushes(sandbox)
    assert any("billing" in p["title"] and "partition 7" in p["message"] for p in bodies), bodies
    assert len(bodies) == 1, bodies

    # The lease is free again: the limit exists with no slot taken.
    reply = httpx.get(
        f"{os.environ['PREFECT_API_URL']}/v2/concurrency_limits/{limit_name('nightly')}"
    )
    assert reply.status_code == 200 and reply.json()["active_slots"] == 0, reply.text


def test_a_run_is_in_a_group_by_option_or_by_tag() -> None:
    from activitysmith_core.tracking import TrackerOptions

    class Run:
        tags = ["team:data", "activitysmith-group: nightly "]

    assert group_of(TrackerOptions(), Run()) == "nightly"
    assert group_of(TrackerOptions(group="etl"), Run()) == "etl"
    Run.tags = ["activitysmith-group:"]
    assert group_of(TrackerOptions(), Run()) is None
    assert limit_name("a/b&c") == "activitysmith-group:a_b_c"


def test_a_crashed_writer_is_ended_by_its_runner_once_its_lease_expires(
    prefect_sandbox: Any, tmp_path: Path
) -> None:
    """The group's only run dies (``os._exit``) holding the group's lease; the Runner's
    ``on_crashed`` hook waits, off every flow's path, for the lease to expire, then ends the
    window: one red segment."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    sandbox = prefect_sandbox
    with open(tmp_path / "runner.log", "wb") as log:
        runner = subprocess.Popen(
            [sys.executable, str(SERVED / "dying_group.py")],
            cwd=SERVED,
            env={**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert runner.poll() is None, (tmp_path / "runner.log").read_text()[-3000:]
            with get_client(sync_client=True) as client:
                try:
                    client.read_deployment_by_name("dying-grouped/crash-group")
                    break
                except Exception:
                    assert time.monotonic() < deadline, "the deployment was never served"
            time.sleep(0.5)
        flow_run = run_deployment("dying-grouped/crash-group", timeout=0)
        deadline = time.monotonic() + 180
        while True:
            keys = {
                r.path.rsplit("/", 1)[-1]
                for r in sandbox.requests
                if "/live-activity/stream/" in r.path and r.method == "DELETE" and r.status == 200
            }
            if keys:
                break
            assert time.monotonic() < deadline, (tmp_path / "runner.log").read_text()[-3000:]
            time.sleep(0.5)
    finally:
        runner.terminate()
        runner.wait(timeout=30)
    (key,) = keys
    reqs = [r for r in sandbox.stream_requests(key) if r.status == 200]
    assert all(r.body["content_state"]["title"] == "crashers" for r in reqs if r.method == "PUT")
    running = [r for r in reqs if r.method == "PUT" and "Running" in str(r.body)]
    assert running, "the group's activity showed the run running before it died"
    final = sandbox.activities[key]
    assert final["status"] == "ended"
    assert final["content_state"]["step_colors"] == ["red"], final
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(flow_run.id).state.is_crashed()


def test_two_runs_ending_together_in_two_processes_end_their_window_once(
    prefect_sandbox: Any,
) -> None:
    """Two runs of a group end within a second of each other, each in its own process. The
    writer of the run that ended last ends the window; the other, whose hook comes later (its
    run's state was final on the server before its hooks ran), leaves it alone: one DELETE,
    nothing after it (CI once saw a second one from the slower process)."""
    from uuid import uuid4

    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Running

    from activitysmith_core.tracking import RunStatus, Sender
    from activitysmith_prefect import FlowRunTracker
    from activitysmith_prefect.tracking._group import TAG, GroupWriter

    group = f"pair-{uuid4().hex[:8]}"

    @flow(name=f"{group}-member")
    def member() -> None:
        """Never called: its runs are created and ended through the API."""

    tracker = FlowRunTracker(group=group, interval=0.3)
    with get_client(sync_client=True) as client:
        runs = [client.create_flow_run(member, tags=[TAG + group], state=Running()) for _ in "ab"]
        writers = [GroupWriter(group, tracker.options, tracker.client_factory) for _ in runs]
        for writer, run in zip(writers, runs, strict=True):
            writer.join(run)
        give_up = time.monotonic() + 30
        while not any(w.holds for w in writers):
            assert time.monotonic() < give_up, "no writer took the group's lease"
            time.sleep(0.1)
        holder = 0 if writers[0].holds else 1
        other = 1 - holder
        # the other's run ends first, the holder's last
        client.set_flow_run_state(runs[other].id, Completed(), force=True)
        time.sleep(0.2)
        client.set_flow_run_state(runs[holder].id, Completed(), force=True)

    writers[holder].leave(runs[holder].id, RunStatus.SUCCESS, 10.0)
    assert writers[holder].engine.flush(10.0)
    Sender.reset_all()  # the other run's process has a sender of its own
    writers[other].leave(runs[other].id, RunStatus.SUCCESS, 10.0)
    writers[other].engine.flush(10.0)

    calls = [
        (r.method, r.status)
        for r in prefect_sandbox.requests
        if "/live-activity/stream/" in r.path
        and (r.body or {}).get("content_state", {}).get("title", group) == group
    ]
    assert [c for c in calls if c == ("DELETE", 200)] == [("DELETE", 200)], calls
    assert calls[-1] == ("DELETE", 200), f"nothing after the window's end: {calls}"
