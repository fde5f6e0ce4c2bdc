"""The 4-activity limit with real Prefect: six tracked flow runs, each in its own process,
against a sandbox that enforces the API's 4 Live Activities at once.

Four short runs take the four slots and hold them; two long runs start then, find no slot, wait
(queued, never dropped) and are shown once the short ones end, at the next retry of their
sender's back-off (5 s, then doubling), while they still run.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.records import ActivePeak

SERVED = Path(__file__).resolve().parent / "served"
SHORT = [f"slot-short-{i}" for i in range(4)]
LONG = [f"slot-long-{i}" for i in range(2)]
ONE_RETRY = 12.0
"""A waiting run is shown within one retry of its back-off after a slot frees: the retries come
5 s, then 10 s after its first refusal; the slots free between them."""


def _key(sandbox: Any, name: str) -> str | None:
    """The stream key of the flow named ``name`` (prefect_<flow name>_<run id>-<hash>)."""
    found = {
        r.path.rsplit("/", 1)[1]
        for r in sandbox.requests
        if "/live-activity/stream/" in r.path and f"/prefect_{name}_" in r.path
    }
    assert len(found) <= 1, f"one stream per run: {found}"
    return found.pop() if found else None


def _requests(sandbox: Any, name: str) -> list[Any]:
    key = _key(sandbox, name)
    return sandbox.stream_requests(key) if key else []


def _shown(sandbox: Any, name: str) -> bool:
    return any(r.status == 200 for r in _requests(sandbox, name))


def _refused(sandbox: Any, name: str) -> bool:
    return any(r.status == 429 for r in _requests(sandbox, name))


def _wait(
    check: Callable[[], bool], what: str, procs: dict[str, Any], logs: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        dead = {n: p.returncode for n, p in procs.items() if p.poll() not in (None, 0)}
        if dead or time.monotonic() > deadline:
            tails = {n: (logs / f"{n}.log").read_text()[-2000:] for n in dead or procs}
            raise AssertionError(f"{what}; exited: {dead}; logs: {tails}")
        time.sleep(0.05)


def test_six_runs_in_six_processes_never_exceed_four_and_the_waiting_ones_are_shown(
    prefect_sandbox: Any, tmp_path: Path
) -> None:
    sandbox = prefect_sandbox
    control = tmp_path / "control"
    control.mkdir()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in SHORT + LONG:
            role = "short" if name in SHORT else "long"
            with (tmp_path / f"{name}.log").open("w") as log:
                procs[name] = subprocess.Popen(
                    [sys.executable, str(SERVED / "slot_flow.py"), role, name, str(control)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=os.environ.copy(),
                    cwd=SERVED,
                )
        ready = [control / f"ready-{n}" for n in procs]
        wait = functools.partial(_wait, procs=procs, logs=tmp_path)
        wait(lambda: all(p.exists() for p in ready), "not ready", timeout=120)
        peak = ActivePeak(sandbox)
        (control / "go-short").touch()
        wait(lambda: all(_shown(sandbox, n) for n in SHORT), "the four short runs were not shown")
        assert sandbox.state.active_count() == 4
        (control / "go-long").touch()
        wait(lambda: all(_refused(sandbox, n) for n in LONG), "a long run was never refused a slot")
        assert not any(_shown(sandbox, n) for n in LONG), "a fifth activity was shown"
        (control / "release").touch()
        for name, proc in procs.items():
            proc.wait(timeout=120)
            log = (tmp_path / f"{name}.log").read_text()
            assert proc.returncode == 0, f"{name}: {log[-3000:]}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    most = peak.stop()
    assert most <= 4, f"{most} activities at once"

    logs = {n: (tmp_path / f"{n}.log").read_text() for n in procs}
    body_ended = {
        n: float(re.findall(r"body ended at ([0-9.]+)", log)[-1]) for n, log in logs.items()
    }
    # Every run ends right, each with one activity: nothing dropped.
    keys = {n: _key(sandbox, n) for n in procs}
    assert all(keys.values()), keys
    assert len(set(keys.values())) == 6
    for name, key in keys.items():
        activity = sandbox.activities[key]
        assert activity["status"] == "ended", (name, activity)
        final = activity["content_state"]
        assert final["step_colors"] == ["green"] * 3, (name, final)
        assert final["current_step"] == final["number_of_steps"] == 3, (name, final)
        assert final["badge"]["title"] == "Succeeded", (name, final)
        done = [r for r in sandbox.stream_requests(key) if r.status == 200]
        assert [r.method for r in done].count("DELETE") == 1 and done[-1].method == "DELETE"
        steps = [r.body["content_state"]["current_step"] for r in done]
        assert steps == sorted(steps), (name, steps)

    # The short runs took their slots at once; the long ones were refused by the limit and
    # waited, which their processes logged.
    for name in SHORT:
        assert not _refused(sandbox, name), name
        assert "waits for a free slot" not in logs[name], logs[name][-2000:]
    for name in LONG:
        refusals = [r for r in _requests(sandbox, name) if r.status == 429]
        assert refusals and all(
            "Live Activity limit" in (r.response or {}).get("error", "") for r in refusals
        ), refusals
        assert "waits for a free slot" in logs[name], logs[name][-3000:]

    # Each waiting run is shown within one retry of a slot freeing, as a running update, before
    # its flow's body ended.
    freed = sorted(
        r.time
        for n in SHORT
        for r in _requests(sandbox, n)
        if r.method == "DELETE" and r.status == 200
    )
    first: dict[str, float] = {}
    for name in LONG:
        shown = next(r for r in _requests(sandbox, name) if r.status == 200)
        assert shown.method == "PUT" and "badge" not in shown.body["content_state"], shown.body
        first[name] = shown.time
        assert shown.time < body_ended[name], (name, shown.time, body_ended[name])
    waits = [waited - slot for waited, slot in zip(sorted(first.values()), freed[:2], strict=True)]
    refused_first = {n: min(r.time for r in _requests(sandbox, n) if r.status == 429) for n in LONG}
    print(
        "slot waits (first shown - slot freed):",
        [f"{w:.2f} s" for w in waits],
        "refused -> shown:",
        {n: f"{first[n] - refused_first[n]:.2f} s" for n in LONG},
        "shown before body end by:",
        {n: f"{body_ended[n] - first[n]:.2f} s" for n in LONG},
    )
    assert all(0 < w < ONE_RETRY for w in waits), waits
