"""The sandbox page shows what the engine draws at a glance: folded segments, the time left,
the deadline, instance counts and a folded failure push."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests import browser

pytestmark = pytest.mark.skipif(
    not browser.available(), reason="chromium/chromedriver not installed"
)


def _texts(driver: Any, selector: str, expr: str = "e.textContent") -> list[Any]:
    return list(
        driver.execute_script(
            f"return [...document.querySelectorAll(arguments[0])].map(e => {expr})", selector
        )
    )


def test_the_page_shows_folded_segments_and_the_clock(
    sandbox: Any, sandbox_client: Any, tmp_path: Path
) -> None:
    browser.populate_glance(sandbox_client, str(tmp_path))
    cards = {key: a["content_state"] for key, a in sandbox.activities.items()}
    wide = next(cs for cs in cards.values() if cs["title"] == "warehouse_load")
    assert wide["number_of_steps"] == 10, "200 tasks in 10 task groups: one segment each"
    driver = browser.chrome()
    try:
        driver.get(sandbox.root + "/")
        deadline = time.monotonic() + 10
        while len(_texts(driver, "[data-stream-key]")) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        page = driver.execute_script("return document.body.innerText")
        assert "about 3 min left" in page or "about 4 min left" in page
        assert "Running transform ×4 · deadline in 12 min" in page
        assert "nightly_etl: 3 tasks failed" in page
        segments = _texts(driver, '[data-stream-key*="warehouse"] .segment', "e.dataset.color")
        assert len(segments) == 10 and segments.count("red") == 1
        # The group of runs beside them: a segment per run, the night's length from the last.
        group = _texts(driver, '[data-stream-key*="group"] .segment', "e.dataset.color")
        assert len(group) == 12 and group.count("red") == 1 and group.count("green") == 6
        assert "Running warehouse, ml_features, reports" in page
    finally:
        driver.quit()
