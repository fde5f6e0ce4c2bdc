"""The off switch ``[activitysmith] disabled``: read at each run's start, no restart needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import load_dag


def _streamed(sandbox: Any) -> list[Any]:
    return [r for r in sandbox.requests if "/live-activity/" in r.path or "notif" in r.path]


def test_the_env_switch_stops_a_declared_tracker(
    airflow_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__ACTIVITYSMITH__DISABLED", "True")
    dr = load_dag("activitysmith_etl").test()
    assert str(getattr(dr.state, "value", dr.state)) == "success", "the run itself is unharmed"
    assert _streamed(airflow_sandbox) == [], "nothing sent for a run started switched off"


def test_airflow_cfg_is_read_again_when_it_changes(
    airflow_sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A running process (a scheduler) sees an edit of airflow.cfg at the next run's start."""
    from airflow import configuration

    from activitysmith_airflow import _switch

    cfg = tmp_path / "airflow.cfg"
    monkeypatch.delenv("AIRFLOW__ACTIVITYSMITH__DISABLED", raising=False)
    monkeypatch.setattr(configuration, "AIRFLOW_CONFIG", str(cfg))
    cfg.write_text("[activitysmith]\ndisabled = True\n")
    assert _switch.disabled() is True
    dr = load_dag("activitysmith_etl").test()
    assert _streamed(airflow_sandbox) == []

    cfg.write_text("[core]\nload_examples = False\n\n[activitysmith]\ndisabled = False\n")
    import os

    os.utime(cfg, (os.stat(cfg).st_atime, os.stat(cfg).st_mtime + 5))
    assert _switch.disabled() is False
    dr = load_dag("activitysmith_etl").test()
    assert str(getattr(dr.state, "value", dr.state)) == "success"
    methods = [r.method for r in _streamed(airflow_sandbox) if "/stream/" in r.path]
    assert methods and methods[-1] == "DELETE", "tracked again once switched back on"


def test_a_bad_value_names_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from activitysmith_airflow import _switch

    monkeypatch.setenv("AIRFLOW__ACTIVITYSMITH__DISABLED", "maybe")
    with pytest.raises(ValueError, match=r"\[activitysmith\] disabled: 'maybe'"):
        _switch.disabled()


def test_switched_off_while_a_scheduler_runs(sandbox: Any) -> None:
    """A real scheduler on PostgreSQL: a first run is tracked; ``disabled = True`` is then
    written into the running deployment's airflow.cfg, and the next run sends nothing."""
    from activitysmith_core import stream_key

    from . import _cluster

    if _cluster.PG is None:
        pytest.skip("PostgreSQL is not installed")
    with _cluster.cluster(sandbox, prefix="airflow-offswitch-", dags=("writer.py",)) as found:
        first = _cluster.run(found, "ha4")
        _cluster.wait_final(sandbox, stream_key("airflow", "ha4", first))
        import configparser

        cfg = found["home"] / "airflow.cfg"
        parser = configparser.RawConfigParser(strict=False)
        parser.read(cfg)  # Airflow wrote the file, [activitysmith] included
        if not parser.has_section("activitysmith"):
            parser.add_section("activitysmith")
        parser.set("activitysmith", "disabled", "True")
        with cfg.open("w") as out:
            parser.write(out)
        second = _cluster.run(found, "ha4")
        import time

        time.sleep(6)  # more than a lease pass after the run's end
        key = stream_key("airflow", "ha4", second)
        assert not [r for r in sandbox.requests if key in r.path], "nothing for the second run"
        log = (found["root"] / "scheduler.log").read_text()
        assert "tracking is switched off by [activitysmith] disabled" in log
