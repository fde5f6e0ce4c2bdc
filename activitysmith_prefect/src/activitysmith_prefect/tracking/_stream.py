"""Prefect's event stream: the process's one subscription, for all its followed flow runs.

Prefect's supported subscriber (``prefect.events``, over the API's ``/events/out`` websocket,
served by the OSS server and Prefect Cloud), filtered by the followed flow runs as related
resources, sees task runs wherever they run: threads, worker processes
(``ProcessPoolTaskRunner``, Dask, Ray), other hosts. It reconnects with a backfill (from a
minute before the latest event) and drops the events it has seen;
:class:`~._run.TrackedRun` drops them again across connections and sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("activitysmith_prefect.tracking")

RECONNECT_WAIT = (1.0, 30.0)
"""Seconds before trying again after the stream failed: the first wait, doubled up to the
second; changes of the followed runs within ``COALESCE`` share one reconnection."""
COALESCE = 0.2


class Subscription:
    """The process's one subscription to Prefect's event stream, for all its tracked runs.

    A daemon thread with its own event loop; it ends (closing the websocket) when no run is
    followed any more, and the next tracked run starts it again. Every change of the followed
    runs (a tracked run starting or ending) reconnects once with the new filter (changes within
    ``COALESCE`` seconds together).
    """

    def __init__(self, deliver: Callable[[Any], None]) -> None:
        self.deliver = deliver
        self.ids: set[str] = set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        self.connections = 0
        self.events = 0

    def watch(self, flow_run_ids: list[str]) -> None:
        with self.lock:
            self.ids.update(flow_run_ids)
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="activitysmith-events", daemon=True
                )
                self.thread.start()
                return
        self._poke()

    def unwatch(self, flow_run_ids: list[str]) -> None:
        with self.lock:
            if self.ids.isdisjoint(flow_run_ids):
                return
            self.ids.difference_update(flow_run_ids)
        self._poke()

    @property
    def open(self) -> bool:
        with self.lock:
            return self.thread is not None

    def _poke(self) -> None:
        loop, wake = self.loop, self.wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has just ended
                loop.call_soon_threadsafe(wake.set)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # pragma: no cover - never expected
            log.warning("ActivitySmith: event stream stopped: %s", exc)
        finally:
            with self.lock:
                self.thread = None
                restart = bool(self.ids)
            if restart:  # a run was added as the loop ended
                self.watch([])

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        wait = RECONNECT_WAIT[0]
        try:
            while True:
                self.wake.clear()  # before reading the ids: a change after it wakes us again
                with self.lock:
                    ids = sorted(self.ids)
                    if not ids:
                        return
                if await self._follow(ids):
                    wait = RECONNECT_WAIT[0]
                else:  # the stream failed: try again later, or at the next change
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), wait)
                    wait = min(wait * 2, RECONNECT_WAIT[1])
                await asyncio.sleep(COALESCE)
        finally:
            self.loop = None
            self.wake = None

    async def _follow(self, ids: list[str]) -> bool:
        """Follow the runs until they change (True) or the stream fails (False)."""
        from prefect.events.clients import get_events_subscriber
        from prefect.events.filters import EventAnyResourceFilter, EventFilter, EventNameFilter

        assert self.wake is not None
        event_filter = EventFilter(
            event=EventNameFilter(prefix=["prefect.task-run."]),
            any_resource=EventAnyResourceFilter(id=[f"prefect.flow-run.{i}" for i in ids]),
        )
        options: dict[str, Any] = {"filter": event_filter}
        if "reconnect_on_clean_close" in inspect.signature(get_events_subscriber).parameters:
            options["reconnect_on_clean_close"] = True  # Prefect 3.7+; before, a clean close
            # ends the iteration and the loop here reconnects
        try:
            async with get_events_subscriber(**options) as subscriber:
                self.connections += 1
                reader = asyncio.ensure_future(self._read(subscriber))
                waker = asyncio.ensure_future(self.wake.wait())
                done, _ = await asyncio.wait({reader, waker}, return_when=asyncio.FIRST_COMPLETED)
                for task in (reader, waker):
                    task.cancel()
                if reader in done and reader.exception() is not None:
                    raise reader.exception()  # type: ignore[misc]
                return waker in done
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("ActivitySmith: Prefect event stream: %s", exc)
            return False

    async def _read(self, subscriber: Any) -> None:
        async for event in subscriber:
            self.events += 1
            try:
                self.deliver(event)
            except Exception as exc:
                log.warning("ActivitySmith: event skipped: %s", exc)
