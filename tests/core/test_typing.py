"""The typed client surface, as a user's type checker sees it.

Two user modules are written to a temporary directory and checked with ``mypy --strict`` against
the installed package (its ``py.typed``), not with this repository's mypy configuration: one
with the calls of README.md and docs/core-api.md must pass; in the other, every line marked
``# E: <text>`` must be reported, with that text in the message, and no other line.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import get_args

import pytest

import activitysmith_core
from activitysmith_core import _types, models
from activitysmith_core._constants import ACTIVITY_TYPES, COLORS

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
from __future__ import annotations

import time
from typing import Any

import httpx

from activitysmith_core import ActivitySmith, AsyncActivitySmith, RetryPolicy, stream_key
from activitysmith_core.models import ContentState as ContentStateModel
from activitysmith_core.models import LiveActivityStreamPutResponse
from activitysmith_core.types import (
    Action,
    ContentState,
    LiveActivityStreamParams,
    PushNotificationParams,
    RateLimitStatus,
    parse_rate_limit,
)


def readme() -> None:
    with ActivitySmith() as client:
        client.notifications.send(title="Deploy finished", message="v2.3 is live", channels=["ops"])
        key = stream_key("deploy", "web", "2026-11-22")
        client.live_activities.stream(key, content_state={
            "title": "Deploy", "type": "segmented_progress", "number_of_steps": 3,
            "current_step": 1, "step_colors": ["green"],
        })
        client.live_activities.end_stream(key, content_state={
            "title": "Deploy", "type": "segmented_progress", "number_of_steps": 3,
            "current_step": 3, "auto_dismiss_minutes": 2,
        })
        client.metrics.update("queue.depth", 42)
        client.badges.set(0)


def every_method(client: ActivitySmith, body: dict[str, Any]) -> None:
    open_log: Action = {"title": "Log", "type": "open_url", "url": "https://example.com/log"}
    sent = client.notifications.send(
        title="Deploy", subtitle="web", interruption_level="time-sensitive",
        actions=[open_log, {"title": "Retry", "type": "webhook", "url": "https://h/x",
                            "method": "POST", "body": {"run": 1}}],
        tags=["deploy"], metadata={"run": 1, "ok": True, "env": "prod"}, channels="ops,dev",
    )
    if sent.notification_id is not None:
        client.notifications.replace(sent.notification_id, title="Deploy v2", message="done")
    client.notifications.send(title="t", target={"channels": ["ops"]}, media="https://a/b.png")
    client.notifications.send(body)
    push: PushNotificationParams = {"title": "typed body", "interruption_level": "passive"}
    client.notifications.send(push, message="merged over it")

    key = "etl-1"
    state: ContentState = {"title": "ETL", "type": "segmented_progress", "number_of_steps": 3,
                           "current_step": 1, "step_colors": ["green"], "step_color": "blue",
                           "badge": {"title": "prod", "color": "red"}}
    put: LiveActivityStreamPutResponse = client.live_activities.stream(
        key, content_state=state, action=open_log, alert={"title": "ETL"}, channels=["ops"]
    )
    print(put.operation)
    client.live_activities.stream(key, title="ETL", type="segmented_progress",
                                  number_of_steps=3, current_step=2, color="cyan")
    client.live_activities.stream(key, body)                 # a plain dict, positionally
    client.live_activities.end_stream(key, body)
    client.live_activities.stream(key, content_state=body)   # a dict built at runtime
    client.live_activities.stream(key, content_state=ContentStateModel(title="x", type="value",
                                                                       value=3))
    params: LiveActivityStreamParams = {"content_state": state, "tags": ["etl"]}
    client.live_activities.stream(key, params)
    client.live_activities.stream(key, content_state={
        "title": "web-1", "type": "metrics",
        "metrics": [{"label": "CPU", "value": 9, "unit": "%"}, {"label": "MEM", "value": "41%"}],
    })
    client.live_activities.stream(key, title="Standup", type="timer", duration_seconds=900,
                                  counts_down=True, is_running=False, icon={"symbol": "timer"})
    client.live_activities.end_stream(key, auto_dismiss_seconds=0, title="ETL", current_step=3)
    client.live_activities.end_stream(key)

    started = client.live_activities.start(
        content_state={"title": "Upload", "type": "progress", "percentage": 10},
        target={"channels": ["ops"]},
    )
    client.live_activities.update(activity_id=started.activity_id, title="Upload", percentage=80)
    client.live_activities.update({"activity_id": started.activity_id,
                                   "content_state": {"title": "Upload", "percentage": 90.5}})
    client.live_activities.end(activity_id=started.activity_id, title="Upload", percentage=100,
                               auto_dismiss_minutes=2, tags=["done"])
    client.metrics.update("cpu.load", 0.42, timestamp="2026-11-22T10:00:00Z")
    client.badges.set(3, channels=["ops"])

    status: RateLimitStatus | None = client.rate_limit("push")
    if status is not None:
        left: int = status.remaining
        at: float = status.reset_at
        quota: int | None = status.quota
        print(left, at, quota)
    known: dict[str, RateLimitStatus] = client.rate_limits
    fast = client.with_options(retry=RetryPolicy(max_attempts=1), timeout=2.0)
    assert fast.rate_limits is known


def core_api_doc(key: str, body: dict[str, Any]) -> None:
    client = ActivitySmith(api_key=None, base_url=None, timeout=10.0, retry=RetryPolicy(),
                           channels=None, http_client=httpx.Client())
    state: ContentState = {"title": "ETL", "type": "segmented_progress", "number_of_steps": 3,
                           "current_step": 1, "step_colors": ["green"]}
    log: Action = {"title": "Log", "type": "open_url", "url": "https://airflow.example/log"}
    client.live_activities.stream(key, content_state=state, action=log, channels=["ops"])
    client.live_activities.stream(key, title="ETL", current_step=2)
    client.live_activities.stream(key, body)
    status = client.rate_limit("live_activity")
    if status is not None and status.remaining == 0:
        time.sleep(max(0.0, status.reset_at - time.monotonic()))
    parsed: dict[str, RateLimitStatus] = parse_rate_limit(httpx.Headers({"RateLimit": ""}))
    print(parsed, client.rate_limits)
    client.close()


async def async_mirror() -> None:
    async with AsyncActivitySmith(retry=RetryPolicy(max_attempts=5, budget=20)) as client:
        await client.notifications.send(title="Async works too")
        await client.live_activities.stream("k", title="t", type="value", value="$1,240")
        await client.live_activities.end_stream("k", {"content_state": {"title": "t"}})
        started = await client.live_activities.start(content_state={
            "title": "Deploy", "type": "alert", "message": "Rolled back"})
        await client.live_activities.update(activity_id=started.activity_id, title="x")
        await client.live_activities.end(activity_id=started.activity_id, title="x")
        await client.metrics.update("rows", 3)
        await client.badges.set(1)
        print(client.rate_limit("live_activity"))
"""

BAD = """
from __future__ import annotations

from activitysmith_core import ActivitySmith, AsyncActivitySmith
from activitysmith_core.types import Action, ContentState


def sync_mistakes(client: ActivitySmith) -> None:
    client.notifications.send(titel="Deploy")  # E: "titel"
    client.notifications.send(title="t", interruption_level="loud")  # E: "interruption_level"
    client.notifications.replace("n1", title="t", interruption_level="active")  # E: "interruption_level"
    client.notifications.send(title=3)  # E: "title"
    client.live_activities.stream("k", title="t", type="segmented_progress", current_step="3")  # E: "current_step"
    client.live_activities.stream("k", title="t", color="pink")  # E: "color"
    client.live_activities.stream("k", title="t", type="bar")  # E: "type"
    client.live_activities.stream("k", title="t", step_colors=["green", "pink"])  # E: 'pink'
    client.live_activities.end_stream("k", auto_dismis_minutes=2)  # E: "auto_dismis_minutes"
    client.live_activities.update(activity_id=1, title="t")  # E: "activity_id"
    client.live_activities.start(title="t", type="value", value=[1])  # E: "value"
    client.live_activities.stream("k", title="t", action={"title": "x", "type": "open"})  # E: "action"
    client.badges.set("3")  # E: "set"
    client.metrics.update("rows", None)  # E: "update"
    state: ContentState = {"title": "t", "current_step": "3"}  # E: "current_step"
    other: ContentState = {"title": "t", "colour": "red"}  # E: "colour"
    button: Action = {"title": "x", "type": "open_url"}  # E: "url"
    client.rate_limit(1)  # E: "rate_limit"
    print(state, other, button)


async def async_mistakes(client: AsyncActivitySmith) -> None:
    await client.notifications.send(titel="Deploy")  # E: "titel"
    await client.live_activities.stream("k", title="t", current_step="3")  # E: "current_step"
    await client.live_activities.update(activity_id="a", color="pink")  # E: "color"
    await client.badges.set("3")  # E: "set"
"""

_ERROR = re.compile(r"^(?P<file>[\w.]+\.py):(?P<line>\d+): error: (?P<message>.*)$")


@pytest.fixture(scope="module")
def mypy_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, str]]:
    """One mypy --strict run over both user modules: file -> line -> its error messages."""
    where = tmp_path_factory.mktemp("user_code")
    (where / "good_user.py").write_text(textwrap.dedent(GOOD))
    (where / "bad_user.py").write_text(textwrap.dedent(BAD))
    (where / "mypy.ini").write_text("[mypy]\n")  # not the repository's configuration
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            "mypy.ini",
            "--strict",
            "--no-pretty",
            "--no-color-output",
            "--cache-dir",
            str(where / ".mypy_cache"),
            "good_user.py",
            "bad_user.py",
        ],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    errors: dict[str, dict[int, str]] = {"good_user.py": {}, "bad_user.py": {}}
    for line in result.stdout.splitlines():
        if match := _ERROR.match(line):
            by_line = errors.setdefault(match["file"], {})
            by_line[int(match["line"])] = by_line.get(int(match["line"]), "") + match["message"]
    assert errors.keys() == {"good_user.py", "bad_user.py"}, result.stdout
    return errors


def test_documented_calls_pass_mypy_strict(mypy_run: dict[str, dict[int, str]]) -> None:
    assert mypy_run["good_user.py"] == {}


def test_mistakes_are_reported(mypy_run: dict[str, dict[int, str]]) -> None:
    expected = {
        number: line.split("# E: ", 1)[1].strip()
        for number, line in enumerate(textwrap.dedent(BAD).splitlines(), start=1)
        if "# E: " in line
    }
    found = mypy_run["bad_user.py"]
    assert sorted(found) == sorted(expected), found
    for number, text in expected.items():
        assert text in found[number], (number, found[number])


def test_py_typed_markers_ship() -> None:
    assert (Path(activitysmith_core.__file__).parent / "py.typed").is_file()
    for package in ("activitysmith_airflow", "activitysmith_prefect"):
        assert (ROOT / package / "src" / package / "py.typed").is_file()


def test_literals_match_the_models() -> None:
    assert get_args(_types.Color) == get_args(models.Color) == COLORS
    assert get_args(_types.ActivityType) == get_args(models.ActivityType) == ACTIVITY_TYPES
    assert get_args(_types.InterruptionLevel) == get_args(models.InterruptionLevel)
    state_keys = set(_types.ContentState.__annotations__)
    assert state_keys == set(models.ContentState.model_fields)
    assert set(_types.ContentFields.__annotations__) == state_keys
    assert _types.ContentFields.__required_keys__ == frozenset()


def test_types_module_is_light() -> None:
    code = (
        "import sys, activitysmith_core, activitysmith_core.types as t\n"
        "assert t.ContentState and t.RateLimitStatus\n"
        "heavy = [m for m in ('httpx', 'pydantic', 'tenacity') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
