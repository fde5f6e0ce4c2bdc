"""One sender per process and account: found by the client's binding, flushed together at exit
under one deadline, forgotten in a forked child (which must not inherit queues, threads or
locks)."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

logger = logging.getLogger("activitysmith_core.tracking")


class _Sender(Protocol):
    deadline: float

    def flush(self, deadline: float | None = None) -> bool: ...

    def close(self) -> None: ...


S = TypeVar("S", bound=_Sender)

_senders: dict[str, Any] = {}
_lock = threading.Lock()


def get_or_create(account: str, create: Callable[[], S]) -> S:
    """The process's sender for ``account``, made by ``create`` the first time."""
    with _lock:
        sender = _senders.get(account)
        if sender is None:
            sender = _senders[account] = create()
        return sender  # type: ignore[no-any-return]


def is_current(account: str, sender: object) -> bool:
    """Whether ``sender`` is still the process's sender for ``account``."""
    return _senders.get(account) is sender


def senders() -> list[Any]:
    """Every sender of this process."""
    with _lock:
        return list(_senders.values())


def reset_all() -> None:
    """Forget every sender of this process, closing each (tests; a forked child)."""
    global _senders
    with _lock:
        found, _senders = list(_senders.values()), {}
    for sender in found:
        sender.close()


def flush_all(deadline: float | None = None) -> bool:
    """Flush every sender of this process under one total deadline."""
    found = senders()
    if not found:
        return True
    total = deadline if deadline is not None else max(s.deadline for s in found)
    end = time.monotonic() + total
    ok = True
    for sender in found:
        ok = sender.flush(max(0.0, end - time.monotonic())) and ok
    return ok


def _flush_at_exit() -> None:
    try:
        flush_all()
    except Exception as exc:  # pragma: no cover - interpreter shutdown
        logger.warning("ActivitySmith: final flush failed: %r", exc)


def _forget_after_fork() -> None:
    global _senders, _lock
    _senders = {}
    _lock = threading.Lock()


atexit.register(_flush_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
