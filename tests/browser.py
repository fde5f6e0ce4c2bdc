"""Headless Chromium for page tests and the README screenshot (Debian's chromium + chromedriver)."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from activitysmith_core import ActivitySmith

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def available() -> bool:
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


def chrome(width: int = 1180, height: int = 900) -> Any:
    """A headless Chromium driven by Selenium; no network besides loopback."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        f"--window-size={width},{height}",
        f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}",
    ):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def populate(client: ActivitySmith) -> None:
    """A representative Lock Screen: a DAG run, server metrics, an upload, and pushes."""
    client.live_activities.stream(
        "airflow_etl-demo",
        content_state={
            "title": "activitysmith_etl",
            "subtitle": "Running transform +2",
            "type": "segmented_progress",
            "number_of_steps": 6,
            "current_step": 3,
            "step_colors": ["green", "green", "red"],
            "step_color": "blue",
            "color": "red",
            "icon": {"symbol": "wind", "color": "cyan"},
        },
        action={"title": "Open run", "type": "open_url", "url": "http://localhost:8080/dags/etl"},
    )
    client.live_activities.stream(
        "web-1",
        content_state={
            "title": "web-1",
            "subtitle": "prod · eu-west",
            "type": "metrics",
            "metrics": [
                {"label": "CPU", "value": 42, "unit": "%", "color": "green"},
                {"label": "MEM", "value": 71, "unit": "%", "color": "orange"},
            ],
        },
    )
    client.live_activities.stream(
        "upload",
        content_state={
            "title": "Nightly upload",
            "subtitle": "s3://backups",
            "type": "progress",
            "percentage": 64,
            "color": "purple",
        },
    )
    client.notifications.send(
        title="activitysmith_etl: load failed",
        subtitle="Run manual__1",
        message="ValueError: 3 rows had no id",
        redirection="http://localhost:8080/dags/etl/runs/manual__1",
    )
