"""The tracking engine against the sandbox: events in, requests out, off the caller's thread."""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from activitysmith_core import ActivitySmith
from activitysmith_core.sandbox import Faults
from activitysmith_core.tracking import Engine, RunStatus, Sender, StepStatus, TrackerOptions
from tests.core._runs import run_state as _run
from tests.core._runs import tracker_options
from tests.records import push_bodies, stream_states

S = StepStatus


@pytest.fixture
def options(tmp_path: Path) -> TrackerOptions:
    return tracker_options(tmp_path, deadline=3.0, push_window=0.3, request_timeout=1.0)


def _client(sandbox: Any, key: str | None = None) -> ActivitySmith:
    return ActivitySmith(key or sandbox.api_key, base_url=sandbox.url)


def _kept(options: TrackerOptions) -> list[Path]:
    return sorted(Path(options.state_dir or "").glob("kept/*/*.json"))


def _cool_down_passed(options: TrackerOptions) -> None:
    for mark in Path(options.state_dir or "").glob("down-*"):
        mark.unlink()


def test_a_run_from_start_to_end(sandbox: Any, options: TrackerOptions) -> None:
    engine = Engine(_client(sandbox), options)
    engine.update(_run("r1", S.RUNNING, S.PENDING))
    engine.update(_run("r1", S.SUCCESS, S.FAILED))
    engine.step_failed(
        _run("r1", S.SUCCESS, S.FAILED), "t1", ValueError("bad\nrow"), "http://x/log"
    )
    engine.finish(_run("r1", S.SUCCESS, S.FAILED, status=RunStatus.FAILED))
    assert engine.flush()
    states = stream_states(sandbox)
    assert states[-1][0] == "DELETE"
    final = states[-1][1]
    assert final["current_step"] == 2 and final["badge"]["title"] == "Failed"
    assert final["step_colors"] == ["green", "red"] and final["auto_dismiss_seconds"] == 30
    [push] = push_bodies(sandbox)
    assert push["title"] == "etl: t1 failed"
    assert push["message"] == "ValueError: bad"
    assert push["redirection"] == "http://x/log"


def test_events_never_wait_on_a_hanging_api(sandbox: Any, options: TrackerOptions) -> None:
    sandbox.set_faults(Faults(hang_rate=1.0, hang_seconds=30))
    engine = Engine(_client(sandbox), options)
    started = time.monotonic()
    for i in range(50):
        engine.update(_run("h1", *([S.SUCCESS] * (i % 5)), S.RUNNING))
        engine.step_failed(_run("h1", S.FAILED), f"t{i}", "boom")
    engine.finish(_run("h1", S.FAILED, status=RunStatus.FAILED))
    queued = time.monotonic() - started
    flushed_at = time.monotonic()
    assert engine.flush() is False
    flush_time = time.monotonic() - flushed_at
    # One flush, one total deadline, whatever the API does (plus the grace for a request).
    assert flush_time <= options.deadline + 1.0
    # Queueing did no network I/O: a hanging request alone takes request_timeout (1 s).
    assert queued < options.request_timeout
    kinds = sorted(p.name.split("-")[0] for p in _kept(options))
    assert kinds == ["final", "push"], "the final state and the one folded push are kept"


def test_kept_states_are_private_and_delivered_after_recovery(
    sandbox: Any, options: TrackerOptions
) -> None:
    engine = Engine(_client(sandbox), options)
    sandbox.set_faults(Faults(error_rate=1.0, status=503))
    engine.update(_run("r3", S.RUNNING, S.PENDING))
    engine.step_failed(_run("r3", S.FAILED, S.PENDING), "t0", "disk full")
    engine.finish(_run("r3", S.FAILED, S.SUCCESS, status=RunStatus.FAILED))
    assert engine.flush() is False
    kept = _kept(options)
    assert len(kept) == 2
    root = Path(options.state_dir or "")
    for folder in (root, root / "kept", kept[0].parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in kept:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sandbox.set_faults(Faults())
    Sender.reset_all()  # the next run, in another process, once the cool-down has passed:
    _cool_down_passed(options)
    later = Engine(_client(sandbox), options)
    later.update(_run("r4", S.RUNNING))
    assert later.flush()
    deadline = time.monotonic() + 5
    while _kept(options) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _kept(options)
    activity = sandbox.activities[_run("r3").key]
    assert activity["status"] == "ended"
    assert activity["content_state"]["current_step"] == 2
    delivered = [
        r.body["message"]
        for r in sandbox.requests
        if r.path.endswith("/push-notification") and r.status == 200
    ]
    assert delivered == ["disk full"]


def test_kept_states_never_cross_accounts(sandbox: Any, options: TrackerOptions) -> None:
    mine = Engine(_client(sandbox), options)
    sandbox.set_faults(Faults(error_rate=1.0, status=500))
    mine.finish(_run("acct", S.SUCCESS, status=RunStatus.SUCCESS))
    assert mine.flush() is False
    [entry] = _kept(options)
    assert sandbox.api_key not in entry.read_text()
    sandbox.set_faults(Faults())
    Sender.reset_all()
    _cool_down_passed(options)
    before = len(sandbox.requests)
    other = Engine(_client(sandbox, key="ask_someone_else_entirely"), options)
    other.update(_run("theirs", S.RUNNING))
    other.flush()
    time.sleep(0.3)
    key = _run("acct").key
    assert not [r for r in sandbox.requests[before:] if key in r.path]
    assert entry.exists(), "another account's sender leaves the entry alone"
    Sender.reset_all()
    again = Engine(_client(sandbox), options)
    again.update(_run("mine-next", S.RUNNING))
    again.flush()
    deadline = time.monotonic() + 5
    while entry.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.activities[key]["status"] == "ended"


def test_failures_of_one_run_fold_into_one_push(sandbox: Any, options: TrackerOptions) -> None:
    engine = Engine(_client(sandbox), options)
    mapped = _run("m1", *([S.FAILED] * 6))
    for i in range(6):
        engine.step_failed(mapped, "work", f"row {i} is bad", ident=f"work-{i}")
        engine.step_failed(mapped, "work", f"row {i} is bad", ident=f"work-{i}")  # repeated
    engine.flush()
    [push] = push_bodies(sandbox)
    assert push["title"] == "etl: work ×6 failed"
    assert push["message"] == "row 0 is bad"
    engine.step_failed(mapped, "a", "A broke")
    engine.step_failed(mapped, "b", None)
    engine.step_failed(mapped, "c", "C broke")
    engine.flush()
    last = push_bodies(sandbox)[-1]
    assert len(push_bodies(sandbox)) == 2
    assert last["title"] == "etl: 3 tasks failed"
    assert last["message"].startswith("3 tasks failed: a, b, c")


def test_retries_push_only_when_asked(sandbox: Any, options: TrackerOptions) -> None:
    quiet = Engine(_client(sandbox), options)
    quiet.step_failed(_run("q", S.RETRYING), "t0", "flaky", retrying=True)
    quiet.flush()
    assert push_bodies(sandbox) == []
    loud = Engine(
        _client(sandbox), TrackerOptions(**{**options.to_mapping(), "push_on_retry": True})
    )
    loud.step_failed(_run("q", S.RETRYING), "t0", "flaky", retrying=True)
    loud.flush()
    [push] = push_bodies(sandbox)
    assert push["title"] == "etl: t0 will retry" and push["message"] == "flaky"


def test_updates_coalesce_and_never_go_backwards(sandbox: Any, options: TrackerOptions) -> None:
    engine = Engine(_client(sandbox), options)
    n = 40
    for done in range(n):
        engine.update(_run("c1", *([S.SUCCESS] * done), *([S.PENDING] * (n - done))))
        time.sleep(0.01)
    engine.update(_run("c1", *([S.SUCCESS] * 10), *([S.PENDING] * (n - 10))))  # stale, late
    engine.finish(_run("c1", *([S.SUCCESS] * n), status=RunStatus.SUCCESS))
    assert engine.flush()
    states = stream_states(sandbox)
    steps = [s["current_step"] for _, s in states]
    assert steps == sorted(steps), steps
    assert len(states) < n / 3, f"{len(states)} requests for {n} updates"
    assert states[-1][0] == "DELETE"
    assert states[-1][1]["current_step"] == states[-1][1]["number_of_steps"] == 20, "folded"


def test_steps_that_never_finished_are_drawn_as_not_run(
    sandbox: Any, options: TrackerOptions
) -> None:
    engine = Engine(_client(sandbox), options)
    engine.finish(_run("x1", S.SUCCESS, S.RUNNING, S.PENDING, status=RunStatus.CRASHED))
    assert engine.flush()
    final = stream_states(sandbox)[-1][1]
    assert final["current_step"] == 3
    assert final["step_colors"] == ["green", "gray", "gray"]
    assert final["badge"]["title"] == "Crashed"
    [push] = push_bodies(sandbox)
    assert push["title"] == "etl: crashed"


def test_no_update_reads_n_of_n_before_the_end(sandbox: Any, options: TrackerOptions) -> None:
    engine = Engine(_client(sandbox), options)
    engine.update(_run("nn", S.SUCCESS, S.SUCCESS))
    assert engine.flush()
    [(_, state)] = stream_states(sandbox)
    assert state["current_step"] < state["number_of_steps"]


def test_an_outage_is_found_once(sandbox: Any, options: TrackerOptions) -> None:
    sandbox.set_faults(Faults(down=True))
    engine = Engine(_client(sandbox), options)
    engine.finish(_run("o1", S.SUCCESS, status=RunStatus.SUCCESS))
    assert engine.flush() is False
    first = len(sandbox.requests)
    started = time.monotonic()
    for i in range(5):  # the next runs of this host: no request, no wait
        e = Engine(_client(sandbox), options)
        e.finish(_run(f"o{i + 2}", S.SUCCESS, status=RunStatus.SUCCESS))
        assert e.flush() is False
    assert time.monotonic() - started < options.deadline
    assert len(sandbox.requests) == first
    assert len(_kept(options)) == 6


def test_live_activity_limit_still_pushes(
    sandbox: Any, options: TrackerOptions, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    engine = Engine(_client(sandbox), options)
    for i in range(4):
        engine.update(_run(f"busy{i}", S.RUNNING))
    assert engine.flush()
    fifth = _run("fifth", S.FAILED)
    engine.update(fifth)
    engine.step_failed(fifth, "t0", "boom")
    assert engine.flush()
    assert "Live Activity limit reached (4 of 4 active)" in caplog.text
    assert [p["message"] for p in push_bodies(sandbox)] == ["boom"]


def test_final_state_even_when_no_update_landed(sandbox: Any, options: TrackerOptions) -> None:
    engine = Engine(_client(sandbox), options)
    engine.finish(_run("r5", S.SUCCESS, status=RunStatus.SUCCESS))
    assert engine.flush()
    assert [r.method for r in sandbox.requests] == ["DELETE", "PUT", "DELETE"]
    assert sandbox.activities[_run("r5").key]["status"] == "ended"


def test_a_passed_in_client_is_not_changed(sandbox: Any, options: TrackerOptions) -> None:
    http = httpx.Client()
    client = ActivitySmith(sandbox.api_key, base_url=sandbox.url, http_client=http)
    before = (dict(http.headers), client.retry, client.timeout)
    engine = Engine(client, options)
    engine.finish(_run("u1", S.SUCCESS, status=RunStatus.SUCCESS))
    assert engine.flush()
    assert (dict(http.headers), client.retry, client.timeout) == before


def test_state_dir_of_another_user_is_refused(tmp_path: Path, sandbox: Any) -> None:
    if not hasattr(os, "getuid") or os.getuid() != 0:
        pytest.skip("needs root to create a folder owned by someone else")
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o755)
    os.chown(foreign, 65534, 65534)
    options = TrackerOptions(state_dir=str(foreign), deadline=1.0, request_timeout=0.5)
    sandbox.set_faults(Faults(down=True))
    engine = Engine(_client(sandbox), options)
    engine.finish(_run("f1", S.SUCCESS, status=RunStatus.SUCCESS))
    engine.flush()
    assert not list(foreign.rglob("*.json"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("deadline", 0),
        ("deadline", 1000),
        ("interval", -1),
        ("success_color", "pink"),
        ("push_on_retry", "yes"),
        ("total_steps", 0),
        ("channels", [""]),
    ],
)
def test_options_are_validated_naming_the_option(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: "):
        TrackerOptions(**{name: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^colour: unknown tracker option"):
        TrackerOptions.from_mapping({"colour": "red"})


def test_every_kept_entry_is_delivered_and_none_is_left_claimed(
    sandbox: Any, options: TrackerOptions
) -> None:
    engine = Engine(_client(sandbox), options)
    sandbox.set_faults(Faults(error_rate=1.0, status=503))
    for i in range(5):
        engine.step_failed(_run(f"k{i}", S.FAILED), "t0", f"boom {i}")
        engine.finish(_run(f"k{i}", S.FAILED, status=RunStatus.FAILED))
    assert engine.flush() is False
    assert len(_kept(options)) == 10
    folder = _kept(options)[0].parent
    # An entry claimed by a process that died a while ago is taken back too.
    orphan = folder / "final-orphan.json.claimed-999999-abcdef"
    _kept(options)[0].rename(orphan)
    for path in [orphan, *_kept(options)]:  # kept during a long outage: written long ago
        os.utime(path, (time.time() - 120, time.time() - 120))
    sandbox.set_faults(Faults())
    Sender.reset_all()
    _cool_down_passed(options)
    engine.update(_run("next", S.RUNNING))  # the same engine: it finds the new sender
    assert engine.flush()
    deadline = time.monotonic() + 10
    while (_kept(options) or list(folder.glob("*.claimed-*"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _kept(options) and not list(folder.glob("*.claimed-*"))
    assert all(sandbox.activities[_run(f"k{i}").key]["status"] == "ended" for i in range(5))
    delivered = [
        r for r in sandbox.requests if r.path.endswith("/push-notification") and r.status == 200
    ]
    assert len(delivered) == 5, "each kept push delivered exactly once"
    assert sum(r.method == "DELETE" and r.status == 200 for r in sandbox.requests) == 5


def test_a_folded_bar_keeps_its_length() -> None:
    from activitysmith_core.tracking import segments

    lengths = {
        len(segments(_run("f", *([S.SUCCESS] * n)), TrackerOptions())) for n in range(21, 400)
    }
    assert lengths == {20}
