"""Account problems, handled once: a revoked key across 5 concurrent runs on one sender (an
Airflow scheduler's engines) gives one ERROR, no retries, at most one kept entry per run, and
delivery resumes once the account accepts the key again."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from activitysmith_core import ActivitySmith
from activitysmith_core.tracking import Engine, RunStatus, Sender, StepStatus, TrackerOptions
from activitysmith_core.tracking._signals import Signal
from tests.core._runs import run_state, wait_for

S = StepStatus
PROBE = 0.5


def _engines(sandbox: Any, tmp_path: Path, count: int) -> list[Engine]:
    client = ActivitySmith(sandbox.api_key, base_url=sandbox.url)
    options = TrackerOptions(
        deadline=2.0, interval=0.1, request_timeout=1.0, state_dir=str(tmp_path / "state")
    )
    engines = [Engine(client, options) for _ in range(count)]
    assert len({id(e.sender) for e in engines}) == 1, "one sender per process and account"
    engines[0].sender.configure(
        request_timeout=1.0,
        deadline=2.0,
        keep=True,
        max_kept=100,
        max_kept_age=3600,
        account_probe=PROBE,
    )
    return engines


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("status", [401, 402, 403])
def test_a_refused_key_across_five_runs_is_one_error_no_retries_and_resumes(
    sandbox: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    signals: list[Signal],
    status: int,
) -> None:
    caplog.set_level(logging.INFO, "activitysmith_core.tracking")
    engines = _engines(sandbox, tmp_path, 5)
    sender = engines[0].sender
    sandbox.set_faults(refuse=status)
    refused_at = time.monotonic()

    def run(i: int) -> None:
        engine = engines[i]
        for step in range(1, 4):
            engine.update(run_state(f"a{i}", *([S.SUCCESS] * step), S.RUNNING))
            time.sleep(0.15)
        engine.finish(run_state(f"a{i}", S.SUCCESS, status=RunStatus.SUCCESS))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wait_for(lambda: sender.account_refuses == status)
    time.sleep(1.5)
    assert sender.flush() is False  # nothing to wait for: kept at once
    elapsed = time.monotonic() - refused_at
    refused = [r for r in sandbox.requests if r.fault == f"refuse {status}"]
    assert refused and all(r.status == status for r in refused)
    # No retries: the first refusal, then one probe per interval at most.
    assert len(refused) <= 1 + elapsed / PROBE + 1, (len(refused), elapsed)
    errors = _errors(caplog)
    assert len(errors) == 1, [r.getMessage() for r in errors]
    message = errors[0].getMessage()
    assert f"HTTP {status}" in message and "since" in message
    assert sandbox.api_key not in message
    what = {401: "invalid or revoked", 402: "billing", 403: "lacks permission"}[status]
    assert what in message
    if status == 402:
        assert "https://activitysmith.com/billing" in message
    problems = [s for s in signals if s.name == "account_problem"]
    # Naming the stream whose request met the refusal (a Prefect event relates it to its run).
    assert [s.detail for s in problems] == [str(status)]
    assert (problems[0].stream or "").startswith("test_etl_a"), problems
    assert 1 <= sender.store.count() <= 5
    assert sender.stats.kept <= 5

    # The account accepts the key again: the next request (a new run's) gets through, the
    # recovery is logged once and what was kept is delivered.
    sandbox.set_faults()
    engines[0].update(run_state("b", S.RUNNING))
    assert wait_for(lambda: any(s.name == "account_ok" for s in signals), 5.0)
    (ok,) = [s for s in signals if s.name == "account_ok"]
    assert (ok.stream or "").startswith("test_etl_b"), ok
    assert sender.account_refuses is None
    assert any(
        f"accepts requests again (refused with {status} since" in r.getMessage()
        for r in caplog.records
    )
    assert wait_for(
        lambda: all(
            sandbox.activities.get(run_state(f"a{i}").key, {}).get("status") == "ended"
            for i in range(5)
        ),
        10.0,
    ), {i: sandbox.activities.get(run_state(f"a{i}").key, {}).get("status") for i in range(5)}
    assert sender.store.count() == 0
    assert len(_errors(caplog)) == 1
    Sender.reset_all()
