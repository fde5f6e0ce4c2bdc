"""Hostile pipeline, task and run names: valid stream keys, readable titles, accepted by the API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from activitysmith_core import ActivitySmith
from activitysmith_core import tracking as t

HOSTILE = [
    "naïve ETL — 🚀 rocket",
    "a/b/c:d+e.f",
    "manual__2026-11-22T15:00:00.123456+00:00",
    "x" * 600,
    "tab\tnew\nline\x00nul\x07bell",
    "日本語のパイプライン",
    "../../etc/passwd",
    "",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_reach_the_api(sandbox: Any, tmp_path: Path, name: str) -> None:
    run = t.RunState(
        "airflow",
        name or "empty",
        name,
        [t.Step(name or "?", t.StepStatus.SUCCESS), t.Step("next", t.StepStatus.RUNNING)],
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", run.key)
    engine = t.Engine(
        ActivitySmith(sandbox.api_key, base_url=sandbox.url),
        t.TrackerOptions(state_dir=str(tmp_path), interval=0.01),
    )
    engine.update(run)
    assert engine.flush()
    engine.step_failed(run, name, ValueError(name))
    run.status = t.RunStatus.SUCCESS
    engine.finish(run)
    assert engine.flush()
    activity = sandbox.activities[run.key]
    assert activity["content_state"]["title"] == (name or "empty")
    assert [r.status for r in sandbox.requests] == [200, 200, 200]
