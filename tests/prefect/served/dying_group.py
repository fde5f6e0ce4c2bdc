"""A flow of the group "crashers" (by its deployment's tag) served by a real Prefect Runner; its
process dies in its second task, holding the group's lease. The Runner reports the crash."""

from __future__ import annotations

import os
import time

from prefect import flow, task

from activitysmith_prefect import activitysmith_hooks


@task
def quick() -> int:
    return 1


@task
def dies() -> None:
    time.sleep(8)  # the group's activity shows it running first
    os._exit(3)


@flow(name="dying-grouped", **activitysmith_hooks(interval=0.5, deadline=5))
def dying_grouped() -> None:
    quick()
    dies()


if __name__ == "__main__":
    dying_grouped.serve(name="crash-group", tags=["activitysmith-group:crashers"])
