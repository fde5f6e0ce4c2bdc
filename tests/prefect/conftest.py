"""Real Prefect: a temporary PREFECT_HOME and one real Prefect server per test session."""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.records import push_bodies as pushes  # noqa: F401 (re-exported for the tests)
from tests.records import stream_states as stream_calls

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "dags_examples" / "prefect"
sys.path.insert(0, str(EXAMPLES))
HOME = Path(tempfile.mkdtemp(prefix="prefect-home-"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PORT = _free_port()
os.environ.update(
    {
        "PREFECT_HOME": str(HOME),
        "PREFECT_API_URL": f"http://127.0.0.1:{PORT}/api",
        "PREFECT_UI_URL": f"http://127.0.0.1:{PORT}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # expired concurrency leases (a group writer that died) are freed within 2 s of expiry
        "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "2",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "ACTIVITYSMITH_STATE_DIR": str(HOME / "state"),
    }
)


def _drain_prefect_workers() -> None:
    """Flush Prefect's log and event workers while the server still answers, so the
    interpreter does not spend its exit retrying a stopped server."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=10)


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[str]:
    log = open(HOME / "server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(PORT),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    url = os.environ["PREFECT_API_URL"]
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((HOME / "server.log").read_text()[-3000:])
        time.sleep(0.5)
    yield url
    _drain_prefect_workers()
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def _forget_cached_senders() -> None:
    """tests/conftest.py gives each test fresh senders (they are per process); engines built
    at import time (module-level flows) cache theirs, so let them fetch the new one."""
    from activitysmith_core.tracking import Engine

    for obj in gc.get_objects():
        if isinstance(obj, Engine):
            obj._sender = None


@pytest.fixture(autouse=True)
def fresh_process_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test starts like a new process: its own state folder (kept final states and
    pushes, the "API is down" mark) and no sender left from an earlier test."""
    state = tmp_path / "state"
    monkeypatch.setenv("ACTIVITYSMITH_STATE_DIR", str(state))
    _forget_cached_senders()
    return state


def wait_until_api_retried() -> None:
    """Sleep through the senders' cool-down after an outage, so the next run reaches the API."""
    from activitysmith_core.tracking import Sender

    for sender in Sender.all():
        deadline = time.monotonic() + 10
        while sender.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)  # a request still hanging from the outage reports back first
        left = max(sender.down_for(), sender.store.down_until() - time.time())
        time.sleep(max(0.0, left) + 0.1)


@pytest.fixture
def prefect_sandbox(sandbox_env: Any) -> Any:
    """The sandbox, with ACTIVITYSMITH_API_KEY / ACTIVITYSMITH_BASE_URL pointing at it."""
    return sandbox_env


def check_run(sandbox: Any) -> dict[str, Any]:
    """The invariants every tracked run keeps; returns the final content state."""
    calls = stream_calls(sandbox)
    keys = {r.path for r in sandbox.requests if "/live-activity/stream/" in r.path}
    assert len(keys) == 1, "one stream per run"
    ended = [
        r
        for r in sandbox.requests
        if "/live-activity/stream/" in r.path and r.method == "DELETE" and r.status == 200
    ]
    # one successful end; a run too short for any update to land first gets a 404 on its
    # DELETE, then the reporter starts the activity with the final state and ends it
    assert calls and calls[-1][0] == "DELETE" and len(ended) == 1
    steps = [cs["current_step"] for _, cs in calls]
    assert steps == sorted(steps), f"the count went backwards: {steps}"
    totals = [cs["number_of_steps"] for _, cs in calls]
    assert totals == sorted(totals), f"segments disappeared: {totals}"
    red = False
    for _, cs in calls:  # every update, not only the last, is a consistent absolute state
        assert cs["type"] == "segmented_progress"
        assert len(cs["step_colors"]) == cs["current_step"] <= cs["number_of_steps"], cs
        assert set(cs["step_colors"]) <= {"green", "red", "gray"}, cs
        red = red or "red" in cs["step_colors"]
        assert cs["color"] == ("red" if red else cs["color"]), "red once anything failed"
    return calls[-1][1]
