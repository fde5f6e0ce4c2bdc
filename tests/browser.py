"""Headless Chromium for page tests and the README screenshot (Debian's chromium + chromedriver)."""

from __future__ import annotations

import shutil
import tempfile
import time
from typing import Any

from activitysmith_core import ActivitySmith
from activitysmith_core import tracking as t

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


S = t.StepStatus


def glance_runs() -> list[tuple[t.RunState, list[tuple[str, str | None]]]]:
    """The runs drawn, and the failures each reports."""
    now = time.time()
    wide = [t.Step(f"load_{i:03d}", S.SUCCESS, f"shard_{i // 20:02d}") for i in range(200)]
    for i in range(130, 200):
        wide[i].status = S.PENDING
    for i in range(130, 136):
        wide[i].status = S.RUNNING
    wide[47].status = S.FAILED
    nightly = t.RunState(
        "airflow",
        "warehouse_load",
        "scheduled__2026-11-30",
        wide,
        title="warehouse_load",
        url="http://airflow.example.com/dags/warehouse_load/runs/scheduled__2026-11-30",
        started_at=now - 6 * 60,
        expected_seconds=9.5 * 60,
    )
    etl = t.RunState(
        "airflow",
        "nightly_etl",
        "scheduled__2026-11-30T05",
        [
            t.Step("extract", S.SUCCESS),
            t.Step("transform", S.RUNNING, active=4),
            t.Step("load"),
            t.Step("report"),
        ],
        title="nightly_etl",
        url="http://airflow.example.com/dags/nightly_etl/runs/scheduled__2026-11-30T05",
        started_at=now - 60,
        deadline_at=now + 12 * 60 + 20,
    )
    failures = [("validate", "ValueError: 3 rows had no id"), ("dedupe", None), ("publish", None)]
    return [(nightly, []), (etl, []), (etl, failures)]


def glance_group() -> t.RunState:
    """A night of twelve pipelines in one group: seven ended (one failed), three running, the
    bar's length and the time left from the previous night."""
    from activitysmith_core.tracking import GroupMember, group_state, windows

    now = time.time()
    start = now - 40 * 60
    names = ["ingest", "crm_sync", "billing", "events", "dedupe", "ledger", "rollup"]
    members = [
        GroupMember(
            name,
            f"scheduled__{name}",
            t.RunStatus.FAILED if name == "billing" else t.RunStatus.SUCCESS,
            start + i * 60,
            start + 600 + i * 240,
        )
        for i, name in enumerate(names)
    ]
    members += [
        GroupMember(name, f"scheduled__{name}", t.RunStatus.RUNNING, start + 900 + i * 300)
        for i, name in enumerate(["warehouse", "ml_features", "reports"])
    ]
    previous = windows(
        GroupMember(f"p{i}", f"p{i}", t.RunStatus.SUCCESS, start - 86_400, start - 86_400 + 3_150)
        for i in range(12)
    )[0]
    return group_state("airflow", "nightly", windows(members)[0], previous, title="Nightly")


def populate_glance(client: Any, state_dir: str) -> None:
    """The glance runs and a group of runs, drawn by the real engine."""
    from activitysmith_core.tracking import group_options

    options = t.TrackerOptions(interval=0.01, push_window=0.2, state_dir=state_dir)
    t.Engine(client, group_options(options)).update(glance_group())
    engine = t.Engine(client, options)
    for run, failures in glance_runs():
        engine.update(run)
        for step, error in failures:
            engine.step_failed(run, step, error, f"{run.url or ''}/tasks/{step}")
        engine.flush()
