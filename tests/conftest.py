"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_senders() -> Iterator[None]:
    """Each test starts with no tracking sender in this process (they are per process)."""
    from activitysmith_core.tracking import Sender

    Sender.reset_all()
    yield
    Sender.reset_all()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
