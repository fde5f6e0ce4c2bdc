"""The core's delivery signals as Airflow metrics.

- each signal maps to its documented metric (``record`` on a recording ``Stats``), a lease taken
  from another writer emits ``lease_takeover`` and renewing one's own does not;
- end to end: ``airflow dags test`` with StatsD on sends the documented metrics to a UDP
  listener on loopback, through a failing API phase (failed, kept) and a 429 phase
  (rate_limited, sent, replayed), with the flush timer.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from activitysmith_airflow import _lease, _metrics
from activitysmith_core.sandbox import Faults
from activitysmith_core.tracking import Signal, emit, subscribe

from .conftest import DAGS_FOLDER, conn_json


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any, dict[str, str]]] = []

    def incr(self, stat: str, count: int = 1, rate: int = 1, *, tags: Any = None) -> None:
        self.calls.append(("incr", stat, count, tags or {}))

    def gauge(self, stat: str, value: float, rate: int = 1, *, tags: Any = None) -> None:
        self.calls.append(("gauge", stat, value, tags or {}))

    def timing(self, stat: str, dt: Any, *, tags: Any = None) -> None:
        self.calls.append(("timing", stat, dt.total_seconds(), tags or {}))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    rec = Recorder()
    monkeypatch.setattr(_metrics, "_stats", rec)
    unsubscribe = subscribe(_metrics.record)
    yield rec
    unsubscribe()


def test_each_signal_maps_to_its_metric(recorder: Recorder) -> None:
    emit(Signal("sent", kind="update"))
    emit(Signal("failed", kind="push", detail="500"))
    emit(Signal("rate_limited", kind="final"))
    emit(Signal("kept", kind="final"))
    emit(Signal("replayed", kind="push"))
    emit(Signal("slot_wait", value=3))
    emit(Signal("flush", value=1.5))
    emit(Signal("account_problem", detail="402"))
    emit(Signal("account_ok"))
    assert recorder.calls == [
        ("incr", "activitysmith.sent.update", 1, {"kind": "update"}),
        ("incr", "activitysmith.failed.push", 1, {"kind": "push", "detail": "500"}),
        ("incr", "activitysmith.rate_limited", 1, {"kind": "final"}),
        ("incr", "activitysmith.kept", 1, {"kind": "final"}),
        ("incr", "activitysmith.replayed", 1, {"kind": "push"}),
        ("gauge", "activitysmith.slot_waiting", 3.0, {}),
        ("timing", "activitysmith.flush", 1.5, {}),
        ("incr", "activitysmith.account_problem", 1, {"detail": "402"}),
        ("incr", "activitysmith.account_ok", 1, {}),
    ]


def test_a_lease_taken_from_another_writer_is_a_takeover(
    recorder: Recorder, tmp_path: Path
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'airflow.db'}")
    key = ("etl", "manual__1", 0)
    a, b = _lease.new_owner(), _lease.new_owner()
    with Session(engine) as s:
        assert _lease.ensure_table(s)
        assert _lease.claim(s, key, a, 100.0)
        assert _lease.claim(s, key, a, 101.0)  # its own: no takeover
        assert not _lease.claim(s, key, b, 102.0)
        assert [c for c in recorder.calls if "lease_takeover" in c[1]] == []
        assert _lease.claim(s, key, b, 101.0 + _lease.TTL + 1)
    engine.dispose()
    assert [c[1] for c in recorder.calls] == ["activitysmith.lease_takeover"]


def _dags_test(sandbox: Any, port: int, state: Path, **extra: Any) -> None:
    env = {
        **os.environ,
        "AIRFLOW_CONN_ACTIVITYSMITH_DEFAULT": conn_json(sandbox, **extra),
        "ACTIVITYSMITH_STATE_DIR": str(state),
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(port),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
    }
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", "t_faults"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=DAGS_FOLDER,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def _received(sock: socket.socket) -> list[str]:
    lines = []
    sock.settimeout(0.5)
    while True:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return lines
        lines.extend(data.decode().splitlines())


def _names(lines: list[str]) -> set[str]:
    return {line.split(":", 1)[0] for line in lines if line.startswith("airflow.activitysmith.")}


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("statsd") is None, reason="statsd not installed"
)
def test_a_tracked_run_sends_the_metrics_to_statsd(sandbox: Any, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        state = tmp_path / "state"

        sandbox.set_faults(Faults(error_rate=1.0, status=500))  # the API failing
        _dags_test(sandbox, port, state, max_attempts=1)
        failing = _names(_received(sock))
        assert {"airflow.activitysmith.kept", "airflow.activitysmith.flush"} <= failing, failing
        assert any(n.startswith("airflow.activitysmith.failed.") for n in failing), failing
        assert not any(n.startswith("airflow.activitysmith.sent.") for n in failing), failing

        sandbox.set_faults(Faults(rate_limit_burst=1, retry_after=0))  # then one 429
        _dags_test(sandbox, port, state)
        lines = _received(sock)
        limited = _names(lines)
        assert {
            "airflow.activitysmith.rate_limited",
            "airflow.activitysmith.sent.final",
            "airflow.activitysmith.replayed",
            "airflow.activitysmith.flush",
        } <= limited, limited
        flush = [x for x in lines if x.startswith("airflow.activitysmith.flush:")]
        assert flush and all(x.endswith("|ms") for x in flush), flush
