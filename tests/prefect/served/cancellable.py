"""A flow served by a real Prefect Runner, so that it can be cancelled from outside."""

from __future__ import annotations

import time

from prefect import flow, task

from activitysmith_prefect import activitysmith_hooks


@task
def quick() -> int:
    return 1


@task
def long_step() -> None:
    time.sleep(300)


@flow(name="cancellable", **activitysmith_hooks(interval=0.5, deadline=5))
def cancellable() -> None:
    quick()
    long_step()


if __name__ == "__main__":
    cancellable.serve(name="cancel-test")
