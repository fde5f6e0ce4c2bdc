"""A flow served by a real Prefect Runner whose process dies in its second task.

(One flow per Runner: Prefect 3.6's Runner cannot load the flow for its on_crashed hooks when
several deployments are served together.)"""

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
    time.sleep(1.5)  # the Live Activity shows it running first
    os._exit(3)


@flow(name="dying", **activitysmith_hooks(interval=0.5, deadline=5))
def dying() -> None:
    quick()
    dies()


if __name__ == "__main__":
    dying.serve(name="crash-test")
