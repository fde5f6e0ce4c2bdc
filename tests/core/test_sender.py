"""The sender through its public seams, against the sandbox over loopback: the queue coalesces,
a final state beats a queued update, pushes fold in a window, the slot gate, the outage
cool-down and the replay of kept states."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from activitysmith_core import ActivitySmith
from activitysmith_core.tracking import Sender
from tests.core._runs import wait_for


def _sender(sandbox: Any, tmp_path: Path) -> Sender:
    client = ActivitySmith(sandbox.api_key, base_url=sandbox.url)
    sender = Sender.for_client(client, state_dir=str(tmp_path / "state"))
    sender.configure(request_timeout=1.0, deadline=2.0, keep=True, max_kept=100, max_kept_age=3600)
    return sender


def _body(step: int, title: str = "etl") -> dict[str, Any]:
    return {
        "content_state": {
            "title": title,
            "type": "segmented_progress",
            "number_of_steps": 5,
            "current_step": step,
        }
    }


def _end(step: int) -> dict[str, Any]:
    return {"content_state": {"title": "etl", "number_of_steps": 5, "current_step": step}}


def _push(title: str) -> Any:
    return lambda items: {"title": title, "message": f"{len(items)} failed"}


def test_the_queue_keeps_only_the_newest_update_per_stream(sandbox: Any, tmp_path: Path) -> None:
    sender = _sender(sandbox, tmp_path)
    sender.put_update("q1", _body(1), 60.0)
    assert wait_for(lambda: len(sandbox.stream_requests("q1")) == 1)
    for step in (2, 3, 4):  # inside the interval: each replaces the one before
        sender.put_update("q1", _body(step), 60.0)
    assert sender.pending() == 1
    assert sender.flush()
    steps = [r.body["content_state"]["current_step"] for r in sandbox.stream_requests("q1")]
    assert steps == [1, 4]


def test_a_final_state_replaces_a_queued_update_and_blocks_later_ones(
    sandbox: Any, tmp_path: Path
) -> None:
    sender = _sender(sandbox, tmp_path)
    sender.put_update("q2", _body(1), 60.0)
    assert wait_for(lambda: len(sandbox.stream_requests("q2")) == 1)
    sender.put_update("q2", _body(2), 60.0)
    sender.put_final("q2", _body(5), _end(5))
    sender.put_update("q2", _body(3), 60.0)
    assert sender.final_pending("q2") or sandbox.activities["q2"]["status"] == "ended"
    assert sender.flush()
    assert not sender.final_pending("q2")
    assert [r.method for r in sandbox.stream_requests("q2")] == ["PUT", "DELETE"]
    sender.put_update("q2", _body(4), 0.0)  # late: the stream ended
    assert sender.flush()
    assert [r.method for r in sandbox.stream_requests("q2")] == ["PUT", "DELETE"]
    assert sandbox.activities["q2"]["content_state"]["current_step"] == 5


def test_pushes_of_one_group_fold_inside_the_window(sandbox: Any, tmp_path: Path) -> None:
    sender = _sender(sandbox, tmp_path)
    for name in ("a", "b", "c"):
        sender.add_push(_push("folded"), item=name, group="run1", window=30.0)  # type: ignore[arg-type]
    sender.add_push(_push("alone"))
    assert wait_for(lambda: len(sandbox.pushes) == 1)
    assert sandbox.pushes[0]["title"] == "alone"
    assert sender.flush()  # a flush sends the folded push before its window ends
    assert [(p["title"], p["message"]) for p in sandbox.pushes] == [
        ("alone", "0 failed"),
        ("folded", "3 failed"),
    ]


def test_a_new_activity_waits_for_a_slot_until_one_of_ours_ends(
    sandbox: Any, tmp_path: Path
) -> None:
    sender = _sender(sandbox, tmp_path)
    for i in range(5):
        sender.put_update(f"g{i}", _body(1), 0.0)
    assert wait_for(lambda: len(sender.waiting_for_slot) == 1)
    (waiting,) = sender.waiting_for_slot
    assert sandbox.state.active_count() == 4
    shown = next(f"g{i}" for i in range(5) if f"g{i}" != waiting)
    sender.put_final(shown, _body(5), _end(5))
    assert wait_for(lambda: not sender.waiting_for_slot, 4.0)
    assert sandbox.activities[waiting]["status"] == "active"
    assert sender.stats.slot_waits == 1


def test_the_api_found_down_holds_requests_for_a_cool_down(sandbox: Any, tmp_path: Path) -> None:
    sender = _sender(sandbox, tmp_path)
    sandbox.set_faults(error_rate=1.0, status=503)
    sender.put_update("b1", _body(1), 0.0)
    assert wait_for(lambda: sender.down_for() > 0)
    seen = len(sandbox.requests)
    sender.put_update("b2", _body(1), 0.0)
    time.sleep(0.3)
    assert len(sandbox.requests) == seen, "nothing is sent during the cool-down"
    assert sender.store.down_until() > time.time(), "the host-wide mark is written"
    sandbox.set_faults()
    assert wait_for(lambda: sandbox.activities.get("b2", {}).get("status") == "active", 10.0)
    assert sandbox.activities["b1"]["status"] == "active"
    assert sender.down_for() == 0
    assert sender.store.down_until() == 0.0


def test_kept_states_are_replayed_by_the_next_sender(sandbox: Any, tmp_path: Path) -> None:
    sender = _sender(sandbox, tmp_path)
    sandbox.set_faults(down=True)
    sender.put_final("k1", _body(5), _end(5))
    sender.add_push(_push("kept"), run="k1")
    assert not sender.flush(1.0)
    assert sender.stats.kept == 2 and sender.store.count() == 2
    Sender.reset_all()
    sandbox.set_faults()
    sender = _sender(sandbox, tmp_path)
    sender.put_update("k2", _body(1), 0.0)
    assert wait_for(lambda: sender.stats.delivered_kept == 2)
    assert sandbox.activities["k1"]["status"] == "ended"
    assert [p["title"] for p in sandbox.pushes] == ["kept"]
    assert sender.store.count() == 0
