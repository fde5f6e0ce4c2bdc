"""The run model fed by overlapping sources, the one subscription per process (none for a flow
whose tasks all run on its threads), and the event stream alone (without the in-process fast
path)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from prefect import flow, task
from prefect.task_runners import ProcessPoolTaskRunner

from activitysmith_core.tracking import StepStatus
from activitysmith_prefect import FlowRunTracker, activitysmith_hooks
from activitysmith_prefect.tracking import TaskRunChange, TrackedRun, registry

from .conftest import check_run, pushes, stream_calls

SERVED = Path(__file__).resolve().parent / "served"


def _change(task_run: str, state: str, at: float, event: str, **kw: Any) -> TaskRunChange:
    return TaskRunChange(
        flow_run_id="f",
        task_run_id=task_run,
        name=f"{kw.pop('task', 'load')}-{task_run}",
        task=kw.pop("task_name", "load"),
        task_key="k",
        state_type=state,
        state_name=state.title(),
        message=kw.pop("message", None),
        occurred=at,
        event_id=event,
        **kw,
    )


def test_a_task_run_state_never_moves_backwards_and_counts_once() -> None:
    tracker = FlowRunTracker()
    flow_run = SimpleNamespace(id="f", name="run", flow_id="x", start_time=None)
    run = TrackedRun(
        tracker.settings_for(flow_run), SimpleNamespace(name="etl", timeout_seconds=None), flow_run
    )
    failures: list[str] = []
    run.report = lambda failure=None: failures.append(failure.ident) if failure else None  # type: ignore[method-assign]
    run.ready = True
    assert run.apply(_change("1", "RUNNING", 10.0, "e1"))
    assert run.apply(_change("1", "COMPLETED", 11.0, "e2"))
    # the stream brings the same states again, and the older one after the newer
    assert not run.apply(_change("1", "RUNNING", 10.0, "e1"), remote=True)
    assert not run.apply(_change("1", "RUNNING", 10.0, "e1-copy"), remote=True)
    assert not run.remote
    assert [s.status for s in run.state().steps] == [StepStatus.SUCCESS]
    # a second run of the task fails: one failure, however many times it arrives
    assert run.apply(_change("2", "FAILED", 12.0, "e3", message="ValueError: x"), remote=True)
    assert not run.apply(_change("2", "FAILED", 12.0, "e3"))
    assert not run.apply(_change("2", "PENDING", 9.0, "e0"), remote=True)
    assert failures == ["2"] and run.remote
    assert [s.status for s in run.state().steps] == [StepStatus.FAILED]
    assert not run.unfinished()


@task
def pause(i: int) -> int:
    time.sleep(0.6)
    return i


@flow(
    task_runner=ProcessPoolTaskRunner(max_workers=1),
    **activitysmith_hooks(interval=0.2, time_left=False),
)
def concurrent(n: int) -> int:
    return sum(pause.with_options(name=f"p{i}").submit(i).result() for i in range(n))


@flow(**activitysmith_hooks(interval=0.2, time_left=False))
def on_threads(n: int) -> int:
    return sum(pause.with_options(name=f"p{i}")(i) for i in range(n))


def test_one_subscription_for_the_process_closed_after_its_last_run(prefect_sandbox: Any) -> None:
    seen: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            seen.append(sum(t.name == "activitysmith-events" for t in threading.enumerate()))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    before = registry.subscription.connections
    runs = [threading.Thread(target=concurrent, args=(2,)) for _ in range(3)]
    for thread in runs:
        thread.start()
        time.sleep(0.3)
    for thread in runs:
        thread.join(120)
    deadline = time.monotonic() + 10
    while registry.subscription.open and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    sampler.join()
    print(
        "subscription threads sampled:",
        max(seen),
        "connections:",
        registry.subscription.connections - before,
    )
    assert max(seen) == 1, "one subscription for all the process's runs"
    assert not registry.subscription.open and not registry.runs, "closed after the last run"
    ended = [a for a in prefect_sandbox.activities.values() if a["status"] != "active"]
    assert len(ended) == 3
    for activity in ended:
        assert activity["content_state"]["step_colors"] == ["green"] * 2


def test_a_flow_on_its_own_threads_needs_no_subscription(prefect_sandbox: Any) -> None:
    """The fast path sees every task of a thread-runner flow: no websocket, no duplicate."""
    connections = registry.subscription.connections
    assert on_threads(3) == 3
    assert registry.subscription.connections == connections
    final = check_run(prefect_sandbox)
    assert final["step_colors"] == ["green"] * 3


def _serve(script: str) -> None:
    """Run a flow of ``served/`` in a process of its own; it must exit 0 (its last line shown)."""
    out = subprocess.run(
        [sys.executable, str(SERVED / script)],
        capture_output=True,
        text=True,
        timeout=240,
        env=os.environ.copy(),
        cwd=SERVED,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    print(out.stdout.strip().splitlines()[-1])


def test_the_event_stream_alone_draws_the_run(prefect_sandbox: Any) -> None:
    _serve("stream_only.py")
    final = check_run(prefect_sandbox)
    assert final["badge"]["title"] == "Succeeded"
    # a, b, c, the subflow (seen at the end without the fast path), broken
    assert sorted(final["step_colors"]) == ["green"] * 4 + ["red"], final
    shown = {cs["current_step"] for m, cs in stream_calls(prefect_sandbox) if m == "PUT"}
    assert len(shown) >= 3, f"progress from the stream while the flow ran: {sorted(shown)}"
    (push,) = pushes(prefect_sandbox)
    assert push["message"] == "ValueError: row 9 is broken", push


def test_a_task_whose_events_are_still_queued_at_the_end_is_drawn(prefect_sandbox: Any) -> None:
    """The last task fails just before the flow returns and its events are still in this
    process's events worker: the final hook sends them first, reads the task runs again, and
    the run is drawn with it (before, it was drawn without that task, all green)."""
    _serve("late_events.py")
    final = check_run(prefect_sandbox)
    assert final["badge"]["title"] == "Succeeded"
    assert sorted(final["step_colors"]) == ["green", "green", "red"], final
    (push,) = pushes(prefect_sandbox)
    assert push["message"] == "ValueError: row 9 is broken", push


def test_a_worker_that_cannot_send_holds_one_waiting_thread_not_one_per_run(
    monkeypatch: Any,
) -> None:
    """The end's wait for queued Prefect events is bounded, and however many runs end while an
    events worker cannot send, one thread waits for it."""
    from prefect.events.worker import EventsWorker

    from activitysmith_prefect.tracking import _history

    class Stuck(EventsWorker):
        def __init__(self) -> None:  # not started: only its queue matters here
            self._stopped = False
            self.sent = threading.Event()

        def wait_until_empty(self) -> None:
            self.sent.wait()

    stuck = Stuck()
    monkeypatch.setattr(EventsWorker, "_instances", {0: stuck})
    started = time.monotonic()
    assert [_history.send_queued_events(0.1) for _ in range(5)] == [False] * 5
    assert time.monotonic() - started < 3.0
    waiting = [t for t in threading.enumerate() if t.name == "activitysmith-events-sent"]
    assert len(waiting) == 1, waiting
    stuck.sent.set()
    assert _history.send_queued_events(2.0)
    waiting[0].join(2.0)
    assert not waiting[0].is_alive()
