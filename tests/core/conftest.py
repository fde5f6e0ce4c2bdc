"""Fixtures of the core's tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from activitysmith_core.sandbox import Sandbox
from activitysmith_core.tracking import Signal, subscribe


@pytest.fixture
def signals() -> Iterator[list[Signal]]:
    """Every delivery signal this process emits while the test runs."""
    seen: list[Signal] = []
    unsubscribe = subscribe(seen.append)
    yield seen
    unsubscribe()


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A raw HTTP client authorised against the sandbox, for the API's wire format."""
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.api_key}"}
    ) as client:
        yield client
