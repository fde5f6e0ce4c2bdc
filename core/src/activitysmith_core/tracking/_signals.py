"""The one hook through which delivery reports what it did: metrics in Airflow, events in Prefect.

The core knows no metrics system. The sender (and the adapters, for what only they see, such as
a lease takeover) call :func:`emit` with a :class:`Signal`; a plugin :func:`subscribe`\\ s once
per process and turns each signal into its orchestrator's own form (Airflow's ``Stats``,
Prefect's ``emit_event``). Subscribers run on the emitting thread, which is never an
orchestrator's (the sender's daemon thread, the watcher's): they must not wait on the network
themselves, and whatever they raise is logged and swallowed, never reaching delivery.

Signal names (``Signal.name``), each documented with its metric in the plugins' docs:

=================== ================================================================
``sent``            a request delivered (``kind``: ``update``, ``final`` or ``push``;
                    ``stream``: the stream, or for a push the run it is about)
``failed``          a request failed (``kind``; ``detail``: the HTTP status, e.g. ``"500"``,
                    or the error's class for no answer, e.g. ``"APIConnectionError"``)
``rate_limited``    a 429 for a quota (``kind``); the 4-activity limit is ``slot_wait``
``kept``            an undelivered final state or push written to disk at a flush (``kind``)
``replayed``        a kept entry delivered by a later sender (``kind``)
``slot_wait``       an activity began waiting for one of the account's Live Activity slots
                    (``value``: how many activities wait now, this one included)
``flush``           a sender's flush at a process's end (``value``: its seconds)
``account_problem`` the account refused (``detail``: ``401``, ``402`` or ``403``; ``stream``: the
                    request's)
``account_ok``      the first success after an account problem
``lease_takeover``  an Airflow watcher took over a run another writer held (adapter)
=================== ================================================================
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger("activitysmith_core.tracking")

SIGNALS = frozenset(
    {
        "sent",
        "failed",
        "rate_limited",
        "kept",
        "replayed",
        "slot_wait",
        "flush",
        "account_problem",
        "account_ok",
        "lease_takeover",
    }
)


@dataclass(frozen=True)
class Signal:
    """One thing delivery did. ``stream`` is the stream key it concerns (the plugins map it to
    their run), ``value`` a count or, for ``flush``, seconds. Never carries the API key."""

    name: str
    kind: str | None = None
    value: float = 1.0
    stream: str | None = None
    detail: str | None = None


Subscriber = Callable[[Signal], None]

_subscribers: tuple[Subscriber, ...] = ()
_lock = threading.Lock()


def subscribe(subscriber: Subscriber) -> Callable[[], None]:
    """Call ``subscriber`` with every signal of this process (once per subscriber, however
    often it subscribes); returns the function that unsubscribes it."""
    global _subscribers
    with _lock:
        if subscriber not in _subscribers:
            _subscribers = (*_subscribers, subscriber)

    def unsubscribe() -> None:
        global _subscribers
        with _lock:
            _subscribers = tuple(s for s in _subscribers if s is not subscriber)

    return unsubscribe


def emit(signal: Signal) -> None:
    """Hand ``signal`` to every subscriber; a subscriber's error is logged, never raised."""
    for subscriber in _subscribers:
        try:
            subscriber(signal)
        except Exception as exc:
            logger.debug("ActivitySmith: signal subscriber failed: %r", exc)
