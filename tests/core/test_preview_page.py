"""The preview page in headless Chromium: segments and colours, metrics, pushes, live updates
without reload, and the ended state after DELETE."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests import browser

pytestmark = pytest.mark.skipif(
    not browser.available() and not os.environ.get("CI"),
    reason="chromium/chromedriver not installed (apt-get install chromium chromium-driver)",
)


def _wait(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _js(driver: Any, selector: str, expr: str = "e.textContent") -> list[Any]:
    """Read nodes atomically in the page (it re-renders every second, so no stale handles)."""
    return list(
        driver.execute_script(
            f"return [...document.querySelectorAll(arguments[0])].map(e => {expr})", selector
        )
    )


def test_page_shows_what_the_phone_would(sandbox: Any, sandbox_client: Any, tmp_path: Path) -> None:
    key = "etl-run-1"
    seg = {"title": "ETL", "type": "segmented_progress", "number_of_steps": 4}
    sandbox_client.live_activities.stream(
        key, content_state={**seg, "current_step": 0, "subtitle": "Running extract"}
    )
    sandbox_client.live_activities.stream(
        "web-1",
        content_state={
            "title": "web-1",
            "type": "metrics",
            "metrics": [
                {"label": "CPU", "value": 42, "unit": "%"},
                {"label": "MEM", "value": 71, "unit": "%"},
            ],
        },
    )
    sandbox_client.notifications.send(
        title="load failed", subtitle="Run manual__1", message="ValueError: bad row"
    )
    driver = browser.chrome()
    try:
        driver.get(sandbox.root + "/")
        card = f'[data-stream-key="{key}"]'
        _wait(lambda: _js(driver, card))

        def colours() -> list[str]:
            return _js(driver, f"{card} .segment", "e.dataset.color")

        assert colours() == ["blue", "pending", "pending", "pending"]
        assert _js(driver, '[data-stream-key="web-1"] .metric-label') == ["CPU", "MEM"]
        assert _js(driver, '[data-stream-key="web-1"] .metric-value') == ["42 %", "71 %"]
        push = _js(driver, ".push-card")
        assert len(push) == 1 and "load failed" in push[0] and "ValueError: bad row" in push[0]
        driver.execute_script("window.__marker = 'same page'")

        sandbox_client.live_activities.stream(
            key,
            content_state={
                **seg,
                "current_step": 2,
                "step_colors": ["green", "red"],
                "color": "red",
                "step_color": "orange",
            },
        )
        sandbox_client.live_activities.stream(
            key,
            content_state={
                **seg,
                "current_step": 3,
                "step_colors": ["green", "red", "gray"],
                "color": "red",
            },
        )

        _wait(lambda: colours() == ["green", "red", "gray", "red"])
        assert driver.execute_script("return window.__marker") == "same page", "no reload"
        driver.save_screenshot(str(tmp_path / "live.png"))

        sandbox_client.live_activities.end_stream(
            key,
            content_state={
                **seg,
                "current_step": 4,
                "step_colors": ["green", "red", "gray", "green"],
                "auto_dismiss_seconds": 60,
            },
        )
        _wait(lambda: _js(driver, card, "e.className") == ["activity ended"])
        assert colours() == ["green", "red", "gray", "green"]
        ops = _js(driver, f'details[data-key="{key}"] .history-row', "e.children[1].textContent")
        assert ops == ["started", "updated", "updated", "ended"]
        driver.save_screenshot(str(tmp_path / "ended.png"))
        assert (tmp_path / "ended.png").stat().st_size > 10_000
    finally:
        driver.quit()


def test_ended_activity_is_dismissed_after_its_delay(sandbox: Any, sandbox_client: Any) -> None:
    sandbox_client.live_activities.stream(
        "short", content_state={"title": "short", "type": "value", "value": 1}
    )
    driver = browser.chrome()
    try:
        driver.get(sandbox.root + "/")
        _wait(lambda: _js(driver, '[data-stream-key="short"]'))
        sandbox_client.live_activities.end_stream(
            "short", content_state={"title": "short", "auto_dismiss_seconds": 2}
        )
        _wait(lambda: _js(driver, '[data-stream-key="short"]', "e.className") == ["activity ended"])
        _wait(lambda: not _js(driver, '[data-stream-key="short"]'), timeout=15)
    finally:
        driver.quit()
