"""A stream-only run (fast path off) whose last task's events leave the process late: this
process's events client holds each event of the task run ``broken`` for LAG seconds, as a busy
events worker does, so when the flow returns they are still queued and the server has not
stored that task run. The final hook must wait for them and still draw it red."""

from __future__ import annotations

import sys
import time
from typing import Any

from prefect import flow
from prefect.events import clients
from stream_only import broken, step  # the same tasks as the stream-only run

from activitysmith_prefect import activitysmith_hooks
from activitysmith_prefect.tracking import _fast, registry

_fast.FAST_PATH_VERIFIED = frozenset()
LAG = 0.6
_emit = clients.PrefectEventsClient._emit


async def _late(self: Any, event: Any) -> None:
    import asyncio

    name = str(event.resource.get("prefect.resource.name", ""))
    if event.event.startswith("prefect.task-run.") and name.startswith("broken"):
        await asyncio.sleep(LAG)
    await _emit(self, event)


clients.PrefectEventsClient._emit = _late  # type: ignore[method-assign]


@flow(name="late-events", **activitysmith_hooks(interval=0.2, time_left=False))
def late_events() -> int:
    total = sum(step.with_options(name=name)(i) for i, name in enumerate(("a", "b")))
    broken.submit().wait()
    return total


if __name__ == "__main__":
    started = time.monotonic()
    state = late_events(return_state=True)
    assert registry.fast.installed is False, "the fast path stayed off"
    print("final state:", state.type.value, f"took: {time.monotonic() - started:.1f}s")
    sys.exit(0)
