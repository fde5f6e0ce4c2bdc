"""Fixtures of the core's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from activitysmith_core.tracking import Signal, subscribe


@pytest.fixture
def signals() -> Iterator[list[Signal]]:
    """Every delivery signal this process emits while the test runs."""
    seen: list[Signal] = []
    unsubscribe = subscribe(seen.append)
    yield seen
    unsubscribe()
