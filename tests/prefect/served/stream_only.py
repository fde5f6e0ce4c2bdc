"""Flows tracked with the in-process fast path off, as on a Prefect version it was not verified
on: every change (threads' task runs included) comes from the event stream alone."""

from __future__ import annotations

import sys
import time

from prefect import flow, task

from activitysmith_prefect import activitysmith_hooks
from activitysmith_prefect.tracking import _fast, registry

_fast.FAST_PATH_VERIFIED = frozenset()


@task
def step(i: int) -> int:
    time.sleep(0.8)
    return i


@task
def broken() -> int:
    raise ValueError("row 9 is broken")


@flow
def inner() -> int:
    return step(5)


@flow(name="stream-only", **activitysmith_hooks(interval=0.2, time_left=False))
def stream_only() -> int:
    total = sum(step.with_options(name=name)(i) for i, name in enumerate(("a", "b", "c")))
    total += inner()
    broken.submit().wait()
    return total


if __name__ == "__main__":
    state = stream_only(return_state=True)
    assert registry.fast.installed is False, "the fast path stayed off"
    print("final state:", state.type.value, "connections:", registry.subscription.connections)
    sys.exit(0)
