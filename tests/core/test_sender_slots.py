"""The slot gate is strict FIFO, against the sandbox's 4-activity limit: activities that began
waiting in a known order start in that order, whether a slot frees because one of ours ended
or because the back-off retry finds one another process freed."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from activitysmith_core import ActivitySmith
from activitysmith_core.tracking import Sender
from tests.core._runs import wait_for


def _body(step: int) -> dict[str, Any]:
    return {
        "content_state": {
            "title": "etl",
            "type": "segmented_progress",
            "number_of_steps": 5,
            "current_step": step,
        }
    }


def _end() -> dict[str, Any]:
    return {"content_state": {"title": "etl", "number_of_steps": 5, "current_step": 5}}


def _first_start(sandbox: Any, key: str) -> int | None:
    """The index in the sandbox's record of the stream's first successful PUT."""
    for index, r in enumerate(sandbox.requests):
        if r.method == "PUT" and r.path.endswith(f"/stream/{key}") and r.status == 200:
            return index
    return None


def test_waiters_start_in_the_order_they_began_waiting(sandbox: Any, tmp_path: Path) -> None:
    client = ActivitySmith(sandbox.api_key, base_url=sandbox.url)
    sender = Sender.for_client(client, state_dir=str(tmp_path / "state"))
    sender.configure(request_timeout=1.0, deadline=2.0, keep=True, max_kept=100, max_kept_age=3600)
    shown = [f"f{i}" for i in range(4)]
    waiters = [f"w{i}" for i in range(6)]
    for key in shown:
        sender.put_update(key, _body(1), 0.0)
    assert wait_for(lambda: sandbox.state.active_count() == 4)
    for key in waiters:
        sender.put_update(key, _body(1), 0.0)
        assert wait_for(lambda k=key: k in sender.waiting_for_slot)  # type: ignore[misc]
    assert sender.waiting_for_slot == waiters

    def started(key: str) -> bool:
        return _first_start(sandbox, key) is not None

    # One of ours ends: the oldest waiting takes its slot at once.
    sender.put_final("f0", _body(5), _end())
    assert wait_for(lambda: started("w0"))
    # Another process ends one: the back-off retry, one request for the oldest, finds it.
    client.live_activities.end_stream("f1", _end())
    assert wait_for(lambda: started("w1"), 40.0)
    # Then ours free slots one at a time.
    for ending, starting in [("f2", "w2"), ("f3", "w3"), ("w0", "w4"), ("w1", "w5")]:
        sender.put_final(ending, _body(5), _end())
        assert wait_for(lambda k=starting: started(k)), starting  # type: ignore[misc]
    assert not sender.waiting_for_slot
    starts = [_first_start(sandbox, key) or 0 for key in waiters]
    assert starts == sorted(starts), starts
    # A younger waiter is never even tried before the one ahead of it has started.
    record = sandbox.requests
    for older, younger in itertools.pairwise(waiters):
        tries = [
            i
            for i, r in enumerate(record)
            if r.method == "PUT" and r.path.endswith(f"/stream/{younger}")
        ]
        assert tries and min(tries) > starts[waiters.index(older)], (younger, tries)
