"""Pytest fixtures: a sandbox server per session, reset before every test.

Loaded automatically (entry point ``pytest11``) wherever activitysmith-core[sandbox] is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._client import ActivitySmith
    from .sandbox import Sandbox


@pytest.fixture(scope="session")
def _activitysmith_sandbox_server() -> Iterator[Sandbox]:
    from .sandbox import Sandbox

    server = Sandbox().start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(_activitysmith_sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The session's sandbox, with an empty record and no faults."""
    _activitysmith_sandbox_server.reset()
    yield _activitysmith_sandbox_server
    _activitysmith_sandbox_server.reset()


@pytest.fixture
def sandbox_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The sandbox, with ACTIVITYSMITH_API_KEY / ACTIVITYSMITH_BASE_URL pointing at it."""
    monkeypatch.setenv("ACTIVITYSMITH_API_KEY", sandbox.api_key)
    monkeypatch.setenv("ACTIVITYSMITH_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def sandbox_client(sandbox: Sandbox) -> Iterator[ActivitySmith]:
    """A sync client configured for the sandbox."""
    from ._client import ActivitySmith

    with ActivitySmith(sandbox.api_key, base_url=sandbox.url) as client:
        yield client
