"""ActivitySmith's delivery as Prefect events: the core's signals turned into ``activitysmith.*``.

The core's sender reports what it did through :func:`activitysmith_core.tracking.subscribe`;
this module turns the signals an operator acts on into Prefect events
(:func:`prefect.events.emit_event`; only ``prefect.*`` names are reserved), which Automations
can trigger on:

================================ ===================== ======================================
event                            signal                payload
================================ ===================== ======================================
``activitysmith.delivery.failed`` ``failed``           ``kind`` (update, final, push),
                                                        ``status`` (``"503"``, or the error's
                                                        class when nothing answered)
``activitysmith.delivery.kept``   ``kept``             ``kind`` (final, push): written to disk
                                                        for a later run to deliver
``activitysmith.account.problem`` ``account_problem``  ``status`` (401, 402 or 403)
``activitysmith.account.ok``      ``account_ok``       (the first success after a problem)
================================ ===================== ======================================

The event's resource is the Live Activity stream (``activitysmith.stream.<key>``; the account,
``activitysmith.account``, for the account's events); a signal about a tracked flow run's stream
has that flow run as related resource (``prefect.flow-run.<id>``, role ``flow-run``). The map
from a tracked run's stream key to its flow run lives while the run is tracked in this process
(from ``on_running`` to the end of its final flush) and holds ``MAX_FOLLOWED`` runs at most.
Subscribers run on the sender's daemon thread (or the flush's); ``emit_event`` only queues on
Prefect's events worker, so nothing here waits on the network. It is called outside any run
context, so Prefect adds no related resources of its own (the sender's thread outlives the run
that started it): the flow run and its flow are named from the tracked run.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import OrderedDict
from typing import Any

from activitysmith_core.tracking import Signal, subscribe

log = logging.getLogger("activitysmith_prefect.tracking")

EVENTS = {
    "failed": "activitysmith.delivery.failed",
    "kept": "activitysmith.delivery.kept",
    "account_problem": "activitysmith.account.problem",
    "account_ok": "activitysmith.account.ok",
}
"""Prefect event names by the core's signal name."""

MAX_FOLLOWED = 1024
"""Tracked runs whose stream key is mapped to their flow run at most (the oldest dropped)."""


class DeliveryEvents:
    """The process's subscriber to the core's signals (subscribed by the first tracked run)."""

    def __init__(self) -> None:
        self._runs: OrderedDict[str, list[dict[str, str]]] = OrderedDict()  # key -> related
        self._lock = threading.Lock()
        self._subscribed = False
        self.emitted = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)

    def follow(
        self,
        stream: str,
        flow_run_id: object,
        flow_run_name: object,
        flow_id: object = None,
        flow_name: object = None,
    ) -> None:
        """Name the flow run (and its flow) in the events about ``stream`` until
        :meth:`forget`."""
        related = [_resource("flow-run", flow_run_id, flow_run_name)]
        if flow_id is not None:
            related.append(_resource("flow", flow_id, flow_name))
        with self._lock:
            self._runs[stream] = related
            self._runs.move_to_end(stream)
            while len(self._runs) > MAX_FOLLOWED:
                self._runs.popitem(last=False)
            if not self._subscribed:
                subscribe(self)
                self._subscribed = True

    def forget(self, stream: str) -> None:
        with self._lock:
            self._runs.pop(stream, None)

    def related(self, stream: str | None) -> list[dict[str, str]]:
        """The related resources of an event about ``stream``: its flow run and flow, if
        known."""
        with self._lock:
            return list(self._runs.get(stream, ())) if stream is not None else []

    def __call__(self, signal: Signal) -> None:
        name = EVENTS.get(signal.name)
        if name is None:
            return
        account = signal.name.startswith("account_")
        if account:
            resource = {"prefect.resource.id": "activitysmith.account"}
        else:
            stream = signal.stream or "unknown"
            resource = {
                "prefect.resource.id": f"activitysmith.stream.{stream}",
                "prefect.resource.name": stream,
            }
        payload: dict[str, Any] = {}
        if signal.kind is not None and not account:
            payload["kind"] = signal.kind
        if signal.detail is not None:
            payload["status"] = signal.detail
        related = self.related(signal.stream)
        emitted = contextvars.Context().run(_emit_outside_runs, name, resource, related, payload)
        if emitted is not None:
            self.emitted += 1


def _resource(kind: str, ident: object, name: object) -> dict[str, str]:
    resource = {"prefect.resource.id": f"prefect.{kind}.{ident}", "prefect.resource.role": kind}
    if name is not None:
        resource["prefect.resource.name"] = str(name)
    return resource


def _emit_outside_runs(
    name: str, resource: dict[str, str], related: list[dict[str, str]], payload: dict[str, Any]
) -> Any:
    """``emit_event`` with no run context: Prefect's events worker adds the related resources
    of the run context the event was emitted in, and falls back to its own thread's (the first
    run it served), both stale on the long-lived sender's thread."""
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.events import emit_event

    FlowRunContext.__var__.set(None)  # type: ignore[arg-type]
    TaskRunContext.__var__.set(None)  # type: ignore[arg-type]
    return emit_event(name, resource, related=related, payload=payload)


delivery_events = DeliveryEvents()
"""This process's subscriber: signals about its tracked runs' streams name their flow run."""
