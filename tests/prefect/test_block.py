"""The ActivitySmith block: Prefect's standard suite, a real save/load, notify, secrecy."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from typing import Any

import pytest
from prefect.blocks.abstract import NotificationError
from prefect.testing.standard_test_suites import BlockStandardTestSuite

from activitysmith_prefect import ActivitySmith

from .conftest import HOME


class TestActivitySmithBlockStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[ActivitySmith]:
        return ActivitySmith


def _block(sandbox: Any, **kw: Any) -> ActivitySmith:
    return ActivitySmith(api_key=sandbox.api_key, base_url=sandbox.url, **kw)


def test_save_and_load_against_the_server(sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _block(sandbox, channels=["ops"]).save("phone", overwrite=True)
    loaded = ActivitySmith.load("phone")
    assert loaded.api_key.get_secret_value() == sandbox.api_key
    assert loaded.channels == ["ops"] and loaded.base_url == sandbox.url
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        doc = client.read_block_document_by_name(
            "phone", block_type_slug="activitysmith", include_secrets=False
        )
    assert sandbox.api_key not in str(doc.data) and sandbox.api_key not in repr(loaded)
    database = (HOME / "prefect.db").read_bytes()
    assert sandbox.api_key.encode() not in database, "the key is stored encrypted"
    assert sandbox.api_key not in caplog.text


def test_notify_sync_and_async(sandbox: Any) -> None:
    block = _block(sandbox, default_title="Prefect alerts")
    block.notify("sync body")
    asyncio.run(block.anotify("async body", subject="Async"))

    async def from_async_code() -> None:
        await block.notify("dispatched body")  # type: ignore[misc]

    asyncio.run(from_async_code())
    assert [(p["title"], p["message"]) for p in sandbox.pushes] == [
        ("Prefect alerts", "sync body"),
        ("Async", "async body"),
        ("Prefect alerts", "dispatched body"),
    ]


def test_failures_raise_only_when_asked(sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    wrong = ActivitySmith(api_key="ask_wrong", base_url=sandbox.url, max_attempts=1)
    wrong.notify("ignored")  # logged, not raised
    assert "ActivitySmith notification not sent" in caplog.text
    assert "ask_wrong" not in caplog.text
    with wrong.raise_on_failure(), pytest.raises(NotificationError, match="401"):
        wrong.notify("raised")


def test_clients_from_the_block(sandbox: Any) -> None:
    with _block(sandbox).get_client() as client:
        assert client.metrics.update("rows", 3).success

    async def go() -> None:
        async with _block(sandbox).get_async_client() as client:
            assert (await client.badges.set(2)).badge == 2

    asyncio.run(go())


def test_block_register_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", "activitysmith_prefect"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ActivitySmith" in out.stdout
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        assert client.read_block_type_by_slug("activitysmith").name == "ActivitySmith"


def test_collection_entry_point() -> None:
    from importlib.metadata import entry_points

    (ep,) = [
        e for e in entry_points(group="prefect.collections") if e.name == "activitysmith_prefect"
    ]
    assert ep.load().ActivitySmith is ActivitySmith
